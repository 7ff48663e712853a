//! The example pipeline files at the top of the repository: they parse, validate, and do what they
//! say — the app builds offline and pushes to the rig's registry, and the task definition and AppSpec
//! render from its imageDetail.json into files the AWS CLI registers in moto's ECS.

// Each test is one scenario told start to finish.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use common::{Scratch, create_repository, rig, run, unique};
use serde_json::Value;

const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");
const RENDER: &str = env!("CARGO_BIN_EXE_render-taskdef");
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
    let td: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{deploy}/taskdef.json")).unwrap())
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
