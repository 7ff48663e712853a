//! The rig is what every end-to-end test stands on: check each part answers like the real thing.

use crate::common;

use buildsteps::adapters::aws::Aws;
use buildsteps::adapters::docker::Engine;

#[tokio::test]
async fn the_docker_engine_answers_ping_and_negotiates_an_api_version() {
    let rig = common::rig();
    let engine = Engine::connect(Some(&rig.docker_host)).await.unwrap();
    assert_eq!(engine.ping().await.unwrap(), "OK");
    let version = engine.version().await.unwrap();
    assert!(!version.version.is_empty());
    let (major, minor) = version.api_version.split_once('.').unwrap();
    assert_eq!(major, "1");
    assert!(minor.parse::<u32>().unwrap() >= 41, "{version:?}");
}

#[test]
fn the_registry_answers_at_the_ecr_host_over_tls_with_a_basic_challenge() {
    let rig = common::rig();
    // No --cacert and no --insecure: the rig's CA is trusted through the system store, as a corporate
    // CA would be; a certificate problem fails the request.
    let (code, headers, _) = common::curl(&[&format!("https://{}/v2/", rig.registry)]);
    assert_eq!(code, 401, "{headers}");
    let challenge = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .unwrap_or_else(|| panic!("no challenge in {headers}"));
    assert!(challenge.contains("Basic realm="), "{challenge}");
    // The certificate names the host, so the CA file alone verifies it too.
    let (code, _, _) = common::curl(&[
        "--cacert",
        &rig.ca,
        &format!("https://{}/v2/", rig.registry),
    ]);
    assert_eq!(code, 401);
}

#[tokio::test]
async fn get_authorization_token_through_the_endpoint_override_returns_motos_token_which_the_registry_accepts()
 {
    let rig = common::rig();
    let aws = Aws::load(Some("us-east-1"), None).await.unwrap();
    let ecr = aws.ecr("us-east-1");
    assert_eq!(
        ecr.endpoint(),
        rig.moto,
        "AWS_ENDPOINT_URL_ECR is what the SDK calls"
    );
    let tokens = ecr.authorization_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert_eq!(token.username, "AWS");
    assert_eq!(token.proxy_endpoint, format!("https://{}", rig.registry));
    assert!(token.expires_at.is_some());
    // The token logs in to the registry, as an ECR token logs in to ECR.
    let login = format!("{}:{}", token.username, token.password.expose());
    let (code, _, _) = common::curl(&["-u", &login, &format!("https://{}/v2/", rig.registry)]);
    assert_eq!(code, 200);
    let (code, _, _) = common::curl(&["-u", "AWS:wrong", &format!("https://{}/v2/", rig.registry)]);
    assert_eq!(code, 401);
}

/// As in ECR, the registry and the ECR API are one service: what is pushed through the registry is
/// what `DescribeImages` lists, with the registry's digest, and a moved tag moves there too.
#[test]
fn an_image_pushed_through_the_registry_is_what_the_ecr_api_describes() {
    let rig = common::rig();
    let repo = common::unique("rig/joined");
    common::create_repository(&repo, "MUTABLE");
    let dir = std::env::temp_dir().join(common::unique("rig-joined"));
    std::fs::create_dir_all(&dir).unwrap();
    let creds = &common::rig().login();
    let push = |tag: &str, extra: &[&str]| -> String {
        let digest_file = dir.join(format!("{tag}.digest"));
        common::succeed(
            std::process::Command::new("skopeo")
                .args(["copy", "--quiet", "--dest-creds", creds])
                .args(extra)
                .arg("--digestfile")
                .arg(&digest_file)
                .arg(format!("docker-daemon:{}", rig.base_image))
                .arg(format!("docker://{}/{repo}:{tag}", rig.registry)),
        );
        std::fs::read_to_string(&digest_file).unwrap()
    };
    let describe = || -> serde_json::Value {
        let out = common::succeed(
            std::process::Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
                .args(["ecr", "describe-images", "--repository-name", &repo])
                .args(["--output", "json"]),
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v["imageDetails"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["imageTags"].as_array().is_some_and(|t| !t.is_empty()))
            .map(|i| serde_json::json!([i["imageDigest"], i["imageTags"]]))
            .collect()
    };
    let docker = push("v1", &[]);
    assert_eq!(describe(), serde_json::json!([[docker, ["v1"]]]));

    // The same tag on another manifest (the image in OCI form): the tag moves in ECR as well.
    let oci = push("v1", &["--format", "oci"]);
    assert_ne!(oci, docker);
    assert_eq!(describe(), serde_json::json!([[oci, ["v1"]]]));
    std::fs::remove_dir_all(&dir).unwrap();
}
