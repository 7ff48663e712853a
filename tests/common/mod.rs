//! What the end-to-end tests need from the local rig (`bin/rig`), read from the variables
//! `bin/rig env` exports. `bin/test` starts the rig and exports them; a test run without them fails
//! with the fix rather than skipping.

use std::process::Command;

/// The rig's coordinates.
#[derive(Debug, Clone)]
pub(crate) struct Rig {
    /// `123456789012.dkr.ecr.us-east-1.amazonaws.com`
    pub(crate) registry: String,
    /// `http://127.0.0.1:5055`
    pub(crate) moto: String,
    /// The throw-away CA that signed the registry's certificate.
    pub(crate) ca: String,
    /// An image in the engine that needs no pull (`local/busybox:1`).
    pub(crate) base_image: String,
    /// The same files as a linux/arm64 image (`local/busybox-arm64:1`): a `FROM` + `COPY` build
    /// for arm64 needs no emulation (a `RUN` would).
    pub(crate) arm64_base_image: String,
    /// `unix:///var/run/docker.sock`
    pub(crate) docker_host: String,
    /// The registry password moto's `GetAuthorizationToken` hands out (user `AWS`).
    pub(crate) password: String,
}

impl Rig {
    /// `AWS:PASSWORD`, as `skopeo --creds` and `curl -u` take it.
    pub(crate) fn login(&self) -> String {
        format!("AWS:{}", self.password)
    }
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
pub(crate) fn rig() -> Rig {
    Rig {
        registry: var("BUILDSTEPS_RIG_REGISTRY"),
        moto: var("BUILDSTEPS_RIG_MOTO"),
        ca: var("BUILDSTEPS_RIG_CA"),
        base_image: var("BUILDSTEPS_RIG_BASE_IMAGE"),
        arm64_base_image: var("BUILDSTEPS_RIG_ARM64_BASE_IMAGE"),
        docker_host: var("DOCKER_HOST"),
        password: var("BUILDSTEPS_RIG_PASSWORD"),
    }
}

/// The path of a third-party fixture, `tests/fixtures/PATH` (provenance in
/// `tests/fixtures/SOURCES.md`), as a string for argv.
pub(crate) fn fixture(path: &str) -> String {
    format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The text of a fixture.
pub(crate) fn fixture_text(path: &str) -> String {
    let path = fixture(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `sha256:HEX` of some bytes.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    buildsteps::reference::Digest::sha256_of(bytes).to_string()
}

/// The bare hex sha256 of some bytes (as `--json` reports a file's).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    sha256(bytes).strip_prefix("sha256:").unwrap().to_string()
}

/// A run's stdout as JSON (the run's output in the panic message otherwise).
#[track_caller]
pub(crate) fn json(out: &Output) -> serde_json::Value {
    json_as(out)
}

/// A run's stdout read into `T` (a `deny_unknown_fields` mirror of a `--json` document, say).
#[track_caller]
pub(crate) fn json_as<T: serde::de::DeserializeOwned>(out: &Output) -> T {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

/// The registry's request log from a point on: what reached the registry, as an independent witness
/// of uploads (the registry logs one line per request).
pub(crate) struct RegistryLog {
    path: std::path::PathBuf,
    start: usize,
}

impl RegistryLog {
    /// Marks the log's current end; later calls see only what comes after it.
    pub(crate) fn mark() -> RegistryLog {
        let path = rig_dir().join("registry.log");
        let start = std::fs::read(&path).map_or(0, |b| b.len());
        RegistryLog { path, start }
    }

    /// The request lines logged since the mark.
    pub(crate) fn lines(&self) -> Vec<String> {
        let bytes = std::fs::read(&self.path).unwrap_or_default();
        String::from_utf8_lossy(bytes.get(self.start..).unwrap_or_default())
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Requests since the mark with this method to a path under `/v2/REPO/`.
    pub(crate) fn requests(&self, method: &str, repo: &str, under: &str) -> usize {
        let path = format!("/v2/{repo}/{under}");
        let method = format!("\"{method} ");
        self.lines()
            .iter()
            .filter(|l| l.contains(&method) && l.contains(&path))
            .count()
    }

    /// Blob uploads started or finished (`PUT /v2/REPO/blobs/uploads/…`) since the mark.
    pub(crate) fn uploads(&self, repo: &str) -> usize {
        self.requests("PUT", repo, "blobs/uploads/")
    }

    /// Manifests written (`PUT /v2/REPO/manifests/…`) since the mark: the positive control that this
    /// log is the one the registry writes for the requests a test made.
    pub(crate) fn manifest_puts(&self, repo: &str) -> usize {
        self.requests("PUT", repo, "manifests/")
    }
}

/// Creates an ECR repository in moto (as `aws ecr create-repository` would in a real account).
pub(crate) fn create_repository(name: &str, mutability: &str) {
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
pub(crate) fn rig_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(var("BUILDSTEPS_RIG_DIR"))
}

/// A name unique to this test process and call, for repositories and tags.
pub(crate) fn unique(prefix: &str) -> String {
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
pub(crate) fn curl(args: &[&str]) -> (u16, String, String) {
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
pub(crate) fn succeed(cmd: &mut Command) -> Vec<u8> {
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
pub(crate) fn git(dir: &std::path::Path, args: &[&str]) -> String {
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
pub(crate) struct Output {
    /// The exit code (-1 when killed by a signal).
    pub(crate) code: i32,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Output {
    /// Asserts exit 0 and returns self.
    #[track_caller]
    pub(crate) fn ok(self) -> Self {
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
pub(crate) fn base_env(home: &std::path::Path) -> Vec<(String, String)> {
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
        "BUILD_PUSH_NETWORK",
    ] {
        env.push((name.to_string(), var(name)));
    }
    env
}

/// Sets (or replaces) a variable in an environment list.
pub(crate) fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_string(), value.to_string()));
}

/// Removes a variable from an environment list.
pub(crate) fn unset(env: &mut Vec<(String, String)>, name: &str) {
    env.retain(|(k, _)| k != name);
}

/// Runs a program with exactly `env`, optional stdin, and returns what it printed.
pub(crate) fn run(
    program: &str,
    args: &[&str],
    env: &[(String, String)],
    stdin: Option<&str>,
) -> Output {
    run_in(None, program, args, env, stdin)
}

/// [`run`] in a working directory (`None`: the test's own).
pub(crate) fn run_in(
    dir: Option<&std::path::Path>,
    program: &str,
    args: &[&str],
    env: &[(String, String)],
    stdin: Option<&str>,
) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut command = Command::new(program);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
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
pub(crate) struct Background(pub(crate) std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fault proxy (`tests/support/fault_proxy.py`) in front of `target`.
pub(crate) struct Proxy {
    _process: Background,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
    count_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts a proxy; `extra` are further flags (`--fail 2`, …).
    pub(crate) fn start(target: &str, extra: &[&str]) -> Proxy {
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

    /// Requests seen so far (the count file holds "REQUESTS BYTES").
    pub(crate) fn count(&self) -> u32 {
        let text = std::fs::read_to_string(&self.count_file).unwrap_or_default();
        text.split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The proxy's port.
    pub(crate) fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
}

/// Copies `from` (a file or a directory tree) to `to`.
pub(crate) fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Writes an executable script.
pub(crate) fn script(path: &std::path::Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A private directory and an environment for one test's runs of a binary.
pub(crate) struct Scratch {
    /// The directory (removed when dropped).
    pub(crate) dir: tempfile::TempDir,
    /// The environment the binaries run with.
    pub(crate) env: Vec<(String, String)>,
}

impl Scratch {
    /// For offline steps: PATH and a private HOME only — no AWS, no Docker.
    pub(crate) fn offline() -> Scratch {
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

    /// For steps that talk to the rig: [`base_env`] and a private `DOCKER_CONFIG`.
    pub(crate) fn docker() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let mut env = base_env(dir.path());
        set(
            &mut env,
            "DOCKER_CONFIG",
            &dir.path().join("docker").display().to_string(),
        );
        Scratch { dir, env }
    }

    /// [`Scratch::docker`] with a fixed commit (`BUILDSTEPS_COMMIT`), for runs outside a checkout.
    pub(crate) fn rig() -> Scratch {
        let mut sb = Scratch::docker();
        set(
            &mut sb.env,
            "BUILDSTEPS_COMMIT",
            "0123456789abcdef0123456789abcdef01234567",
        );
        sb
    }

    /// Runs a program with this scratch's environment.
    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Output {
        run(program, args, &self.env, None)
    }

    /// Runs `skopeo COMMAND ARGS…` against the rig's registry, with its login (`args[0]` is the
    /// command).
    pub(crate) fn skopeo(&self, args: &[&str]) -> Output {
        let creds = rig().login();
        let mut all = vec![args[0], "--creds", &creds];
        all.extend_from_slice(&args[1..]);
        self.run("skopeo", &all)
    }

    /// A path inside the directory.
    pub(crate) fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// The same, as a string for argv.
    pub(crate) fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Writes a file (creating its directories) and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// The environment plus `vars`.
    pub(crate) fn env_with(&self, vars: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }
}

/// The six binaries a release holds (`bin/release`, `bin/install`).
/// The release's binaries: the library's one list.
pub(crate) use buildsteps::steps::BINARIES as RELEASE_BINS;

/// Where cargo built one of [`RELEASE_BINS`] for this test run.
pub(crate) fn built_binary(name: &str) -> &'static str {
    match name {
        "ecr-login" => env!("CARGO_BIN_EXE_ecr-login"),
        "build-push" => env!("CARGO_BIN_EXE_build-push"),
        "tag-commit" => env!("CARGO_BIN_EXE_tag-commit"),
        "render-taskdef" => env!("CARGO_BIN_EXE_render-taskdef"),
        "scan-gate" => env!("CARGO_BIN_EXE_scan-gate"),
        "run-buildspec" => env!("CARGO_BIN_EXE_run-buildspec"),
        other => panic!("{other} is not a release binary"),
    }
}

/// The name `bin/release` gives this version's tarball.
pub(crate) fn release_tarball_name() -> String {
    format!(
        "buildsteps-{}-x86_64-linux.tar.gz",
        env!("CARGO_PKG_VERSION")
    )
}

/// Writes a gzipped tarball of `entries` (path in the archive, file to put there, mode).
pub(crate) fn write_tarball(path: &std::path::Path, entries: &[(String, std::path::PathBuf, u32)]) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, source, mode) in entries {
        let data = std::fs::read(source).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// The sha256 of a file, in hex.
pub(crate) fn sha256_file(path: &std::path::Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

/// A release as `bin/release` publishes it, made from the binaries cargo built for this test run:
/// `DIR/buildsteps-VERSION-x86_64-linux.tar.gz` (`bin/` with the six binaries) and beside it
/// `….tar.gz.sha256` in sha256sum's format. Returns the tarball's file name.
/// The release is made once per test process and copied.
pub(crate) fn make_release(dir: &std::path::Path) -> String {
    static MADE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let name = release_tarball_name();
    let made = MADE.get_or_init(|| {
        let made = tempfile::tempdir().unwrap();
        let entries: Vec<(String, std::path::PathBuf, u32)> = RELEASE_BINS
            .iter()
            .map(|b| (format!("bin/{b}"), built_binary(b).into(), 0o755))
            .collect();
        write_tarball(&made.path().join(&name), &entries);
        let digest = sha256_file(&made.path().join(&name));
        std::fs::write(
            made.path().join(format!("{name}.sha256")),
            format!("{digest}  {name}\n"),
        )
        .unwrap();
        made
    });
    std::fs::create_dir_all(dir).unwrap();
    for file in [name.clone(), format!("{name}.sha256")] {
        std::fs::copy(made.path().join(&file), dir.join(&file)).unwrap();
    }
    name
}

/// A static file server (`python3 -m http.server`) on 127.0.0.1 at a free port; killed when dropped.
pub(crate) struct HttpServer {
    _process: Background,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
    log: std::path::PathBuf,
}

impl HttpServer {
    /// Serves `dir`; its request log goes to `log`.
    pub(crate) fn start(dir: &std::path::Path, log: &std::path::Path) -> HttpServer {
        use std::io::BufRead;
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("python3 runs http.server");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let process = Background(child);
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("http.server did not say its port: {line:?}"));
        HttpServer {
            _process: process,
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        }
    }

    /// The request lines served so far (`GET /path HTTP/1.1" 200 -`).
    pub(crate) fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('"').map(|(_, r)| r.to_string()))
            .collect()
    }
}

/// `OS/ARCH` of each child of an image index, in its order.
pub(crate) fn index_platforms(index: &serde_json::Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect()
}
