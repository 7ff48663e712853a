//! The example pipeline files at the top of the repository: they parse, validate, and do what they
//! say — the app builds offline and pushes to the rig's registry, and the task definition and AppSpec
//! render from its imageDetail.json into files the AWS CLI registers in moto's ECS — and the whole
//! pipeline runs end to end through `run-buildspec`, gate included.

use crate::common;

use crate::common::{Scratch, copy_tree, create_repository, git, rig, run, set, unique, unset};
use serde_json::Value;
use std::path::Path;

const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");
const RENDER: &str = env!("CARGO_BIN_EXE_render-taskdef");
const RUN_BUILDSPEC: &str = env!("CARGO_BIN_EXE_run-buildspec");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap()
}

#[test]
fn the_buildspecs_parse_and_use_the_steps() {
    let ours = buildsteps::buildspec::parse(&read("buildspec.yml")).unwrap();
    let phases: Vec<&str> = ours.phases.iter().map(|p| p.name).collect();
    assert_eq!(phases, ["install", "pre_build", "build", "post_build"]);
    let commands = ours
        .phases
        .iter()
        .flat_map(|p| p.commands.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    for step in [
        "ecr-login",
        "build-push",
        "scan-gate",
        "tag-commit",
        "render-taskdef",
    ] {
        assert!(commands.contains(step), "{step} is used");
    }
    assert_eq!(
        ours.artifacts[0].files,
        [
            "taskdef.json",
            "appspec.yaml",
            "imageDetail.json",
            "imagedefinitions.json"
        ]
    );
    let shell = buildsteps::buildspec::parse(&read("examples/buildspec-shell.yml")).unwrap();
    assert_eq!(
        shell.artifacts[0].files, ours.artifacts[0].files,
        "the same deliverables"
    );
}

/// The digest a tag names in the rig's registry (`None` when the tag does not exist).
fn tag_digest(registry: &str, repo: &str, tag: &str) -> Option<String> {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--creds", &rig().login()])
        .arg(format!("docker://{registry}/{repo}:{tag}"))
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| buildsteps::reference::Digest::sha256_of(&out.stdout).to_string())
}

/// The tests of this area that need the rig (moto, the registry, the AWS CLI in its virtualenv).
mod on_the_rig {
    use super::*;

    /// The example app builds (offline, on the rig's base image) and pushes; the CodeDeploy template and
    /// the AppSpec render from its imageDetail.json; the result registers through the AWS CLI.
    #[test]
    fn the_example_app_and_deploy_files_render_and_register() {
        let rig = rig();
        let sb = Scratch::rig();
        let repo = unique("example/app");
        create_repository(&repo, "MUTABLE");
        let uri = format!("{}/{repo}", rig.registry);
        let deploy = sb.p("deploy");
        std::fs::create_dir_all(&deploy).unwrap();
        let detail = format!("{deploy}/imageDetail.json");
        let out = run(
            BUILD_PUSH,
            &[
                &format!("{ROOT}/examples/app"),
                "-r",
                &uri,
                "--latest",
                "false",
                "--build-arg",
                &format!("BASE={}", rig.base_image),
                "--image-detail",
                &detail,
                "--container",
                "web",
                "--image-definitions",
                &format!("{deploy}/imagedefinitions.json"),
                "--json",
            ],
            &sb.env,
            None,
        )
        .ok();
        let pushed: Value = serde_json::from_str(&out.stdout).unwrap();
        let image_uri = pushed["image_uri"].as_str().unwrap().to_string();

        let env = sb.env_with(&[
            ("AWS_ACCOUNT_ID", "123456789012"),
            ("AWS_REGION", "us-east-1"),
        ]);
        let out = run(
            RENDER,
            &[
                &format!("{ROOT}/taskdef.json"),
                "--codedeploy",
                "--image",
                &format!("web=@{detail}"),
                "--image-detail-dir",
                &deploy,
                "-o",
                &format!("{deploy}/taskdef.json"),
                "--json",
            ],
            &env,
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let td: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{deploy}/taskdef.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(td["containerDefinitions"][0]["image"], "<IMAGE1_NAME>");
        assert_eq!(
            td["executionRoleArn"],
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
        );
        let detail_back: Value =
            serde_json::from_str(&std::fs::read_to_string(&detail).unwrap()).unwrap();
        assert_eq!(detail_back["ImageURI"], image_uri.as_str());
        let out = run(
            RENDER,
            &[
                "appspec",
                &format!("{ROOT}/appspec.yaml"),
                "--taskdef",
                &format!("{deploy}/taskdef.json"),
                "-o",
                &format!("{deploy}/appspec.yaml"),
            ],
            &env,
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(format!("{deploy}/appspec.yaml")).unwrap(),
            read("appspec.yaml")
        );

        // What the CodeDeployToECS action does with them: <IMAGE1_NAME> becomes the ImageURI, then the
        // task definition is registered.
        let concrete = std::fs::read_to_string(format!("{deploy}/taskdef.json"))
            .unwrap()
            .replace("<IMAGE1_NAME>", &image_uri);
        std::fs::write(sb.path("registered.json"), concrete).unwrap();
        let cli = std::process::Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
            .args([
                "ecs",
                "register-task-definition",
                "--cli-input-json",
                &format!("file://{}", sb.p("registered.json")),
            ])
            .args(["--endpoint-url", &rig.moto])
            .output()
            .unwrap();
        assert!(
            cli.status.success(),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        let defs: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{deploy}/imagedefinitions.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            defs,
            serde_json::json!([{"name": "web", "imageUri": image_uri}])
        );
    }

    /// A git checkout of these example `files` with the steps on PATH, its commit from the checkout
    /// (as in CodeBuild): the scratch, the source directory and the commit.
    fn checkout(files: &[&str]) -> (Scratch, String, String) {
        let mut sb = Scratch::rig();
        unset(&mut sb.env, "BUILDSTEPS_COMMIT");
        let bin_dir = Path::new(BUILD_PUSH).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        set(&mut sb.env, "PATH", &path);
        let src = sb.p("src");
        for file in files {
            copy_tree(&Path::new(ROOT).join(file), &sb.path("src").join(file));
        }
        git(Path::new(&src), &["init", "-q"]);
        git(Path::new(&src), &["add", "."]);
        git(Path::new(&src), &["commit", "-q", "-m", "example"]);
        let commit = git(Path::new(&src), &["rev-parse", "HEAD"]);
        (sb, src, commit)
    }

    /// The example pipeline as CodeBuild runs it, end to end: `run-buildspec buildspec.yml` on a checkout
    /// of the example files, with the steps on PATH and the rig as the AWS account. The image is pushed
    /// with the commit tag, gated on ECR's scan of its digest, promoted to `latest`, and the deploy files
    /// land in the output directory. Then a change whose scan fails the gate: the build fails and
    /// `latest` stays on the image that passed.
    #[test]
    fn the_example_pipeline_runs_end_to_end_and_the_gate_holds_latest_back() {
        let rig = rig();
        let (sb, src, commit) = checkout(&[
            "buildspec.yml",
            "taskdef.json",
            "appspec.yaml",
            "examples/app",
        ]);
        let repo = unique("example/pipeline");
        create_repository(&repo, "MUTABLE");

        let pipeline = |out: &str, fail_on: &str| {
            run(
                RUN_BUILDSPEC,
                &[
                    &format!("{src}/buildspec.yml"),
                    "--src",
                    &src,
                    "--out",
                    &sb.p(out),
                    "--env",
                    &format!("REPOSITORY={repo}"),
                    "--env",
                    &format!("BASE_IMAGE={}", rig.base_image),
                    "--env",
                    &format!("FAIL_ON={fail_on}"),
                    "--json",
                ],
                &sb.env,
                None,
            )
        };

        // moto's scan of every image has one HIGH finding: a gate on CRITICAL passes.
        let out = pipeline("out", "CRITICAL");
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["succeeded"], true);
        assert_eq!(v["source_version"], commit.as_str());
        for phase in v["phases"].as_array().unwrap() {
            assert_eq!(phase["status"], "SUCCEEDED", "{phase}");
        }
        let image_uri = v["exported"]["IMAGE_URI"].as_str().unwrap().to_string();
        let digest = v["exported"]["IMAGE_DIGEST"].as_str().unwrap().to_string();
        assert_eq!(image_uri, format!("{}/{repo}@{digest}", rig.registry));
        let summary = std::fs::read_to_string(format!("{src}/reports/scan.md")).unwrap();
        assert!(summary.contains("passed"), "{summary}");
        assert!(
            summary.contains("| found | 0 | 1 |"),
            "moto's HIGH finding is counted: {summary}"
        );

        // The image: the commit tag and, after the gate, `latest` name the digest.
        let tags: Value = serde_json::from_str(
            &common::curl(&[
                "-u",
                &rig.login(),
                &format!("https://{}/v2/{repo}/tags/list", rig.registry),
            ])
            .2,
        )
        .unwrap();
        let mut tags: Vec<String> = tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        tags.sort();
        assert_eq!(tags.len(), 2, "{tags:?}");
        assert_eq!(tags[1], "latest");
        assert!(
            commit.starts_with(&tags[0]),
            "{tags:?} has the commit's tag"
        );
        for tag in &tags {
            assert_eq!(
                tag_digest(&rig.registry, &repo, tag).as_deref(),
                Some(digest.as_str())
            );
        }

        // The deploy artifacts, at the top of the output directory.
        let artifact = |name: &str| std::fs::read_to_string(sb.path("out").join(name)).unwrap();
        assert_eq!(
            v["artifacts"][0]["files"],
            serde_json::json!([
                "appspec.yaml",
                "imageDetail.json",
                "imagedefinitions.json",
                "taskdef.json"
            ])
        );
        let detail: Value = serde_json::from_str(&artifact("imageDetail.json")).unwrap();
        assert_eq!(detail, serde_json::json!({ "ImageURI": image_uri }));
        let defs: Value = serde_json::from_str(&artifact("imagedefinitions.json")).unwrap();
        assert_eq!(
            defs,
            serde_json::json!([{"name": "web", "imageUri": image_uri}])
        );
        let td: Value = serde_json::from_str(&artifact("taskdef.json")).unwrap();
        assert_eq!(td["containerDefinitions"][0]["image"], "<IMAGE1_NAME>");
        assert_eq!(
            td["executionRoleArn"],
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
        );
        assert_eq!(
            td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-region"],
            "us-east-1"
        );
        assert_eq!(artifact("appspec.yaml"), read("appspec.yaml"));
        // The scan report for the CodeBuild report group.
        assert_eq!(v["reports"][0]["name"], "scan");
        assert_eq!(
            v["reports"][0]["files"],
            serde_json::json!(["scan-junit.xml"])
        );
        let junit = std::fs::read_to_string(format!("{src}/reports/scan-junit.xml")).unwrap();
        assert!(junit.contains("failures=\"0\""), "{junit}");

        // A change, and a gate on HIGH: the build pushes the new commit's tag, the gate fails in
        // post_build, the build fails — and `latest` stays on the image that passed.
        std::fs::write(
            sb.path("src/examples/app/www/index.html"),
            "<!doctype html><title>v2</title><p>v2</p>\n",
        )
        .unwrap();
        git(Path::new(&src), &["commit", "-q", "-am", "v2"]);
        let out = pipeline("out2", "HIGH");
        assert_eq!(out.code, 1, "{}", out.stderr);
        let v2: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v2["succeeded"], false);
        let status = |name: &str| {
            v2["phases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["status"]
                .clone()
        };
        assert_eq!(status("build"), "SUCCEEDED");
        assert_eq!(status("post_build"), "FAILED");
        let failed = v2["exported"]["IMAGE_DIGEST"].as_str().unwrap();
        assert_ne!(failed, digest, "a new image was pushed");
        assert!(out.stderr.contains("CVE-9999-9999"), "{}", out.stderr);
        assert_eq!(
            tag_digest(&rig.registry, &repo, "latest").as_deref(),
            Some(digest.as_str()),
            "latest was not moved to an image that failed the gate"
        );
    }

    /// The multi-platform example (examples/multiarch) as a CodeBuild batch, run by run-buildspec
    /// on a checkout of its files: the amd64 and arm64 legs at once, then the merge leg — an index
    /// with exactly both platforms under `latest` (moved after the gate), each child's config its
    /// platform, and the deploy files of the merge leg naming the index.
    #[test]
    fn the_multiarch_example_batch_builds_both_platforms_and_merges_them() {
        let rig = rig();
        let (sb, src, commit) = checkout(&["appspec.yaml", "examples/app", "examples/multiarch"]);
        let repo = unique("example/multiarch");
        create_repository(&repo, "MUTABLE");

        let out = run(
            RUN_BUILDSPEC,
            &[
                &format!("{src}/examples/multiarch/buildspec.yml"),
                "--src",
                &src,
                "--out",
                &sb.p("out"),
                "--parallel",
                "2",
                "--env",
                &format!("REPOSITORY={repo}"),
                "--env",
                &format!("BASE_IMAGE_amd64={}", rig.base_image),
                "--env",
                &format!("BASE_IMAGE_arm64={}", rig.arm64_base_image),
                "--env",
                "FAIL_ON=CRITICAL",
                "--json",
            ],
            &sb.env,
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let legs = v["legs"].as_array().unwrap();
        let ids: Vec<&str> = legs
            .iter()
            .map(|l| l["identifier"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["build_amd64", "build_arm64", "merge"]);
        for l in legs {
            assert_eq!(l["status"], "SUCCEEDED", "{l}");
        }
        assert_eq!(legs[1]["platform"], "linux/arm64");
        let end =
            |l: &Value| l["started_ms"].as_u64().unwrap() + l["duration_ms"].as_u64().unwrap();
        assert!(legs[2]["started_ms"].as_u64().unwrap() >= end(&legs[0]).max(end(&legs[1])));

        // `latest` is the index of exactly the two platform images, each pushed under its tag.
        let skopeo = |args: &[&str]| common::json(&sb.skopeo(args).ok());
        let uri = format!("{}/{repo}", rig.registry);
        let index = skopeo(&["inspect", "--raw", &format!("docker://{uri}:latest")]);
        let children = index["manifests"].as_array().unwrap();
        assert_eq!(
            common::index_platforms(&index),
            ["linux/amd64", "linux/arm64"]
        );
        for (child, arch) in children.iter().zip(["amd64", "arm64"]) {
            let by_tag = skopeo(&[
                "inspect",
                &format!("docker://{uri}:{}-{arch}", commit.trim()),
            ]);
            assert_eq!(
                by_tag["Digest"], child["digest"],
                "the leg's tag names the child"
            );
            assert_eq!(by_tag["Architecture"], arch);
        }

        // The merge leg's deploy files name the index; the task definition template keeps its
        // placeholder, and its ARM64 runtimePlatform passed the check against the index.
        let artifact =
            |name: &str| std::fs::read_to_string(sb.path("out/merge").join(name)).unwrap();
        let detail: Value = serde_json::from_str(&artifact("imageDetail.json")).unwrap();
        let digest = tag_digest(&rig.registry, &repo, "latest").unwrap();
        assert_eq!(detail["ImageURI"], format!("{uri}@{digest}"));
        let taskdef: Value = serde_json::from_str(&artifact("taskdef.json")).unwrap();
        assert_eq!(taskdef["containerDefinitions"][0]["image"], "<IMAGE1_NAME>");
        assert_eq!(taskdef["runtimePlatform"]["cpuArchitecture"], "ARM64");
        let arm: Value = serde_json::from_str(
            &std::fs::read_to_string(sb.path("out/build_arm64/platform-image.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(arm["digest"], children[1]["digest"]);
        assert!(
            out.stderr.contains("[merge] scan-gate: PASSED"),
            "every platform image was gated: {}",
            out.stderr
        );
    }
}
