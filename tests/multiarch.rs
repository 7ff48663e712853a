//! Multi-platform images end to end: one `build-push --push-by-digest` leg per platform (the arm64
//! one built from the rig's arm64 base image, no emulation), merged by `tag-commit index`, and read
//! back with skopeo, docker and the registry's log.

use crate::common;
use crate::common::{Output, RegistryLog, Scratch, create_repository, json, rig, run_in, unique};
use serde_json::Value;
use std::path::{Path, PathBuf};

const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");
const TAG_COMMIT: &str = env!("CARGO_BIN_EXE_tag-commit");

/// A checkout whose Dockerfile builds on `BASE` (a build arg): `FROM` + `COPY` only.
struct Checkout {
    sb: Scratch,
}

impl Checkout {
    fn new() -> Checkout {
        let sb = Scratch::rig();
        let root = sb.path("src");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("Dockerfile"),
            "ARG BASE\nFROM $BASE\nCOPY content /content\nCMD [\"cat\", \"/content\"]\n",
        )
        .unwrap();
        std::fs::write(root.join("content"), unique("content")).unwrap();
        Checkout { sb }
    }

    fn root(&self) -> PathBuf {
        self.sb.path("src")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        run_in(Some(&self.root()), program, args, &self.sb.env, None)
    }

    /// One platform's leg: `linux/amd64` from the rig's base image, `linux/arm64` from its arm64
    /// one; the descriptor goes to `out/<arch>/platform-image.json`.
    fn leg(&self, repo: &str, arch: &str, extra: &[&str]) -> Output {
        let rig = rig();
        let base = if arch == "arm64" {
            rig.arm64_base_image
        } else {
            rig.base_image
        };
        let out_dir = self.root().join("out").join(arch);
        std::fs::create_dir_all(&out_dir).unwrap();
        let descriptor = out_dir.join("platform-image.json");
        let platform = format!("linux/{arch}");
        let base_arg = format!("BASE={base}");
        let mut args = vec![
            ".",
            "-r",
            repo,
            "--platform",
            &platform,
            "--push-by-digest",
            "--build-arg",
            &base_arg,
            "--platform-image",
            descriptor.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        self.run(BUILD_PUSH, &args)
    }

    fn index(&self, args: &[&str]) -> Output {
        self.run(TAG_COMMIT, &[&["index"], args].concat())
    }

    fn descriptor(&self, arch: &str) -> PathBuf {
        self.root()
            .join("out")
            .join(arch)
            .join("platform-image.json")
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn two_legs_and_a_merge_make_one_index_that_clients_resolve_per_platform() {
    let c = Checkout::new();
    let name = unique("ma/app");
    create_repository(&name, "MUTABLE");
    let repo = format!("{}/{name}", rig().registry);

    // Each leg pushes under its platform tag only: no `latest`, no bare commit tag.
    for arch in ["amd64", "arm64"] {
        let leg = json(&c.leg(&repo, arch, &[]).ok());
        assert_eq!(
            leg["tags"],
            serde_json::json!([{"tag": format!("{COMMIT}-{arch}"), "status": "pushed"}]),
            "{leg}"
        );
        assert_eq!(leg["platform"]["architecture"], arch);
        assert_eq!(leg["push_by_digest"], true);
        let d = read_json(&c.descriptor(arch));
        assert_eq!(d["digest"], leg["digest"]);
        assert_eq!(
            d["platform"],
            serde_json::json!({"architecture": arch, "os": "linux"})
        );
        assert_eq!(d["repository"], repo.as_str());
        assert!(!c.root().join("imageDetail.json").exists());
    }
    let tags = json(
        &c.sb
            .skopeo(&["list-tags", &format!("docker://{repo}")])
            .ok(),
    );
    let mut listed: Vec<&str> = tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [format!("{COMMIT}-amd64"), format!("{COMMIT}-arm64")],
        "the legs moved no shared tag"
    );

    // The merge.
    let merged = json(
        &c.index(&[
            "--from",
            "out/**/platform-image.json",
            "--require",
            "linux/amd64,linux/arm64",
            "--container",
            "web",
            "--json",
        ])
        .ok(),
    );
    let index_digest = merged["digest"].as_str().unwrap().to_string();
    let raw =
        c.sb.skopeo(&["inspect", "--raw", &format!("docker://{repo}:latest")])
            .ok();
    assert_eq!(
        format!(
            "sha256:{}",
            crate::common::sha256_hex(raw.stdout.as_bytes())
        ),
        index_digest,
        "latest is the index, byte for byte"
    );
    let index: Value = serde_json::from_str(&raw.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(
        common::index_platforms(&index),
        ["linux/amd64", "linux/arm64"]
    );
    for (child, arch) in children.iter().zip(["amd64", "arm64"]) {
        let digest = child["digest"].as_str().unwrap();
        assert_eq!(read_json(&c.descriptor(arch))["digest"], digest);
        let config = json(
            &c.sb
                .skopeo(&["inspect", "--config", &format!("docker://{repo}@{digest}")])
                .ok(),
        );
        assert_eq!(
            config["architecture"], arch,
            "the child's config says its platform"
        );
    }
    // The commit tag names the index too.
    let by_commit =
        c.sb.skopeo(&["inspect", "--raw", &format!("docker://{repo}:{COMMIT}")])
            .ok();
    assert_eq!(by_commit.stdout, raw.stdout);

    // A client on arm64 resolves the arm64 child; docker on this amd64 engine pulls the amd64 one.
    let arm = json(
        &c.sb
            .skopeo(&[
                "inspect",
                "--override-arch",
                "arm64",
                "--override-os",
                "linux",
                &format!("docker://{repo}:latest"),
            ])
            .ok(),
    );
    assert_eq!(arm["Architecture"], "arm64");
    let arm_child = json(
        &c.sb
            .skopeo(&[
                "inspect",
                &format!(
                    "docker://{repo}@{}",
                    children[1]["digest"].as_str().unwrap()
                ),
            ])
            .ok(),
    );
    assert_eq!(
        arm["Layers"], arm_child["Layers"],
        "the arm64 child's layers"
    );
    let by_digest = format!("{repo}@{index_digest}");
    let docker_config = c.sb.path("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
    c.run(
        env!("CARGO_BIN_EXE_ecr-login"),
        &["--registry", &rig().registry],
    )
    .ok();
    c.run("docker", &["pull", "-q", &by_digest]).ok();
    let pulled = c
        .run(
            "docker",
            &["image", "inspect", "-f", "{{.Architecture}}", &by_digest],
        )
        .ok();
    assert_eq!(pulled.stdout.trim(), "amd64");
    c.run("docker", &["image", "rm", "-f", &by_digest]).ok();

    // render-taskdef checks a task's runtimePlatform against the index, offline: ARM64 is one of
    // its platforms; an index of the amd64 leg alone has none for it.
    let taskdef = c.root().join("taskdef.json");
    std::fs::write(
        &taskdef,
        r#"{"family": "f", "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "containerDefinitions": [{"name": "web", "image": "x", "memory": 128}]}"#,
    )
    .unwrap();
    let render = |descriptors: &str, image: &str| {
        c.run(
            env!("CARGO_BIN_EXE_render-taskdef"),
            &[
                "taskdef.json",
                "--image",
                &format!("web={image}"),
                "--platform-images",
                descriptors,
                "-o",
                "rendered.json",
                "--json",
            ],
        )
    };
    render(
        "out/**/platform-image.json",
        &format!("{repo}@{index_digest}"),
    )
    .ok();
    let amd64 = read_json(&c.descriptor("amd64"));
    let only_amd = render(
        "out/amd64/platform-image.json",
        amd64["imageUri"].as_str().unwrap(),
    );
    assert_eq!(only_amd.code, 1, "{}", only_amd.stderr);
    assert!(
        only_amd.stdout.contains("runtime-platform")
            && only_amd.stdout.contains("linux/amd64 only"),
        "{}",
        only_amd.stdout
    );

    // The artifacts name the index by digest.
    let detail = read_json(&c.root().join("imageDetail.json"));
    assert_eq!(detail["ImageURI"], format!("{repo}@{index_digest}"));
    let defs = read_json(&c.root().join("imagedefinitions.json"));
    assert_eq!(defs[0]["name"], "web");
    assert_eq!(defs[0]["imageUri"], format!("{repo}@{index_digest}"));
}

#[test]
fn a_rerun_of_the_merge_is_the_same_index_and_sends_nothing() {
    let c = Checkout::new();
    let name = unique("ma/immutable");
    create_repository(&name, "IMMUTABLE");
    let repo = format!("{}/{name}", rig().registry);
    c.leg(&repo, "amd64", &[]).ok();
    c.leg(&repo, "arm64", &[]).ok();

    // A missing platform fails before anything is pushed.
    let log = RegistryLog::mark();
    let out = c.index(&[
        "--from",
        "out/amd64/platform-image.json",
        "--require",
        "linux/amd64,linux/arm64",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no image for linux/arm64 (--require)"),
        "{}",
        out.stderr
    );
    assert_eq!(log.manifest_puts(&name), 0);
    assert!(!c.root().join("imageDetail.json").exists());

    let from = ["--from", "out/**/platform-image.json"];
    let first = json(&c.index(&[&from[..], &["--json"]].concat()).ok());
    let log = RegistryLog::mark();
    // The descriptors in the other order (named one by one): the same bytes.
    let again = json(
        &c.index(&[
            "--from",
            c.descriptor("arm64").to_str().unwrap(),
            "--from",
            c.descriptor("amd64").to_str().unwrap(),
            "--json",
        ])
        .ok(),
    );
    assert_eq!(again["digest"], first["digest"]);
    for t in again["tags"].as_array().unwrap() {
        assert_eq!(t["status"], "present", "{again}");
    }
    for m in again["manifests"].as_array().unwrap() {
        assert_eq!(m["status"], "present", "{again}");
    }
    assert!(
        log.requests("HEAD", &name, "manifests/") > 0,
        "the re-run's reads are in the log"
    );
    for method in ["PUT", "POST", "PATCH", "DELETE"] {
        assert_eq!(log.requests(method, &name, ""), 0, "{method}");
    }

    // IMMUTABLE: another index under the same tags is refused, naming both digests, before any
    // write.
    let log = RegistryLog::mark();
    let out = c.index(&["-r", &repo, "--source", &format!("{COMMIT}-amd64")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let first_digest = first["digest"].as_str().unwrap();
    assert!(
        out.stderr.contains(first_digest) && out.stderr.contains("immutable"),
        "{}",
        out.stderr
    );
    let other = out
        .stderr
        .split("this index is ")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or_default();
    assert!(
        other.starts_with("sha256:") && other != first_digest,
        "{}",
        out.stderr
    );
    assert_eq!(log.manifest_puts(&name), 0);
}

#[test]
fn a_descriptor_that_lies_or_a_leg_that_asks_for_shared_tags_is_refused() {
    let c = Checkout::new();
    let name = unique("ma/checks");
    create_repository(&name, "MUTABLE");
    let repo = format!("{}/{name}", rig().registry);

    // A leg moves no shared tag, and names no container.
    for extra in [
        &["--tag", "v1"][..],
        &["--ref-tag"],
        &["--container", "web"],
    ] {
        let out = c.leg(&repo, "amd64", extra);
        assert_eq!(out.code, 2, "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains("--push-by-digest"), "{}", out.stderr);
        assert!(out.stderr.contains("help:"), "{}", out.stderr);
    }
    let out = c.run(BUILD_PUSH, &[".", "-r", &repo, "--push-by-digest"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--platform"), "{}", out.stderr);

    // --platform-tag none: pushed by digest alone, no tag at all.
    let leg = json(&c.leg(&repo, "amd64", &["--platform-tag", "none"]).ok());
    assert_eq!(leg["tags"], serde_json::json!([]));
    let digest = leg["digest"].as_str().unwrap();
    c.sb.skopeo(&["inspect", "--raw", &format!("docker://{repo}@{digest}")])
        .ok();
    // This registry answers 404 for the tag list of a repository without tags.
    let tags = c.sb.skopeo(&["list-tags", &format!("docker://{repo}")]);
    if tags.code == 0 {
        assert_eq!(json(&tags)["Tags"], serde_json::json!([]));
    } else {
        assert!(tags.stderr.contains("404"), "{}", tags.stderr);
    }

    // A descriptor that claims another platform than the image's config says.
    let path = c.descriptor("amd64");
    let mut d = read_json(&path);
    d["platform"]["architecture"] = "arm64".into();
    std::fs::write(&path, serde_json::to_vec(&d).unwrap()).unwrap();
    let log = RegistryLog::mark();
    let out = c.index(&["--from", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the descriptor says linux/arm64, the image's config says linux/amd64"),
        "{}",
        out.stderr
    );
    assert_eq!(log.manifest_puts(&name), 0);

    // Two images for one platform.
    std::fs::write(c.root().join("content"), unique("changed")).unwrap();
    let other = json(&c.leg(&repo, "amd64", &[]).ok());
    d["platform"]["architecture"] = "amd64".into();
    std::fs::write(&path, serde_json::to_vec(&d).unwrap()).unwrap();
    let other_digest = other["digest"].as_str().unwrap();
    let out = c.index(&["--from", path.to_str().unwrap(), "--source", other_digest]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("two images for linux/amd64"),
        "{}",
        out.stderr
    );

    // Garbage and globs that match nothing.
    std::fs::write(&path, "{\"ImageURI\": 1}").unwrap();
    let out = c.index(&["--from", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("platform-image.json"), "{}", out.stderr);
    let out = c.index(&["--from", "nowhere/**/platform-image.json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no file matches"), "{}", out.stderr);
}

#[test]
fn a_merge_into_another_repository_mounts_the_platform_images_first() {
    let c = Checkout::new();
    let (legs_name, index_name) = (unique("ma/legs"), unique("ma/release"));
    create_repository(&legs_name, "MUTABLE");
    create_repository(&index_name, "MUTABLE");
    let rig = rig();
    let legs = format!("{}/{legs_name}", rig.registry);
    let release = format!("{}/{index_name}", rig.registry);
    c.leg(&legs, "amd64", &[]).ok();
    c.leg(&legs, "arm64", &[]).ok();

    let log = RegistryLog::mark();
    let merged = json(
        &c.index(&[
            "-r",
            &release,
            "--from",
            "out/**/platform-image.json",
            "--write-platform-images",
            "platforms",
            "--json",
        ])
        .ok(),
    );
    for m in merged["manifests"].as_array().unwrap() {
        assert_eq!(m["status"], "mounted", "{merged}");
        let digest = m["digest"].as_str().unwrap();
        // The child is in the release repository by digest, and its blobs were mounted, not sent.
        c.sb.skopeo(&["inspect", "--raw", &format!("docker://{release}@{digest}")])
            .ok();
    }
    assert_eq!(
        log.uploads(&index_name),
        0,
        "blobs are mounted, not uploaded"
    );
    assert!(
        log.requests("POST", &index_name, "blobs/uploads/") > 0,
        "the mounts"
    );
    // The platforms share the app's layer: each blob is mounted once (two mounts of one blob at
    // once race in the registry: a manifest put then fails with DIGEST_INVALID).
    let mounts: Vec<String> = log
        .lines()
        .iter()
        .filter(|l| l.contains(&format!("\"POST /v2/{index_name}/blobs/uploads/")))
        .filter_map(|l| {
            l.split("mount=")
                .nth(1)?
                .split(['&', ' '])
                .next()
                .map(str::to_string)
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = mounts.iter().collect();
    assert_eq!(
        distinct.len(),
        mounts.len(),
        "a blob mounted twice: {mounts:?}"
    );
    // The descriptors written name the release repository.
    let written = read_json(&c.root().join("platforms/arm64/platform-image.json"));
    assert_eq!(written["repository"], release.as_str());
    assert_eq!(written["platform"]["architecture"], "arm64");
    // Again: everything is there now.
    let again = json(
        &c.index(&[
            "-r",
            &release,
            "--from",
            "out/**/platform-image.json",
            "--json",
        ])
        .ok(),
    );
    assert_eq!(again["digest"], merged["digest"]);
    for m in again["manifests"].as_array().unwrap() {
        assert_eq!(m["status"], "present", "{again}");
    }
}
