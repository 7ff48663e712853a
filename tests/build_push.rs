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
    let mut args = vec!["inspect"];
    if config {
        args.push("--config");
    }
    let target = format!("docker://{image}");
    args.push(&target);
    json(&app.sb.skopeo(&args).ok())
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
    let npmrc = app.sb.write("npmrc", "npm-token-value");
    let out = app
        .build_push(&[
            "-r",
            &uri,
            "--print-equivalent",
            "--build-arg",
            "GREETING=hi",
            "--secret",
            &format!("id=npmrc,src={npmrc}"),
            "--cache-from",
            &format!("{uri}:latest"),
        ])
        .ok();
    assert!(!out.stdout.contains("npm-token-value"), "{}", out.stdout);
    assert!(
        out.stdout.starts_with("DOCKER_BUILDKIT=1 docker build -f "),
        "{}",
        out.stdout
    );
    for flag in [
        format!("--secret id=npmrc,src={npmrc}"),
        format!("--cache-from {uri}:latest"),
        "--build-arg BUILDKIT_INLINE_CACHE=1".to_string(),
    ] {
        assert!(out.stdout.contains(&flag), "{flag}: {}", out.stdout);
    }
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

/// The platform object (`os`, `architecture`, `variant` when there is one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
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
    platform: Option<ContractPlatform>,
    push_by_digest: bool,
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
    assert!(dry.platform.is_none() && !dry.push_by_digest, "{dry:?}");
    assert_eq!(dry.size, 0);
    assert_eq!((dry.timings.build_ms, dry.timings.push_ms), (0, 0));
    assert!(!app.root().join("imageDetail.json").exists());

    // The first push uploads every layer, compressed in this run, and pushes every tag.
    let first = contract(&app.build_push(&args).ok());
    assert!(!first.dry_run);
    // The platform the pushed config names: the engine's own.
    let (own, _) = engine_and_foreign_platforms(&app);
    let platform = first.platform.as_ref().unwrap();
    assert_eq!(format!("{}/{}", platform.os, platform.architecture), own);
    assert!(platform.variant.is_none() && !first.push_by_digest);
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
    let classic: &[&str] = &["--builder", "classic"];
    let failing = "FROM local/busybox:1\nRUN echo first-line && echo last-words && exit 3\n";
    let secret = "FROM local/busybox:1\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n";
    // (Dockerfile, flags, exit code, what the error says)
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            heredoc,
            &[],
            2,
            "Dockerfile:2: heredoc `<<EOF` is not supported",
        ),
        (unknown, &[], 2, "Dockerfile:2: unknown instruction: BOGUS"),
        (
            MULTI_STAGE,
            &["--target", "nope"],
            2,
            "Dockerfile: target stage nope could not be found",
        ),
        (secret, &[], 2, "secret npmrc not found"),
        (
            failing,
            &[],
            1,
            "step `[2/2] RUN echo first-line && echo last-words && exit 3` failed",
        ),
        (
            heredoc,
            classic,
            2,
            "Dockerfile:2: heredoc `<<EOF` is not supported",
        ),
        (
            unknown,
            classic,
            2,
            "Dockerfile:2: unknown instruction: BOGUS",
        ),
        (
            MULTI_STAGE,
            &["--builder", "classic", "--target", "nope"],
            2,
            "build target nope",
        ),
        (failing, classic, 1, "returned a non-zero code: 3"),
    ];
    for (dockerfile, extra, code, want) in cases {
        std::fs::write(app.root().join("Dockerfile"), dockerfile).unwrap();
        let log = RegistryLog::mark();
        let mut args = vec!["-r", uri.as_str()];
        args.extend_from_slice(extra);
        let out = app.build_push(&args);
        assert_eq!(out.code, *code, "{want}: {}", out.stderr);
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
    // The heredoc's help says why, with either builder.
    std::fs::write(app.root().join("Dockerfile"), heredoc).unwrap();
    for extra in [&[][..], classic] {
        let mut args = vec!["-r", uri.as_str()];
        args.extend_from_slice(extra);
        let out = app.build_push(&args);
        let help = out.stderr.split("help:").nth(1).unwrap_or_default();
        assert!(help.contains("heredoc"), "{}", out.stderr);
    }
}

/// The registry log's lines since `log`'s mark that touch repository `repo`.
fn repo_requests(log: &RegistryLog, repo: &str) -> Vec<String> {
    let path = format!("/v2/{repo}/");
    log.lines()
        .into_iter()
        .filter(|l| l.contains(&path))
        .collect()
}

/// The bad-input corpus of build-push's flags: each row an input, its exit code and a fragment of
/// the error. Every one is refused in the plan — before the engine builds or the registry is
/// called — naming the flag, with a help line, and nothing is written or sent.
#[test]
fn hostile_flags_are_refused_naming_the_flag_before_anything_runs() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/hostile");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let long_tag = format!("--tag={}", "a".repeat(129));
    let other_commit = "fedcba9876543210fedcba9876543210fedcba98";
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--platform", "linux/notarch"],
            2,
            "`notarch` is not an architecture",
        ),
        (
            vec!["--platform", "notos/amd64"],
            2,
            "`notos` is not an operating system",
        ),
        (
            vec!["--platform", "notarch"],
            2,
            "`notarch` is not an architecture",
        ),
        (
            vec!["--platform", "linux/amd64/v9"],
            2,
            "`v9` is not a variant of `amd64`",
        ),
        (
            vec!["--platform", "linux/386/v2"],
            2,
            "`386` has no variants",
        ),
        (
            vec!["--platform", "linux/amd64,linux/arm64"],
            2,
            "one platform",
        ),
        (
            vec!["--platform", "linux/amd64/v2/x"],
            2,
            "OS/ARCH[/VARIANT]",
        ),
        (
            vec!["--platform", "linux/"],
            2,
            "is not a platform component",
        ),
        (
            vec!["--platform", "linux/*"],
            2,
            "is not a platform component",
        ),
        (
            vec!["--platform=linux/amd 64"],
            2,
            "is not a platform component",
        ),
        (
            vec!["--build-arg", "=x"],
            2,
            "as --build-arg: the name before `=` is empty",
        ),
        (
            vec!["--build-arg", " =x"],
            2,
            "as --build-arg: the name before `=` is empty",
        ),
        (
            vec!["--build-arg", ""],
            2,
            "as --build-arg: the name before `=` is empty",
        ),
        (
            vec!["--build-arg", "A B=1"],
            2,
            "as --build-arg: the name before `=` contains white space",
        ),
        (
            vec!["--label", "=x"],
            2,
            "as --label: the name before `=` is empty",
        ),
        (
            vec!["--label", "team name=x"],
            2,
            "as --label: the name before `=` contains white space",
        ),
        (vec!["--tag="], 2, "as --tag: a tag cannot be empty"),
        (vec!["--tag", "  "], 2, "as --tag: a tag cannot be empty"),
        (
            vec!["--tag", "v1,,v2"],
            2,
            "as --tag: a tag cannot be empty",
        ),
        (vec!["--tag", "v1,"], 2, "as --tag: a tag cannot be empty"),
        (vec!["--tag=-dash"], 2, "is invalid"),
        (vec!["--tag", ".dot"], 2, "is invalid"),
        (vec!["--tag", "../x"], 2, "is invalid"),
        (vec!["--tag", "a:b"], 2, "is invalid"),
        (vec!["--tag", "caf\u{e9}"], 2, "is invalid"),
        (vec![long_tag.as_str()], 2, "the limit is 128"),
        (vec!["--container="], 2, "as --container: the name is empty"),
        (
            vec!["--container", "web app"],
            2,
            "ECS container names hold only",
        ),
        (
            vec!["--container", "web.1"],
            2,
            "ECS container names hold only",
        ),
        (vec!["--ref-tag", "--commit", other_commit], 2, "--ref-tag"),
    ];
    for (extra, code, want) in &cases {
        let log = RegistryLog::mark();
        let mut args = vec!["-r", uri.as_str()];
        args.extend_from_slice(extra);
        let out = app.build_push(&args);
        assert_eq!(out.code, *code, "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{extra:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("error: failed to "),
            "{extra:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("help:"), "{extra:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("Step 1/"),
            "{extra:?} built: {}",
            out.stderr
        );
        assert!(
            !app.root().join("imageDetail.json").exists()
                && !app.root().join("imagedefinitions.json").exists(),
            "{extra:?} wrote an artifact"
        );
        assert_eq!(
            repo_requests(&log, &repo),
            Vec::<String>::new(),
            "{extra:?}"
        );
    }
    // SOURCE_DATE_EPOCH is whole seconds (the reproducible-builds specification asks a build to
    // fail on a malformed one), not silently replaced by the commit's time or printed as garbage.
    let root = app.root().display().to_string();
    for (value, want) in [
        ("abc", "digits only"),
        ("-1", "digits only"),
        ("1.5", "digits only"),
        ("99999999999999", "too large"),
        ("9223372036854775807", "too large"),
    ] {
        let log = RegistryLog::mark();
        let mut env = app.sb.env.clone();
        set(&mut env, "SOURCE_DATE_EPOCH", value);
        let out = run_in(Some(&app.root()), BIN, &[&root, "-r", &uri], &env, None);
        assert_eq!(out.code, 2, "{value}: {}", out.stderr);
        assert!(
            out.stderr.contains("as SOURCE_DATE_EPOCH") && out.stderr.contains(want),
            "{value}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("help:"), "{value}: {}", out.stderr);
        assert!(!app.root().join("imageDetail.json").exists(), "{value}");
        assert_eq!(repo_requests(&log, &repo), Vec::<String>::new(), "{value}");
    }
    // --print-equivalent prints shell commands: a repository that would smuggle one in is refused.
    for bad in ["x;rm -rf /", "$(id)/app", "app name"] {
        let out = app.build_push(&["-r", bad, "--print-equivalent"]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{bad}: {}", out.stdout);
        assert!(
            out.stderr.contains("as the repository"),
            "{bad}: {}",
            out.stderr
        );
    }
    // The positive control: the same checkout and repository push, so the refusals above were the
    // flags' doing.
    let log = RegistryLog::mark();
    app.build_push(&[
        "-r",
        &uri,
        "--tag",
        "ok",
        "--build-arg",
        "GREETING=hi",
        "--label",
        "a=b",
    ])
    .ok();
    assert!(log.manifest_puts(&repo) > 0, "the push is in the log read");
    // An empty BUILD_PUSH_TAGS / BUILD_PUSH_PLATFORM counts as unset, as CI systems export them.
    let mut env = app.sb.env.clone();
    set(&mut env, "BUILD_PUSH_TAGS", "");
    set(&mut env, "BUILD_PUSH_PLATFORM", "");
    let out = run_in(
        Some(&app.root()),
        BIN,
        &[&root, "-r", &uri, "--dry-run", "--json"],
        &env,
        None,
    )
    .ok();
    assert_eq!(
        json(&out)["tags"].as_array().unwrap().len(),
        2,
        "{}",
        out.stdout
    );
}

/// The engine's own platform (`linux/amd64` on the rig) and one it cannot build from the rig's
/// local base image.
fn engine_and_foreign_platforms(app: &App) -> (String, String) {
    let out = run(
        "docker",
        &["version", "-f", "{{.Server.Os}}/{{.Server.Arch}}"],
        &app.sb.env,
        None,
    )
    .ok();
    let own = out.stdout.trim().to_string();
    let foreign = if own == "linux/arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    (own, foreign.to_string())
}

#[test]
fn an_image_of_another_platform_than_asked_for_is_never_pushed() {
    let app = App::reproducible();
    let rig = rig();
    let repo = unique("bp/platform");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let (own, foreign) = engine_and_foreign_platforms(&app);

    // The classic builder cannot build the foreign platform from a local amd64 base image: it
    // builds its own. Refused after the build, with nothing sent to the registry (the export path:
    // the layers are spooled, not streamed, until the config is read). BuildKit looks for the
    // foreign base image instead, and fails the build.
    let log = RegistryLog::mark();
    let out = app.build_push(&["-r", &uri, "--platform", &foreign, "--builder", "classic"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "failed to push the image built for --platform {foreign}: the engine built {own}"
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
    assert_eq!(repo_requests(&log, &repo), Vec::<String>::new());
    assert!(!app.root().join("imageDetail.json").exists());

    // The platform the engine builds is pushed, and is what the registry's config says.
    let log = RegistryLog::mark();
    let pushed = json(
        &app.build_push(&["-r", &uri, "--platform", &own, "--json"])
            .ok(),
    );
    assert!(log.manifest_puts(&repo) > 0, "the push is in the log read");
    let digest = pushed["digest"].as_str().unwrap();
    let config = skopeo_inspect(&app, &format!("{uri}@{digest}"), true);
    assert_eq!(
        format!(
            "{}/{}",
            config["os"].as_str().unwrap(),
            config["architecture"].as_str().unwrap()
        ),
        own
    );

    // Again for the foreign platform, now that the layer cache knows the image (the fast path):
    // refused before any request for the repository too.
    std::fs::remove_file(app.root().join("imageDetail.json")).unwrap();
    let log = RegistryLog::mark();
    let out = app.build_push(&["-r", &uri, "--platform", &foreign, "--builder", "classic"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("the engine built"), "{}", out.stderr);

    // BuildKit asks for the base image of the foreign platform, which this offline engine lacks:
    // the build fails naming the step, and nothing is pushed.
    let out = app.build_push(&["-r", &uri, "--platform", &foreign]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("FROM") || out.stderr.contains("load metadata"),
        "{}",
        out.stderr
    );
    assert_eq!(repo_requests(&log, &repo), Vec::<String>::new());
    assert_eq!(repo_requests(&log, &repo), Vec::<String>::new());
    assert!(!app.root().join("imageDetail.json").exists());
}

#[test]
fn a_ref_tag_comes_from_the_branch_also_with_commit_given() {
    let app = App::new();
    let rig = rig();
    let uri = format!("{}/{}", rig.registry, unique("bp/reftag"));
    let head = app.head();
    git(&app.root(), &["checkout", "-q", "-b", "feature/login"]);
    let tags = |out: &Output| -> Vec<String> {
        json(out)["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tag"].as_str().unwrap().to_string())
            .collect()
    };
    let want = ["latest", head.as_str(), "feature-login"];
    let from_git = app
        .build_push(&["-r", &uri, "--ref-tag", "--dry-run", "--json"])
        .ok();
    assert_eq!(tags(&from_git), want);
    // --commit naming the checked-out commit: its branch is the checkout's.
    let given = app
        .build_push(&[
            "-r",
            &uri,
            "--ref-tag",
            "--commit",
            &head,
            "--dry-run",
            "--json",
        ])
        .ok();
    assert_eq!(tags(&given), want);
    let short = app
        .build_push(&[
            "-r",
            &uri,
            "--ref-tag",
            "--commit",
            &head[..7],
            "--dry-run",
            "--json",
        ])
        .ok();
    assert_eq!(tags(&short)[2], "feature-login");
    // A CI's branch for its commit.
    let mut env = app.sb.env.clone();
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", head.as_str()),
        ("GITHUB_REF_NAME", "release/2.0"),
    ] {
        set(&mut env, k, v);
    }
    let root = app.root().display().to_string();
    let ci = run_in(
        Some(&app.root()),
        BIN,
        &[
            &root,
            "-r",
            &uri,
            "--ref-tag",
            "--commit",
            &head,
            "--dry-run",
            "--json",
        ],
        &env,
        None,
    )
    .ok();
    assert_eq!(tags(&ci)[2], "release-2.0");
    // A detached HEAD: no branch to name the tag after, said so rather than left out.
    git(&app.root(), &["checkout", "-q", "--detach"]);
    let out = app.build_push(&["-r", &uri, "--ref-tag", "--dry-run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("failed to add the ref tag (--ref-tag)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
}

#[test]
fn a_dry_run_says_what_it_would_write_and_print_equivalent_prints_no_secret() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/dry-words");
    let uri = format!("{}/{repo}", rig.registry);
    let out = app
        .build_push(&["-r", &uri, "--dry-run", "--container", "web"])
        .ok();
    let detail = app.root().join("imageDetail.json");
    let defs = app.root().join("imagedefinitions.json");
    assert!(
        out.stderr
            .contains(&format!("  would write {}\n", detail.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("  would write {}\n", defs.display())),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(" wrote "), "{}", out.stderr);
    assert!(!detail.exists() && !defs.exists());

    // A build arg taken from the environment is passed on by name, never its value; every value is
    // quoted for the shell; the platform and the cache flags are part of the build.
    let mut env = app.sb.env.clone();
    set(&mut env, "NPM_TOKEN", "s3cr3t-t0ken");
    let root = app.root().display().to_string();
    let out = run_in(
        Some(&app.root()),
        BIN,
        &[
            &root,
            "-r",
            &uri,
            "--print-equivalent",
            "--build-arg",
            "NPM_TOKEN",
            "--build-arg",
            "GREETING=hi there",
            "--target",
            "base;touch pwned",
            "--platform",
            "linux/amd64",
            "--no-cache",
            "--pull",
        ],
        &env,
        None,
    )
    .ok();
    assert!(!out.stdout.contains("s3cr3t"), "{}", out.stdout);
    let build = out.stdout.lines().next().unwrap();
    for part in [
        " --build-arg NPM_TOKEN ",
        " --build-arg 'GREETING=hi there' ",
        " --target 'base;touch pwned' ",
        " --platform linux/amd64 ",
        " --no-cache --pull ",
    ] {
        assert!(build.contains(part), "{part}: {build}");
    }
    // A registry with a port, or localhost, is kept as given (not put under "$ECR_REGISTRY").
    let out = app
        .build_push(&["-r", "localhost:5000/team/app", "--print-equivalent"])
        .ok();
    assert!(
        out.stdout
            .contains("docker push localhost:5000/team/app:latest\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn credentials_are_sent_to_the_registry_host_only() {
    // The registry hands out upload URLs on another host (as registries backed by a storage
    // service do): proxy A, at the registry's name, rewrites every Location to proxy B, a plain
    // listener on 127.0.0.1 that records the headers it gets and adds the credentials the storage
    // service would not need from the client. The push must work with none of ours reaching B.
    let app = App::reproducible();
    let rig = rig();
    let repo = unique("bp/redirect");
    create_repository(&repo, "MUTABLE");
    let logs = tempfile::tempdir().unwrap();
    let (a_log, b_log) = (logs.path().join("a"), logs.path().join("b"));
    let auth = format!(
        "Authorization: Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, rig.login())
    );
    let b = Proxy::start(
        &format!("https://{}", rig.registry),
        &[
            "--header-log",
            b_log.to_str().unwrap(),
            "--set-header",
            &auth,
            "--rewrite-location",
            "self",
        ],
    );
    let a = registry_proxy(&[
        "--header-log",
        a_log.to_str().unwrap(),
        "--rewrite-location",
        &b.url,
    ]);
    let via = format!("{}:{}/{repo}", rig.registry, a.port());
    let out = app.build_push(&["-r", &via, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let digest = json(&out)["digest"].as_str().unwrap().to_string();
    let inspected = skopeo_inspect(&app, &format!("{}/{repo}:latest", rig.registry), false);
    assert_eq!(inspected["Digest"], digest.as_str());

    let lines = |p: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (a_lines, b_lines) = (lines(&a_log), lines(&b_log));
    assert!(
        b_lines
            .iter()
            .any(|l| l.starts_with("PATCH ") || l.starts_with("PUT ")),
        "the uploads went to the other host: {b_lines:#?}"
    );
    for l in &b_lines {
        let names = l.split('\t').nth(1).unwrap_or_default();
        assert!(
            !names.split(',').any(|n| n == "authorization"),
            "credentials reached the other host: {l}"
        );
    }
    assert!(
        a_lines.iter().any(|l| l.contains("authorization")),
        "the registry itself got them (the log records the header): {a_lines:#?}"
    );
}

/// What BuildKit brings, in one Dockerfile: an unused stage that fails (never built), a cache mount
/// with its own ID (nothing else on the engine shares it), a secret from a file and one from a
/// variable (each printed by a step, to show the output hides it), a build arg and `--target`.
fn buildkit_dockerfile(cache_id: &str) -> String {
    format!(
        "FROM local/busybox:1 AS broken\nRUN echo this stage must not run && exit 9\n\n\
         FROM local/busybox:1 AS base\nARG GREETING=hello\nCOPY .build-id /\nCOPY app/ /app/\n\
         RUN --mount=type=cache,id={cache_id},target=/cache n=$(cat /cache/n 2>/dev/null || echo 0); \
         n=$((n+1)); echo $n > /cache/n; echo \"cache runs: $n\"\n\
         RUN --mount=type=secret,id=filetok,required=true cat /run/secrets/filetok && wc -c < /run/secrets/filetok > /filetok.len\n\
         RUN --mount=type=secret,id=envtok,required=true cat /run/secrets/envtok && echo \"$GREETING\" > /greeting\n\
         CMD [\"/bin/sh\", \"/app/run.sh\"]\n\n\
         FROM base AS debug\nRUN echo debug > /debug\n"
    )
}

/// Every byte of the pushed image: the config, and each layer's tar, decompressed.
fn pushed_bytes(app: &App, image: &str) -> Vec<(String, Vec<u8>)> {
    let dir = app.sb.path(&unique("pushed"));
    let creds = rig().login();
    run(
        "skopeo",
        &[
            "copy",
            "--src-creds",
            &creds,
            &format!("docker://{image}"),
            &format!("dir:{}", dir.display()),
        ],
        &app.sb.env,
        None,
    )
    .ok();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let raw = std::fs::read(&path).unwrap();
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut text)
                .unwrap();
            text
        } else {
            raw
        };
        out.push((path.display().to_string(), bytes));
    }
    out
}

/// The files of an image in the engine, as `docker export` of a container of it lists them: path,
/// mode, and a hash of the content (times left out: a `RUN` step's files get the build's time).
fn engine_files(sb: &Scratch, image: &str) -> Vec<(String, u32, String)> {
    let created = run("docker", &["create", image], &sb.env, None).ok();
    let id = created.stdout.trim().to_string();
    let tar_path = sb.path(&unique("export.tar"));
    run(
        "docker",
        &["export", "-o", &tar_path.display().to_string(), &id],
        &sb.env,
        None,
    )
    .ok();
    run("docker", &["rm", &id], &sb.env, None).ok();
    let mut archive = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mode = entry.header().mode().unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        files.push((path, mode, common::sha256_hex(&content)));
    }
    files.sort();
    files
}

/// `docker builder prune -af` empties the engine's whole build cache, which the cache-mount test
/// needs kept between its two runs: the two never overlap.
static BUILD_CACHE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn buildkit_runs_secrets_cache_mounts_and_only_the_stages_the_target_needs() {
    let _cache = BUILD_CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache_id = unique("cache");
    let app = App::with(&buildkit_dockerfile(&cache_id));
    let rig = rig();
    let repo = unique("bp/buildkit");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let file_secret = format!("file-secret-{}", unique("v"));
    let env_secret = format!("env-secret-{}", unique("v"));
    let secret_file = app.sb.write("secrets/filetok", &file_secret);
    let args = [
        "-r",
        uri.as_str(),
        "--target",
        "base",
        "--build-arg",
        "GREETING=hi",
        "--secret",
        &format!("id=filetok,src={secret_file}"),
        "--secret",
        "id=envtok,env=BUILD_TOKEN",
        "--json",
    ];
    let run_once = || {
        let mut all = vec![app.root().display().to_string()];
        all.extend(args.iter().map(|a| (*a).to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut env = app.sb.env.clone();
        set(&mut env, "BUILD_TOKEN", &env_secret);
        run_in(Some(&app.root()), BIN, &refs, &env, None)
    };
    let first = run_once().ok();
    for text in [&first.stdout, &first.stderr] {
        assert!(
            !text.contains(&file_secret),
            "the file secret is hidden: {text}"
        );
        assert!(
            !text.contains(&env_secret),
            "the env secret is hidden: {text}"
        );
    }
    assert!(first.stderr.contains("cache runs: 1"), "{}", first.stderr);
    assert!(
        first.stderr.contains("***"),
        "the printed secrets show as ***: {}",
        first.stderr
    );
    assert!(
        !first.stderr.contains("this stage must not run"),
        "the unused failing stage is skipped: {}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .lines()
            .any(|l| l.starts_with('#') && l.contains("DONE")),
        "plain progress: {}",
        first.stderr
    );
    let digest = json(&first)["digest"].as_str().unwrap().to_string();

    // The secrets are in no layer, nor the config or its history.
    let image = format!("{uri}@{digest}");
    let blobs = pushed_bytes(&app, &image);
    assert!(
        blobs.len() >= 4,
        "manifest, config and layers: {}",
        blobs.len()
    );
    for (name, bytes) in &blobs {
        for secret in [&file_secret, &env_secret] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds a secret"
            );
        }
    }
    let config = skopeo_inspect(&app, &image, true);
    let history = config["history"].to_string();
    assert!(
        history.contains("secret"),
        "the history names the mounts: {history}"
    );

    // The same files as the docker CLI's BuildKit build of the same context.
    let reference = format!("{}:{}", unique("bp-reference"), "1");
    let mut env = app.sb.env.clone();
    set(&mut env, "DOCKER_BUILDKIT", "1");
    set(&mut env, "BUILD_TOKEN", &env_secret);
    let cli = run_in(
        Some(&app.root()),
        "/usr/bin/docker",
        &[
            "build",
            "--network",
            "host",
            "--target",
            "base",
            "--build-arg",
            "GREETING=hi",
            "--secret",
            &format!("id=filetok,src={secret_file}"),
            "--secret",
            "id=envtok,env=BUILD_TOKEN",
            "-t",
            &reference,
            ".",
        ],
        &env,
        None,
    );
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let local = format!("{uri}:latest");
    let ours = engine_files(&app.sb, &local);
    let theirs = engine_files(&app.sb, &reference);
    assert!(ours.iter().any(|(p, _, _)| p == "greeting"), "{ours:?}");
    assert!(ours.iter().all(|(p, _, _)| p != "debug"), "--target base");
    assert_eq!(ours, theirs, "the files equal docker build's");
    let inspected = run("docker", &["image", "inspect", &local], &app.sb.env, None).ok();
    let layers =
        serde_json::from_str::<Value>(&inspected.stdout).unwrap()[0]["RootFS"]["Layers"].clone();
    assert_eq!(
        config["rootfs"]["diff_ids"], layers,
        "what was pushed is what was built"
    );
    run("docker", &["rmi", "-f", &reference], &app.sb.env, None);

    // The cache mount outlives the build: a second build (new context bytes, so the step runs
    // again) finds what the first left there.
    std::fs::write(app.root().join(".build-id"), unique("again")).unwrap();
    let second = run_once().ok();
    assert!(second.stderr.contains("cache runs: 2"), "{}", second.stderr);
}

#[test]
fn inline_cache_lets_a_pruned_engine_reuse_the_expensive_step_from_the_registry() {
    let _cache = BUILD_CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dockerfile = "FROM local/busybox:1\nCOPY .build-id /\nRUN sleep 2 && echo expensive > /expensive\nRUN echo cheap > /cheap\n";
    let app = App::with(dockerfile);
    let rig = rig();
    let repo = unique("bp/cache");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let first = app.build_push(&["-r", &uri, "--cache-to", "inline"]).ok();
    assert!(first.stderr.contains("RUN sleep 2"), "{}", first.stderr);
    let creds = rig.login();
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--creds",
            &creds,
            "--config",
            "--raw",
            &format!("docker://{uri}:latest"),
        ],
        &app.sb.env,
        None,
    )
    .ok();
    let config: Value = serde_json::from_str(&raw.stdout).unwrap();
    assert!(
        config.get("moby.buildkit.cache.v0").is_some(),
        "the pushed config carries the inline cache: {config}"
    );
    // A fresh engine: no build cache, no image of this build.
    run("docker", &["builder", "prune", "-af"], &app.sb.env, None).ok();
    for tag in ["latest", &app.head()] {
        run(
            "docker",
            &["rmi", "-f", &format!("{uri}:{tag}")],
            &app.sb.env,
            None,
        );
    }
    // A fresh host: no layer cache of ours either.
    let _ = std::fs::remove_dir_all(app.sb.path(".cache/buildsteps"));
    let log = RegistryLog::mark();
    let second = app
        .build_push(&[
            "-r",
            &uri,
            "--cache-from",
            &format!("{uri}:latest"),
            "--json",
        ])
        .ok();
    // Every layer is one the cache image holds: none is uploaded again.
    let report = json(&second);
    let statuses: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| *s == "present"),
        "{report}"
    );
    assert!(
        log.requests("HEAD", &repo, "blobs/") >= statuses.len(),
        "each layer is looked up: {:?}",
        log.lines()
    );
    assert!(
        log.uploads(&repo) <= 1,
        "at most the config is uploaded: {:?}",
        log.lines()
    );
    // Into another repository of the registry, the cache image's layers are mounted.
    let other = unique("bp/cache-other");
    create_repository(&other, "MUTABLE");
    let _ = std::fs::remove_dir_all(app.sb.path(".cache/buildsteps"));
    let into_other = RegistryLog::mark();
    let third = app
        .build_push(&[
            "-r",
            &format!("{}/{other}", rig.registry),
            "--cache-from",
            &format!("{uri}:latest"),
            "--json",
        ])
        .ok();
    let report = json(&third);
    let layers = report["layers"].as_array().unwrap();
    assert!(
        layers.len() == statuses.len() && layers.iter().all(|l| l["status"] == "mounted"),
        "{report}"
    );
    assert!(into_other.uploads(&other) <= 1, "{:?}", into_other.lines());
    let lines: Vec<&str> = second.stderr.lines().collect();
    let step = lines
        .iter()
        .position(|l| {
            l.starts_with('#') && l.ends_with("RUN sleep 2 && echo expensive > /expensive")
        })
        .unwrap_or_else(|| panic!("the step is shown: {}", second.stderr));
    let number = lines[step].split(' ').next().unwrap();
    assert!(
        lines.contains(&format!("{number} CACHED").as_str()),
        "the expensive step comes from the registry's cache: {}",
        second.stderr
    );
}

/// A failing `RUN` (BuildKit) shows the step's last output lines in the help; only an engine that
/// does not answer is exit 4. (The exit codes of each failure are in
/// `a_dockerfile_the_engine_refuses_is_exit_2_naming_the_line`.)
#[test]
fn a_failing_step_shows_its_last_lines_and_only_a_silent_engine_is_exit_4() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/bk-fail");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let failing = "FROM local/busybox:1\nRUN echo first-line && echo last-words && exit 3\n";
    std::fs::write(app.root().join("Dockerfile"), failing).unwrap();
    let out = app.build_push(&["-r", &uri]);
    let help = out.stderr.split("help:").nth(1).unwrap_or_default();
    assert!(
        help.contains("first-line") && help.contains("last-words"),
        "{}",
        out.stderr
    );
    // Only an engine that does not answer is exit 4.
    let mut env = app.sb.env.clone();
    set(&mut env, "DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let root = app.root().display().to_string();
    let out = run_in(Some(&app.root()), BIN, &[&root, "-r", &uri], &env, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("start the Docker engine"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_ssh_agent_is_forwarded_to_a_step_that_mounts_it() {
    let dockerfile = "FROM local/busybox:1\nCOPY .build-id /\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo agent-socket-present\n";
    let app = App::with(dockerfile);
    let rig = rig();
    let repo = unique("bp/ssh");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let socket = app.sb.path("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .args(["-D", "-a", &socket.display().to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut env = app.sb.env.clone();
    set(&mut env, "SSH_AUTH_SOCK", &socket.display().to_string());
    let root = app.root().display().to_string();
    let out = run_in(
        Some(&app.root()),
        BIN,
        &[&root, "-r", &uri, "--ssh", "default"],
        &env,
        None,
    );
    let _ = agent.kill();
    let _ = agent.wait();
    let out = out.ok();
    assert!(
        out.stderr.contains("agent-socket-present"),
        "{}",
        out.stderr
    );
    // Without --ssh the step has no agent.
    std::fs::write(app.root().join(".build-id"), unique("again")).unwrap();
    let out = app.build_push(&["-r", &uri]);
    assert_ne!(out.code, 0, "{}", out.stderr);
}

#[test]
fn the_classic_builder_still_builds_when_chosen() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/classic");
    create_repository(&repo, "MUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let out = app
        .build_push(&[
            "-r",
            &uri,
            "--builder",
            "classic",
            "--target",
            "base",
            "--json",
        ])
        .ok();
    assert!(
        out.stderr.contains("Step 1/"),
        "the classic builder's output: {}",
        out.stderr
    );
    let digest = json(&out)["digest"].as_str().unwrap().to_string();
    let config = skopeo_inspect(&app, &format!("{uri}@{digest}"), true);
    assert_eq!(config["config"]["Cmd"][1], "/app/run.sh");
    // DOCKER_BUILDKIT=0 chooses it too, as it does for docker; BuildKit-only flags are refused.
    let mut env = app.sb.env.clone();
    set(&mut env, "DOCKER_BUILDKIT", "0");
    let root = app.root().display().to_string();
    let out = run_in(
        Some(&app.root()),
        BIN,
        &[&root, "-r", &uri, "--cache-from", &format!("{uri}:latest")],
        &env,
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--cache-from needs BuildKit"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_retried_build_reuses_the_image_its_commit_tag_names() {
    let app = App::new();
    let rig = rig();
    let repo = unique("bp/reuse");
    create_repository(&repo, "IMMUTABLE");
    let uri = format!("{}/{repo}", rig.registry);
    let first = app
        .build_push(&["-r", &uri, "--latest", "false", "--json"])
        .ok();
    let digest = json(&first)["digest"].as_str().unwrap().to_string();
    std::fs::remove_file(app.root().join("imageDetail.json")).unwrap();

    // A rebuild that gives other bytes is refused under the commit tag, and the error says what a
    // retry wants.
    let other = app.build_push(&[
        "-r",
        &uri,
        "--latest",
        "false",
        "--build-arg",
        "GREETING=other",
    ]);
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(
        other.stderr.contains("--reuse-existing"),
        "{}",
        other.stderr
    );

    // The retry with --reuse-existing builds nothing, moves the other tag, writes the artifacts.
    let log = RegistryLog::mark();
    let retry = app
        .build_push(&[
            "-r",
            &uri,
            "--build-arg",
            "GREETING=other",
            "--tag",
            "release",
            "--reuse-existing",
            "--json",
        ])
        .ok();
    assert!(retry.stderr.contains("reusing"), "{}", retry.stderr);
    assert!(
        !retry.stderr.lines().any(|l| l.starts_with('#')),
        "nothing was built: {}",
        retry.stderr
    );
    let v = json(&retry);
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(log.uploads(&repo), 0, "no blob uploaded");
    let detail: Value = serde_json::from_str(
        &std::fs::read_to_string(app.root().join("imageDetail.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(detail["ImageURI"], format!("{uri}@{digest}"));
    let statuses: Vec<(String, String)> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(app.head(), "present".to_string())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("release".to_string(), "pushed".to_string())),
        "{statuses:?}"
    );

    // A work tree with changes is not the commit: it builds (and this one is refused).
    std::fs::write(app.root().join("app/run.sh"), "echo changed\n").unwrap();
    let dirty = app.build_push(&["-r", &uri, "--latest", "false", "--reuse-existing"]);
    assert!(
        dirty.stderr.contains("not known to be clean"),
        "{}",
        dirty.stderr
    );
    assert_eq!(dirty.code, 2, "{}", dirty.stderr);
}
