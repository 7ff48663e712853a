//! What the end-to-end tests need from the local rig (`bin/rig`), read from the variables
//! `bin/rig env` exports. `bin/test` starts the rig and exports them; a test run without them fails
//! with the fix rather than skipping.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::process::Command;

/// The rig's coordinates.
#[derive(Debug, Clone)]
pub struct Rig {
    /// `123456789012.dkr.ecr.us-east-1.amazonaws.com`
    pub registry: String,
    /// `http://127.0.0.1:5055`
    pub moto: String,
    /// The throw-away CA that signed the registry's certificate.
    pub ca: String,
    /// An image in the engine that needs no pull (`local/busybox:1`).
    pub base_image: String,
    /// `unix:///var/run/docker.sock`
    pub docker_host: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the local rig. Run `bin/test`, or \
             `bin/rig start && eval \"$(bin/rig env)\"` before `cargo test`."
        )
    })
}

/// The rig, from the environment.
pub fn rig() -> Rig {
    Rig {
        registry: var("BUILDSTEPS_RIG_REGISTRY"),
        moto: var("BUILDSTEPS_RIG_MOTO"),
        ca: var("BUILDSTEPS_RIG_CA"),
        base_image: var("BUILDSTEPS_RIG_BASE_IMAGE"),
        docker_host: var("DOCKER_HOST"),
    }
}

/// Creates an ECR repository in moto (as `aws ecr create-repository` would in a real account).
pub fn create_repository(name: &str, mutability: &str) {
    let out = Command::new(var("BUILDSTEPS_RIG_AWS_CLI"))
        .args([
            "ecr",
            "create-repository",
            "--repository-name",
            name,
            "--image-tag-mutability",
            mutability,
        ])
        .output()
        .expect("the AWS CLI runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || err.contains("RepositoryAlreadyExists"),
        "create-repository {name}: {err}"
    );
}

/// The rig's state directory (TLS material, registry log).
pub fn rig_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(var("BUILDSTEPS_RIG_DIR"))
}

/// A name unique to this test process and call, for repositories and tags.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs curl (an independent client) and returns (status line code, headers, body).
pub fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-D",
            "/dev/stderr",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .output()
        .expect("curl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let headers = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {headers}");
    (code.trim().parse().unwrap_or(0), headers, body.to_string())
}

/// Runs an independent tool (git, skopeo, the AWS CLI), asserts it succeeded (its stderr otherwise)
/// and returns its stdout.
#[track_caller]
pub fn succeed(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `git` in `dir` with a fixed identity and default branch; its trimmed stdout.
#[track_caller]
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = succeed(
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args),
    );
    String::from_utf8(out).unwrap().trim().to_string()
}

/// What a binary run produced.
#[derive(Debug)]
pub struct Output {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Asserts exit 0 and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The environment every binary run starts from: nothing of the developer's, only the rig's AWS
/// endpoint and dummy credentials, PATH, a private HOME, and the CA bundle.
pub fn base_env(home: &std::path::Path) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_default(),
        ),
        ("HOME".to_string(), home.display().to_string()),
    ];
    for name in [
        "AWS_ENDPOINT_URL_ECR",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_EC2_METADATA_DISABLED",
        "SSL_CERT_FILE",
        "DOCKER_HOST",
    ] {
        env.push((name.to_string(), var(name)));
    }
    env
}

/// Sets (or replaces) a variable in an environment list.
pub fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_string(), value.to_string()));
}

/// Removes a variable from an environment list.
pub fn unset(env: &mut Vec<(String, String)>, name: &str) {
    env.retain(|(k, _)| k != name);
}

/// Runs a program with exactly `env`, optional stdin, and returns what it printed.
pub fn run(program: &str, args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A background process killed when dropped.
pub struct Background(pub std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fault proxy (`tests/support/fault_proxy.py`) in front of `target`.
pub struct Proxy {
    _process: Background,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    count_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts a proxy; `extra` are further flags (`--fail 2`, …).
    pub fn start(target: &str, extra: &[&str]) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let count_file = dir.path().join("count");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fault_proxy.py");
        let child = Command::new("python3")
            .arg(script)
            .args(["--target", target, "--port-file"])
            .arg(&port_file)
            .arg("--count-file")
            .arg(&count_file)
            .args(extra)
            .spawn()
            .expect("python3 runs the fault proxy");
        let process = Background(child);
        let mut port = String::new();
        for _ in 0..100 {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                port = p;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(!port.is_empty(), "the fault proxy did not start");
        Proxy {
            _process: process,
            url: format!("http://127.0.0.1:{port}"),
            count_file,
            _dir: dir,
        }
    }

    /// Requests seen so far.
    pub fn count(&self) -> u32 {
        self.counters().0
    }

    /// Body bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.counters().1
    }

    fn counters(&self) -> (u32, u64) {
        let text = std::fs::read_to_string(&self.count_file).unwrap_or_default();
        let mut parts = text.split_whitespace();
        let n = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let b = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (n, b)
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
}

/// Writes an executable script.
pub fn script(path: &std::path::Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A private directory and an environment for one test's runs of a binary.
pub struct Scratch {
    /// The directory (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The environment the binaries run with.
    pub env: Vec<(String, String)>,
}

impl Scratch {
    /// For offline steps: PATH and a private HOME only — no AWS, no Docker.
    pub fn offline() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".to_string(), dir.path().display().to_string()),
        ];
        Scratch { dir, env }
    }

    /// For steps that talk to the rig: [`base_env`], a private `DOCKER_CONFIG` and a fixed commit.
    pub fn rig() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let mut env = base_env(dir.path());
        set(
            &mut env,
            "DOCKER_CONFIG",
            &dir.path().join("docker").display().to_string(),
        );
        set(
            &mut env,
            "BUILDSTEPS_COMMIT",
            "0123456789abcdef0123456789abcdef01234567",
        );
        Scratch { dir, env }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// The same, as a string for argv.
    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Writes a file (creating its directories) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// The environment plus `vars`.
    pub fn env_with(&self, vars: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }
}
