//! `render-taskdef` end to end: the real binary on the real fixtures, its files read back, and the
//! rendered task definitions registered through the real AWS CLI against moto's ECS.

use crate::common::{Output, Scratch, fixture, json, rig, run, sha256_hex};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

const RENDER: &str = env!("CARGO_BIN_EXE_render-taskdef");

fn render(sb: &Scratch, args: &[&str]) -> Output {
    run(RENDER, args, &sb.env, None)
}

fn read_json(sb: &Scratch, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(sb.path(name)).unwrap()).unwrap()
}

/// `rule@path` of each finding in a `--json` report.
fn findings(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}@{}",
                f["rule"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect()
}

/// Every real task definition fixture gets the verdict its content deserves.
#[test]
fn every_taskdef_fixture_renders_or_fails_with_the_finding_it_deserves() {
    let sb = Scratch::offline();
    // (fixture, extra flags, exit code, findings). Why each fails is in the comment beside it.
    let cases: Vec<(&str, Vec<&str>, i32, Vec<&str>)> = vec![
        // Real describe-task-definition output: unwrapped, read-only keys and empty tags dropped.
        (
            "amazon-ecs-deploy-task-definition-testing-describe-output.json",
            vec![],
            0,
            vec![],
        ),
        (
            "aws-containers-task-definitions-nginx_ec2-bridge.json",
            vec![],
            0,
            vec![],
        ),
        // The CodePipeline tutorial's template: a placeholder account ID in the role ARN, and
        // <IMAGE1_NAME>, which is only right for the CodeDeploy template (second case).
        (
            "awsdocs-codepipeline-tutorial-taskdef-fargate-image1name.json",
            vec![],
            1,
            vec![
                "role-arn@executionRoleArn",
                "leftover@containerDefinitions[0].image",
            ],
        ),
        (
            "awsdocs-codepipeline-tutorial-taskdef-fargate-image1name.json",
            vec!["--codedeploy"],
            1,
            vec!["role-arn@executionRoleArn"],
        ),
        // The all-fields template is every field with a zero value: empty names and image, zero
        // sizes and health-check values, port mappings under networkMode none, secrets without an
        // execution role.
        (
            "awsdocs-task-definition-template-all-fields.json",
            vec![],
            1,
            vec![
                "name@family",
                "name@containerDefinitions[0].name",
                "memory@containerDefinitions[0].memoryReservation",
                "health-check@containerDefinitions[0].healthCheck.interval",
                "health-check@containerDefinitions[0].healthCheck.timeout",
                "health-check@containerDefinitions[0].healthCheck.retries",
                "health-check@containerDefinitions[0].healthCheck.command",
                "image@containerDefinitions[0].image",
                "ephemeral-storage@ephemeralStorage.sizeInGiB",
                "port@containerDefinitions[0].portMappings",
                "execution-role@executionRoleArn",
            ],
        ),
        ("ecs-demo-php-simple-app-task-def.json", vec![], 0, vec![]),
        // Numbers written as strings (the AWS CLI refuses them too) and "<your … image URL here>".
        (
            "ecs-nginx-reverse-proxy-task-definition-bridge-links.json",
            vec![],
            1,
            vec![
                "type@containerDefinitions[0].memory",
                "type@containerDefinitions[0].cpu",
                "type@containerDefinitions[0].portMappings[0].containerPort",
                "type@containerDefinitions[1].memory",
                "type@containerDefinitions[1].cpu",
                "image@containerDefinitions[0].image",
                "image@containerDefinitions[1].image",
            ],
        ),
        // The workshop's "<PLACEHOLDER>" image, meant to be replaced by a build step.
        (
            "fargate-dev-workshop-task-definition-placeholders.json",
            vec![],
            1,
            vec!["image@containerDefinitions[0].image"],
        ),
        (
            "fargate-dev-workshop-task-definition-placeholders.json",
            vec![
                "--image",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:1",
            ],
            0,
            vec![],
        ),
        (
            "firelens-examples-appmesh-firelens-colorteller-black-ecs-task-def.json",
            vec![],
            0,
            vec![],
        ),
    ];
    for (name, extra, code, expected) in cases {
        let out_file = sb.p(&format!("out-{name}"));
        let input = fixture(&format!("taskdef/{name}"));
        let mut args = vec![input.as_str(), "-o", &out_file, "--json"];
        args.extend(extra.iter().copied());
        let out = render(&sb, &args);
        assert_eq!(out.code, code, "{name} {extra:?}: {}", out.stderr);
        let report = json(&out);
        assert_eq!(findings(&report), expected, "{name} {extra:?}");
        assert_eq!(report["written"], code == 0, "{name}");
        assert_eq!(
            Path::new(&out_file).exists(),
            code == 0,
            "{name}: written only when clean"
        );
    }

    // The inference example needs ${YOUR_EXECUTION_ROLE}: exit 2 naming it, then fine when set.
    let input = fixture("taskdef/awsdocs-ecs-inference-ec2-hostport0.json");
    let out = render(&sb, &["check", &input]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("YOUR_EXECUTION_ROLE (at executionRoleArn)"),
        "{}",
        out.stderr
    );
    let env = sb.env_with(&[("YOUR_EXECUTION_ROLE", "arn:aws:iam::123456789012:role/exec")]);
    let out = run(RENDER, &["check", &input, "--json"], &env, None).ok();
    assert_eq!(findings(&json(&out)), Vec::<String>::new());
}

#[test]
fn every_appspec_fixture_validates_or_fails_with_the_finding_it_deserves() {
    let sb = Scratch::offline();
    let tutorial_td =
        fixture("taskdef/awsdocs-codepipeline-tutorial-taskdef-fargate-image1name.json");
    let workshop_td = fixture("taskdef/fargate-dev-workshop-task-definition-placeholders.json");
    let props = "Resources[0].TargetService.Properties";
    let assistant = vec![
        // The AppSpec assistant's templates hold bracketed placeholders for every value.
        format!("appspec@{props}.TaskDefinition"),
        format!("appspec@{props}.PlatformVersion"),
        format!("appspec@{props}.NetworkConfiguration.AwsvpcConfiguration.Subnets[0]"),
        format!("appspec@{props}.NetworkConfiguration.AwsvpcConfiguration.Subnets[1]"),
        format!("appspec@{props}.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups[0]"),
        format!("appspec@{props}.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp"),
    ];
    let cases: Vec<(&str, Option<&str>, i32, Vec<String>)> = vec![
        (
            "appspec-assistant-ecs-default-appspec-template-advanced.json",
            None,
            1,
            assistant.clone(),
        ),
        (
            "appspec-assistant-ecs-default-appspec-template-uncommented.yml",
            None,
            1,
            assistant,
        ),
        // The tutorial's pair: container sample-website, port 80, both in the task definition.
        (
            "awsdocs-codepipeline-tutorial-appspec.yaml",
            Some(&tutorial_td),
            0,
            vec![],
        ),
        // Blank ContainerName/ContainerPort and hook function, to be filled in by hand.
        (
            "ecs-blue-green-deployment-with-codedeploy-appspec.yml",
            None,
            1,
            vec![
                format!("appspec@{props}.LoadBalancerInfo.ContainerName"),
                format!("appspec@{props}.LoadBalancerInfo.ContainerPort"),
                "appspec@Hooks[0].AfterAllowTestTraffic".to_string(),
            ],
        ),
        // camelCase network keys are read; the PLACEHOLDER_* IDs are not subnet/security group IDs.
        (
            "fargate-dev-workshop-appspec.json",
            Some(&workshop_td),
            1,
            vec![
                format!("appspec@{props}.NetworkConfiguration.awsvpcConfiguration.subnets[0]"),
                format!(
                    "appspec@{props}.NetworkConfiguration.awsvpcConfiguration.securityGroups[0]"
                ),
            ],
        ),
    ];
    for (name, td, code, expected) in cases {
        let input = fixture(&format!("appspec/{name}"));
        let out_file = sb.p(name);
        let mut args = vec!["appspec", input.as_str(), "-o", &out_file, "--json"];
        if let Some(td) = td {
            args.extend(["--taskdef", td]);
        }
        let out = render(&sb, &args);
        assert_eq!(out.code, code, "{name}: {}", out.stderr);
        assert_eq!(findings(&json(&out)), expected, "{name}");
        if code == 0 {
            assert_eq!(
                std::fs::read_to_string(&out_file).unwrap(),
                std::fs::read_to_string(&input).unwrap(),
                "nothing asked, nothing changed: the file is copied byte for byte"
            );
        }
    }
}

fn aws_ecs(args: &[&str]) -> Value {
    let out = std::process::Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
        .arg("ecs")
        .args(args)
        .args(["--endpoint-url", &rig().moto, "--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws ecs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn images_for_several_containers_and_the_deploy_artifacts() {
    let sb = Scratch::offline();
    let input =
        fixture("taskdef/firelens-examples-appmesh-firelens-colorteller-black-ecs-task-def.json");
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let names: Vec<&str> = original["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["log_router", "app", "envoy"]);
    let app_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/colorteller@sha256:".to_string()
        + &"1".repeat(64);
    let detail = sb.write(
        "build/imageDetail.json",
        &json!({ "ImageURI": app_uri }).to_string(),
    );
    let envoy_uri = "840364872350.dkr.ecr.us-east-1.amazonaws.com/aws-appmesh-envoy:v1.29.0.0-prod";

    // Unknown container: one error listing the names that exist; nothing written.
    let out = render(
        &sb,
        &[&input, "--image", "web=nginx:1", "-o", &sb.p("td.json")],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no container `web`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("containers: log_router, app, envoy"),
        "{}",
        out.stderr
    );
    // No container named with several containers.
    let out = render(&sb, &[&input, "--image", "nginx:1", "-o", &sb.p("td.json")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("has 3 containers"), "{}", out.stderr);
    assert!(!sb.path("td.json").exists());

    // Concrete: both images in place, imagedefinitions.json for the rolling deploy.
    let out = render(
        &sb,
        &[
            &input,
            "--image",
            &format!("app=@{detail}"),
            "--image",
            &format!("envoy={envoy_uri}"),
            "--imagedefinitions",
            &sb.p("out/imagedefinitions.json"),
            "-o",
            &sb.p("out/taskdef.json"),
            "--json",
        ],
    )
    .ok();
    let td = read_json(&sb, "out/taskdef.json");
    assert_eq!(td["containerDefinitions"][1]["image"], app_uri.as_str());
    assert_eq!(td["containerDefinitions"][2]["image"], envoy_uri);
    assert_eq!(
        td["containerDefinitions"][0], original["containerDefinitions"][0],
        "log_router untouched"
    );
    assert_eq!(
        read_json(&sb, "out/imagedefinitions.json"),
        json!([{"name": "app", "imageUri": app_uri}, {"name": "envoy", "imageUri": envoy_uri}])
    );
    let report = json(&out);
    let bytes = std::fs::read(sb.path("out/taskdef.json")).unwrap();
    assert_eq!(report["sha256"], sha256_hex(&bytes));
    assert_eq!(
        report["artifacts"][0]["path"],
        sb.p("out/imagedefinitions.json")
    );

    // CodeDeploy: placeholders in the task definition, URIs in one imageDetail.json each.
    render(
        &sb,
        &[
            &input,
            "--codedeploy",
            "--image",
            &format!("app=@{detail}"),
            "--image",
            &format!("envoy={envoy_uri}"),
            "--image-detail-dir",
            &sb.p("cd"),
            "-o",
            &sb.p("cd/taskdef.json"),
        ],
    )
    .ok();
    let td = read_json(&sb, "cd/taskdef.json");
    assert_eq!(td["containerDefinitions"][1]["image"], "<IMAGE1_NAME>");
    assert_eq!(td["containerDefinitions"][2]["image"], "<IMAGE2_NAME>");
    assert_eq!(
        read_json(&sb, "cd/imageDetail.json"),
        json!({ "ImageURI": app_uri })
    );
    assert_eq!(
        read_json(&sb, "cd/image2/imageDetail.json"),
        json!({ "ImageURI": envoy_uri })
    );

    // The tutorial template keeps its <IMAGE1_NAME>; a single container takes just the artifact.
    let tutorial = fixture("taskdef/awsdocs-codepipeline-tutorial-taskdef-fargate-image1name.json");
    let env = sb.env_with(&[]);
    let out = run(
        RENDER,
        &["check", &tutorial, "--codedeploy", "--json"],
        &env,
        None,
    );
    assert_eq!(findings(&json(&out)), ["role-arn@executionRoleArn"]);
    let bad_detail = sb.write("bad/imageDetail.json", "{\"ImageUri\": \"x\"}");
    let out = render(&sb, &[&tutorial, "--image", &format!("@{bad_detail}")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no `ImageURI` field"), "{}", out.stderr);
}

#[test]
fn environment_secrets_labels_logs_and_command_merge_or_replace() {
    let sb = Scratch::offline();
    let input = sb.write(
        "td.json",
        r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
  "containerDefinitions": [
    {
      "name": "web",
      "image": "nginx:1",
      "memory": 128,
      "environment": [{"name": "KEEP", "value": ""}, {"name": "MODE", "value": "dev"}],
      "dockerLabels": {"team": "a"},
      "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "us-east-1"}},
      "futureField": {"x": 1}
    },
    {"name": "side", "image": "busybox", "memory": 64}
  ]
}
"#,
    );
    let env_file = sb.write(
        "app.env",
        "# settings\nexport FROM_FILE=\"quoted value\"\nMODE=from-file\n\nEMPTY=\n",
    );
    let out = render(
        &sb,
        &[
            &input,
            "--env-file",
            &format!("web:{env_file}"),
            "--env",
            "web:MODE=prod",
            "--env",
            "web:URL=https://x?a=b=c",
            "--secret",
            "web:DB_PASSWORD=arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
            "--label",
            "web:version=1.2",
            "--log-option",
            "web:awslogs-stream-prefix=web",
            "--command",
            r#"side:["sh","-c","echo hi; sleep 1"]"#,
            "-o",
            &sb.p("out.json"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: containerDefinitions[0].futureField"),
        "unknown fields are warned about: {}",
        out.stderr
    );
    let td = read_json(&sb, "out.json");
    let web = &td["containerDefinitions"][0];
    assert_eq!(
        web["environment"],
        json!([
            {"name": "KEEP", "value": ""},
            {"name": "MODE", "value": "prod"},
            {"name": "FROM_FILE", "value": "quoted value"},
            {"name": "EMPTY", "value": ""},
            {"name": "URL", "value": "https://x?a=b=c"}
        ])
    );
    assert_eq!(
        web["secrets"],
        json!([{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}])
    );
    assert_eq!(web["dockerLabels"], json!({"team": "a", "version": "1.2"}));
    assert_eq!(
        web["logConfiguration"]["options"]["awslogs-stream-prefix"],
        "web"
    );
    assert_eq!(
        web["futureField"],
        json!({"x": 1}),
        "unknown fields are kept"
    );
    assert_eq!(
        td["containerDefinitions"][1]["command"],
        json!(["sh", "-c", "echo hi; sleep 1"])
    );
    let keys: Vec<&String> = web.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "image",
            "memory",
            "environment",
            "dockerLabels",
            "logConfiguration",
            "futureField",
            "secrets"
        ],
        "input order kept, new fields appended"
    );

    // Replace: the environment becomes exactly what was given.
    render(
        &sb,
        &[
            &input,
            "--replace",
            "environment",
            "--env",
            "web:ONLY=1",
            "-o",
            &sb.p("replaced.json"),
        ],
    )
    .ok();
    assert_eq!(
        read_json(&sb, "replaced.json")["containerDefinitions"][0]["environment"],
        json!([{"name": "ONLY", "value": "1"}])
    );

    // --strict makes the unknown-field warning an error: exit 1, nothing written.
    let out = render(&sb, &[&input, "--strict", "-o", &sb.p("strict.json")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!sb.path("strict.json").exists());

    // A secret-looking literal is a warning (an error under --strict) pointing at `secrets`.
    let out = render(
        &sb,
        &[
            &input,
            "--env",
            "web:API_TOKEN=abc123",
            "-o",
            &sb.p("tok.json"),
        ],
    );
    assert_eq!(out.code, 0);
    assert!(
        out.stderr
            .contains("--secret web:API_TOKEN=arn:aws:secretsmanager"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("abc123"),
        "the value itself is not repeated: {}",
        out.stderr
    );

    // Bad flag values are usage errors.
    for bad in [
        ["--env", "web:NOEQUALS"],
        ["--command", "web:npm start"],
        ["--replace", "volumes"],
    ] {
        let out = render(&sb, &[&input, bad[0], bad[1]]);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
    }
    let out = render(&sb, &[&input, "--log-option", "side:a=b"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--log-driver side:awslogs"),
        "{}",
        out.stderr
    );
}

#[test]
fn templating_yaml_anchors_unicode_and_missing_variables() {
    let sb = Scratch::offline();
    let yaml = sb.write(
        "td.yaml",
        "# a YAML template\nfamily: ${FAMILY}\nrequiresCompatibilities: [FARGATE]\nnetworkMode: awsvpc\ncpu: \"256\"\nmemory: 0.5 GB\nexecutionRoleArn: arn:aws:iam::123456789012:role/exec\nx-log: &log\n  logDriver: awslogs\n  options:\n    awslogs-group: /ecs/${FAMILY}\n    awslogs-region: ${REGION:-us-east-1}\n    awslogs-stream-prefix: app\ncontainerDefinitions:\n  - name: web\n    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:${TAG}\n    essential: true\n    logConfiguration: *log\n    environment:\n      - {name: GREETING, value: \"héllo ✓ 日本\"}\n      - {name: LITERAL, value: \"$${NOT_A_VAR}\"}\n  - name: side\n    image: public.ecr.aws/docker/library/busybox:1\n    essential: false\n    logConfiguration:\n      <<: *log\n      options: {awslogs-group: side, awslogs-region: eu-west-1, awslogs-stream-prefix: s}\n",
    );
    // Missing variables: all listed in one error, exit 2, the existing output left alone.
    let out_path = sb.write("taskdef.json", "previous\n");
    let out = render(&sb, &[&yaml, "-o", &out_path]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("FAMILY (at family), TAG (at containerDefinitions[0].image)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: export FAMILY TAG"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "previous\n");

    let env = sb.env_with(&[("FAMILY", "shop"), ("TAG", "1.2.3")]);
    let out = run(RENDER, &[&yaml, "-o", &out_path, "--json"], &env, None).ok();
    let report = json(&out);
    // x-log is not an ECS field: kept and warned about (the anchor's holder).
    assert_eq!(findings(&report), ["unknown-field@[\"x-log\"]"]);
    assert_eq!(report["variables"], json!(["FAMILY", "REGION", "TAG"]));
    let td = read_json(&sb, "taskdef.json");
    assert_eq!(td["family"], "shop");
    assert_eq!(
        td["memory"], "0.5 GB",
        "sizes are checked in their own form, not rewritten"
    );
    let web = &td["containerDefinitions"][0];
    assert_eq!(
        web["image"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.2.3"
    );
    assert_eq!(
        web["logConfiguration"]["options"]["awslogs-group"],
        "/ecs/shop"
    );
    assert_eq!(
        web["logConfiguration"]["options"]["awslogs-region"],
        "us-east-1"
    );
    assert_eq!(web["environment"][0]["value"], "héllo ✓ 日本");
    assert_eq!(web["environment"][1]["value"], "${NOT_A_VAR}");
    let side = &td["containerDefinitions"][1]["logConfiguration"];
    assert_eq!(side["logDriver"], "awslogs", "merged from the anchor");
    assert_eq!(
        side["options"]["awslogs-group"], "side",
        "written keys win over merged ones"
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        text.starts_with(
            "{\n  \"family\": \"shop\",\n  \"requiresCompatibilities\": [\n    \"FARGATE\"\n  ],"
        ),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    assert!(
        text.contains("héllo ✓ 日本"),
        "unicode written as UTF-8, not escaped"
    );
}

#[test]
fn malformed_input_names_the_line_and_column_and_writes_nothing() {
    let sb = Scratch::offline();
    let out_path = sb.write("out.json", "keep me\n");
    let json_bad = sb.write(
        "bad.json",
        "{\n  \"family\": \"a\",\n  \"cpu\" \"256\"\n}\n",
    );
    let out = render(&sb, &[&json_bad, "-o", &out_path]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains(&format!("parse JSON `{json_bad}` at 3:9: expected `:`")),
        "{}",
        out.stderr
    );
    let yaml_bad = sb.write(
        "bad.yaml",
        "family: a\ncontainerDefinitions:\n  - name: web\n    image: [nginx\n",
    );
    let out = render(&sb, &[&yaml_bad, "-o", &out_path]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains(&format!("parse YAML `{yaml_bad}` at 5:")),
        "{}",
        out.stderr
    );
    let dup = sb.write("dup.yaml", "family: a\nfamily: b\n");
    let out = render(&sb, &["check", &dup]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("at 2:1: duplicate key `family`"),
        "{}",
        out.stderr
    );
    let out = render(&sb, &[&sb.p("missing.json")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing.json"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "keep me\n");
    // stdin works too, and a result on stdout cannot share it with --json.
    let out = run(
        RENDER,
        &["-"],
        &sb.env,
        Some(
            "{\"family\": \"a\", \"containerDefinitions\": [{\"name\": \"a\", \"image\": \"nginx\", \"memory\": 64}]}",
        ),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("{\n  \"family\": \"a\""),
        "{}",
        out.stdout
    );
    let out = render(&sb, &[&json_bad, "--json"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("pass --output PATH"), "{}", out.stderr);
}

#[test]
fn inputs_near_the_64_kib_limit() {
    let sb = Scratch::offline();
    let build = |values: usize| {
        let env: Vec<Value> = (0..values)
            .map(|i| json!({"name": format!("VAR_{i:04}"), "value": "x".repeat(100)}))
            .collect();
        json!({"family": "big", "containerDefinitions": [{"name": "a", "image": "nginx", "memory": 64, "environment": env}]})
    };
    // ~62 KiB renders; ~70 KiB is refused by ECS, so by us.
    let small = build(470);
    assert!(small.to_string().len() > 60_000 && small.to_string().len() < 65_536);
    sb.write("small.json", &small.to_string());
    render(&sb, &[&sb.p("small.json"), "-o", &sb.p("small-out.json")]).ok();
    assert_eq!(read_json(&sb, "small-out.json"), small);
    sb.write("big.json", &build(530).to_string());
    let out = render(&sb, &["check", &sb.p("big.json"), "--json"]);
    assert_eq!(out.code, 1);
    assert_eq!(findings(&json(&out)), ["size@"]);
}

#[test]
fn check_mode_writes_nothing_and_says_whether_a_file_would_change() {
    let sb = Scratch::offline();
    let input = fixture("taskdef/aws-containers-task-definitions-nginx_ec2-bridge.json");
    let out_path = sb.p("taskdef.json");
    // Nothing on disk yet: it would change.
    let out = render(&sb, &[&input, "-o", &out_path, "--check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("would change"), "{}", out.stderr);
    assert!(!Path::new(&out_path).exists());
    render(&sb, &[&input, "-o", &out_path]).ok();
    let before = std::fs::metadata(&out_path).unwrap().modified().unwrap();
    let out = render(&sb, &[&input, "-o", &out_path, "--check", "--json"]).ok();
    let report = json(&out);
    assert_eq!(
        (report["changed"].clone(), report["written"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(
        std::fs::metadata(&out_path).unwrap().modified().unwrap(),
        before
    );
    let out = render(
        &sb,
        &[&input, "-o", &out_path, "--check", "--env", "nginx:A=1"],
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        std::fs::metadata(&out_path).unwrap().modified().unwrap(),
        before,
        "still not written"
    );
    let out = render(&sb, &[&input, "--check"]);
    assert_eq!(out.code, 2, "--check needs a file: {}", out.stderr);
}

#[test]
fn appspec_substitution_keeps_comments_and_generation_checks_the_task_definition() {
    let sb = Scratch::offline();
    let td = fixture("taskdef/awsdocs-codepipeline-tutorial-taskdef-fargate-image1name.json");
    let text = "# deployed by CodeDeploy\nversion: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>  # filled in below\n        LoadBalancerInfo:\n          ContainerName: \"sample-website\"\n          ContainerPort: 80\nHooks:\n  - AfterAllowTestTraffic: \"smoke-test\"\n";
    let input = sb.write("appspec.yaml", text);
    let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-demo:3";
    render(
        &sb,
        &[
            "appspec",
            &input,
            "--taskdef",
            &td,
            "--task-definition-arn",
            arn,
            "-o",
            &sb.p("out/appspec.yaml"),
        ],
    )
    .ok();
    assert_eq!(
        std::fs::read_to_string(sb.path("out/appspec.yaml")).unwrap(),
        text.replace("<TASK_DEFINITION>", arn)
    );
    // A port the container does not map.
    let wrong = sb.write(
        "wrong.yaml",
        &text.replace("ContainerPort: 80", "ContainerPort: 8080"),
    );
    let out = render(&sb, &["appspec", &wrong, "--taskdef", &td]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "container `sample-website` does not map port 8080 (its container ports: 80)"
        ),
        "{}",
        out.stderr
    );
    let out = render(
        &sb,
        &["appspec", &input, "--task-definition-arn", "task-def:3"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);

    // Generated from flags: YAML by default, JSON for .json; validated against the task definition.
    render(
        &sb,
        &[
            "new-appspec",
            "--container",
            "sample-website",
            "--port",
            "80",
            "--taskdef",
            &td,
            "--subnet",
            "subnet-0a1b2c3d",
            "--security-group",
            "sg-0a1b2c3d",
            "--capacity-provider",
            "FARGATE:1:1",
            "--hook",
            "AfterAllowTestTraffic=smoke",
            "-o",
            &sb.p("gen/appspec.yaml"),
        ],
    )
    .ok();
    let generated = std::fs::read_to_string(sb.path("gen/appspec.yaml")).unwrap();
    assert!(generated.starts_with("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"<TASK_DEFINITION>\"\n"), "{generated}");
    let out = render(
        &sb,
        &[
            "appspec",
            &sb.p("gen/appspec.yaml"),
            "--taskdef",
            &td,
            "--json",
            "-o",
            &sb.p("gen/copy.yaml"),
        ],
    )
    .ok();
    assert_eq!(findings(&json(&out)), Vec::<String>::new());
    render(
        &sb,
        &[
            "new-appspec",
            "--container",
            "sample-website",
            "--port",
            "80",
            "-o",
            &sb.p("gen/appspec.json"),
        ],
    )
    .ok();
    assert_eq!(
        read_json(&sb, "gen/appspec.json")["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"],
        json!({"ContainerName": "sample-website", "ContainerPort": 80})
    );
    let out = render(
        &sb,
        &[
            "new-appspec",
            "--container",
            "web",
            "--port",
            "80",
            "--taskdef",
            &td,
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("no container `web` (containers: sample-website)"),
        "{}",
        out.stderr
    );

    // check validates the pair at once.
    let out = render(
        &sb,
        &["check", &td, "--codedeploy", "--appspec", &input, "--json"],
    );
    assert_eq!(findings(&json(&out)), ["role-arn@executionRoleArn"]);
}

/// `render-taskdef --json`, read back with every field the `render-taskdef` section of docs/json.md lists and nothing
/// else. The lists the report leaves out when empty are `None` here; `report_json` also checks which
/// keys are present, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportJson {
    schema_version: u32,
    step: String,
    command: CommandJson,
    input: String,
    output: Option<String>,
    sha256: Option<String>,
    written: bool,
    changed: bool,
    containers: Option<Vec<ContainerJson>>,
    placeholders: Option<Vec<PlaceholderJson>>,
    artifacts: Option<Vec<ArtifactJson>>,
    variables: Option<Vec<String>>,
    normalized: Option<Vec<String>>,
    findings: Vec<FindingJson>,
    errors: usize,
    warnings: usize,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CommandJson {
    Render,
    Check,
    Appspec,
    NewAppspec,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerJson {
    name: String,
    image: String,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceholderJson {
    placeholder: PlaceholderNameJson,
    container: String,
    image_uri: Option<String>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
enum PlaceholderNameJson {
    #[serde(rename = "IMAGE1_NAME")]
    Image1,
    #[serde(rename = "IMAGE2_NAME")]
    Image2,
    #[serde(rename = "IMAGE3_NAME")]
    Image3,
    #[serde(rename = "IMAGE4_NAME")]
    Image4,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArtifactJson {
    path: String,
    sha256: String,
    changed: bool,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingJson {
    severity: SeverityJson,
    rule: String,
    path: String,
    message: String,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SeverityJson {
    Error,
    Warning,
}

/// The report on stdout, and the keys it has, in order.
fn report_json(out: &Output, keys: &[&str]) -> ReportJson {
    let value = json(out);
    let present: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(present, keys, "{}", out.stdout);
    let report: ReportJson = serde_json::from_value(value)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!(
        (report.schema_version, report.step.as_str()),
        (1, "render-taskdef")
    );
    report
}

/// `(severity, rule, path)` of each finding; each has a message.
fn finding_keys(report: &ReportJson) -> Vec<(&SeverityJson, &str, &str)> {
    report
        .findings
        .iter()
        .map(|f| {
            assert!(!f.message.is_empty(), "{f:?}");
            (&f.severity, f.rule.as_str(), f.path.as_str())
        })
        .collect()
}

/// The `--json` contract of every command, in the cases a pipeline meets: a rendered
/// describe-task-definition output with its imagedefinitions.json, the same under --check, the
/// CodeDeploy template with its imageDetail.json files, a task definition with errors, `check` with
/// an AppSpec, `appspec` and `new-appspec`.
#[test]
fn json_reports_have_exactly_the_documented_fields() {
    const HEAD: [&str; 8] = [
        "schema_version",
        "step",
        "command",
        "input",
        "output",
        "sha256",
        "written",
        "changed",
    ];
    const TAIL: [&str; 3] = ["findings", "errors", "warnings"];
    let keys = |middle: &[&'static str]| -> Vec<&'static str> {
        HEAD.iter().chain(middle).chain(&TAIL).copied().collect()
    };
    let sb = Scratch::offline();
    let app_uri =
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:".to_string() + &"2".repeat(64);
    let detail = sb.write(
        "build/imageDetail.json",
        &json!({ "ImageURI": app_uri }).to_string(),
    );
    let described = sb.write(
        "described.json",
        &json!({"taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/shop:3",
            "family": "${FAMILY}",
            "revision": 3,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "containerDefinitions": [{"name": "web", "image": "nginx:1", "essential": true,
                "portMappings": [{"containerPort": 80}]}],
            "registeredAt": "2024-01-01T00:00:00Z"
        }})
        .to_string(),
    );
    let env = sb.env_with(&[("FAMILY", "shop")]);
    let render_args = [
        described.as_str(),
        "--image",
        &format!("web=@{detail}"),
        "--env",
        "web:API_TOKEN=abc123",
        "--imagedefinitions",
        &sb.p("out/imagedefinitions.json"),
        "-o",
        &sb.p("out/taskdef.json"),
        "--json",
    ];

    // Render: the containers, the artifact, the variables, the normalisation, a warning.
    let out = run(RENDER, &render_args, &env, None).ok();
    let all = ["containers", "artifacts", "variables", "normalized"];
    let report = report_json(&out, &keys(&all));
    assert_eq!(report.command, CommandJson::Render);
    assert_eq!(report.input, described);
    assert_eq!(
        report.output.as_deref(),
        Some(sb.p("out/taskdef.json").as_str())
    );
    let bytes = std::fs::read(sb.path("out/taskdef.json")).unwrap();
    assert_eq!(report.sha256, Some(sha256_hex(&bytes)));
    assert_eq!((report.written, report.changed), (true, true));
    assert_eq!(
        report.containers.as_deref(),
        Some(
            &[ContainerJson {
                name: "web".into(),
                image: app_uri.clone()
            }][..]
        )
    );
    assert_eq!(report.placeholders, None);
    let artifact_bytes = std::fs::read(sb.path("out/imagedefinitions.json")).unwrap();
    assert_eq!(
        report.artifacts.as_deref(),
        Some(
            &[ArtifactJson {
                path: sb.p("out/imagedefinitions.json"),
                sha256: sha256_hex(&artifact_bytes),
                changed: true
            }][..]
        )
    );
    assert_eq!(
        report.variables.as_deref(),
        Some(&["FAMILY".to_string()][..])
    );
    assert_eq!(
        report.normalized.as_deref(),
        Some(
            &[
                "unwrapped `taskDefinition` (describe-task-definition output)".to_string(),
                "dropped read-only keys: taskDefinitionArn, revision, status, registeredAt".into()
            ][..]
        )
    );
    assert_eq!(
        finding_keys(&report),
        [(
            &SeverityJson::Warning,
            "secret-in-environment",
            "containerDefinitions[0].environment[0].value"
        )]
    );
    assert_eq!((report.errors, report.warnings), (0, 1));

    // The same under --check: nothing written, nothing would change.
    let mut check_args = render_args.to_vec();
    check_args.push("--check");
    let out = run(RENDER, &check_args, &env, None).ok();
    let report = report_json(&out, &keys(&all));
    assert_eq!(report.sha256, Some(sha256_hex(&bytes)));
    assert_eq!((report.written, report.changed), (false, false));
    assert!(!report.artifacts.unwrap()[0].changed);

    // CodeDeploy: a placeholder per image given, an imageDetail.json each.
    let firelens =
        fixture("taskdef/firelens-examples-appmesh-firelens-colorteller-black-ecs-task-def.json");
    let envoy_uri = "840364872350.dkr.ecr.us-east-1.amazonaws.com/aws-appmesh-envoy:v1.29.0.0-prod";
    let out = render(
        &sb,
        &[
            &firelens,
            "--codedeploy",
            "--image",
            &format!("app=@{detail}"),
            "--image",
            &format!("envoy={envoy_uri}"),
            "--image-detail-dir",
            &sb.p("cd"),
            "-o",
            &sb.p("cd/taskdef.json"),
            "--json",
        ],
    )
    .ok();
    let report = report_json(&out, &keys(&["containers", "placeholders", "artifacts"]));
    let images: Vec<&str> = report
        .containers
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.image.as_str())
        .collect();
    assert_eq!(images[1..], ["<IMAGE1_NAME>", "<IMAGE2_NAME>"]);
    assert_eq!(
        report.placeholders.unwrap(),
        [
            PlaceholderJson {
                placeholder: PlaceholderNameJson::Image1,
                container: "app".into(),
                image_uri: Some(app_uri.clone())
            },
            PlaceholderJson {
                placeholder: PlaceholderNameJson::Image2,
                container: "envoy".into(),
                image_uri: Some(envoy_uri.into())
            }
        ]
    );
    let paths: Vec<String> = report
        .artifacts
        .unwrap()
        .into_iter()
        .map(|a| a.path)
        .collect();
    assert_eq!(
        paths,
        [
            sb.p("cd/imageDetail.json"),
            sb.p("cd/image2/imageDetail.json")
        ]
    );

    // Errors: nothing rendered, nothing written; the placeholder the template keeps has no URI.
    let tutorial = fixture("taskdef/awsdocs-codepipeline-tutorial-taskdef-fargate-image1name.json");
    let out = render(
        &sb,
        &[&tutorial, "--codedeploy", "-o", &sb.p("t.json"), "--json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = report_json(&out, &keys(&["containers", "placeholders"]));
    assert_eq!(
        (report.sha256.as_deref(), report.written, report.changed),
        (None, false, false)
    );
    assert_eq!(report.placeholders.as_ref().unwrap()[0].image_uri, None);
    assert_eq!(
        finding_keys(&report),
        [(&SeverityJson::Error, "role-arn", "executionRoleArn")]
    );
    assert_eq!((report.errors, report.warnings), (1, 0));
    assert!(!sb.path("t.json").exists());

    // check, with an AppSpec: no output, the AppSpec's findings named by its file.
    let appspec = sb.write(
        "appspec.yaml",
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n          ContainerName: \"${CONTAINER:-sample-website}\"\n          ContainerPort: 8080\n",
    );
    let out = render(
        &sb,
        &[
            "check",
            &tutorial,
            "--codedeploy",
            "--appspec",
            &appspec,
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = report_json(&out, &keys(&[]));
    assert_eq!(report.command, CommandJson::Check);
    assert_eq!(report.input, tutorial);
    assert_eq!(
        (
            report.output.as_deref(),
            report.sha256.as_deref(),
            report.written,
            report.changed
        ),
        (None, None, false, false)
    );
    let appspec_path =
        format!("{appspec}: Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort");
    assert_eq!(
        finding_keys(&report),
        [
            (&SeverityJson::Error, "role-arn", "executionRoleArn"),
            (&SeverityJson::Error, "appspec", appspec_path.as_str())
        ]
    );
    assert_eq!((report.errors, report.warnings), (2, 0));

    // appspec: the AppSpec's variables, the ARN filled in, written.
    let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-demo:3";
    let fixed = sb.write(
        "fixed.yaml",
        &std::fs::read_to_string(&appspec)
            .unwrap()
            .replace("8080", "80"),
    );
    let out = render(
        &sb,
        &[
            "appspec",
            &fixed,
            "--taskdef",
            &tutorial,
            "--task-definition-arn",
            arn,
            "-o",
            &sb.p("out/appspec.yaml"),
            "--json",
        ],
    )
    .ok();
    let report = report_json(&out, &keys(&["variables"]));
    assert_eq!(report.command, CommandJson::Appspec);
    assert_eq!(report.input, fixed);
    assert_eq!(report.output, Some(sb.p("out/appspec.yaml")));
    let written = std::fs::read(sb.path("out/appspec.yaml")).unwrap();
    assert!(String::from_utf8_lossy(&written).contains(arn));
    assert_eq!(report.sha256, Some(sha256_hex(&written)));
    assert_eq!((report.written, report.changed), (true, true));
    assert_eq!(
        report.variables.as_deref(),
        Some(&["CONTAINER".to_string()][..])
    );
    assert_eq!(
        (report.findings.len(), report.errors, report.warnings),
        (0, 0, 0)
    );

    // new-appspec: from flags, checked against the task definition.
    let out = render(
        &sb,
        &[
            "new-appspec",
            "--container",
            "sample-website",
            "--port",
            "80",
            "--taskdef",
            &tutorial,
            "-o",
            &sb.p("gen/appspec.json"),
            "--json",
        ],
    )
    .ok();
    let report = report_json(&out, &keys(&[]));
    assert_eq!(report.command, CommandJson::NewAppspec);
    assert_eq!(report.input, "(flags)");
    assert_eq!(report.output, Some(sb.p("gen/appspec.json")));
    let written = std::fs::read(sb.path("gen/appspec.json")).unwrap();
    assert_eq!(report.sha256, Some(sha256_hex(&written)));
    assert_eq!((report.written, report.changed), (true, true));
    assert_eq!(
        (report.findings.len(), report.errors, report.warnings),
        (0, 0, 0)
    );
}

/// A failing artifact path fails the run before the rendered file is written; an output that is the
/// input, a device or named twice is exit 2 and leaves every file as it was; `--check` never reads
/// a device.
#[test]
fn output_paths_are_checked_before_the_first_file_is_written() {
    let sb = Scratch::offline();
    let input = sb.write(
        "td.json",
        &crate::common::fixture_text(
            "taskdef/aws-containers-task-definitions-nginx_ec2-bridge.json",
        ),
    );
    let original = std::fs::read(&input).unwrap();
    let not_a_dir = sb.write("afile", "x\n");
    let out_path = sb.p("out/td.json");
    let uri = "nginx=123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1";
    let out = render(
        &sb,
        &[
            &input,
            "--codedeploy",
            "--image",
            uri,
            "-o",
            &out_path,
            "--image-detail-dir",
            &not_a_dir,
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "write `{not_a_dir}/imageDetail.json` (--image-detail-dir): `{not_a_dir}` is not a directory"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !sb.path("out").exists(),
        "the rendered file was not written first"
    );
    for args in [
        vec![input.as_str(), "-o", &input],
        vec![
            input.as_str(),
            "--image",
            uri,
            "-o",
            &out_path,
            "--imagedefinitions",
            &input,
        ],
    ] {
        let out = render(&sb, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("it is also the input `{input}` (TASKDEF)")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("help: write the output to another path")
        );
    }
    assert_eq!(
        std::fs::read(&input).unwrap(),
        original,
        "the input is unchanged"
    );
    // `--check` only compares, so the input may be what it is compared with: is it rendered already?
    let out = render(&sb, &[&input, "-o", &input, "--check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("would change"), "{}", out.stderr);
    // The blue/green pipeline reads imageDetail.json and writes it back with the same URI: that
    // changes nothing, so it may; a file the rewrite would change is refused and kept.
    let deploy = sb.path("deploy");
    std::fs::create_dir(&deploy).unwrap();
    let detail = deploy.join("imageDetail.json");
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let minimal = format!("{{\n  \"ImageURI\": \"{image}\"\n}}\n");
    std::fs::write(&detail, &minimal).unwrap();
    let from_detail = format!("nginx=@{}", detail.display());
    let rendered = sb.p("deploy/taskdef.json");
    let rewrite = [
        input.as_str(),
        "--codedeploy",
        "--image",
        &from_detail,
        "--image-detail-dir",
        deploy.to_str().unwrap(),
        "-o",
        &rendered,
    ];
    let out = render(&sb, &rewrite);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&detail).unwrap(), minimal);
    let full = format!("{{\"ImageURI\": \"{image}\", \"ImageTags\": [\"v1\"]}}\n");
    std::fs::write(&detail, &full).unwrap();
    let out = render(&sb, &rewrite);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("(--image-detail-dir): it is also the input")
            && out.stderr.contains("(--image), which writing would change"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&detail).unwrap(), full);
    let out = render(
        &sb,
        &[
            &input,
            "-o",
            &out_path,
            "--imagedefinitions",
            &out_path,
            "--image",
            uri,
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--output names the same file"),
        "{}",
        out.stderr
    );
    // `--check` compares by reading the file: a device would never end.
    for device in ["/dev/zero", "/dev/full"] {
        let out = render(&sb, &[&input, "-o", device, "--check"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "write `{device}` (--output): it is a character device, not a regular file"
            )),
            "{}",
            out.stderr
        );
    }
    assert!(!sb.path("out").exists());
    // Fixed, the same run writes both.
    let detail_dir = sb.p("details");
    render(
        &sb,
        &[
            &input,
            "--codedeploy",
            "--image",
            uri,
            "-o",
            &out_path,
            "--image-detail-dir",
            &detail_dir,
        ],
    )
    .ok();
    assert!(sb.path("out/td.json").is_file() && sb.path("details/imageDetail.json").is_file());
}

/// JSON and YAML task definitions are judged alike: a duplicate key is an error in both, an empty
/// file is exit 2 in both, and so is nesting past the limit; a rendered file that cannot reach
/// stdout is an error.
#[test]
fn json_and_yaml_refuse_the_same_documents() {
    let sb = Scratch::offline();
    for (name, text, message) in [
        (
            "dup.json",
            "{\n  \"family\": \"a\",\n  \"family\": \"b\"\n}\n",
            "at 3:",
        ),
        (
            "dup.yaml",
            "family: a\nfamily: b\n",
            "at 2:1: duplicate key `family`",
        ),
        ("empty.json", "", "at 1:1: the document is empty"),
        ("empty.yaml", "", "at 1:1: the document is empty"),
        (
            "comments.yaml",
            "# family: a\n",
            "at 1:1: the document is empty",
        ),
    ] {
        let path = sb.write(name, text);
        for command in [vec![path.as_str()], vec!["check", path.as_str()]] {
            let out = render(&sb, &command);
            assert_eq!(out.code, 2, "{command:?}: {}", out.stderr);
            assert!(out.stderr.contains(message), "{command:?}: {}", out.stderr);
            assert_eq!(out.stdout, "");
        }
    }
    let dup = render(&sb, &["check", &sb.p("dup.json")]);
    assert!(
        dup.stderr.contains("duplicate key `family`"),
        "{}",
        dup.stderr
    );
    let input = fixture("taskdef/aws-containers-task-definitions-nginx_ec2-bridge.json");
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = std::process::Command::new(RENDER)
        .arg(&input)
        .env_clear()
        .envs(sb.env.iter().map(|(k, v)| (k, v)))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to write the result to stdout"),
        "{stderr}"
    );
}

/// The tests of this area that need the rig (moto, the registry, the AWS CLI in its virtualenv).
mod on_the_rig {
    use super::*;

    /// describe-task-definition output → register-ready → accepted by the AWS CLI and moto's ECS →
    /// described again → rendered again → registered again.
    #[test]
    fn describe_output_round_trips_through_the_aws_cli_and_moto() {
        let rig = rig();
        let sb = Scratch::offline();
        let image = format!("{}/round-trip@sha256:{}", rig.registry, "ab".repeat(32));
        render(
            &sb,
            &[
                &fixture("taskdef/amazon-ecs-deploy-task-definition-testing-describe-output.json"),
                "--image",
                &format!("test={image}"),
                "-o",
                &sb.p("taskdef.json"),
            ],
        )
        .ok();
        let td = read_json(&sb, "taskdef.json");
        for key in [
            "taskDefinitionArn",
            "revision",
            "status",
            "requiresAttributes",
            "compatibilities",
            "registeredAt",
            "registeredBy",
            "tags",
        ] {
            assert!(td.get(key).is_none(), "{key} must be dropped: {td}");
        }
        assert_eq!(td["containerDefinitions"][0]["image"], image.as_str());
        assert_eq!(
            td["runtimePlatform"]["cpuArchitecture"], "X86_64",
            "fields not asked about stay"
        );

        let registered = aws_ecs(&[
            "register-task-definition",
            "--cli-input-json",
            &format!("file://{}", sb.p("taskdef.json")),
        ]);
        let arn = registered["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(arn.contains(":task-definition/testing:"), "{arn}");

        let described = aws_ecs(&[
            "describe-task-definition",
            "--task-definition",
            &arn,
            "--include",
            "TAGS",
        ]);
        std::fs::write(sb.path("described.json"), described.to_string()).unwrap();
        let out = render(
            &sb,
            &[&sb.p("described.json"), "-o", &sb.p("again.json"), "--json"],
        )
        .ok();
        let report = json(&out);
        assert!(
            report["normalized"][0]
                .as_str()
                .unwrap()
                .starts_with("unwrapped `taskDefinition`"),
            "{report}"
        );
        aws_ecs(&[
            "register-task-definition",
            "--cli-input-json",
            &format!("file://{}", sb.p("again.json")),
        ]);
        let again = read_json(&sb, "again.json");
        assert_eq!(again["containerDefinitions"][0]["image"], image.as_str());
        assert_eq!(again["family"], "testing");
    }

    /// Every fixture that renders clean, and a multi-container render, pass the AWS CLI's own input
    /// validation and moto's RegisterTaskDefinition.
    #[test]
    fn rendered_files_pass_the_aws_cli_input_validation() {
        rig();
        let sb = Scratch::offline();
        let clean = [
            "aws-containers-task-definitions-nginx_ec2-bridge.json",
            "ecs-demo-php-simple-app-task-def.json",
            "firelens-examples-appmesh-firelens-colorteller-black-ecs-task-def.json",
        ];
        for name in clean {
            let out = sb.p(name);
            render(&sb, &[&fixture(&format!("taskdef/{name}")), "-o", &out]).ok();
            aws_ecs(&[
                "register-task-definition",
                "--cli-input-json",
                &format!("file://{out}"),
            ]);
        }
        // What our type check reports is what the CLI refuses: the same file fails there too.
        let nginx = fixture("taskdef/ecs-nginx-reverse-proxy-task-definition-bridge-links.json");
        let out = std::process::Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
            .args([
                "ecs",
                "register-task-definition",
                "--cli-input-json",
                &format!("file://{nginx}"),
            ])
            .args(["--endpoint-url", &rig().moto])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("containerDefinitions[0].memory"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
