//! `ecr-login` end to end: the real binary against the rig (moto's ECR API, the TLS registry at the
//! ECR host name, the Docker engine), checked with independent clients (docker, skopeo, curl).

use crate::common;

use crate::common::{Output, Proxy, Scratch, json, rig, run, script, set, unset};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ecr-login");

fn ecr_login(args: &[&str], env: &[(String, String)]) -> Output {
    run(BIN, args, env, None)
}

/// A private `HOME` and `DOCKER_CONFIG` for one test, and docker's `config.json` in it.
struct Sandbox(Scratch);

impl std::ops::Deref for Sandbox {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.0
    }
}

impl std::ops::DerefMut for Sandbox {
    fn deref_mut(&mut self) -> &mut Scratch {
        &mut self.0
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox(Scratch::docker())
    }

    fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("docker/config.json")
    }

    fn config(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.config_path()).unwrap()).unwrap()
    }
}

/// The rig's registry password (moto's token, user `AWS`).
fn password() -> String {
    rig().password
}

/// Every form the password could leak in.
fn secret_forms() -> Vec<String> {
    let std = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE;
    vec![
        password(),
        std.encode(format!("AWS:{}", password())),
        std.encode(password()),
        url.encode(format!("AWS:{}", password())),
    ]
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for form in secret_forms() {
        assert!(
            !text.contains(&form),
            "{what} contains the password (as {form}): {text}"
        );
    }
}

fn push_image(sandbox: &Sandbox, repo: &str) -> String {
    let rig = rig();
    let image = format!("{}/{repo}:1", rig.registry);
    sandbox
        .run("docker", &["tag", &rig.base_image, &image])
        .ok();
    image
}

#[test]
fn docker_and_skopeo_use_what_ecr_login_wrote() {
    let s = Sandbox::new();
    let rig = rig();
    let out = ecr_login(&[], &s.env).ok();
    assert_eq!(out.stdout, "", "human mode prints nothing on stdout");
    assert!(
        out.stderr.contains("logged in to 1 ECR registry"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&rig.registry), "{}", out.stderr);
    assert_no_secret("stderr", &out.stderr);

    let config = s.config();
    let auth = config["auths"][&rig.registry]["auth"].as_str().unwrap();
    assert_eq!(
        auth,
        base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", password()))
    );
    let mode = std::fs::metadata(s.config_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let image = push_image(&s, "ecr-login/plain");
    s.run("docker", &["push", &image]).ok();
    s.run("docker", &["pull", &image]).ok();
    let authfile = s.config_path().display().to_string();
    let inspect = s
        .run(
            "skopeo",
            &[
                "inspect",
                "--authfile",
                &authfile,
                &format!("docker://{image}"),
            ],
        )
        .ok();
    let v: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert!(v["Digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn the_credential_helper_mode_serves_docker_on_demand() {
    let mut s = Sandbox::new();
    let rig = rig();
    let bin_dir = s.dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    set(&mut s.env, "PATH", &path);
    let cache = s.p("cache");
    set(&mut s.env, "AWS_ECR_CACHE_DIR", &cache);
    set(&mut s.env, "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    let out = ecr_login(
        &[
            "install-helper",
            "-r",
            &rig.registry,
            "--bin-dir",
            &bin_dir.display().to_string(),
            "--json",
        ],
        &s.env,
    )
    .ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["action"], "install-helper");
    assert_eq!(v["registries"][0]["stored_in"], "credHelper:ecr-login");
    let config = s.config();
    assert_eq!(config["credHelpers"][&rig.registry], "ecr-login");
    assert!(
        config.get("auths").is_none(),
        "no password is stored: {config}"
    );
    let link = bin_dir.join("docker-credential-ecr-login");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(BIN));

    let image = push_image(&s, "ecr-login/helper");
    s.run("docker", &["push", &image]).ok();
    s.run("docker", &["pull", &image]).ok();

    // The protocol directly: get, list, store and erase.
    let helper = link.display().to_string();
    let got = run(&helper, &["get"], &s.env, Some(&rig.registry)).ok();
    let v: Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(v["Username"], "AWS");
    assert_eq!(v["Secret"], password());
    assert_eq!(v["ServerURL"], rig.registry.as_str());
    let listed = run(&helper, &["list"], &s.env, None).ok();
    let v: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(v[format!("https://{}", rig.registry)], "AWS");
    assert_no_secret("list", &listed.stdout);
    run(
        &helper,
        &["store"],
        &s.env,
        Some(r#"{"ServerURL":"x","Username":"AWS","Secret":"y"}"#),
    )
    .ok();
    run(&helper, &["erase"], &s.env, Some("x")).ok();
    // A host that is not ECR: docker's "not found", so it goes anonymous.
    let other = run(&helper, &["get"], &s.env, Some("ghcr.io"));
    assert_eq!(
        (other.code, other.stdout.trim()),
        (1, "credentials not found in native keychain")
    );
    // The cache file is private.
    let cache = s.dir.path().join("cache/cache.json");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "raw access key ID in the cache: {text}"
    );
}

#[test]
fn a_second_helper_get_within_the_validity_window_makes_no_api_call() {
    let mut s = Sandbox::new();
    let rig = rig();
    let proxy = Proxy::start(&rig.moto, &[]);
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", &proxy.url);
    let cache = s.p("cache");
    set(&mut s.env, "AWS_ECR_CACHE_DIR", &cache);
    let helper = s.dir.path().join("docker-credential-ecr-login");
    std::os::unix::fs::symlink(BIN, &helper).unwrap();
    let helper = helper.display().to_string();
    run(&helper, &["get"], &s.env, Some(&rig.registry)).ok();
    assert_eq!(proxy.count(), 1);
    run(
        &helper,
        &["get"],
        &s.env,
        Some(&format!("https://{}", rig.registry)),
    )
    .ok();
    assert_eq!(proxy.count(), 1, "the second get came from the cache");
    // With the cache disabled, every get calls ECR.
    set(&mut s.env, "AWS_ECR_DISABLE_CACHE", "true");
    run(&helper, &["get"], &s.env, Some(&rig.registry)).ok();
    assert_eq!(proxy.count(), 2);
}

#[test]
fn a_creds_store_receives_the_secret_on_stdin_and_auths_gets_no_password() {
    let mut s = Sandbox::new();
    let rig = rig();
    let bin_dir = s.dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let record = s.dir.path().join("record");
    script(
        &bin_dir.join("docker-credential-teststore"),
        &format!(
            "#!/bin/sh\nprintf 'args:%s\\n' \"$*\" >> {r}\ncat >> {r}\nprintf '\\n' >> {r}\n",
            r = record.display()
        ),
    );
    set(
        &mut s.env,
        "PATH",
        &format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
    );
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    std::fs::write(
        s.config_path(),
        r#"{"credsStore":"teststore","currentContext":"default"}"#,
    )
    .unwrap();
    let out = ecr_login(&["--json"], &s.env).ok();
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["registries"][0]["stored_in"], "credsStore:teststore");
    let config = s.config();
    assert_eq!(
        config["auths"][&rig.registry],
        serde_json::json!({}),
        "docker login's marker, no password"
    );
    assert_eq!(config["currentContext"], "default", "unknown keys are kept");
    assert_eq!(config["credsStore"], "teststore");
    let recorded = std::fs::read_to_string(&record).unwrap();
    let mut lines = recorded.lines();
    assert_eq!(
        lines.next(),
        Some("args:store"),
        "the secret is not in argv: {recorded}"
    );
    let sent: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"ServerURL": rig.registry, "Username": "AWS", "Secret": password()})
    );

    // logout erases it from the store and removes the marker.
    let out = ecr_login(&["logout"], &s.env).ok();
    assert!(
        out.stderr.contains("logged out of 1 ECR registry"),
        "{}",
        out.stderr
    );
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.contains(&format!("args:erase\n{}", rig.registry)),
        "{recorded}"
    );
    assert!(s.config()["auths"].get(&rig.registry).is_none());

    // A store that is missing is an error naming it, and the config is left exactly as it was.
    std::fs::write(s.config_path(), r#"{"credsStore":"absent"}"#).unwrap();
    let out = ecr_login(&[], &s.env);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("docker-credential-absent"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
    assert_no_secret("stderr", &out.stderr);
    assert_eq!(
        std::fs::read_to_string(s.config_path()).unwrap(),
        r#"{"credsStore":"absent"}"#
    );
}

#[test]
fn fifty_concurrent_runs_on_one_config_lose_nothing() {
    let s = Sandbox::new();
    let children: Vec<_> = (0..50)
        .map(|i| {
            let account = format!("{:012}", 100_000_000_000_u64 + i);
            Command::new(BIN)
                .args(["-r", &format!("{account}@us-east-1")])
                .env_clear()
                .envs(s.env.iter().map(|(k, v)| (k, v)))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let config = s.config();
    let auths = config["auths"].as_object().unwrap();
    assert_eq!(auths.len(), 50);
    for i in 0..50 {
        let host = format!(
            "{:012}.dkr.ecr.us-east-1.amazonaws.com",
            100_000_000_000_u64 + i
        );
        assert!(auths.contains_key(&host), "{host} missing");
    }
    let mode = std::fs::metadata(s.config_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn targets_group_by_region_with_one_call_each_and_keep_unknown_keys() {
    let mut s = Sandbox::new();
    let rig = rig();
    let proxy = Proxy::start(&rig.moto, &[]);
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", &proxy.url);
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    std::fs::write(
        s.config_path(),
        r#"{"auths":{"ghcr.io":{"auth":"dTpw"}},"proxies":{"default":{"noProxy":"*.internal"}},"psFormat":"table {{.ID}}"}"#,
    )
    .unwrap();
    let out = ecr_login(
        &[
            "--json",
            "-r",
            &format!("{}/team/app:1.2,210987654321", rig.registry),
            "--registry",
            "123456789012@us-west-2",
            "-r",
            "123456789012.dkr-ecr.us-west-2.on.aws",
        ],
        &s.env,
    )
    .ok();
    assert_eq!(proxy.count(), 2, "one GetAuthorizationToken per region");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let hosts: Vec<&str> = v["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        [
            rig.registry.as_str(),
            "210987654321.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com",
            "123456789012.dkr-ecr.us-west-2.on.aws",
        ],
        "in the order given"
    );
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["api_called"], true);
    let config = s.config();
    assert_eq!(config["auths"]["ghcr.io"]["auth"], "dTpw");
    assert_eq!(config["proxies"]["default"]["noProxy"], "*.internal");
    assert_eq!(config["psFormat"], "table {{.ID}}");
    for h in &hosts {
        assert!(config["auths"][h]["auth"].is_string(), "{h}");
    }

    // --all-host-forms adds the dual-stack and FIPS forms.
    let out = ecr_login(&["--json", "--all-host-forms"], &s.env).ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["registries"].as_array().unwrap().len(), 4);
    assert!(s.config()["auths"]["123456789012.dkr-ecr-fips.us-east-1.on.aws"]["auth"].is_string());
}

#[test]
fn outputs_never_carry_the_password_except_password_stdout() {
    let s = Sandbox::new();
    for args in [
        &[][..],
        &["--json"],
        &["--format", "env"],
        &["status"],
        &["status", "--json"],
        &["logout", "--json"],
    ] {
        let out = ecr_login(args, &s.env).ok();
        assert_no_secret(&format!("{args:?} stdout"), &out.stdout);
        assert_no_secret(&format!("{args:?} stderr"), &out.stderr);
    }
    let env_lines = ecr_login(&["--format", "env"], &s.env).ok().stdout;
    assert!(
        env_lines.starts_with(&format!("ECR_REGISTRY={}\n", rig().registry)),
        "{env_lines}"
    );

    let out = ecr_login(&["--password-stdout"], &s.env).ok();
    assert_eq!(out.stdout, format!("{}\n", password()));
    assert_no_secret("stderr", &out.stderr);
    // --password-stdout writes nothing to the config.
    let before = std::fs::read_to_string(s.config_path()).unwrap();
    ecr_login(
        &["--password-stdout", "-r", "123456789012@us-west-2"],
        &s.env,
    )
    .ok();
    assert_eq!(std::fs::read_to_string(s.config_path()).unwrap(), before);
}

#[test]
fn github_actions_masks_first_and_writes_the_aws_action_outputs() {
    let mut s = Sandbox::new();
    let rig = rig();
    let outputs = s.dir.path().join("github_output");
    let summary = s.dir.path().join("summary.md");
    set(&mut s.env, "GITHUB_ACTIONS", "true");
    set(&mut s.env, "GITHUB_OUTPUT", &outputs.display().to_string());
    set(
        &mut s.env,
        "GITHUB_STEP_SUMMARY",
        &summary.display().to_string(),
    );
    let out = ecr_login(&[], &s.env).ok();
    let first = out.stderr.lines().next().unwrap();
    assert_eq!(
        first,
        format!("::add-mask::{}", password()),
        "the mask comes first"
    );
    // Besides the mask itself, the password appears nowhere in the log.
    let rest: String = out.stderr.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_no_secret("stderr after the mask", &rest);
    assert_no_secret("stdout", &out.stdout);
    let text = std::fs::read_to_string(&outputs).unwrap();
    let host = rig.registry.replace(['.', '-'], "_");
    assert!(
        text.contains(&format!("registry={}\n", rig.registry)),
        "{text}"
    );
    assert!(
        text.contains(&format!("docker_username_{host}=AWS\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("docker_password_{host}={}\n", password())),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains(&rig.registry)
    );
}

#[test]
fn min_validity_skips_the_api_when_stored_tokens_are_fresh() {
    let mut s = Sandbox::new();
    let rig = rig();
    // A stored token shaped like a real ECR password, valid for ten more hours.
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 10 * 3600;
    let std_b64 = base64::engine::general_purpose::STANDARD;
    let password = std_b64.encode(format!(
        r#"{{"payload":"p","datakey":"d","version":"2","type":"DATA_KEY","expiration":{expiry}}}"#
    ));
    let auth = std_b64.encode(format!("AWS:{password}"));
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    std::fs::write(
        s.config_path(),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, rig.registry),
    )
    .unwrap();
    // No ECR endpoint answers: success proves no call was made.
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9");
    let out = ecr_login(&["--min-validity", "1h", "--json"], &s.env).ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["api_called"], false);
    assert!(
        v["registries"][0]["expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let status = ecr_login(&["status"], &s.env).ok();
    assert!(
        status.stderr.contains("expires in 9h") || status.stderr.contains("expires in 10h"),
        "{}",
        status.stderr
    );
    // Asking for more than is left calls ECR, which here is unreachable: exit 4, endpoint named.
    let out = ecr_login(&["--min-validity", "11h"], &s.env);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("http://127.0.0.1:9"), "{}", out.stderr);
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
    assert_no_secret("stderr", &out.stderr);
    let out = ecr_login(&["--min-validity", "soon"], &s.env);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not a duration"), "{}", out.stderr);
}

#[test]
fn no_credentials_fails_fast_naming_the_chain() {
    let mut s = Sandbox::new();
    unset(&mut s.env, "AWS_ACCESS_KEY_ID");
    unset(&mut s.env, "AWS_SECRET_ACCESS_KEY");
    let started = Instant::now();
    let out = ecr_login(&[], &s.env);
    let elapsed = started.elapsed();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    for source in [
        "environment",
        "AWS_PROFILE",
        "web identity",
        "container credentials",
        "instance metadata",
        "us-east-1",
        &rig().moto,
    ] {
        assert!(
            out.stderr.contains(source),
            "{source} missing from: {}",
            out.stderr
        );
    }
    assert!(
        out.stderr
            .starts_with("error: failed to find AWS credentials"),
        "{}",
        out.stderr
    );
    assert!(!s.config_path().exists(), "nothing written");
}

#[test]
fn throttling_is_retried_then_reported() {
    let mut s = Sandbox::new();
    let rig = rig();
    let proxy = Proxy::start(&rig.moto, &["--fail", "2"]);
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", &proxy.url);
    ecr_login(&[], &s.env).ok();
    assert_eq!(proxy.count(), 3, "two throttled attempts, then success");

    let always = Proxy::start(&rig.moto, &["--fail", "-1"]);
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", &always.url);
    let out = ecr_login(&[], &s.env);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(always.count(), 5, "five attempts in all");
    assert!(out.stderr.contains("ThrottlingException"), "{}", out.stderr);
    assert!(out.stderr.contains(&always.url), "{}", out.stderr);

    let denied = Proxy::start(
        &rig.moto,
        &[
            "--fail",
            "-1",
            "--fail-body",
            r#"{"__type":"AccessDeniedException","message":"not authorized to perform ecr:GetAuthorizationToken"}"#,
        ],
    );
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", &denied.url);
    let out = ecr_login(&[], &s.env);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(denied.count(), 1, "access denied is not retried");
    assert!(
        out.stderr.contains("help: check the credentials"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_sdk_goes_through_http_proxy_and_honours_no_proxy() {
    let mut s = Sandbox::new();
    let rig = rig();
    let proxy = Proxy::start(&rig.moto, &[]);
    set(&mut s.env, "HTTP_PROXY", &proxy.url);
    ecr_login(&[], &s.env).ok();
    assert_eq!(proxy.count(), 1, "the call went through the proxy");
    set(&mut s.env, "NO_PROXY", "127.0.0.1");
    ecr_login(&[], &s.env).ok();
    assert_eq!(proxy.count(), 1, "NO_PROXY bypasses it");
}

#[test]
fn bad_targets_and_files_are_clear_errors_and_change_nothing() {
    let s = Sandbox::new();
    for (args, want) in [
        (
            &["-r", "docker.io/library/nginx"][..],
            "registry is not ECR",
        ),
        (&["-r", "123456789012@moon"], "not a region name"),
        (
            &[
                "-r",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com.fake.example.com",
            ],
            "not an ECR domain",
        ),
        (&["--frobnicate"], "unexpected argument"),
        (&["--region", "moon"], "not a region name"),
    ] {
        let out = ecr_login(args, &s.env);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
    }
    assert!(!s.config_path().exists());
    // Every invalid host of the fixture is refused by the binary too.
    let fixture = crate::common::fixture_text("ecr-hosts/ecr-hosts.txt");
    for host in fixture.lines().filter_map(|l| l.strip_prefix("INVALID ")) {
        let out = ecr_login(&["-r", host.trim()], &s.env);
        assert_eq!(out.code, 2, "{host}: {}", out.stderr);
    }
    // A malformed config is named and left as it was.
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    std::fs::write(s.config_path(), "{\"auths\": ").unwrap();
    let out = ecr_login(&[], &s.env);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("config.json"), "{}", out.stderr);
    assert!(out.stderr.contains("left as it is"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(s.config_path()).unwrap(),
        "{\"auths\": "
    );
}

#[test]
fn logout_removes_ecr_entries_including_stale_public_ones() {
    let s = Sandbox::new();
    let rig = rig();
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    std::fs::write(
        s.config_path(),
        r#"{"auths":{"public.ecr.aws":{"auth":"QVdTOnN0YWxl"},"ghcr.io":{"auth":"dTpw"}},"credHelpers":{"x.example":"other"}}"#,
    )
    .unwrap();
    ecr_login(&[], &s.env).ok();
    let out = ecr_login(&["logout", "--json"], &s.env).ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let mut hosts: Vec<&str> = v["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, [rig.registry.as_str(), "public.ecr.aws"]);
    let config = s.config();
    assert_eq!(
        config["auths"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["ghcr.io"]
    );
    assert_eq!(config["credHelpers"]["x.example"], "other");
}

#[test]
fn github_oidc_assumes_the_role_with_the_jobs_token() {
    let mut s = Sandbox::new();
    // The runner's token endpoint, played by a tiny server that records what it was asked.
    let dir = s.dir.path();
    let log = dir.join("requests");
    let port_file = dir.join("port");
    let server = format!(
        r#"
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        with open({log:?}, "a") as f: f.write(self.path + " " + self.headers.get("Authorization", "") + "\n")
        body = json.dumps({{"value": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjpyZWY6cmVmcy9oZWFkcy9tYWluIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln"}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open({pf:?} + ".tmp", "w").write(str(s.server_address[1])); os.replace({pf:?} + ".tmp", {pf:?})
s.serve_forever()
"#,
        log = log.display().to_string(),
        pf = port_file.display().to_string()
    );
    let _server = common::Background(
        Command::new("python3")
            .args(["-c", &server])
            .spawn()
            .unwrap(),
    );
    let mut port = String::new();
    for _ in 0..100 {
        if let Ok(p) = std::fs::read_to_string(&port_file) {
            port = p;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    unset(&mut s.env, "AWS_ACCESS_KEY_ID");
    unset(&mut s.env, "AWS_SECRET_ACCESS_KEY");
    set(&mut s.env, "GITHUB_ACTIONS", "true");
    set(
        &mut s.env,
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &format!("http://127.0.0.1:{port}/token?api-version=2.0"),
    );
    set(
        &mut s.env,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "runner-request-token",
    );
    let out = ecr_login(
        &["--role-arn", "arn:aws:iam::123456789012:role/ci-push"],
        &s.env,
    )
    .ok();
    assert!(
        out.stderr.contains("::add-mask::runner-request-token"),
        "{}",
        out.stderr
    );
    let requests = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        requests.trim(),
        "/token?api-version=2.0&audience=sts.amazonaws.com bearer runner-request-token"
    );
    assert!(s.config()["auths"][&rig().registry]["auth"].is_string());

    // Without the runner's variables, --role-arn explains what is missing.
    unset(&mut s.env, "ACTIONS_ID_TOKEN_REQUEST_URL");
    let out = ecr_login(
        &["--role-arn", "arn:aws:iam::123456789012:role/ci-push"],
        &s.env,
    );
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("id-token: write"), "{}", out.stderr);
}

#[test]
fn help_teaches_the_targets_and_exit_codes() {
    let out = ecr_login(
        &["--help"],
        &crate::common::base_env(Path::new("/nonexistent")),
    )
    .ok();
    for want in [
        "ACCOUNT@REGION",
        "public.ecr.aws",
        "--min-validity",
        "--password-stdout",
        "Exit codes",
        "ECR_LOGIN_REGISTRIES",
        "install-helper",
    ] {
        assert!(
            out.stdout.contains(want),
            "{want} missing from --help:\n{}",
            out.stdout
        );
    }
}

#[test]
fn install_helper_is_idempotent_and_never_replaces_another_program() {
    let mut s = Sandbox::new();
    let rig = rig();
    let bin_dir = s.dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    set(
        &mut s.env,
        "PATH",
        &format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
    );
    let install = |dir: &Path| {
        ecr_login(
            &[
                "install-helper",
                "-r",
                &rig.registry,
                "--bin-dir",
                &dir.display().to_string(),
            ],
            &s.env,
        )
    };
    install(&bin_dir).ok();
    let first = std::fs::read_to_string(s.config_path()).unwrap();
    let again = install(&bin_dir).ok();
    assert!(!again.stderr.contains("warning"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(s.config_path()).unwrap(), first);
    let other_dir = s.dir.path().join("bin2");
    std::fs::create_dir(&other_dir).unwrap();
    script(
        &other_dir.join("docker-credential-ecr-login"),
        "#!/bin/sh\nexit 0\n",
    );
    let refused = install(&other_dir);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("something else is already there"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(other_dir.join("docker-credential-ecr-login")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    // Outside PATH, the install works but says docker will not find the link.
    let off_path = s.dir.path().join("bin3");
    std::fs::create_dir(&off_path).unwrap();
    let warned = install(&off_path).ok();
    assert!(
        warned.stderr.contains("is not on PATH"),
        "{}",
        warned.stderr
    );
}

/// A credential store (or helper) that is missing, fails, or never answers: exit 2 for one that is
/// not installed, 4 for one that failed (with what it said on stdout and stderr, never the secret)
/// or did not answer within --helper-timeout; and in every case `config.json` byte for byte as it
/// was — no `{}` marker in place of the existing `auth`, no other host written either.
#[test]
fn a_failing_missing_or_silent_credential_store_leaves_the_config_as_it_was() {
    let mut s = Sandbox::new();
    let rig = rig();
    let bin_dir = s.dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    // Echoes its input (the secret among it) on stdout, as some helpers' errors do.
    script(
        &bin_dir.join("docker-credential-echoes"),
        "#!/bin/sh\nprintf 'invalid input: %s' \"$(cat)\"\necho 'keychain is locked' >&2\nexit 1\n",
    );
    // Says nothing at all.
    script(
        &bin_dir.join("docker-credential-mute"),
        "#!/bin/sh\nexit 7\n",
    );
    // Never answers; the sleep is its child, so it also holds the pipes after the helper is killed.
    script(
        &bin_dir.join("docker-credential-hangs"),
        "#!/bin/sh\nsleep 20\n",
    );
    // Exits at once but leaves a process holding its output open.
    script(
        &bin_dir.join("docker-credential-lingers"),
        "#!/bin/sh\ncat >/dev/null\nsleep 20 &\nexit 0\n",
    );
    std::fs::write(bin_dir.join("docker-credential-noexec"), "#!/bin/sh\n").unwrap();
    set(
        &mut s.env,
        "PATH",
        &format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
    );
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    let old_auth = base64::engine::general_purpose::STANDARD.encode("AWS:old-password");
    let other = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
    let creds_store = |name: &str| {
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{old_auth}"}}}},"credsStore":"{name}","psFormat":"x"}}"#,
            rig.registry
        )
    };
    // A helper for one host only, while another host would be written to `auths`: nothing is.
    let cred_helper = |name: &str| {
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{old_auth}"}}}},"credHelpers":{{"{}":"{name}"}}}}"#,
            rig.registry, rig.registry
        )
    };
    let login_two: &[&str] = &["-r", other, "-r", &rig.registry, "--helper-timeout", "1s"];
    let login_one: &[&str] = &["--helper-timeout", "1s"];
    let logout: &[&str] = &["logout", "--helper-timeout", "1s"];
    #[rustfmt::skip]
    let cases: Vec<(String, &[&str], i32, &[&str])> = vec![
        (creds_store("absent"), login_one, 2, &["docker-credential-absent", "not on PATH", "install the helper"]),
        (creds_store("noexec"), login_one, 2, &["docker-credential-noexec", "not executable"]),
        (creds_store("echoes"), login_one, 4, &["invalid input", "<redacted>", "stderr: keychain is locked", "exit status: 1", "works on its own"]),
        (creds_store("mute"), login_one, 4, &["no message (exit status: 7)"]),
        (creds_store("hangs"), login_one, 4, &["did not answer within 1s", "--helper-timeout"]),
        (creds_store("lingers"), login_one, 4, &["did not answer within 1s"]),
        (cred_helper("echoes"), login_two, 4, &["keychain is locked"]),
        (cred_helper("hangs"), login_two, 4, &["did not answer within 1s"]),
        (creds_store("echoes"), logout, 4, &["erase credentials", "keychain is locked"]),
        (creds_store("hangs"), logout, 4, &["erase credentials", "did not answer within 1s"]),
        (creds_store("absent"), &["logout"], 2, &["not on PATH"]),
    ];
    for (config, args, code, wants) in &cases {
        std::fs::write(s.config_path(), config).unwrap();
        let started = Instant::now();
        let out = ecr_login(args, &s.env);
        let took = started.elapsed();
        let what = format!("{config} {args:?}");
        assert_eq!(out.code, *code, "{what}: {}", out.stderr);
        for want in *wants {
            assert!(
                out.stderr.contains(want),
                "{what}: {want} missing from {}",
                out.stderr
            );
        }
        assert!(
            out.stderr.contains("error: failed to "),
            "{what}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("\nhelp: "), "{what}: {}", out.stderr);
        assert_no_secret(&what, &out.stderr);
        assert_eq!(out.stdout, "", "{what}");
        assert!(took < Duration::from_secs(10), "{what} took {took:?}");
        assert_eq!(
            &std::fs::read_to_string(s.config_path()).unwrap(),
            config,
            "{what}: config.json changed"
        );
    }
    // A store that has nothing for a host has nothing to erase: logout succeeds and drops the marker.
    script(
        &bin_dir.join("docker-credential-empty"),
        "#!/bin/sh\ncat >/dev/null\necho 'credentials not found in native keychain'\nexit 1\n",
    );
    std::fs::write(
        s.config_path(),
        format!(
            r#"{{"auths":{{"{}":{{}}}},"credsStore":"empty"}}"#,
            rig.registry
        ),
    )
    .unwrap();
    ecr_login(&["logout"], &s.env).ok();
    assert!(s.config()["auths"].get(&rig.registry).is_none());
}

/// One row of a bad-input corpus: arguments, extra environment, exit code, a fragment of stderr.
type Row<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], i32, &'a str);

/// The bad-input corpus for ecr-login's flags, targets and AWS settings: each row is refused with
/// the exit code and the fragment shown, before any AWS call (a proxy in front of moto counts
/// them), with nothing on stdout and `config.json` unchanged.
#[test]
fn bad_input_corpus_is_refused_before_any_call_and_changes_nothing() {
    let mut s = Sandbox::new();
    let rig = rig();
    let proxy = Proxy::start(&rig.moto, &[]);
    set(&mut s.env, "AWS_ENDPOINT_URL_ECR", &proxy.url);
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    let config = format!(
        r#"{{"auths":{{"{}":{{"auth":"QVdTOm9sZA=="}},"ghcr.io":{{"auth":"dTpw"}}}}}}"#,
        rig.registry
    );
    std::fs::write(s.config_path(), &config).unwrap();
    let arn = "arn:aws:iam::123456789012:role/ci-push";
    let two_regions = "123456789012@us-east-1,123456789012@us-west-2";
    #[rustfmt::skip]
    let cases: &[Row] = &[
        // Empty targets never mean "the default" (login) or "everything" (logout).
        (&["-r", ""], &[], 2, "it is empty"),
        (&["-r", " "], &[], 2, "it is empty"),
        (&["-r", "123456789012@us-east-1,"], &[], 2, "it is empty"),
        (&["-r", ",123456789012"], &[], 2, "it is empty"),
        (&[], &[("ECR_LOGIN_REGISTRIES", "")], 2, "it is empty"),
        (&["logout", "-r", ""], &[], 2, "it is empty"),
        (&["logout", "-r", "public.ecr.aws,"], &[], 2, "it is empty"),
        (&["install-helper", "-r", ""], &[], 2, "it is empty"),
        // Regions no partition has.
        (&["-r", "123456789012@mars-1"], &[], 2, "no AWS partition has it"),
        (&["-r", "123456789012@mars-1"], &[], 2, "--allow-unknown-region"),
        (&["-r", "123456789012.dkr.ecr.mars-1.amazonaws.com"], &[], 2, "`mars-1`"),
        (&["-r", "123456789012.dkr-ecr.moon-base-1.on.aws/app:1"], &[], 2, "`moon-base-1`"),
        (&["-r", "123456789012@xx-east-1"], &[], 2, "no AWS partition"),
        (&["-r", "123456789012@eusc-fr-east-1"], &[], 2, "no AWS partition"),
        (&["--region", "mars-1"], &[], 2, "no AWS partition"),
        (&[], &[("ECR_LOGIN_REGION", "mars-1")], 2, "no AWS partition"),
        (&[], &[("AWS_REGION", "mars-1")], 2, "`mars-1`"),
        (&["-r", "123456789012"], &[("AWS_REGION", "mars-1")], 2, "`mars-1`"),
        (&[], &[("AWS_REGION", "us east 1")], 2, "`us east 1`"),
        (&["--min-validity", "1h", "-r", "123456789012@mars-1"], &[], 2, "no AWS partition"),
        (&["install-helper", "-r", "123456789012@mars-1"], &[], 2, "no AWS partition"),
        (&["install-helper", "-r", "123456789012"], &[("AWS_REGION", "mars-1")], 2, "`mars-1`"),
        // No region, an empty one included.
        (&[], &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "")], 2, "determine the AWS region"),
        (&[], &[("AWS_REGION", " ")], 2, "determine the AWS region"),
        (&["--region", ""], &[], 2, "not a region name"),
        // Endpoint overrides that are not http(s) URLs (an empty one made the SDK panic: exit 70).
        (&[], &[("AWS_ENDPOINT_URL_ECR", "")], 2, "it is empty"),
        (&[], &[("AWS_ENDPOINT_URL_ECR", "junk")], 2, "`junk` as the ECR endpoint"),
        (&[], &[("AWS_ENDPOINT_URL_ECR", "http://")], 2, "not a URL"),
        (&[], &[("AWS_ENDPOINT_URL_ECR", "http://exa mple.com")], 2, "not a URL"),
        (&[], &[("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:99999")], 2, "invalid port"),
        (&[], &[("AWS_ENDPOINT_URL_ECR", "ftp://127.0.0.1:5055")], 2, "scheme is `ftp`"),
        (&[], &[("AWS_ENDPOINT_URL_ECR", "junk")], 2, "help: set AWS_ENDPOINT_URL_ECR"),
        (&["-r", "public.ecr.aws"], &[("AWS_ENDPOINT_URL_ECR_PUBLIC", "junk")], 2, "ECR Public endpoint"),
        // Role ARNs and session names STS would refuse.
        (&["--role-arn", "junk"], &[], 2, "not an IAM role ARN"),
        (&["--role-arn", ""], &[], 2, "not an IAM role ARN"),
        (&["--role-arn", "arn:aws:iam::123456789012:user/ci"], &[], 2, "role/NAME"),
        (&["--role-arn", "arn:aws:iam::12345:role/ci"], &[], 2, "12-digit"),
        (&["--role-arn", "arn:aws:sts::123456789012:assumed-role/ci/x"], &[], 2, "not an IAM ARN"),
        (&[], &[("ECR_LOGIN_ROLE_ARN", "role/ci-push")], 2, "not an IAM role ARN"),
        (&["--role-arn", arn, "--role-session-name", "a b"], &[], 2, "not a role session name"),
        (&["--role-arn", arn, "--role-session-name", "x"], &[], 2, "not a role session name"),
        // --password-stdout prints the password alone, and only one.
        (&["--password-stdout", "--json"], &[], 2, "never the password inside the result"),
        (&["--password-stdout", "--format", "env"], &[], 2, "--format env"),
        (&["--password-stdout", "--format", "json"], &[], 2, "--format json"),
        (&["--password-stdout"], &[("BUILDSTEPS_FORMAT", "json")], 2, "BUILDSTEPS_FORMAT"),
        (&["--password-stdout", "-r", two_regions], &[], 2, "2 regions or services (us-east-1, us-west-2)"),
        (&["--password-stdout", "-r", "123456789012@us-west-2", "-r", "public.ecr.aws"], &[], 2, "(us-west-2, public.ecr.aws)"),
        (&["--password-stdout", "-r", "123456789012@eu-west-1,123456789012"], &[], 2, "(eu-west-1, us-east-1)"),
        // Helper timeouts.
        (&["--helper-timeout", "0s"], &[], 2, "more than 0s"),
        (&["--helper-timeout", "2d"], &[], 2, "more than a day"),
        (&["logout", "--helper-timeout", "soon"], &[], 2, "not a duration"),
    ];
    for (args, vars, code, want) in cases {
        let env = s.env_with(vars);
        let out = ecr_login(args, &env);
        let what = format!("{args:?} {vars:?}");
        assert_eq!(out.code, *code, "{what}: {}", out.stderr);
        assert!(
            out.stderr.contains(want),
            "{what}: {want} missing from {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{what}: nothing on stdout");
        assert_eq!(
            std::fs::read_to_string(s.config_path()).unwrap(),
            config,
            "{what}: config.json changed"
        );
        assert_eq!(proxy.count(), 0, "{what}: an AWS call was made");
    }

    // The positive controls: the same proxy counts calls, and the override, two accounts in one
    // region with --password-stdout, and a region the table lists all work.
    let out = ecr_login(
        &[
            "--allow-unknown-region",
            "-r",
            "123456789012@mars-1",
            "--json",
        ],
        &s.env,
    )
    .ok();
    assert_eq!(
        json(&out)["registries"][0]["host"],
        "123456789012.dkr.ecr.mars-1.amazonaws.com"
    );
    assert_eq!(proxy.count(), 1);
    let out = ecr_login(
        &[
            "--password-stdout",
            "-r",
            "123456789012@us-west-2,210987654321@us-west-2",
        ],
        &s.env,
    )
    .ok();
    assert_eq!(out.stdout, format!("{}\n", password()));
    let out = ecr_login(&["-r", "123456789012@ap-southeast-7"], &s.env).ok();
    assert!(out.stderr.contains("ap-southeast-7"), "{}", out.stderr);
}

/// The runner's token service: a refusal is 3 (the job's permissions), its failure 4, and the
/// cause is named.
#[test]
fn oidc_token_service_failures_are_told_apart() {
    let mut s = Sandbox::new();
    let rig = rig();
    set(&mut s.env, "GITHUB_ACTIONS", "true");
    set(
        &mut s.env,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "runner-request-token",
    );
    let arn = ["--role-arn", "arn:aws:iam::123456789012:role/ci-push"];
    for (status, code, want) in [
        ("403", 3, "id-token: write"),
        ("401", 3, "HTTP 401"),
        ("500", 4, "HTTP 500"),
        ("500", 4, "re-run the job"),
    ] {
        let service = Proxy::start(
            &rig.moto,
            &["--fail", "-1", "--fail-status", status, "--fail-body", "{}"],
        );
        set(
            &mut s.env,
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            &format!("{}/token?api-version=2.0", service.url),
        );
        let out = ecr_login(&arn, &s.env);
        assert_eq!(out.code, code, "{status}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{status}: {}", out.stderr);
        assert_eq!(service.count(), 1, "{status}: one request, not retried");
        assert!(!s.config_path().exists());
    }
    set(
        &mut s.env,
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "http://127.0.0.1:9/token",
    );
    let out = ecr_login(&arn, &s.env);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
}

/// Every shape `--json` takes — login (`auths` and a credential store), status, install-helper,
/// status again, logout — read back with exactly the fields `docs/json.md`, ecr-login lists.
#[test]
fn json_output_has_exactly_the_documented_fields() {
    let mut s = Sandbox::new();
    let rig = rig();
    let bin_dir = s.dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    set(
        &mut s.env,
        "PATH",
        &format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
    );
    // A stale ECR Public entry: a registry without account or region.
    std::fs::create_dir_all(s.dir.path().join("docker")).unwrap();
    std::fs::write(
        s.config_path(),
        r#"{"auths":{"public.ecr.aws":{"auth":"QVdTOnN0YWxl"}}}"#,
    )
    .unwrap();
    let config = s.config_path().display().to_string();
    let json = |args: &[&str], env: &[(String, String)]| {
        let out = ecr_login(args, env).ok();
        let v: LoginJson = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        assert_eq!((v.schema_version, v.step.as_str()), (1, "ecr-login"));
        v
    };

    let login = json(&["--json"], &s.env);
    assert_eq!((login.action, login.api_called), (JsonAction::Login, true));
    assert_eq!(login.docker_config, config);
    let r = &login.registries[0];
    assert_eq!(r.host, rig.registry);
    assert_eq!(
        (r.account.as_deref(), r.region.as_deref()),
        (Some("123456789012"), Some("us-east-1"))
    );
    assert_eq!(r.stored_in, JsonStoredIn::Auths);

    let status = json(&["status", "--json"], &s.env);
    assert_eq!(
        (status.action, status.api_called),
        (JsonAction::Status, false)
    );
    let public = status
        .registries
        .iter()
        .find(|r| r.host == "public.ecr.aws")
        .unwrap();
    assert_eq!((&public.account, &public.region), (&None, &None));

    let install = json(
        &[
            "install-helper",
            "-r",
            &rig.registry,
            "--bin-dir",
            &bin_dir.display().to_string(),
            "--json",
        ],
        &s.env,
    );
    assert_eq!(install.action, JsonAction::InstallHelper);
    let helper = JsonStoredIn::CredHelper("ecr-login".into());
    assert_eq!(install.registries[0].stored_in, helper);
    let status = json(&["status", "--json"], &s.env);
    let own = status
        .registries
        .iter()
        .find(|r| r.host == rig.registry)
        .unwrap();
    assert_eq!((&own.stored_in, &own.expires_at), (&helper, &None));

    let logout = json(&["logout", "--json"], &s.env);
    assert_eq!(logout.action, JsonAction::Logout);
    let mut hosts: Vec<&str> = logout.registries.iter().map(|r| r.host.as_str()).collect();
    hosts.sort_unstable();
    assert_eq!(hosts, [rig.registry.as_str(), "public.ecr.aws"]);

    // A credential store keeps the secret; the result names it.
    script(
        &bin_dir.join("docker-credential-teststore"),
        "#!/bin/sh\ncat >/dev/null\n",
    );
    std::fs::write(s.config_path(), r#"{"credsStore":"teststore"}"#).unwrap();
    let login = json(&["--json"], &s.env);
    assert_eq!(
        login.registries[0].stored_in,
        JsonStoredIn::CredsStore("teststore".into())
    );
}

/// `ecr-login --json` (every subcommand): the object `docs/json.md`, ecr-login describes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginJson {
    schema_version: u32,
    step: String,
    action: JsonAction,
    registries: Vec<JsonRegistry>,
    docker_config: String,
    api_called: bool,
}

/// `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum JsonAction {
    Login,
    Status,
    Logout,
    InstallHelper,
}

/// `registries[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRegistry {
    host: String,
    account: Option<String>,
    region: Option<String>,
    stored_in: JsonStoredIn,
    expires_at: Option<String>,
}

/// `registries[].stored_in`: `auths`, `credsStore:NAME` or `credHelper:NAME`.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
enum JsonStoredIn {
    Auths,
    CredsStore(String),
    CredHelper(String),
}

impl TryFrom<String> for JsonStoredIn {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s == "auths" {
            Ok(JsonStoredIn::Auths)
        } else if let Some(name) = s.strip_prefix("credsStore:") {
            Ok(JsonStoredIn::CredsStore(name.to_string()))
        } else if let Some(name) = s.strip_prefix("credHelper:") {
            Ok(JsonStoredIn::CredHelper(name.to_string()))
        } else {
            Err(format!(
                "`{s}` is not auths, credsStore:NAME or credHelper:NAME"
            ))
        }
    }
}
