//! `build-push` end to end: a real build in the rig's Docker engine, pushed to the TLS registry at the
//! ECR host name, checked with skopeo, docker and the registry's own log.

use crate::common;

use crate::common::{
    Output, Proxy, RegistryLog, Scratch, create_repository, git, json, rig, run, run_in, set,
    unique,
};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

const BIN: &str = env!("CARGO_BIN_EXE_build-push");

/// A multi-stage Dockerfile: build args, a `RUN` step, a stage `--target base` leaves out.
const MULTI_STAGE: &str = "FROM local/busybox:1 AS base\nARG GREETING=hello\nCOPY .build-id /\nCOPY app/ /app/\nRUN echo \"$GREETING\" > /greeting\nCMD [\"/bin/sh\", \"/app/run.sh\"]\n\nFROM base AS debug\nRUN echo debug > /debug\n";

/// A Dockerfile whose image is the same bytes whenever it is built, with or without the engine's
/// build cache: only files copied into `/`, which exists (a `RUN` step's files, and a directory a
/// `COPY` creates, get the time of the build). The tests about pushing the same image twice use it,
/// so they never depend on the build cache surviving between two builds.
const REPRODUCIBLE: &str =
    "FROM local/busybox:1\nCOPY .build-id /\nCOPY app/run.sh /\nCMD [\"/bin/sh\", \"/run.sh\"]\n";

/// A checkout of a small app with a `.dockerignore`, built by one of the Dockerfiles above.
struct App {
    sb: Scratch,
}

impl App {
    fn new() -> App {
        App::with(MULTI_STAGE)
    }

    fn reproducible() -> App {
        App::with(REPRODUCIBLE)
    }

    fn with(dockerfile: &str) -> App {
        let sb = Scratch::docker();
        let root = sb.path("src");
        let files: &[(&str, &str)] = &[
            ("Dockerfile", dockerfile),
            (
                "app/run.sh",
                "echo \"$(cat /greeting) from the app\"; ls /app\n",
            ),
            // Unique content per checkout, so concurrent tests never share the engine's build cache.
            (".build-id", "unique"),
            ("app/notes.md", "excluded\n"),
            ("app/README.md", "re-included\n"),
            ("app/secret.env", "TOKEN=do-not-ship\n"),
            (".dockerignore", "**/*.md\n!app/README.md\napp/secret.env\n"),
        ];
        let id = unique("app");
        for (name, text) in files {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let text = if *name == ".build-id" {
                id.as_str()
            } else {
                text
            };
            std::fs::write(&p, text).unwrap();
        }
        git(&root, &["init", "-q"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "app"]);
        App { sb }
    }

    fn root(&self) -> PathBuf {
        self.sb.path("src")
    }

    fn build_push(&self, args: &[&str]) -> Output {
        let mut all = vec![self.root().display().to_string()];
        all.extend(args.iter().map(|a| (*a).to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut env = self.sb.env.clone();
        set(&mut env, "PWD", &self.root().display().to_string());
        run_in(Some(&self.root()), BIN, &refs, &env, None)
    }

    fn head(&self) -> String {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(self.root())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

fn skopeo_inspect(app: &App, image: &str, config: bool) -> Value {
    let creds = rig().login();
    let mut args = vec!["inspect", "--creds", &creds];
    if config {
        args.push("--config");
    }
    let target = format!("docker://{image}");
    args.push(&target);
    let out = run("skopeo", &args, &app.sb.env, None).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn builds_pushes_and_writes_artifacts_that_independent_clients_agree_with() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/app");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let out = app
        .build_push(&[
            "-r",
            &uri,
            "--build-arg",
            "GREETING=hi",
            "--target",
            "base",
            "--label",
            "team=platform",
            "--container",
            "web",
            "--json",
        ])
        .ok();
    let v = json(&out);
    let digest = v["digest"].as_str().unwrap().to_string();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["image_uri"], format!("{uri}@{digest}"));
    let head = app.head();
    assert_eq!(v["commit"]["id"], head.as_str());
    assert_eq!(v["commit"]["source"], "git");
    let tags: Vec<&str> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["latest", head.as_str()]);

    // imageDetail.json and imagedefinitions.json name the same digest.
    let detail: Value = serde_json::from_str(
        &std::fs::read_to_string(app.root().join("imageDetail.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        detail,
        serde_json::json!({"ImageURI": format!("{uri}@{digest}")})
    );
    let defs: Value = serde_json::from_str(
        &std::fs::read_to_string(app.root().join("imagedefinitions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        defs,
        serde_json::json!([{"name": "web", "imageUri": format!("{uri}@{digest}")}])
    );

    // skopeo sees the same digest under both tags.
    for tag in &tags {
        let inspected = skopeo_inspect(&app, &format!("{uri}:{tag}"), false);
        assert_eq!(inspected["Digest"], digest.as_str(), "{tag}");
    }
    // Labels (ours and the OCI ones from the commit) are in the image config.
    let config = skopeo_inspect(&app, &format!("{uri}@{digest}"), true);
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["team"], "platform");
    assert_eq!(labels["org.opencontainers.image.revision"], head.as_str());
    assert!(
        labels["org.opencontainers.image.created"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        config["created"], labels["org.opencontainers.image.created"],
        "the config's time is the commit's"
    );

    // docker pulls by digest and runs it: the build arg and the target took effect, and the
    // .dockerignore rules decided what was copied.
    let rm = run(
        "docker",
        &[
            "rmi",
            "-f",
            &format!("{uri}:latest"),
            &format!("{uri}:{head}"),
        ],
        &app.sb.env,
        None,
    );
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    let login = run(
        "docker",
        &["login", "-u", "AWS", "--password-stdin", &rig.registry],
        &app.sb.env,
        Some(&rig.password),
    );
    assert_eq!(login.code, 0, "{}", login.stderr);
    run(
        "docker",
        &["pull", "-q", &format!("{uri}@{digest}")],
        &app.sb.env,
        None,
    )
    .ok();
    let ran = run(
        "docker",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            &format!("{uri}@{digest}"),
        ],
        &app.sb.env,
        None,
    )
    .ok();
    assert_eq!(ran.stdout.lines().next(), Some("hi from the app"));
    let listed: Vec<&str> = ran.stdout.lines().skip(1).collect();
    assert_eq!(
        listed,
        ["README.md", "run.sh"],
        "notes.md and secret.env are excluded, README.md re-included"
    );
    let debug = run(
        "docker",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            &format!("{uri}@{digest}"),
            "ls",
            "/debug",
        ],
        &app.sb.env,
        None,
    );
    // The container ran (docker's own failures exit 125-127) and only `ls` failed: the file the
    // debug stage writes is not in the image, while the base stage's `/greeting` is (read above).
    assert_eq!(
        (debug.code, debug.stderr.trim()),
        (1, "ls: /debug: No such file or directory"),
        "--target base stops before the debug stage"
    );
}

#[test]
fn a_rerun_uploads_nothing_and_reports_tags_present() {
    let app = App::reproducible();
    let rig = rig();
    let repo = unique("bp/rerun");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let log = RegistryLog::mark();
    let first = json(&app.build_push(&["-r", &uri, "--json"]).ok());
    let uploads = log.uploads(&repo);
    assert!(
        uploads >= 2,
        "the first push uploads layers and the config ({uploads})"
    );
    let log = RegistryLog::mark();
    let second = json(&app.build_push(&["-r", &uri, "--json"]).ok());
    assert_eq!(second["digest"], first["digest"]);
    assert_eq!(log.uploads(&repo), 0, "no blob uploaded on the re-run");
    assert!(
        log.requests("HEAD", &repo, "") > 0,
        "the re-run's requests are in the log read"
    );
    for t in second["tags"].as_array().unwrap() {
        assert_eq!(t["status"], "present", "{t}");
    }
    for l in second["layers"].as_array().unwrap() {
        assert_eq!(l["status"], "present", "{l}");
    }
}

#[test]
fn promoting_to_another_repository_mounts_blobs_instead_of_uploading() {
    let app = App::reproducible();
    let rig = rig();
    let (dev, prod) = (unique("bp/dev"), unique("bp/prod"));
    create_repository(&dev, "MUTABLE");
    create_repository(&prod, "MUTABLE");
    let first = json(
        &app.build_push(&["-r", &format!("{}/{dev}", rig.registry), "--json"])
            .ok(),
    );
    let log = RegistryLog::mark();
    let second = json(
        &app.build_push(&["-r", &format!("{}/{prod}", rig.registry), "--json"])
            .ok(),
    );
    assert_eq!(second["digest"], first["digest"]);
    for l in second["layers"].as_array().unwrap() {
        assert_eq!(l["status"], "mounted", "{l}");
    }
    assert_eq!(
        log.uploads(&prod),
        0,
        "no blob bytes were uploaded to {prod}"
    );
    assert!(
        log.manifest_puts(&prod) > 0,
        "the promotion's requests are in the log read"
    );
    let inspected = skopeo_inspect(&app, &format!("{}/{prod}:latest", rig.registry), false);
    assert_eq!(inspected["Digest"], first["digest"]);
}

#[test]
fn an_immutable_repository_accepts_the_same_image_and_refuses_another() {
    let app = App::reproducible();
    let rig = rig();
    let repo = unique("bp/immutable");
    create_repository(&repo, "IMMUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let first = json(
        &app.build_push(&["-r", &uri, "--json", "--tag", "release"])
            .ok(),
    );
    let again = json(
        &app.build_push(&["-r", &uri, "--json", "--tag", "release"])
            .ok(),
    );
    assert_eq!(again["digest"], first["digest"]);
    // New content under the same tags: refused, naming both digests, and no artifact rewritten.
    std::fs::write(app.root().join("app/run.sh"), "echo changed\n").unwrap();
    git(&app.root(), &["commit", "-q", "-am", "change"]);
    let detail_before = std::fs::read_to_string(app.root().join("imageDetail.json")).unwrap();
    let out = app.build_push(&["-r", &uri, "--tag", "release"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(first["digest"].as_str().unwrap()),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("immutable"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(app.root().join("imageDetail.json")).unwrap(),
        detail_before
    );
}

/// A fault proxy with the registry's own certificate, in front of the registry.
fn registry_proxy(extra: &[&str]) -> Proxy {
    let rig = rig();
    let tls = common::rig_dir().join("tls");
    let cert = tls.join("server.crt").display().to_string();
    let key = tls.join("server.key").display().to_string();
    let mut args = vec!["--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    Proxy::start(&format!("https://{}", rig.registry), &args)
}

#[test]
fn faults_are_retried_and_the_digest_is_unchanged() {
    let app = App::reproducible();
    let rig = rig();
    let repo = unique("bp/faults");
    create_repository(&repo, "MUTABLE");
    let direct = json(
        &app.build_push(&["-r", &format!("{}/{repo}", rig.registry), "--json"])
            .ok(),
    );
    let cases: &[&[&str]] = &[
        &["--fail", "3", "--fail-status", "500"],
        &[
            "--fail",
            "2",
            "--fail-status",
            "429",
            "--fail-header",
            "Retry-After: 1",
        ],
        // The streamed upload is cut half-way; the spooled copy is uploaded instead.
        &["--drop", "1", "--fail-match", "PATCH"],
        // A monolithic re-upload is cut too, and retried.
        &["--drop", "2"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let fresh = unique(&format!("bp/faults{i}"));
        create_repository(&fresh, "MUTABLE");
        let proxy = registry_proxy(case);
        let via = format!("{}:{}/{fresh}", rig.registry, proxy.port());
        let out = app.build_push(&["-r", &via, "--json"]);
        assert_eq!(out.code, 0, "{case:?}: {}", out.stderr);
        let v = json(&out);
        assert_eq!(v["digest"], direct["digest"], "{case:?}");
        assert!(proxy.count() > 0);
    }
    for (status, code, want) in [("401", 3, "HTTP 401"), ("404", 2, "HTTP 404")] {
        let proxy = registry_proxy(&["--fail", "-1", "--fail-status", status, "--fail-body", "{}"]);
        let via = format!("{}:{}/{repo}", rig.registry, proxy.port());
        let out = app.build_push(&["-r", &via]);
        assert_eq!(out.code, code, "{status}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{}", out.stderr);
        assert!(out.stderr.contains("help:"), "{}", out.stderr);
    }
}

#[test]
fn bad_inputs_are_one_clear_error_and_write_nothing() {
    let app = App::new();
    let rig = rig();
    let uri = format!("{}/{}", rig.registry, unique("bp/bad"));
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "-r".into(),
                uri.clone(),
                "-f".into(),
                "missing.Dockerfile".into(),
            ],
            2,
            "missing.Dockerfile",
        ),
        (
            vec!["-r".into(), format!("{}/Bad_Name", rig.registry)],
            2,
            "must be lowercase",
        ),
        (
            vec!["-r".into(), format!("{uri}:tag")],
            2,
            "no tag or digest",
        ),
        (vec!["-r".into(), uri.clone()], 2, "does not exist"),
        (
            vec!["-r".into(), uri.clone(), "--tag".into(), "bad tag!".into()],
            2,
            "invalid",
        ),
    ];
    for (args, code, want) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = app.build_push(&refs);
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("help:"), "{args:?}: {}", out.stderr);
        assert!(
            !app.root().join("imageDetail.json").exists(),
            "{args:?} wrote an artifact"
        );
    }
    // An unreadable context directory.
    let out = run_in(
        Some(&app.root()),
        BIN,
        &["/nonexistent/context", "-r", &uri, "-f", "Dockerfile"],
        &app.sb.env,
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    // A failing RUN step: exit 1 with the step's output.
    std::fs::write(
        app.root().join("Dockerfile"),
        "FROM local/busybox:1\nRUN echo about to fail && exit 3\n",
    )
    .unwrap();
    let repo = unique("bp/fails");
    create_repository(&repo, "MUTABLE");
    let out = app.build_push(&["-r", &format!("{}/{repo}", rig.registry)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("about to fail"), "{}", out.stderr);
    assert!(
        out.stderr.contains("returned a non-zero code: 3"),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_and_print_equivalent_change_nothing() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/dry");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let v = json(
        &app.build_push(&["-r", &uri, "--dry-run", "--json", "--tag", "v1"])
            .ok(),
    );
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["tags"].as_array().unwrap().len(), 3);
    assert!(v["context_bytes"].as_u64().unwrap() > 0);
    assert!(!app.root().join("imageDetail.json").exists());
    let out = app
        .build_push(&[
            "-r",
            &uri,
            "--print-equivalent",
            "--build-arg",
            "GREETING=hi",
        ])
        .ok();
    assert!(out.stdout.starts_with("docker build -f "), "{}", out.stdout);
    assert!(
        out.stdout.contains("--build-arg GREETING=hi"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("docker push {uri}:latest")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("imageDetail.json"), "{}", out.stdout);
    assert!(!app.root().join("imageDetail.json").exists());
}

/// `build-push --json`, read back with every field the `build-push` section of docs/json.md lists and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contract {
    schema_version: u32,
    step: String,
    registry: String,
    repository: String,
    image_uri: Option<String>,
    digest: Option<String>,
    tags: Vec<ContractTag>,
    layers: Vec<ContractLayer>,
    size: u64,
    commit: ContractCommit,
    context_bytes: u64,
    artifacts: Vec<String>,
    timings: ContractTimings,
    dry_run: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractTag {
    tag: String,
    status: TagStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TagStatus {
    Pushed,
    Present,
    Planned,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractLayer {
    digest: String,
    size: u64,
    uncompressed: Option<u64>,
    status: LayerStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LayerStatus {
    Uploaded,
    Present,
    Mounted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractCommit {
    id: String,
    short: String,
    reference: Option<String>,
    source: CommitSource,
    dirty: Option<bool>,
    pull_request: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CommitSource {
    Flag,
    Codebuild,
    GithubPullRequest,
    Github,
    Gitlab,
    Git,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractTimings {
    build_ms: u64,
    push_ms: u64,
}

fn contract(out: &Output) -> Contract {
    let c: Contract = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!((c.schema_version, c.step.as_str()), (1, "build-push"));
    c
}

fn tag_statuses(c: &Contract) -> Vec<(&str, TagStatus)> {
    c.tags.iter().map(|t| (t.tag.as_str(), t.status)).collect()
}

fn layer_statuses(c: &Contract) -> Vec<LayerStatus> {
    c.layers.iter().map(|l| l.status).collect()
}

#[test]
fn json_output_is_the_documented_contract() {
    let app = App::reproducible();
    let rig = rig();
    let (repo, other) = (unique("bp/json"), unique("bp/json-promoted"));
    create_repository(&repo, "MUTABLE");
    create_repository(&other, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let head = app.head();
    let args = ["-r", &uri, "--json", "--tag", "v1", "--container", "web"];

    // A dry run plans the tags and the artifacts, and pushes nothing.
    let dry = contract(&app.build_push(&[&args[..], &["--dry-run"]].concat()).ok());
    assert!(dry.dry_run);
    assert_eq!((&dry.image_uri, &dry.digest), (&None, &None));
    assert_eq!(
        tag_statuses(&dry),
        [
            ("latest", TagStatus::Planned),
            (head.as_str(), TagStatus::Planned),
            ("v1", TagStatus::Planned)
        ]
    );
    assert!(dry.layers.is_empty());
    assert_eq!(dry.size, 0);
    assert_eq!((dry.timings.build_ms, dry.timings.push_ms), (0, 0));
    assert!(!app.root().join("imageDetail.json").exists());

    // The first push uploads every layer, compressed in this run, and pushes every tag.
    let first = contract(&app.build_push(&args).ok());
    assert!(!first.dry_run);
    assert_eq!(
        (first.registry.as_str(), first.repository.as_str()),
        (rig.registry.as_str(), repo.as_str())
    );
    let digest = first.digest.clone().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(first.image_uri, Some(format!("{uri}@{digest}")));
    assert_eq!(
        tag_statuses(&first),
        [
            ("latest", TagStatus::Pushed),
            (head.as_str(), TagStatus::Pushed),
            ("v1", TagStatus::Pushed)
        ]
    );
    assert!(!first.layers.is_empty());
    for l in &first.layers {
        assert_eq!(l.status, LayerStatus::Uploaded, "{l:?}");
        assert!(l.digest.starts_with("sha256:"), "{l:?}");
        assert!(l.uncompressed.is_some_and(|u| u > 0), "{l:?}");
    }
    let layer_bytes: u64 = first.layers.iter().map(|l| l.size).sum();
    assert!(first.size > layer_bytes, "size counts the config too");
    let c = &first.commit;
    assert_eq!(
        (c.id.as_str(), c.short.as_str()),
        (head.as_str(), &head[..7])
    );
    assert_eq!(c.source, CommitSource::Git);
    assert!(c.reference.is_some() && c.dirty.is_some(), "{c:?}");
    assert_eq!(c.pull_request, None);
    assert_eq!(first.context_bytes, dry.context_bytes);
    assert!(first.context_bytes > 0);
    assert_eq!(
        first.artifacts, dry.artifacts,
        "the dry run named what is written"
    );
    assert!(
        first.artifacts[0].ends_with("imageDetail.json"),
        "{:?}",
        first.artifacts
    );
    assert!(
        first.artifacts[1].ends_with("imagedefinitions.json"),
        "{:?}",
        first.artifacts
    );
    assert!(first.timings.build_ms + first.timings.push_ms > 0);

    // Again: the layer cache serves the push (no export, so no uncompressed sizes) and every tag
    // already names the digest.
    let again = contract(&app.build_push(&args).ok());
    assert_eq!(again.digest.as_deref(), Some(digest.as_str()));
    assert!(
        again.tags.iter().all(|t| t.status == TagStatus::Present),
        "{:?}",
        again.tags
    );
    assert_eq!(
        layer_statuses(&again),
        vec![LayerStatus::Present; first.layers.len()]
    );
    assert!(
        again.layers.iter().all(|l| l.uncompressed.is_none()),
        "{:?}",
        again.layers
    );
    assert_eq!(again.size, first.size);

    // Another repository of the same registry: every layer mounted, nothing uploaded.
    let promoted_uri = format!("{}/{other}", rig.registry);
    let promoted = contract(&app.build_push(&["-r", &promoted_uri, "--json"]).ok());
    assert_eq!(promoted.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(
        tag_statuses(&promoted),
        [
            ("latest", TagStatus::Pushed),
            (head.as_str(), TagStatus::Pushed)
        ]
    );
    assert_eq!(
        layer_statuses(&promoted),
        vec![LayerStatus::Mounted; first.layers.len()]
    );
    assert_eq!(
        promoted.artifacts.len(),
        1,
        "no --container: imageDetail.json only"
    );
}

#[test]
fn a_dockerfile_the_engine_refuses_is_exit_2_naming_the_line() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/refused");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let heredoc = "FROM local/busybox:1\nRUN <<EOF\necho hi\nEOF\n";
    let unknown = "FROM local/busybox:1\nBOGUS x\n";
    let cases: &[(&str, &[&str], &str)] = &[
        (heredoc, &[], "Dockerfile:3: unknown instruction: ECHO"),
        (unknown, &[], "Dockerfile:2: unknown instruction: BOGUS"),
        (MULTI_STAGE, &["--target", "nope"], "build target nope"),
    ];
    for (dockerfile, extra, want) in cases {
        std::fs::write(app.root().join("Dockerfile"), dockerfile).unwrap();
        let log = RegistryLog::mark();
        let mut args = vec!["-r", uri.as_str()];
        args.extend_from_slice(extra);
        let out = app.build_push(&args);
        assert_eq!(out.code, 2, "{want}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{want}: {}", out.stderr);
        assert!(
            !out.stderr.contains("start the Docker engine"),
            "{want}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("help:"), "{}", out.stderr);
        assert!(!app.root().join("imageDetail.json").exists(), "{want}");
        assert_eq!(log.requests("PUT", &repo, ""), 0, "{want}: nothing pushed");
    }
    // The heredoc's help says why.
    std::fs::write(app.root().join("Dockerfile"), heredoc).unwrap();
    let out = app.build_push(&["-r", &uri]);
    assert!(out.stderr.contains("heredoc"), "{}", out.stderr);
}
