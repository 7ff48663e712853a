//! `bin/install` against a local HTTP server serving a release made from the binaries cargo built
//! for this run (the layout `bin/release` publishes: the tarball and its `.sha256` side by side):
//! the six binaries land in PREFIX/bin and run; a tarball whose sha256 is not the published one, or
//! one published without a checksum, is refused with both digests and nothing lands; a version with
//! no release (404), no release URL, `--from-source` or a machine the releases are not built for
//! take `cargo install` — here a stand-in named by `CARGO`, the variable cargo itself honours, that
//! records its arguments and writes the binaries; any other download failure is an error, not a
//! silent build.

use crate::common::{
    HttpServer, Output, RELEASE_BINS, Scratch, make_release, run, script, set, sha256_file,
    write_tarball,
};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn install_script() -> String {
    format!("{ROOT}/bin/install")
}

/// A scratch directory whose environment also keeps bin/install's temporary files inside it.
fn scratch() -> Scratch {
    let mut sb = Scratch::offline();
    std::fs::create_dir_all(sb.path("tmp")).unwrap();
    let tmp = sb.p("tmp");
    set(&mut sb.env, "TMPDIR", &tmp);
    sb
}

fn install(sb: &Scratch, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    run(&install_script(), args, &sb.env_with(extra_env), None)
}

/// The names in a directory, sorted (empty when it does not exist).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn sorted_bins() -> Vec<String> {
    let mut bins: Vec<String> = RELEASE_BINS.iter().map(ToString::to_string).collect();
    bins.sort();
    bins
}

/// A `cargo` that records its argv (one per line in `cargo-argv` beside it) and writes the six
/// binaries into `--root DIR`/bin, as `cargo install --root DIR` would.
fn fake_cargo(sb: &Scratch) -> String {
    let path = sb.path("fake-cargo/cargo");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    script(
        &path,
        &format!(
            r#"#!/bin/sh
set -e
printf '%s\n' "$@" > "$(dirname "$0")/cargo-argv"
root=
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root=$2; fi
  shift
done
mkdir -p "$root/bin"
for b in {bins}; do
  printf '#!/bin/sh\necho "%s {VERSION} (built from source)"\n' "$b" > "$root/bin/$b"
  chmod 755 "$root/bin/$b"
done
"#,
            bins = RELEASE_BINS.join(" ")
        ),
    );
    path.display().to_string()
}

fn cargo_argv(sb: &Scratch) -> Option<Vec<String>> {
    std::fs::read_to_string(sb.path("fake-cargo/cargo-argv"))
        .ok()
        .map(|t| t.lines().map(ToString::to_string).collect())
}

#[test]
fn the_release_installs_the_six_binaries_and_they_run() {
    let sb = scratch();
    let name = make_release(&sb.path("srv"));
    let server = HttpServer::start(&sb.path("srv"), &sb.path("http.log"));
    let prefix = sb.p("prefix");
    let out = install(&sb, &["--base-url", &server.url, "--prefix", &prefix], &[]).ok();
    let digest = sha256_file(&sb.path("srv").join(&name));
    assert!(
        out.stderr.contains(&format!(
            "sha256 {digest} matches {}/{name}.sha256",
            server.url
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("installed buildsteps {VERSION}")),
        "{}",
        out.stderr
    );
    assert_eq!(
        listing(&sb.path("prefix/bin")),
        sorted_bins(),
        "exactly the six binaries, no staging leftovers"
    );
    for bin in RELEASE_BINS {
        let out = run(
            &format!("{prefix}/bin/{bin}"),
            &["--version"],
            &sb.env,
            None,
        )
        .ok();
        assert!(
            out.stdout.starts_with(&format!("{bin} {VERSION}")),
            "{bin}: {}",
            out.stdout
        );
    }
    assert!(
        listing(&sb.path("tmp")).is_empty(),
        "the temporary directory is removed"
    );
    let requests = server.requests();
    for path in [name.clone(), format!("{name}.sha256")] {
        assert!(
            requests
                .iter()
                .any(|r| r.starts_with(&format!("GET /{path} ")) && r.contains("\" 200 ")),
            "{path} was downloaded: {requests:?}"
        );
    }

    // Again, with the environment fallbacks instead of flags, over the binaries already there.
    let out = install(
        &sb,
        &[],
        &[
            ("BUILDSTEPS_RELEASE_URL", &format!("{}/", server.url)),
            ("BUILDSTEPS_PREFIX", &prefix),
            ("BUILDSTEPS_VERSION", &format!("v{VERSION}")),
        ],
    )
    .ok();
    assert!(out.stderr.contains("matches"), "{}", out.stderr);
    assert_eq!(listing(&sb.path("prefix/bin")), sorted_bins());
}

#[test]
fn a_tampered_tarball_is_refused_and_nothing_lands() {
    let sb = scratch();
    let name = make_release(&sb.path("srv"));
    let published = sha256_file(&sb.path("srv").join(&name));
    // The tarball is replaced after its checksum was published: same layout, other programs.
    let evil = sb.path("evil");
    script(&evil, "#!/bin/sh\necho tampered\n");
    let entries: Vec<_> = RELEASE_BINS
        .iter()
        .map(|b| (format!("bin/{b}"), evil.clone(), 0o755))
        .collect();
    write_tarball(&sb.path("srv").join(&name), &entries);
    let actual = sha256_file(&sb.path("srv").join(&name));
    assert_ne!(actual, published);
    let server = HttpServer::start(&sb.path("srv"), &sb.path("http.log"));
    // An earlier install stays as it was.
    let old = sb.write("prefix/bin/ecr-login", "#!/bin/sh\necho old\n");
    let cargo = fake_cargo(&sb);

    let out = install(
        &sb,
        &["--base-url", &server.url, "--prefix", &sb.p("prefix")],
        &[("CARGO", &cargo)],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let url = format!("{}/{name}", server.url);
    assert!(
        out.stderr.contains(&format!(
            "install: error: refusing to install {url}: checksum mismatch: {url}.sha256 says {published}, the downloaded tarball is {actual}"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nothing was installed"),
        "{}",
        out.stderr
    );
    assert_eq!(listing(&sb.path("prefix/bin")), ["ecr-login"]);
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "#!/bin/sh\necho old\n"
    );
    assert_eq!(
        cargo_argv(&sb),
        None,
        "a bad checksum is no reason to build"
    );
    assert!(listing(&sb.path("tmp")).is_empty());

    // A checksum file that is not sha256sum's format is refused the same way.
    std::fs::write(
        sb.path("srv").join(format!("{name}.sha256")),
        "not a digest\n",
    )
    .unwrap();
    let out = install(
        &sb,
        &["--base-url", &server.url, "--prefix", &sb.p("prefix")],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{url}.sha256 holds no sha256 for {name} (expected \"HEX  {name}\"); the tarball's sha256 is {actual}"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(listing(&sb.path("prefix/bin")), ["ecr-login"]);
}

#[test]
fn a_release_without_its_checksum_is_refused() {
    let sb = scratch();
    let name = make_release(&sb.path("srv"));
    let digest = sha256_file(&sb.path("srv").join(&name));
    std::fs::remove_file(sb.path("srv").join(format!("{name}.sha256"))).unwrap();
    let server = HttpServer::start(&sb.path("srv"), &sb.path("http.log"));
    let out = install(
        &sb,
        &["--base-url", &server.url, "--prefix", &sb.p("prefix")],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let url = format!("{}/{name}", server.url);
    assert!(
        out.stderr.contains(&format!(
            "refusing to install {url}: its checksum file {url}.sha256 does not exist (HTTP 404); the tarball's sha256 is {digest}"
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("help: "), "{}", out.stderr);
    assert!(!sb.path("prefix").exists(), "nothing is installed");
}

#[test]
fn without_a_release_it_builds_from_source_with_cargo_install() {
    let sb = scratch();
    let cargo = fake_cargo(&sb);
    let checkout = std::fs::canonicalize(ROOT).unwrap().display().to_string();
    let prefix = sb.p("prefix");
    let expected_argv = [
        "install", "--locked", "--path", &checkout, "--root", &prefix,
    ];

    // The server has no release of this version: 404 for the tarball.
    std::fs::create_dir_all(sb.path("srv")).unwrap();
    let server = HttpServer::start(&sb.path("srv"), &sb.path("http.log"));
    let out = install(
        &sb,
        &["--base-url", &server.url, "--prefix", &prefix],
        &[("CARGO", &cargo)],
    )
    .ok();
    assert!(
        out.stderr.contains(&format!(
            "no release {VERSION} at {} (HTTP 404 for buildsteps-{VERSION}-x86_64-linux.tar.gz): building from source with cargo install",
            server.url
        )),
        "{}",
        out.stderr
    );
    assert_eq!(cargo_argv(&sb).unwrap(), expected_argv);
    assert_eq!(listing(&sb.path("prefix/bin")), sorted_bins());
    let built = run(&format!("{prefix}/bin/scan-gate"), &[], &sb.env, None).ok();
    assert!(built.stdout.contains("built from source"));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains(".tar.gz HTTP/1.1\" 404")),
        "{:?}",
        server.requests()
    );

    // No release URL at all.
    std::fs::remove_dir_all(sb.path("prefix")).unwrap();
    std::fs::remove_file(sb.path("fake-cargo/cargo-argv")).unwrap();
    let out = install(&sb, &["--prefix", &prefix], &[("CARGO", &cargo)]).ok();
    assert!(
        out.stderr.contains(
            "no release URL (--base-url or BUILDSTEPS_RELEASE_URL): building from source"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(cargo_argv(&sb).unwrap(), expected_argv);

    // --from-source, even where a release exists: nothing is downloaded.
    make_release(&sb.path("srv"));
    let before = server.requests().len();
    std::fs::remove_file(sb.path("fake-cargo/cargo-argv")).unwrap();
    let out = install(
        &sb,
        &[
            "--from-source",
            "--base-url",
            &server.url,
            "--prefix",
            &prefix,
        ],
        &[("CARGO", &cargo)],
    )
    .ok();
    assert!(
        out.stderr.contains("--from-source: building from source"),
        "{}",
        out.stderr
    );
    assert_eq!(cargo_argv(&sb).unwrap(), expected_argv);
    assert_eq!(server.requests().len(), before);

    // A machine the releases are not built for (uname says aarch64): said so, then built.
    let fake_bin = sb.path("fake-uname");
    std::fs::create_dir_all(&fake_bin).unwrap();
    script(
        &fake_bin.join("uname"),
        "#!/bin/sh\ncase \"$1\" in -m) echo aarch64 ;; *) echo Linux ;; esac\n",
    );
    let path = format!(
        "{}:{}",
        fake_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::fs::remove_file(sb.path("fake-cargo/cargo-argv")).unwrap();
    let out = install(
        &sb,
        &["--base-url", &server.url, "--prefix", &prefix],
        &[("CARGO", &cargo), ("PATH", &path)],
    )
    .ok();
    assert!(
        out.stderr.contains(
            "releases are built for x86_64 Linux only, this machine is aarch64 Linux: building from source"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(cargo_argv(&sb).unwrap(), expected_argv);
    assert_eq!(server.requests().len(), before, "nothing was downloaded");

    // No cargo to build with: a clear error.
    let out = install(
        &sb,
        &["--prefix", &sb.p("other")],
        &[("CARGO", "/nonexistent/cargo")],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("failed to build from source: '/nonexistent/cargo' is not on PATH"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("https://rustup.rs"), "{}", out.stderr);
}

#[test]
fn a_download_that_fails_otherwise_is_an_error_not_a_build() {
    let sb = scratch();
    let cargo = fake_cargo(&sb);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = install(
        &sb,
        &["--base-url", &url, "--prefix", &sb.p("prefix")],
        &[("CARGO", &cargo)],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "install: error: failed to download {url}/buildsteps-{VERSION}-x86_64-linux.tar.gz"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(cargo_argv(&sb), None);
    assert!(!sb.path("prefix").exists());
}

#[test]
fn help_teaches_and_usage_errors_exit_2() {
    let sb = scratch();
    let out = install(&sb, &["--help"], &[]).ok();
    for needle in [
        "--base-url URL",
        "BUILDSTEPS_RELEASE_URL",
        "--version V",
        "BUILDSTEPS_VERSION",
        "--prefix DIR",
        "BUILDSTEPS_PREFIX",
        "~/.local",
        "--from-source",
        "CARGO",
        ".sha256",
        "404",
        "x86_64",
        "Exit status",
    ] {
        assert!(out.stdout.contains(needle), "--help mentions {needle}");
    }
    let out = install(&sb, &["--bogus"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("install: error: unknown argument '--bogus'"),
        "{}",
        out.stderr
    );
    let out = install(&sb, &["--base-url"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = install(&sb, &["--version", "not a version"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}
