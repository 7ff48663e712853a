//! `tag-commit` end to end against the rig: the new tags carry the source's exact manifest bytes,
//! checked with curl and skopeo; indexes stay indexes; promotions mount instead of upload.

use crate::common::{
    Output, RegistryLog, Scratch, create_repository, json, rig, run, sha256, unique,
};
use serde_json::Value;

const TAG: &str = env!("CARGO_BIN_EXE_tag-commit");
const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");

/// A [`Scratch::rig`] that pushes small images with build-push and runs tag-commit.
struct Sandbox(Scratch);

impl std::ops::Deref for Sandbox {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.0
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox(Scratch::rig())
    }

    /// Builds and pushes a tiny image with `content`, returning its digest.
    fn image(&self, repo: &str, content: &str, tag: &str) -> String {
        let ctx = self.path(&unique("ctx"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM local/busybox:1\nCOPY content /content\n",
        )
        .unwrap();
        std::fs::write(ctx.join("content"), content).unwrap();
        let detail = ctx.join("imageDetail.json");
        let out = run(
            BUILD_PUSH,
            &[
                ctx.to_str().unwrap(),
                "-r",
                &format!("{}/{repo}", rig().registry),
                "--latest",
                "false",
                "--commit-tag",
                "none",
                "--tag",
                tag,
                "--image-detail",
                detail.to_str().unwrap(),
                "--json",
            ],
            &self.env,
            None,
        )
        .ok();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v["digest"].as_str().unwrap().to_string()
    }

    fn tag_commit(&self, args: &[&str]) -> Output {
        run(TAG, args, &self.env, None)
    }
}

/// The manifest bytes and media type as an independent client (curl) fetches them.
fn raw_manifest(repo: &str, reference: &str) -> (Vec<u8>, String) {
    let accept = "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
    let url = format!("https://{}/v2/{repo}/manifests/{reference}", rig().registry);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-u",
            &rig().login(),
            "-H",
            accept,
            "-D",
            "/dev/stderr",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers = String::from_utf8_lossy(&out.stderr).to_string();
    let media = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (out.stdout, media)
}

#[test]
fn new_tags_carry_the_exact_manifest_bytes_and_reruns_change_nothing() {
    let s = Sandbox::new();
    let repo = unique("tc/app");
    create_repository(&repo, "MUTABLE");
    let digest = s.image(&repo, "one", "build");
    let uri = format!("{}/{repo}", rig().registry);
    let out = s
        .tag_commit(&[
            "-r", &uri, "--source", "build", "--tag", "release", "--json",
        ])
        .ok();
    let v = json(&out);
    assert_eq!(v["digest"], digest.as_str());
    let tags: Vec<(&str, &str)> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tag"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tags,
        [
            ("0123456789abcdef0123456789abcdef01234567", "created"),
            ("release", "created")
        ]
    );
    let (source_bytes, source_type) = raw_manifest(&repo, "build");
    for tag in ["release", "0123456789abcdef0123456789abcdef01234567"] {
        let (bytes, media) = raw_manifest(&repo, tag);
        assert_eq!(sha256(&bytes), sha256(&source_bytes), "{tag}");
        assert_eq!(bytes, source_bytes);
        assert_eq!(media, source_type);
    }
    let skopeo = run(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--creds",
            &rig().login(),
            &format!("docker://{uri}:release"),
        ],
        &s.env,
        None,
    )
    .ok();
    assert_eq!(skopeo.stdout.as_bytes(), &source_bytes[..]);
    run(
        "docker",
        &["login", "-u", "AWS", "--password-stdin", &rig().registry],
        &s.env,
        Some(&rig().password),
    )
    .ok();
    run(
        "docker",
        &["pull", "-q", &format!("{uri}:release")],
        &s.env,
        None,
    )
    .ok();
    // Again: nothing to do.
    let again = json(
        &s.tag_commit(&[
            "-r", &uri, "--source", "build", "--tag", "release", "--json",
        ])
        .ok(),
    );
    for t in again["tags"].as_array().unwrap() {
        assert_eq!(t["status"], "present", "{t}");
    }
    // From build-push's imageDetail.json, with an updated artifact written.
    let detail = s.path("detail.json");
    std::fs::write(&detail, format!("{{\"ImageURI\": \"{uri}@{digest}\"}}\n")).unwrap();
    let promoted = s.path("promoted.json");
    s.tag_commit(&[
        "--from",
        detail.to_str().unwrap(),
        "--tag",
        "latest",
        "--commit-tag",
        "none",
        "--image-detail",
        promoted.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(raw_manifest(&repo, "latest").0, source_bytes);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&promoted).unwrap()).unwrap();
    assert_eq!(written["ImageURI"], format!("{uri}@{digest}"));
}

#[test]
fn an_oci_index_is_retagged_as_an_index() {
    let s = Sandbox::new();
    let repo = unique("tc/multi");
    create_repository(&repo, "MUTABLE");
    let a = s.image(&repo, "amd64", "a");
    let b = s.image(&repo, "arm64", "b");
    let size = |r: &str| raw_manifest(&repo, r).0.len();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": a, "size": size("a"), "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": b, "size": size("b"), "platform": {"architecture": "arm64", "os": "linux"}},
        ]
    });
    let body = serde_json::to_vec_pretty(&index).unwrap();
    let file = s.path("index.json");
    std::fs::write(&file, &body).unwrap();
    let url = format!("https://{}/v2/{repo}/manifests/multi", rig().registry);
    let put = std::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-u",
            &rig().login(),
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let uri = format!("{}/{repo}", rig().registry);
    let v = json(
        &s.tag_commit(&[
            "-r",
            &uri,
            "--source",
            "multi",
            "--tag",
            "multi2",
            "--commit-tag",
            "none",
            "--json",
        ])
        .ok(),
    );
    assert_eq!(v["media_type"], "application/vnd.oci.image.index.v1+json");
    let (bytes, media) = raw_manifest(&repo, "multi2");
    assert_eq!(bytes, body);
    assert_eq!(media, "application/vnd.oci.image.index.v1+json");

    // Promoted to another repository: the children come along, mounted, and the index is identical.
    let prod = unique("tc/multi-prod");
    create_repository(&prod, "MUTABLE");
    let log = RegistryLog::mark();
    let promote = [
        "-r",
        &uri,
        "--source",
        "multi",
        "--to",
        &prod,
        "--tag",
        "multi",
        "--commit-tag",
        "none",
        "--json",
    ];
    let v = json(&s.tag_commit(&promote).ok());
    assert!(v["mounted"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(raw_manifest(&prod, "multi").0, body);
    assert_eq!(raw_manifest(&prod, &a).0, raw_manifest(&repo, &a).0);
    assert_eq!(log.uploads(&prod), 0, "promotion uploaded blobs");
    assert!(
        log.manifest_puts(&prod) > 0,
        "the promotion's manifest PUTs are in the log read"
    );

    // Promoted again: the tag names the index there already, so no child is put again.
    let again = RegistryLog::mark();
    let v = json(&s.tag_commit(&promote).ok());
    assert_eq!(v["mounted"], 0, "{v}");
    assert_eq!(v["tags"][0]["status"], "present", "{v}");
    assert_eq!(
        again.manifest_puts(&prod),
        0,
        "a repeated promotion put manifests"
    );
    assert_eq!(again.requests("HEAD", &prod, "blobs/"), 0);
}

#[test]
fn an_immutable_conflict_names_both_digests() {
    let s = Sandbox::new();
    let repo = unique("tc/immutable");
    create_repository(&repo, "IMMUTABLE");
    let first = s.image(&repo, "first", "stable");
    let second = s.image(&repo, "second", "candidate");
    let uri = format!("{}/{repo}", rig().registry);
    let out = s.tag_commit(&[
        "-r",
        &uri,
        "--source",
        "candidate",
        "--tag",
        "fresh",
        "--tag",
        "stable",
        "--commit-tag",
        "none",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&first) && out.stderr.contains(&second),
        "{}",
        out.stderr
    );
    // Every tag is checked before any is put: the new tag listed first was not written either.
    assert_eq!(tags_of(&repo), ["candidate", "stable"]);
    // The same image under a tag it already has passes.
    s.tag_commit(&[
        "-r",
        &uri,
        "--source",
        "stable",
        "--tag",
        "stable",
        "--commit-tag",
        "none",
    ])
    .ok();
}

#[test]
fn bad_sources_are_clear_errors() {
    let s = Sandbox::new();
    let repo = unique("tc/errors");
    create_repository(&repo, "MUTABLE");
    s.image(&repo, "x", "exists");
    let uri = format!("{}/{repo}", rig().registry);
    let missing_digest = format!("sha256:{}", "0".repeat(64));
    let never = format!("{}/tc/never-created", rig().registry);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["-r", &uri, "--source", "nope", "--tag", "x"],
            2,
            "no such tag or digest",
        ),
        (
            vec!["-r", &uri, "--source", &missing_digest, "--tag", "x"],
            2,
            "no such tag or digest",
        ),
        (
            vec!["-r", &uri, "--source", "sha256:abc", "--tag", "x"],
            2,
            "64 hex digits",
        ),
        (
            vec!["-r", &never, "--source", "exists", "--tag", "x"],
            2,
            "does not exist",
        ),
        (
            vec!["-r", &uri, "--source", "exists", "--tag", "bad tag"],
            2,
            "invalid",
        ),
        (
            vec!["-r", &uri, "--source", "exists", "--commit-tag", "none"],
            2,
            "none given",
        ),
    ];
    for (args, code, want) in cases {
        let out = s.tag_commit(&args);
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("help:") || code != 2,
            "{args:?}: {}",
            out.stderr
        );
    }
    let missing = s.tag_commit(&["--from", "/nonexistent/imageDetail.json", "--tag", "x"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/nonexistent/imageDetail.json"),
        "{}",
        missing.stderr
    );
}

#[test]
fn the_ecr_api_path_puts_the_exact_manifest_and_digest() {
    let s = Sandbox::new();
    let repo = unique("tc/api");
    create_repository(&repo, "MUTABLE");
    // Pushed through the registry: the rig's ECR API holds it, as ECR does after a push.
    let digest = s.image(&repo, "api", "src");
    let (bytes, _) = raw_manifest(&repo, "src");
    let manifest = String::from_utf8(bytes).unwrap();
    let cli = std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap();
    let uri = format!("{}/{repo}", rig().registry);
    let v = json(
        &s.tag_commit(&[
            "-r",
            &uri,
            "--source",
            "src",
            "--tag",
            "via-api",
            "--commit-tag",
            "none",
            "--via",
            "ecr-api",
            "--json",
        ])
        .ok(),
    );
    assert_eq!(v["via"], "ecr-api");
    assert_eq!(v["digest"], digest.as_str());
    let got = std::process::Command::new(&cli)
        .args([
            "ecr",
            "batch-get-image",
            "--repository-name",
            &repo,
            "--image-ids",
            "imageTag=via-api",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let got: Value = serde_json::from_slice(&got.stdout).unwrap();
    let image = &got["images"][0];
    assert_eq!(image["imageManifest"], manifest.as_str());
    assert_eq!(image["imageId"]["imageDigest"], digest.as_str());
    // Again: ECR says it exists; reported as present.
    let again = json(
        &s.tag_commit(&[
            "-r",
            &uri,
            "--source",
            "src",
            "--tag",
            "via-api",
            "--commit-tag",
            "none",
            "--via",
            "ecr-api",
            "--json",
        ])
        .ok(),
    );
    assert_eq!(again["tags"][0]["status"], "present");
}

/// `tag-commit --json`, read back with every field the `tag-commit` section of docs/json.md lists and nothing else.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TagJson {
    schema_version: u32,
    step: String,
    source: String,
    digest: String,
    media_type: String,
    repository: String,
    tags: Vec<TagResultJson>,
    via: Via,
    commit: Option<CommitJson>,
    mounted: usize,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TagResultJson {
    tag: String,
    status: TagStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum TagStatus {
    Created,
    Present,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Via {
    Registry,
    EcrApi,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitJson {
    id: String,
    short: String,
    reference: Option<String>,
    source: CommitSource,
    dirty: Option<bool>,
    pull_request: Option<u64>,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CommitSource {
    Flag,
    Codebuild,
    GithubPullRequest,
    Github,
    Gitlab,
    Git,
}

fn tag_json(out: &Output) -> TagJson {
    let t: TagJson = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!((t.schema_version, t.step.as_str()), (1, "tag-commit"));
    t
}

fn tag_statuses(t: &TagJson) -> Vec<(&str, TagStatus)> {
    t.tags.iter().map(|r| (r.tag.as_str(), r.status)).collect()
}

/// The `--json` contract on each path: a commit tag (the `commit` object), tags created then
/// present, a promotion's mounts, and the ECR API path — read into types that refuse any field the
/// documentation does not list.
#[test]
fn the_json_output_is_the_documented_contract() {
    let s = Sandbox::new();
    let repo = unique("tc/json");
    create_repository(&repo, "MUTABLE");
    let digest = s.image(&repo, "json", "build");
    let uri = format!("{}/{repo}", rig().registry);
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let args = [
        "-r", &uri, "--source", "build", "--tag", "release", "--json",
    ];
    let t = tag_json(&s.tag_commit(&args).ok());
    assert_eq!(t.source, format!("{uri}@{digest}"));
    assert_eq!(t.digest, digest);
    assert_eq!(
        t.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(t.repository, uri);
    assert_eq!(t.via, Via::Registry);
    assert_eq!(t.mounted, 0);
    assert_eq!(
        tag_statuses(&t),
        [(sha, TagStatus::Created), ("release", TagStatus::Created)]
    );
    let commit = t.commit.expect("the commit tag's commit is reported");
    assert_eq!(
        (commit.id.as_str(), commit.short.as_str(), commit.source),
        (sha, "0123456", CommitSource::Flag)
    );
    assert_eq!(
        (commit.reference, commit.dirty, commit.pull_request),
        (None, None, None)
    );
    let again = tag_json(&s.tag_commit(&args).ok());
    assert_eq!(
        tag_statuses(&again),
        [(sha, TagStatus::Present), ("release", TagStatus::Present)]
    );

    // A promotion: no commit tag (no `commit`), the blobs mounted into the other repository.
    let prod = unique("tc/json-prod");
    create_repository(&prod, "MUTABLE");
    let first = RegistryLog::mark();
    let promote = [
        "-r",
        &uri,
        "--source",
        &digest,
        "--to",
        &prod,
        "--tag",
        "v1",
        "--commit-tag",
        "none",
        "--json",
    ];
    let promoted = tag_json(&s.tag_commit(&promote).ok());
    assert!(promoted.commit.is_none());
    assert_eq!(promoted.repository, format!("{}/{prod}", rig().registry));
    assert_eq!(promoted.source, format!("{uri}@{digest}"));
    assert!(promoted.mounted >= 2, "config and layers: {promoted:?}");
    assert_eq!(tag_statuses(&promoted), [("v1", TagStatus::Created)]);
    // Promoted again: the tag names the image there already, so no blob is even looked up, nothing
    // is mounted or put.
    let log = RegistryLog::mark();
    let again = tag_json(&s.tag_commit(&promote).ok());
    assert_eq!(again.mounted, 0, "{again:?}");
    assert_eq!(tag_statuses(&again), [("v1", TagStatus::Present)]);
    assert_eq!(log.requests("HEAD", &prod, "blobs/"), 0);
    assert_eq!(log.requests("POST", &prod, "blobs/uploads/"), 0);
    assert_eq!(log.manifest_puts(&prod), 0);
    // The positive control: the log shows the first promotion's mounts and put.
    assert!(first.requests("POST", &prod, "blobs/uploads/") >= 2);
    assert_eq!(first.manifest_puts(&prod), 1);

    // The ECR API path.
    let api = tag_json(
        &s.tag_commit(&[
            "-r",
            &uri,
            "--source",
            "build",
            "--tag",
            "via-api",
            "--commit-tag",
            "none",
            "--via",
            "ecr-api",
            "--json",
        ])
        .ok(),
    );
    assert_eq!(api.via, Via::EcrApi);
    assert_eq!(api.digest, digest);
    assert_eq!(tag_statuses(&api), [("via-api", TagStatus::Created)]);
}

/// The tags a repository holds, as the registry lists them (an independent client: curl).
fn tags_of(repo: &str) -> Vec<String> {
    let url = format!("https://{}/v2/{repo}/tags/list", rig().registry);
    let out = std::process::Command::new("curl")
        .args(["-sS", "-u", &rig().login(), &url])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    tags
}

/// The bad-input corpus of tag-commit: each row an input, its exit code and a fragment of the
/// error; every one names what is wrong with a help line, and no tag moves — in the source
/// repository, and in a `--to` repository ECR does not know (nothing is mounted or put there).
#[test]
fn hostile_inputs_are_refused_and_change_no_tag() {
    let s = Sandbox::new();
    let repo = unique("tc/hostile");
    let prod = unique("tc/hostile-prod");
    create_repository(&repo, "MUTABLE");
    create_repository(&prod, "MUTABLE");
    s.image(&repo, "hostile", "build");
    let other = unique("tc/hostile-other");
    create_repository(&other, "MUTABLE");
    s.image(&other, "other", "victim");
    let uri = format!("{}/{repo}", rig().registry);
    let never = unique("tc/never-created");
    let traversal = format!("../../../{other}/manifests/victim");
    let before = (tags_of(&repo), tags_of(&prod));
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--source", "build", "--to", &never, "--tag", "x"],
            2,
            "the repository does not exist",
        ),
        (
            vec!["--source", "build", "--tag="],
            2,
            "as --tag: a tag cannot be empty",
        ),
        (
            vec!["--source", "build", "--tag", "a,,b"],
            2,
            "as --tag: a tag cannot be empty",
        ),
        (
            vec!["--source", "build", "--tag", "v1,"],
            2,
            "as --tag: a tag cannot be empty",
        ),
        (vec!["--source", "build", "--tag=-x"], 2, "is invalid"),
        (vec!["--source", "build", "--tag", "../x"], 2, "is invalid"),
        (vec!["--source="], 2, "as --source: a tag cannot be empty"),
        (
            vec!["--source", "  ", "--tag", "x"],
            2,
            "as --source: a tag cannot be empty",
        ),
        (vec!["--source", &traversal, "--tag", "x"], 2, "as --source"),
        (vec!["--source", "bad tag", "--tag", "x"], 2, "as --source"),
        (
            vec!["--source", "build?x=1", "--tag", "x"],
            2,
            "as --source",
        ),
        (
            vec!["--source", "build#frag", "--tag", "x"],
            2,
            "as --source",
        ),
        (
            vec!["--source", "sha256:abc", "--tag", "x"],
            2,
            "64 hex digits",
        ),
        (
            vec![
                "--source", "build", "--to", &prod, "--via", "ecr-api", "--tag", "x",
            ],
            2,
            "as --to: a promotion mounts the blobs through the registry",
        ),
        (
            vec![
                "--source",
                "build",
                "--to",
                "registry.example/app",
                "--tag",
                "x",
            ],
            2,
            "--to must be in the source's registry",
        ),
        (
            vec!["--source", "build", "--to=", "--tag", "x"],
            2,
            "the repository name is empty",
        ),
    ];
    for (extra, code, want) in &cases {
        let log = RegistryLog::mark();
        let mut args = vec!["-r", uri.as_str(), "--commit-tag", "none"];
        args.extend_from_slice(extra);
        let out = s.tag_commit(&args);
        assert_eq!(out.code, *code, "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{extra:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("error: failed to "),
            "{extra:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("help:"), "{extra:?}: {}", out.stderr);
        assert_eq!((tags_of(&repo), tags_of(&prod)), before, "{extra:?}");
        assert_eq!(tags_of(&never), Vec::<String>::new(), "{extra:?}");
        assert_eq!(log.manifest_puts(&never), 0, "{extra:?}");
        assert_eq!(
            log.requests("POST", &never, "blobs/uploads/"),
            0,
            "{extra:?}"
        );
        assert_eq!(
            log.manifest_puts(&repo) + log.manifest_puts(&prod),
            0,
            "{extra:?}"
        );
    }
    assert_eq!(tags_of(&other), ["victim"], "the traversal reached nothing");
    // An empty TAG_COMMIT_TAGS counts as unset (CI systems export empty variables).
    let env = s.env_with(&[("TAG_COMMIT_TAGS", "")]);
    let out = crate::common::run(TAG, &["-r", &uri, "--source", "build"], &env, None).ok();
    assert!(
        out.stderr
            .contains("0123456789abcdef0123456789abcdef01234567"),
        "{}",
        out.stderr
    );
    // The positive control: the same promotion to a repository that exists works.
    s.tag_commit(&[
        "-r",
        &uri,
        "--source",
        "build",
        "--to",
        &prod,
        "--tag",
        "x",
        "--commit-tag",
        "none",
    ])
    .ok();
    assert_eq!(tags_of(&prod), ["x"]);
}

#[test]
fn a_redirect_to_another_host_is_given_no_credentials() {
    // The registry (proxy A, at its own name) redirects manifest reads to another host (B, a plain
    // listener on 127.0.0.1), which answers with a Bearer challenge whose realm is a third (C).
    // Our credentials must reach neither: no token request is made for a challenge from B.
    let s = Sandbox::new();
    let repo = unique("tc/redirect");
    create_repository(&repo, "MUTABLE");
    s.image(&repo, "redirect", "build");
    let logs = tempfile::tempdir().unwrap();
    let (a_log, b_log, c_log) = (
        logs.path().join("a"),
        logs.path().join("b"),
        logs.path().join("c"),
    );
    let c = crate::common::Proxy::start(
        "http://127.0.0.1:9",
        &[
            "--header-log",
            c_log.to_str().unwrap(),
            "--fail",
            "-1",
            "--fail-status",
            "404",
        ],
    );
    let challenge = format!(
        "WWW-Authenticate: Bearer realm=\"{}/token\",service=\"elsewhere\"",
        c.url
    );
    let b = crate::common::Proxy::start(
        &format!("https://{}", rig().registry),
        &[
            "--header-log",
            b_log.to_str().unwrap(),
            "--fail",
            "-1",
            "--fail-status",
            "401",
            "--fail-body",
            "{}",
            "--fail-header",
            &challenge,
        ],
    );
    let tls = crate::common::rig_dir().join("tls");
    let a = crate::common::Proxy::start(
        &format!("https://{}", rig().registry),
        &[
            "--tls-cert",
            tls.join("server.crt").to_str().unwrap(),
            "--tls-key",
            tls.join("server.key").to_str().unwrap(),
            "--header-log",
            a_log.to_str().unwrap(),
            "--redirect-match",
            "GET /v2/",
            "--redirect-to",
            &b.url,
        ],
    );
    let via = format!("{}:{}/{repo}", rig().registry, a.port());
    let out = s.tag_commit(&[
        "-r",
        &via,
        "--source",
        "build",
        "--tag",
        "moved",
        "--commit-tag",
        "none",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);
    let lines = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let (a_lines, b_lines, c_lines) = (lines(&a_log), lines(&b_log), lines(&c_log));
    assert!(
        b_lines.contains(&format!("GET /v2/{repo}/manifests/build")),
        "the read was redirected to B: {b_lines}"
    );
    assert!(!b_lines.contains("authorization"), "{b_lines}");
    assert_eq!(c_lines, "", "no token was asked for from B's realm");
    assert!(
        a_lines.contains("authorization"),
        "the registry itself got the credentials (the log records the header): {a_lines}"
    );
    assert_eq!(tags_of(&repo), ["build"], "nothing was tagged");
}

/// The registry's certificate is checked against the machine's trust store (read while the
/// connection opens): a store without the registry's CA refuses the connection, a CA found only in
/// the certificate directory is trusted, an empty store is a setup error naming the variables to
/// check; only the trusted run moves a tag. With the rig's CA trusted, the
/// same run speaks HTTP/2 to the registry (one connection for its requests), while build-push's
/// layer uploads stay on HTTP/1.1.
#[test]
fn the_registry_s_certificate_is_checked_against_the_machine_s_trust_store() {
    let s = Sandbox::new();
    let repo = unique("tc/trust");
    create_repository(&repo, "MUTABLE");
    let pushed = RegistryLog::mark();
    s.image(&repo, "trust", "exists");
    let uploads: Vec<String> = pushed
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!(" /v2/{repo}/blobs/uploads/")))
        .collect();
    assert!(!uploads.is_empty(), "{:?}", pushed.lines());
    assert!(
        uploads.iter().all(|l| l.contains(" HTTP/1.1\"")),
        "{uploads:?}"
    );
    let uri = format!("{}/{repo}", rig().registry);
    let empty_dir = s.path("no-certs");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let other_ca = s.p("other-ca.crt");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=not the registry's CA", "-keyout"])
        .arg(s.path("other-ca.key"))
        .args(["-out", &other_ca])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let args = ["-r", &uri, "--source", "exists", "--tag", "untrusted"];
    let dir = empty_dir.to_str().unwrap();
    let handshakes = RegistryLog::mark();
    let untrusted = run(
        TAG,
        &args,
        &s.env_with(&[("SSL_CERT_FILE", &other_ca), ("SSL_CERT_DIR", dir)]),
        None,
    );
    assert_eq!(untrusted.code, 4, "{}", untrusted.stderr);
    assert!(
        untrusted.stderr.contains("UnknownIssuer")
            && untrusted.stderr.contains(&rig().registry)
            && untrusted.stderr.contains("help:")
            && untrusted.stderr.contains("SSL_CERT_FILE"),
        "{}",
        untrusted.stderr
    );
    assert_eq!(
        untrusted.stderr.matches("error:").count(),
        1,
        "{}",
        untrusted.stderr
    );
    // One handshake, not retried: a refused certificate is refused again on every try. (The
    // registry logs the client's alert once it has read it, which may be just after we exit.)
    let refused = || {
        handshakes
            .lines()
            .iter()
            .filter(|l| l.contains("TLS handshake error"))
            .count()
    };
    for _ in 0..100 {
        if refused() > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(refused(), 1, "{:?}", handshakes.lines());
    // The bundle lacks the registry's CA and the certificate directory has it: trusted, as
    // OpenSSL trusts it (the directory is read once the bundle alone does not verify the chain).
    let ca_dir = s.path("ca-dir");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(&rig().ca, ca_dir.join("rig-ca.pem")).unwrap();
    let in_dir = run(
        TAG,
        &[
            "-r",
            &uri,
            "--source",
            "exists",
            "--tag",
            "from-dir",
            "--commit-tag",
            "none",
        ],
        &s.env_with(&[
            ("SSL_CERT_FILE", &other_ca),
            ("SSL_CERT_DIR", ca_dir.to_str().unwrap()),
        ]),
        None,
    );
    assert_eq!(in_dir.code, 0, "{}", in_dir.stderr);
    let missing = s.p("no-such-bundle.crt");
    let no_store = s.env_with(&[("SSL_CERT_FILE", &missing), ("SSL_CERT_DIR", dir)]);
    // tag-commit asks ECR for the repository's settings first; a merge goes to the registry.
    let merge = [
        "index",
        "-r",
        &uri,
        "--source",
        "exists",
        "--tag",
        "untrusted",
        "--latest",
        "false",
        "--commit-tag",
        "none",
    ];
    for args in [&args[..], &merge[..]] {
        let none = run(TAG, args, &no_store, None);
        assert_eq!(none.code, 2, "{args:?}: {}", none.stderr);
        assert!(
            none.stderr.contains("SSL_CERT_FILE") && none.stderr.contains("help:"),
            "{args:?}: {}",
            none.stderr
        );
        assert!(!none.stderr.contains("panicked"), "{}", none.stderr);
    }
    assert_eq!(tags_of(&repo), ["exists", "from-dir"]);

    let log = RegistryLog::mark();
    s.tag_commit(&args).ok();
    assert!(tags_of(&repo).contains(&"untrusted".to_string()));
    let ours: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!(" /v2/{repo}/")) && l.contains("\"buildsteps/"))
        .collect();
    assert!(!ours.is_empty(), "{:?}", log.lines());
    assert!(ours.iter().all(|l| l.contains(" HTTP/2.0\"")), "{ours:?}");
}
