//! The example workflow (`examples/github/deploy.yml`) works as written: played step by step the way
//! the runner plays it (`tests/support/workflow_player.py`: each step's `$GITHUB_ENV`,
//! `$GITHUB_OUTPUT` and `$GITHUB_PATH` applied before the next, expressions over the workflow's
//! contexts, `if:` and failure semantics), with `OWNER/buildsteps@v1` played as this checkout's
//! composite `action.yml` — installing from a release served locally — and the third-party actions
//! by stand-ins that do to the job what the real ones do. The rig is the AWS account: the image is
//! pushed to its registry, gated on moto's scan, promoted, and the AWS CLI of the workflow's deploy
//! step registers the task definition in moto's ECS and updates the service. Only the environment
//! differs (the endpoint in `AWS_ENDPOINT_URL`, the AWS CLI on PATH, the rig's credentials handed out
//! by the configure-aws-credentials stand-in); the workflow's commands are the file's.
//!
//! Also: the action installs the release a version tag names and builds a branch or a commit from
//! source, and the player itself keeps the runner's rules.

use crate::common::{
    HttpServer, RELEASE_BINS, copy_tree, create_repository, git, make_release, rig, script,
    succeed, unique,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The rig's virtualenv (`bin/setup`): its python has `PyYAML` (through awscli), its bin the AWS CLI.
fn venv() -> PathBuf {
    let venv = std::env::var("BUILDSTEPS_VENV").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/buildsteps/venv"),
        PathBuf::from,
    );
    assert!(
        venv.join("bin/python").exists() && venv.join("bin/aws").exists(),
        "{} has no python or aws: run bin/setup (the rig's virtualenv)",
        venv.display()
    );
    venv
}

/// What one play of a workflow left.
struct Played {
    code: i32,
    log: String,
    report: Value,
}

/// Plays `workflow` with `config` (paths are made under `dir`).
fn play(dir: &Path, workflow: &Path, config: &Value) -> Played {
    let config_path = dir.join("player-config.json");
    let report_path = dir.join("player-report.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let out = Command::new(venv().join("bin/python"))
        .arg(format!("{ROOT}/tests/support/workflow_player.py"))
        .arg("--config")
        .arg(&config_path)
        .arg("--report")
        .arg(&report_path)
        .arg(workflow)
        .output()
        .expect("the workflow player runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read(&report_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    Played {
        code: out.status.code().unwrap_or(-1),
        log,
        report,
    }
}

/// The rig's AWS CLI against moto, as the account's infrastructure (and the assertions) use it.
fn aws(args: &[&str]) -> Value {
    let out = succeed(
        Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
            .args(args)
            .args(["--endpoint-url", &rig().moto, "--output", "json"]),
    );
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// A `cargo` that must not run: the release is what gets installed.
fn forbidden_cargo(dir: &Path) -> String {
    let path = dir.join("forbidden-cargo");
    script(
        &path,
        "#!/bin/sh\necho 'cargo was run: the action built from source instead of installing the release' >&2\nexit 97\n",
    );
    path.display().to_string()
}

fn yaml(text: &str) -> Value {
    buildsteps::document::parse(text, buildsteps::document::Syntax::Yaml).unwrap()
}

/// The tests of this area that need the rig or its virtualenv (`bin/setup`: the player's `PyYAML`, the
/// AWS CLI).
mod on_the_rig {
    use super::*;

    #[test]
    fn the_example_workflow_deploys_as_written() {
        let rig = rig();
        let venv = venv();
        let sb = tempfile::tempdir().unwrap();
        let dir = sb.path();

        // The action's release for @v1, where the action's default release-url looks for it (here the
        // GitHub server is the local one).
        let download = dir.join("srv/OWNER/buildsteps/releases/download/v1");
        let tarball = make_release(&download);
        let server = HttpServer::start(&dir.join("srv"), &dir.join("http.log"));

        // The repository the workflow runs for: the example files, the workflow where GitHub reads it.
        let src = dir.join("src");
        for file in ["taskdef.json", "appspec.yaml", "examples/app"] {
            copy_tree(&Path::new(ROOT).join(file), &src.join(file));
        }
        copy_tree(
            &Path::new(ROOT).join("examples/github/deploy.yml"),
            &src.join(".github/workflows/deploy.yml"),
        );
        git(&src, &["init", "-q"]);
        git(&src, &["add", "."]);
        git(&src, &["commit", "-q", "-m", "example"]);
        let sha = git(&src, &["rev-parse", "HEAD"]);

        // The account's infrastructure: the ECR repository, an ECS cluster and a service.
        let repository = unique("workflow/app");
        create_repository(&repository, "MUTABLE");
        let cluster = unique("workflow-cluster");
        let service = unique("workflow-service");
        let initial = unique("workflow-initial");
        aws(&["ecs", "create-cluster", "--cluster-name", &cluster]);
        aws(&[
            "ecs",
            "register-task-definition",
            "--family",
            &initial,
            "--container-definitions",
            r#"[{"name":"web","image":"busybox","memory":128}]"#,
        ]);
        aws(&[
            "ecs",
            "create-service",
            "--cluster",
            &cluster,
            "--service-name",
            &service,
            "--task-definition",
            &initial,
            "--desired-count",
            "0",
        ]);

        // The runner's own environment: no AWS credentials and no region (the workflow provides them),
        // the AWS CLI on PATH, the rig's endpoint and CA, the engine.
        let path = format!(
            "{}:{}",
            venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let session_token = "rig-session-token-from-oidc";
        let config = json!({
            "workspace": dir.join("work"),
            "temp": dir.join("runner"),
            "tool_cache": dir.join("toolcache"),
            "env": {
                "PATH": path,
                "HOME": home,
                "AWS_ENDPOINT_URL": rig.moto,
                "AWS_EC2_METADATA_DISABLED": "true",
                "SSL_CERT_FILE": std::env::var("SSL_CERT_FILE").unwrap(),
                "DOCKER_HOST": rig.docker_host,
                "BUILD_PUSH_NETWORK": std::env::var("BUILD_PUSH_NETWORK").unwrap_or_default(),
                "CARGO": forbidden_cargo(dir),
            },
            "github": {
                "server_url": server.url,
                "repository": "example/app",
                "sha": sha,
                "ref": "refs/heads/main",
                "event_name": "push",
                "event": {
                    "ref": "refs/heads/main",
                    "after": sha,
                    "head_commit": {"id": sha},
                    "repository": {"full_name": "example/app"},
                },
            },
            "vars": {
                "AWS_REGION": "us-east-1",
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/buildsteps-deploy",
                "ECS_CLUSTER": cluster,
                "ECS_SERVICE": service,
                "ECR_REPOSITORY": repository,
                // moto's scan reports one synthetic HIGH finding (the demo gates on CRITICAL too).
                "SCAN_FAIL_ON": "CRITICAL",
                "BASE_IMAGE": rig.base_image,
            },
            "actions": {"OWNER/buildsteps": ROOT},
            "stand_ins": {
                "checkout": {"example/app": src},
                "aws_credentials": {
                    "access_key_id": std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
                    "secret_access_key": std::env::var("AWS_SECRET_ACCESS_KEY").unwrap(),
                    "session_token": session_token,
                },
            },
        });
        let played = play(dir, &src.join(".github/workflows/deploy.yml"), &config);
        let log = &played.log;
        assert_eq!(played.code, 0, "the job succeeds:\n{log}");
        let report = &played.report;
        assert_eq!(report["conclusion"], "success", "{log}");

        // Every step ran, in the workflow's order, and succeeded.
        let workflow =
            yaml(&std::fs::read_to_string(src.join(".github/workflows/deploy.yml")).unwrap());
        let declared = workflow["jobs"]["deploy"]["steps"].as_array().unwrap();
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(steps.len(), declared.len(), "{log}");
        for (ran, step) in steps.iter().zip(declared) {
            assert_eq!(ran["uses"], step["uses"], "{log}");
            assert_eq!(ran["run"], step["run"], "{log}");
            assert_eq!(ran["outcome"], "success", "{ran}\n{log}");
            for inner in ran["steps"].as_array().into_iter().flatten() {
                assert_eq!(inner["outcome"], "success", "{inner}\n{log}");
            }
        }
        let by_step = |name: &str| {
            steps
                .iter()
                .position(|s| {
                    s["uses"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("OWNER/buildsteps@"))
                        && s["steps"].as_array().unwrap().last().unwrap()["name"]
                            == format!("Run {name}")
                })
                .unwrap_or_else(|| panic!("a {name} step ran: {log}"))
        };

        // The binaries came from the release (verified), once; the later uses found them installed.
        assert!(
            log.contains(&format!(
                "matches {}/OWNER/buildsteps/releases/download/v1/{tarball}.sha256",
                server.url
            )),
            "{log}"
        );
        assert!(!log.contains("cargo was run"), "{log}");
        let requests = server.requests();
        assert_eq!(
            requests
                .iter()
                .filter(|r| r.starts_with(&format!(
                    "GET /OWNER/buildsteps/releases/download/v1/{tarball} "
                )))
                .count(),
            1,
            "{requests:?}"
        );
        for bin in RELEASE_BINS {
            assert!(dir.join("toolcache/buildsteps/bin").join(bin).exists());
        }

        // configure-aws-credentials put the credentials in the job's environment, masked in the log.
        assert_eq!(report["env"]["AWS_SESSION_TOKEN"], session_token);
        assert_eq!(report["env"]["AWS_DEFAULT_REGION"], "us-east-1");
        assert!(!log.contains(session_token), "the session token is masked");

        // The image was pushed with the commit tag only; the gate passed; then `latest` moved to it.
        let push = &steps[by_step("build-push")];
        let digest = push["outputs"]["image-digest"]
            .as_str()
            .unwrap()
            .to_string();
        let image_uri = push["outputs"]["image-uri"].as_str().unwrap().to_string();
        assert_eq!(
            image_uri,
            format!("{}/{repository}@{digest}", rig.registry),
            "{push}"
        );
        let pushed_tags: Vec<String> = push["outputs"]["image-tags"]
            .as_str()
            .unwrap()
            .split(',')
            .map(|r| r.rsplit_once(':').unwrap().1.to_string())
            .collect();
        assert!(
            !pushed_tags.is_empty() && !pushed_tags.iter().any(|t| t == "latest"),
            "{push}"
        );
        let gate = by_step("scan-gate");
        assert_eq!(steps[gate]["outputs"]["passed"], "true", "{log}");
        let promote = by_step("tag-commit");
        assert!(promote > gate, "latest moves after the gate");
        assert!(
            steps[promote]["outputs"]["image-tags"]
                .as_str()
                .unwrap()
                .ends_with(":latest"),
            "{}",
            steps[promote]
        );
        assert_eq!(steps[promote]["outputs"]["image-digest"], digest.as_str());
        let images = aws(&["ecr", "describe-images", "--repository-name", &repository]);
        let details = images["imageDetails"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{images}");
        assert_eq!(details[0]["imageDigest"], digest.as_str());
        let mut tags: Vec<String> = details[0]["imageTags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        tags.sort();
        let mut expected = pushed_tags.clone();
        expected.push("latest".to_string());
        expected.sort();
        assert_eq!(tags, expected);
        assert!(
            tags.iter().any(|t| sha.starts_with(t.as_str())),
            "the commit tag: {tags:?}"
        );

        // The SARIF went to the (stand-in) code scanning upload.
        let upload = steps
            .iter()
            .find(|s| s["uses"] == "github/codeql-action/upload-sarif@v3")
            .unwrap();
        assert!(upload["outputs"]["sarif-id"].is_string(), "{upload}");

        // The deploy registered the rendered task definition in moto's ECS, by digest, and the service
        // runs it now.
        let services = aws(&[
            "ecs",
            "describe-services",
            "--cluster",
            &cluster,
            "--services",
            &service,
        ]);
        let arn = services["services"][0]["taskDefinition"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            arn.contains(":task-definition/buildsteps-example:"),
            "{services}"
        );
        let registered = aws(&["ecs", "describe-task-definition", "--task-definition", &arn]);
        let td = &registered["taskDefinition"];
        assert_eq!(td["containerDefinitions"][0]["name"], "web");
        assert_eq!(td["containerDefinitions"][0]["image"], image_uri.as_str());
        assert_eq!(
            td["executionRoleArn"],
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
        );
        assert_eq!(
            td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-region"],
            "us-east-1"
        );
    }

    /// A version tag that is a prefix of the checkout's version (`v0` for 0.1.0) installs the release
    /// of that version; the exact tag installs its own; a branch or a commit has no release (404) and
    /// is built from source with `cargo install` (a stand-in named by `CARGO` that records its argv).
    #[test]
    fn the_action_installs_a_tags_release_and_builds_a_branch_from_source() {
        let dir = tempfile::tempdir().unwrap();
        let srv = dir.path().join("srv");
        let tag = format!("v{VERSION}");
        let major = format!("v{}", VERSION.split('.').next().unwrap());
        let tarball = make_release(&srv.join(format!("OWNER/buildsteps/releases/download/{tag}")));
        let server = HttpServer::start(&srv, &dir.path().join("http.log"));
        let checkout = std::fs::canonicalize(ROOT).unwrap().display().to_string();

        let cargo = dir.path().join("fake-cargo");
        script(
            &cargo,
            &format!(
                r#"#!/bin/sh
    set -e
    printf '%s\n' "$@" > "$(dirname "$0")/cargo-argv"
    while [ $# -gt 0 ]; do
      if [ "$1" = --root ]; then root=$2; fi
      shift
    done
    mkdir -p "$root/bin"
    for b in {bins}; do
      printf '#!/bin/sh\necho "%s built from source"\n' "$b" > "$root/bin/$b"
      chmod 755 "$root/bin/$b"
    done
    "#,
                bins = RELEASE_BINS.join(" ")
            ),
        );

        let sha = "0123456789abcdef0123456789abcdef01234567";
        for (case, reference, from_release) in [
            ("major", major.as_str(), true),
            ("exact", tag.as_str(), true),
            ("branch", "main", false),
            ("commit", sha, false),
        ] {
            let run_dir = dir.path().join(case);
            std::fs::create_dir_all(&run_dir).unwrap();
            let workflow = run_dir.join("workflow.yml");
            std::fs::write(
                &workflow,
                format!(
                    "name: refs\non: push\njobs:\n  one:\n    runs-on: ubuntu-latest\n    steps:\n      \
                     - uses: OWNER/buildsteps@{reference}\n        id: version\n        with:\n          \
                     step: render-taskdef\n          args: --version\n"
                ),
            )
            .unwrap();
            let _ = std::fs::remove_file(dir.path().join("cargo-argv"));
            let before = server.requests().len();
            let played = play(
                &run_dir,
                &workflow,
                &json!({
                    "workspace": run_dir.join("work"),
                    "temp": run_dir.join("runner"),
                    "tool_cache": run_dir.join("toolcache"),
                    "env": {
                        "PATH": std::env::var("PATH").unwrap_or_default(),
                        "HOME": run_dir,
                        "CARGO": cargo,
                    },
                    "github": {"server_url": server.url, "repository": "example/app"},
                    "actions": {"OWNER/buildsteps": ROOT},
                }),
            );
            let log = &played.log;
            assert_eq!(played.code, 0, "{case}: {log}");
            let requests: Vec<String> = server.requests()[before..].to_vec();
            let argv = std::fs::read_to_string(dir.path().join("cargo-argv")).ok();
            if from_release {
                assert!(
                    requests.iter().any(|r| r.starts_with(&format!(
                        "GET /OWNER/buildsteps/releases/download/{tag}/{tarball} "
                    )) && r.contains("\" 200 ")),
                    "{case}: {requests:?}\n{log}"
                );
                assert_eq!(argv, None, "{case}: {log}");
                assert!(
                    log.contains(&format!("render-taskdef {VERSION}")),
                    "{case}: {log}"
                );
            } else {
                assert!(
                    requests.iter().any(|r| r.starts_with(&format!(
                        "GET /OWNER/buildsteps/releases/download/{reference}/{tarball} "
                    )) && r.contains("\" 404 ")),
                    "{case}: {requests:?}\n{log}"
                );
                let toolcache = run_dir.join("toolcache/buildsteps").display().to_string();
                assert_eq!(
                    argv.unwrap().lines().collect::<Vec<_>>(),
                    [
                        "install", "--locked", "--path", &checkout, "--root", &toolcache
                    ],
                    "{case}: {log}"
                );
                assert!(log.contains("building from source"), "{case}: {log}");
                assert!(
                    log.contains("render-taskdef built from source"),
                    "{case}: {log}"
                );
            }
        }
        // A step that is not one of the binaries: one error naming them, before anything is fetched.
        let before = server.requests().len();
        let run_dir = dir.path().join("unknown");
        std::fs::create_dir_all(&run_dir).unwrap();
        let workflow = run_dir.join("workflow.yml");
        std::fs::write(
            &workflow,
            format!(
                "name: unknown\non: push\njobs:\n  one:\n    runs-on: ubuntu-latest\n    steps:\n      \
                 - uses: OWNER/buildsteps@{tag}\n        with:\n          step: nope\n"
            ),
        )
        .unwrap();
        let played = play(
            &run_dir,
            &workflow,
            &json!({
                "workspace": run_dir.join("work"),
                "temp": run_dir.join("runner"),
                "tool_cache": run_dir.join("toolcache"),
                "env": {"PATH": std::env::var("PATH").unwrap_or_default(), "HOME": run_dir, "CARGO": cargo},
                "github": {"server_url": server.url, "repository": "example/app"},
                "actions": {"OWNER/buildsteps": ROOT},
            }),
        );
        let mut names = RELEASE_BINS.to_vec();
        names.sort_unstable();
        assert_ne!(played.code, 0, "{}", played.log);
        assert!(
            played.log.contains(&format!(
                "unknown step 'nope' (the steps: {})",
                names.join(" ")
            )),
            "{}",
            played.log
        );
        assert_eq!(server.requests().len(), before, "nothing was downloaded");
    }

    /// The player keeps the runner's rules: `$GITHUB_ENV` (both forms), `$GITHUB_OUTPUT` and
    /// `$GITHUB_PATH` apply from the next step on; step env over job env; a failure skips the steps
    /// after it except `if: failure()` and `if: always()` ones; `continue-on-error` keeps the job
    /// going; the job fails.
    #[test]
    fn the_player_keeps_the_runners_rules() {
        let dir = tempfile::tempdir().unwrap();
        let workflow = dir.path().join("rules.yml");
        std::fs::write(
            &workflow,
            r#"
    name: rules
    on: push
    env:
      LEVEL: workflow
    jobs:
      rules:
        runs-on: ubuntu-latest
        env:
          LEVEL: job
          FROM_VARS: ${{ vars.COLOUR || 'none' }}
        steps:
          - id: one
            run: |
              mkdir -p "$RUNNER_TEMP/tools"
              printf '#!/bin/sh\necho hello from the path\n' > "$RUNNER_TEMP/tools/hello"
              chmod +x "$RUNNER_TEMP/tools/hello"
              echo "$RUNNER_TEMP/tools" >> "$GITHUB_PATH"
              echo "SIMPLE=1" >> "$GITHUB_ENV"
              printf 'MULTI<<EOF\nfirst\nsecond=2\nEOF\n' >> "$GITHUB_ENV"
              echo "answer=42" >> "$GITHUB_OUTPUT"
              [ -z "${SIMPLE:-}" ]
          - name: Check ${{ steps.one.outputs.answer }}
            env:
              LEVEL: step
            run: |
              test "$SIMPLE" = 1
              test "$MULTI" = "$(printf 'first\nsecond=2')"
              test "$(hello)" = "hello from the path"
              test "${{ steps.one.outputs.answer }}" = 42
              test "${{ env.SIMPLE }}" = 1
              test "$LEVEL" = step
              test "$FROM_VARS" = blue
              test "${{ steps.one.outcome }}" = success
          - id: tolerated
            continue-on-error: true
            run: exit 4
          - id: bad
            run: exit 3
          - id: skipped
            run: echo must not run
          - if: failure()
            run: test "${{ steps.bad.outcome }}/${{ steps.tolerated.outcome }}/${{ steps.tolerated.conclusion }}/${{ steps.skipped.outcome }}" = failure/failure/success/skipped
          - if: always()
            run: test "${{ job.status }}" = failure
    "#,
        )
        .unwrap();
        let played = play(
            dir.path(),
            &workflow,
            &json!({
                "workspace": dir.path().join("work"),
                "temp": dir.path().join("runner"),
                "env": {"PATH": std::env::var("PATH").unwrap_or_default(), "HOME": dir.path()},
                "vars": {"COLOUR": "blue"},
            }),
        );
        let log = &played.log;
        assert_eq!(played.code, 1, "{log}");
        let outcomes: Vec<&str> = played.report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(
            outcomes,
            [
                "success", "success", "failure", "failure", "skipped", "success", "success"
            ],
            "{log}"
        );
        assert_eq!(played.report["steps"][1]["name"], "Check 42");
        assert_eq!(played.report["conclusion"], "failure");
    }
}
