//! Hostile and odd input to every binary, as tables (the bad-input corpus): each row an input, the
//! exit code and a fragment of the error, and every run checked to have written nothing — the scratch
//! directory is byte for byte what it was. Each binary runs with its memory and time bounded, so a
//! regression (an alias bomb expanded, `/dev/zero` read to the end) fails the test instead of taking
//! the machine with it.
//!
//! - small documents that would exhaust memory or the stack (alias bombs, deep nesting), duplicate
//!   keys and empty documents, through every reader of JSON and YAML;
//! - output paths that are no regular file, an input, named twice or in no writable directory,
//!   refused before anything is written or sent;
//! - a stdout that cannot be written (`> /dev/full`) is an error; a closed pipe is not.

use crate::common::{Output, Scratch, fixture_text};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RENDER: &str = env!("CARGO_BIN_EXE_render-taskdef");
const GATE: &str = env!("CARGO_BIN_EXE_scan-gate");
const RUN: &str = env!("CARGO_BIN_EXE_run-buildspec");
const TAG: &str = env!("CARGO_BIN_EXE_tag-commit");
const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");
const ECR_LOGIN: &str = env!("CARGO_BIN_EXE_ecr-login");

/// Where a run's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stdout {
    /// A pipe the test reads.
    Piped,
    /// `/dev/full`: every write fails with ENOSPC.
    Full,
    /// A pipe whose reading end is already closed: every write fails with EPIPE.
    Closed,
}

/// Runs `program` in `sb`'s directory with its environment, at most 2 GiB of address space and 120
/// seconds.
fn bounded(sb: &Scratch, program: &str, args: &[&str], stdout: Stdout) -> Output {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("ulimit -v 2097152 && exec timeout 120 \"$@\"")
        .arg("sh")
        .arg(program)
        .args(args)
        .current_dir(sb.dir.path())
        .env_clear()
        .envs(sb.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let (reader, writer) = std::io::pipe().unwrap();
    match stdout {
        Stdout::Piped => command.stdout(Stdio::piped()),
        Stdout::Full => command.stdout(std::fs::File::create("/dev/full").unwrap()),
        Stdout::Closed => {
            drop(reader);
            command.stdout(writer)
        }
    };
    let out = command.output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every entry under `dir` (recursively): a file's bytes, a link's target, or what else it is —
/// never opening anything but regular files.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let content = if meta.is_dir() {
                stack.push(path.clone());
                b"(directory)".to_vec()
            } else if meta.is_symlink() {
                std::fs::read_link(&path)
                    .unwrap()
                    .display()
                    .to_string()
                    .into_bytes()
            } else if meta.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                b"(special)".to_vec()
            };
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), content);
        }
    }
    out
}

/// Runs each row (program, args, exit code, fragment of stderr) and checks that it wrote nothing
/// (and, with `help`, that the error says how to fix it); returns how many rows each binary ran.
fn corpus(
    sb: &Scratch,
    rows: &[(&str, Vec<&str>, i32, &str)],
    help: bool,
) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (program, args, code, fragment) in rows {
        let before = snapshot(sb.dir.path());
        let out = bounded(sb, program, args, Stdout::Piped);
        let name = Path::new(program).file_name().unwrap().to_string_lossy();
        let what = format!("{name} {args:?}");
        assert_eq!(
            out.code, *code,
            "{what}\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        assert!(
            out.stderr.contains(fragment),
            "{what}: expected `{fragment}` in\n{}",
            out.stderr
        );
        assert!(
            !help || out.stderr.contains("\nhelp: "),
            "{what}: no help line\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
        assert_eq!(
            snapshot(sb.dir.path()),
            before,
            "{what} changed the directory"
        );
        *counts.entry(name.into_owned()).or_default() += 1;
    }
    counts
}

/// Nine anchors of nine aliases each: 387 million strings if every alias were copied.
fn alias_bomb() -> String {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let aliases = vec![format!("*a{}", i - 1); 9].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{aliases}]\n"));
    }
    text
}

/// The same with mappings: nine keys, each the previous anchor.
fn map_bomb() -> String {
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let mut text = format!(
        "m0: &m0 {{{}}}\n",
        keys.map(|k| format!("{k}: x")).join(", ")
    );
    for i in 1..9 {
        let members = keys.map(|k| format!("{k}: *m{}", i - 1)).join(", ");
        text.push_str(&format!("m{i}: &m{i} {{<<: *m0, {members}}}\n"));
    }
    text
}

/// A scratch directory with a task definition, a scan report, a buildspec and its source.
fn workspace() -> Scratch {
    let sb = Scratch::offline();
    sb.write(
        "td.json",
        &fixture_text("taskdef/aws-containers-task-definitions-nginx_ec2-bridge.json"),
    );
    sb.write(
        "in.json",
        &fixture_text("grype/defectdojo-anchore_grype-no_vuln.json"),
    );
    // The tutorial's AppSpec, deploying the task definition's container.
    let appspec = fixture_text("appspec/awsdocs-codepipeline-tutorial-appspec.yaml");
    sb.write("app.yaml", &appspec.replace("sample-website", "nginx"));
    sb.write(
        "ok.yml",
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n",
    );
    sb.write("src/file.txt", "source\n");
    sb.write("out.json", "keep me\n");
    sb
}

#[test]
fn small_documents_that_would_exhaust_memory_or_the_stack_are_exit_2_naming_the_limit() {
    let sb = workspace();
    let nested = |depth: usize, open: &str, close: &str, inner: &str| {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
    };
    let mut mappings = String::new();
    for i in 0..150 {
        mappings.push_str(&" ".repeat(i));
        mappings.push_str("k:\n");
    }
    let limit = "nested deeper than 100 levels";
    let aliases = "aliases expand to more than 1 MiB";
    // Each reader names the emptiness in its own words ("the document is empty", "the file is empty").
    let empty = "is empty";
    let documents: Vec<(&str, String, &str)> = vec![
        ("bomb.yaml", alias_bomb(), aliases),
        // One big scalar aliased a few times: the same attack with fewer aliases.
        (
            "scalar-bomb.yaml",
            format!("a: &a {}\nb: [*a, *a, *a, *a]\n", "x".repeat(300 * 1024)),
            aliases,
        ),
        ("map-bomb.yaml", map_bomb(), aliases),
        // 40 KB of block-style nesting, 20,000 deep.
        (
            "deep-block.yaml",
            format!("{}x\n", "- ".repeat(20_000)),
            limit,
        ),
        ("deep-flow.yaml", nested(20_000, "[", "]", ""), limit),
        ("deep-map.yaml", mappings, limit),
        (
            "deep-flow-map.yaml",
            nested(20_000, "{a: ", "}", "1"),
            limit,
        ),
        ("deep.json", nested(20_000, "[", "]", ""), limit),
        (
            "deep-object.json",
            nested(20_000, "{\"a\": ", "}", "1"),
            limit,
        ),
        ("just-too-deep.json", nested(101, "[", "]", "1"), limit),
        (
            "dup.json",
            "{\"family\": \"a\", \"family\": \"b\"}".into(),
            "duplicate key `family`",
        ),
        (
            "dup-nested.json",
            "{\"x\": {\"k\": 1, \"k\": 1}}".into(),
            "duplicate key `k`",
        ),
        (
            "dup.yaml",
            "family: a\nfamily: b\n".into(),
            "duplicate key `family`",
        ),
        ("empty.json", String::new(), empty),
        ("blank.json", " \n\t\n".into(), empty),
        ("empty.yaml", String::new(), empty),
        ("comment.yaml", "# nothing here\n".into(), empty),
        ("bom-only.yaml", "\u{feff}".into(), empty),
    ];
    let mut rows: Vec<(&str, Vec<&str>, i32, &str)> = Vec::new();
    for (name, text, fragment) in &documents {
        sb.write(name, text);
        rows.extend([
            (RENDER, vec![*name, "-o", "out.json"], 2, *fragment),
            (RENDER, vec!["check", *name], 2, *fragment),
            (
                RENDER,
                vec!["appspec", *name, "-o", "out.json"],
                2,
                *fragment,
            ),
            (
                RENDER,
                vec!["appspec", "app.yaml", "--taskdef", *name, "-o", "out.json"],
                2,
                *fragment,
            ),
            (
                RENDER,
                vec![
                    "new-appspec",
                    "--container",
                    "web",
                    "--port",
                    "80",
                    "--taskdef",
                    *name,
                    "-o",
                    "out.json",
                ],
                2,
                *fragment,
            ),
            (
                GATE,
                vec!["--report", "in.json", "--allowlist", *name],
                2,
                *fragment,
            ),
            (
                RUN,
                vec![*name, "--src", "src", "--out", "art"],
                2,
                *fragment,
            ),
        ]);
    }
    // Every reader refuses every document, and leaves nothing behind (not even a temporary file).
    let counts = corpus(&sb, &rows, false);
    assert_eq!(counts["render-taskdef"], documents.len() * 5);
    assert_eq!(counts["scan-gate"], documents.len());
    assert_eq!(counts["run-buildspec"], documents.len());
    // The same reuse at an ordinary size still works in every reader.
    sb.write(
        "anchors.yaml",
        "base: &b\n  memory: 64\n  image: nginx\nfamily: a\ncontainerDefinitions:\n  - <<: *b\n    name: a\n  - <<: *b\n    name: b\n",
    );
    let out = bounded(&sb, RENDER, &["check", "anchors.yaml"], Stdout::Piped);
    assert!(!out.stderr.contains("aliases expand"), "{}", out.stderr);
}

#[test]
fn output_paths_are_checked_before_anything_is_written_or_sent_in_every_binary() {
    let sb = workspace();
    std::fs::create_dir(sb.path("adir")).unwrap();
    sb.write("afile", "a file\n");
    sb.write("vars.env", "A=1\n");
    sb.write("allow.yaml", "allowlist: []\n");
    sb.write(
        "detail.json",
        "{\"ImageURI\": \"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\n",
    );
    sb.write("ctx/Dockerfile", "FROM scratch\n");
    sb.write("ctx/.dockerignore", "*.md\n");
    std::fs::create_dir_all(sb.path("bin")).unwrap();
    std::fs::create_dir_all(sb.path("cfg/config.json")).unwrap();
    std::fs::create_dir_all(sb.path("cfgpipe")).unwrap();
    for fifo in ["fifo", "cfgpipe/config.json"] {
        let status = Command::new("mkfifo").arg(sb.path(fifo)).status().unwrap();
        assert!(status.success());
    }
    // Devices under /dev only where nothing would be written even by a regression (`--check`
    // compares; the rest would rename a file over the device): elsewhere a named pipe stands in.
    let uri = "nginx=123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1";
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app";
    let tag_from = |extra: &[&'static str]| {
        let mut v = vec![
            "--from",
            "detail.json",
            "--tag",
            "t1",
            "--commit-tag",
            "none",
        ];
        v.extend_from_slice(extra);
        v
    };
    let push = |extra: &[&'static str]| {
        let mut v = vec![
            "ctx",
            "-r",
            repo,
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
        ];
        v.extend_from_slice(extra);
        v
    };
    let device = "it is a character device, not a regular file";
    let pipe = "it is a named pipe, not a regular file";
    let directory = "it is a directory, not a regular file";
    let rows: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        // render-taskdef: the rendered file and its artifacts.
        (
            RENDER,
            vec!["td.json", "-o", "/dev/zero", "--check"],
            2,
            device,
        ),
        (
            RENDER,
            vec!["td.json", "-o", "/dev/full", "--check"],
            2,
            device,
        ),
        (RENDER, vec!["td.json", "-o", "fifo"], 2, pipe),
        (RENDER, vec!["td.json", "-o", "fifo", "--check"], 2, pipe),
        (RENDER, vec!["td.json", "-o", "adir"], 2, directory),
        (RENDER, vec!["td.json", "-o", "adir/"], 2, directory),
        (
            RENDER,
            vec!["td.json", "-o", "afile/x.json"],
            2,
            "`afile` is not a directory",
        ),
        (
            RENDER,
            vec!["td.json", "-o", "/proc/x.json"],
            2,
            "no file can be created in `/proc`",
        ),
        (
            RENDER,
            vec!["td.json", "-o", "td.json"],
            2,
            "it is also the input `td.json` (TASKDEF)",
        ),
        (
            RENDER,
            vec!["td.json", "-o", "./td.json"],
            2,
            "also the input `td.json` (TASKDEF), which writing would change",
        ),
        (
            RENDER,
            vec!["td.json", "-o", "adir/../td.json"],
            2,
            "also the input `td.json`",
        ),
        (
            RENDER,
            vec![
                "td.json",
                "--image",
                "nginx=@detail.json",
                "-o",
                "detail.json",
            ],
            2,
            "also the input `detail.json` (--image)",
        ),
        (
            RENDER,
            vec!["td.json", "--env-file", "nginx:vars.env", "-o", "vars.env"],
            2,
            "also the input `vars.env` (--env-file)",
        ),
        (
            RENDER,
            vec![
                "td.json",
                "--image",
                uri,
                "-o",
                "new.json",
                "--imagedefinitions",
                "new.json",
            ],
            2,
            "--output names the same file",
        ),
        (
            RENDER,
            vec![
                "td.json",
                "--image",
                uri,
                "-o",
                "new.json",
                "--imagedefinitions",
                "td.json",
            ],
            2,
            "(--imagedefinitions): it is also the input",
        ),
        (
            RENDER,
            vec![
                "td.json",
                "--image",
                uri,
                "-o",
                "new.json",
                "--imagedefinitions",
                "fifo",
            ],
            2,
            pipe,
        ),
        (
            RENDER,
            vec![
                "td.json",
                "--codedeploy",
                "--image",
                uri,
                "-o",
                "new.json",
                "--image-detail-dir",
                "afile",
            ],
            2,
            "(--image-detail-dir): `afile` is not a directory",
        ),
        (
            RENDER,
            vec![
                "td.json",
                "--codedeploy",
                "--image",
                uri,
                "-o",
                "new.json",
                "--image-detail-dir",
                "/proc",
            ],
            2,
            "no file can be created in `/proc`",
        ),
        (
            RENDER,
            // (Written back unchanged it may be; with the ARN filled in it would change.)
            vec![
                "appspec",
                "app.yaml",
                "--task-definition-arn",
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
                "-o",
                "app.yaml",
            ],
            2,
            "also the input `app.yaml` (APPSPEC), which writing would change",
        ),
        (
            RENDER,
            vec![
                "appspec",
                "app.yaml",
                "--taskdef",
                "td.json",
                "-o",
                "td.json",
            ],
            2,
            "also the input `td.json` (--taskdef)",
        ),
        (
            RENDER,
            vec!["appspec", "app.yaml", "-o", "adir"],
            2,
            directory,
        ),
        (
            RENDER,
            vec![
                "new-appspec",
                "--container",
                "nginx",
                "--port",
                "80",
                "--taskdef",
                "td.json",
                "-o",
                "td.json",
            ],
            2,
            "also the input `td.json` (--taskdef)",
        ),
        (
            RENDER,
            vec![
                "new-appspec",
                "--container",
                "nginx",
                "--port",
                "80",
                "-o",
                "fifo",
            ],
            2,
            pipe,
        ),
        (
            RENDER,
            vec![
                "new-appspec",
                "--container",
                "nginx",
                "--port",
                "80",
                "-o",
                "/dev/null",
                "--check",
            ],
            2,
            device,
        ),
        // scan-gate: SARIF, JUnit and Markdown.
        (
            GATE,
            vec!["--report", "in.json", "--sarif", "in.json"],
            2,
            "(--sarif): it is also the input `in.json` (--report)",
        ),
        (
            GATE,
            vec!["--report", "in.json", "--sarif", "adir/../in.json"],
            2,
            "also the input `in.json`",
        ),
        (
            GATE,
            vec![
                "--report",
                "in.json",
                "--junit",
                "j.xml",
                "--markdown",
                "adir",
            ],
            2,
            directory,
        ),
        (
            GATE,
            vec![
                "--report",
                "in.json",
                "--junit",
                "j.xml",
                "--markdown",
                "afile/s.md",
            ],
            2,
            "`afile` is not a directory",
        ),
        (
            GATE,
            vec!["--report", "in.json", "--sarif", "fifo"],
            2,
            pipe,
        ),
        (
            GATE,
            vec![
                "--report", "in.json", "--sarif", "r.out", "--junit", "r.out",
            ],
            2,
            "(--junit): --sarif names the same file",
        ),
        (
            GATE,
            vec![
                "--report",
                "in.json",
                "--allowlist",
                "allow.yaml",
                "--markdown",
                "allow.yaml",
            ],
            2,
            "also the input `allow.yaml` (--allowlist)",
        ),
        (
            GATE,
            vec!["--report", "in.json", "--junit", "/proc/j.xml"],
            2,
            "no file can be created in `/proc`",
        ),
        (
            GATE,
            vec!["--from", "detail.json", "--sarif", "detail.json"],
            2,
            "also the input `detail.json` (--from)",
        ),
        // tag-commit: --image-detail, checked before the registry is asked anything.
        (
            TAG,
            tag_from(&["--image-detail", "/proc/x.json"]),
            2,
            "no file can be created in `/proc`",
        ),
        (
            TAG,
            tag_from(&["--image-detail", "detail.json"]),
            2,
            "also the input `detail.json` (--from)",
        ),
        (TAG, tag_from(&["--image-detail", "adir"]), 2, directory),
        (TAG, tag_from(&["--image-detail", "fifo"]), 2, pipe),
        (
            TAG,
            tag_from(&["--image-detail", "missing/x.json"]),
            2,
            "the directory `missing` does not exist",
        ),
        // build-push: imageDetail.json and imagedefinitions.json, checked before the build.
        (
            BUILD_PUSH,
            push(&["--image-detail", "ctx/Dockerfile"]),
            2,
            "it is also the input `ctx/Dockerfile` (--file)",
        ),
        (
            BUILD_PUSH,
            push(&["-f", "ctx/Dockerfile", "--image-detail", "./ctx/Dockerfile"]),
            2,
            "(--file)",
        ),
        (
            BUILD_PUSH,
            push(&["--image-detail", "ctx/.dockerignore"]),
            2,
            "also the input `ctx/.dockerignore` (the context's .dockerignore)",
        ),
        (BUILD_PUSH, push(&["--image-detail", "adir"]), 2, directory),
        (BUILD_PUSH, push(&["--image-detail", "fifo"]), 2, pipe),
        (
            BUILD_PUSH,
            push(&["--image-detail", "/proc/x.json"]),
            2,
            "no file can be created in `/proc`",
        ),
        (
            BUILD_PUSH,
            push(&["--image-detail", "missing/x.json"]),
            2,
            "does not exist",
        ),
        (
            BUILD_PUSH,
            push(&[
                "--container",
                "web",
                "--image-detail",
                "a.json",
                "--image-definitions",
                "a.json",
            ]),
            2,
            "(--image-definitions): --image-detail names the same file",
        ),
        (
            BUILD_PUSH,
            push(&["--container", "web", "--image-definitions", "afile/d.json"]),
            2,
            "`afile` is not a directory",
        ),
        (
            BUILD_PUSH,
            push(&["--dry-run", "--image-detail", "adir"]),
            2,
            directory,
        ),
        (
            BUILD_PUSH,
            push(&["--print-equivalent", "--image-detail", "adir"]),
            2,
            directory,
        ),
        // ecr-login install-helper: docker's config.json, checked before the helper is linked.
        (
            ECR_LOGIN,
            vec![
                "install-helper",
                "-r",
                ecr,
                "--config",
                "afile",
                "--bin-dir",
                "bin",
            ],
            2,
            "`afile` is not a directory",
        ),
        (
            ECR_LOGIN,
            vec![
                "install-helper",
                "-r",
                ecr,
                "--config",
                "cfg",
                "--bin-dir",
                "bin",
            ],
            2,
            directory,
        ),
        (
            ECR_LOGIN,
            vec![
                "install-helper",
                "-r",
                ecr,
                "--config",
                "cfgpipe",
                "--bin-dir",
                "bin",
            ],
            2,
            pipe,
        ),
        (
            ECR_LOGIN,
            vec![
                "install-helper",
                "-r",
                ecr,
                "--config",
                "/proc/docker",
                "--bin-dir",
                "bin",
            ],
            2,
            "no file can be created in `/proc`",
        ),
    ];
    let counts = corpus(&sb, &rows, true);
    assert_eq!(counts.len(), 5, "{counts:?}");
    // The positive control: the same paths, fixed, are written.
    let out = bounded(
        &sb,
        RENDER,
        &[
            "td.json",
            "--codedeploy",
            "--image",
            uri,
            "-o",
            "new.json",
            "--image-detail-dir",
            "adir",
        ],
        Stdout::Piped,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(sb.path("new.json").is_file() && sb.path("adir/imageDetail.json").is_file());
    let out = bounded(
        &sb,
        GATE,
        &[
            "--report",
            "in.json",
            "--junit",
            "j.xml",
            "--markdown",
            "reports/s.md",
        ],
        Stdout::Piped,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(sb.path("j.xml").is_file() && sb.path("reports/s.md").is_file());
}

#[test]
fn a_stdout_that_cannot_be_written_is_an_error_and_a_closed_pipe_is_not() {
    let sb = workspace();
    sb.write("ctx/Dockerfile", "FROM scratch\n");
    let push = [
        "ctx",
        "-r",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
        "--commit",
        "0123456789abcdef0123456789abcdef01234567",
        "--print-equivalent",
    ];
    // docker runs the credential helper under its own name.
    let helper = sb.p("docker-credential-ecr-login");
    std::os::unix::fs::symlink(ECR_LOGIN, &helper).unwrap();
    // (program, args, exit code when stdout works)
    let rows: Vec<(&str, Vec<&str>, i32)> = vec![
        (RENDER, vec!["td.json"], 0),
        (RENDER, vec!["td.json", "-o", "r.json", "--json"], 0),
        (
            RENDER,
            vec!["td.json", "-o", "r.json", "--format", "env"],
            0,
        ),
        (RENDER, vec!["check", "td.json", "--json"], 0),
        (RENDER, vec!["appspec", "app.yaml"], 0),
        (
            RENDER,
            vec!["new-appspec", "--container", "nginx", "--port", "80"],
            0,
        ),
        (GATE, vec!["--report", "in.json", "--json"], 0),
        (GATE, vec!["--report", "in.json", "--format", "env"], 0),
        (
            RUN,
            vec!["ok.yml", "--src", "src", "--out", "art", "--json"],
            0,
        ),
        (
            RUN,
            vec!["ok.yml", "--src", "src", "--out", "art", "--format", "env"],
            0,
        ),
        (BUILD_PUSH, push.to_vec(), 0),
        (ECR_LOGIN, vec!["status", "--json"], 0),
        (&helper, vec!["list"], 0),
    ];
    for (program, args, code) in &rows {
        let what = format!("{program} {args:?}");
        let out = bounded(&sb, program, args, Stdout::Piped);
        assert_eq!(out.code, *code, "{what}: {}", out.stderr);
        assert!(!out.stdout.is_empty(), "{what} prints its result on stdout");
        let out = bounded(&sb, program, args, Stdout::Full);
        assert_eq!(out.code, 2, "{what} > /dev/full: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "error: failed to write the result to stdout\n  caused by: No space left on device"
            ),
            "{what}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("help: the result did not arrive"),
            "{}",
            out.stderr
        );
        let out = bounded(&sb, program, args, Stdout::Closed);
        assert_eq!(out.code, *code, "{what} | (closed): {}", out.stderr);
        assert!(
            !out.stderr.contains("error:"),
            "{what} | (closed): {}",
            out.stderr
        );
    }
}

#[test]
fn an_endless_input_is_exit_2_naming_the_limit_in_every_reader() {
    let sb = workspace();
    // Each reader of a document, a report or docker's config, handed a device that never ends.
    std::fs::create_dir(sb.path("cfg")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", sb.path("cfg/config.json")).unwrap();
    std::fs::create_dir(sb.path("ctx")).unwrap();
    sb.write("ctx/Dockerfile", "FROM scratch\n");
    std::os::unix::fs::symlink("/dev/zero", sb.path("ctx/.dockerignore")).unwrap();
    let document = "larger than 16 MiB, the most read as input";
    let report = "larger than 256 MiB, the most read as input";
    let rows: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (RENDER, vec!["/dev/zero"], 2, document),
        (RENDER, vec!["check", "/dev/zero"], 2, document),
        (RENDER, vec!["appspec", "/dev/zero"], 2, document),
        (
            RENDER,
            vec!["td.json", "--image", "@/dev/zero"],
            2,
            document,
        ),
        (
            RENDER,
            vec!["td.json", "--env-file", "/dev/zero"],
            2,
            document,
        ),
        (GATE, vec!["--report", "/dev/zero"], 2, report),
        (
            GATE,
            vec!["--report", "in.json", "--allowlist", "/dev/zero"],
            2,
            document,
        ),
        (GATE, vec!["--from", "/dev/zero"], 2, document),
        (
            TAG,
            vec!["--from", "/dev/zero", "--commit", "abcdef1"],
            2,
            document,
        ),
        (
            RUN,
            vec!["/dev/zero", "--src", "src", "--out", "art"],
            2,
            document,
        ),
        (ECR_LOGIN, vec!["status", "--config", "cfg"], 2, document),
        (
            BUILD_PUSH,
            vec![
                "ctx",
                "-r",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
                "--commit",
                "0123456789abcdef0123456789abcdef01234567",
                "--dry-run",
            ],
            2,
            document,
        ),
    ];
    let counts = corpus(&sb, &rows, false);
    assert_eq!(counts.len(), 6, "{counts:?}");
    // stdin (`-`) is bounded the same way.
    let out = bounded(
        &sb,
        "/bin/sh",
        &["-c", "exec \"$0\" - < /dev/zero", RENDER],
        Stdout::Piped,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains(document), "{}", out.stderr);
}

mod on_the_rig {
    use super::{BUILD_PUSH, ECR_LOGIN, Stdout, TAG, bounded};
    use crate::common::{RegistryLog, Scratch, create_repository, curl, json, rig, unique};

    /// A build context whose image is unique to this test.
    fn context(sb: &Scratch) -> String {
        sb.write("ctx/Dockerfile", "FROM local/busybox:1\nCOPY id /id\n");
        sb.write("ctx/id", &unique("hostile"));
        sb.p("ctx")
    }

    #[test]
    fn a_bad_artifact_path_fails_before_the_push_and_before_the_tag() {
        let sb = Scratch::rig();
        let repo = unique("hostile-paths");
        create_repository(&repo, "MUTABLE");
        let uri = format!("{}/{repo}", rig().registry);
        let ctx = context(&sb);
        let log = RegistryLog::mark();
        let push = |detail: &str| {
            bounded(
                &sb,
                BUILD_PUSH,
                &[
                    &ctx,
                    "-r",
                    &uri,
                    "--commit-tag",
                    "none",
                    "--tag",
                    "v1",
                    "--image-detail",
                    detail,
                    "--json",
                ],
                Stdout::Piped,
            )
        };
        let out = push("/proc/imageDetail.json");
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("no file can be created in `/proc`"),
            "{}",
            out.stderr
        );
        assert_eq!(
            (log.uploads(&repo), log.manifest_puts(&repo)),
            (0, 0),
            "nothing was pushed"
        );
        let out = push("detail.json");
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(log.manifest_puts(&repo) > 0, "the positive control pushed");

        let log = RegistryLog::mark();
        let tag = |detail: &str| {
            bounded(
                &sb,
                TAG,
                &[
                    "--from",
                    "detail.json",
                    "--commit-tag",
                    "none",
                    "--tag",
                    "v2",
                    "--image-detail",
                    detail,
                ],
                Stdout::Piped,
            )
        };
        let out = tag("/proc/x.json");
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(log.manifest_puts(&repo), 0, "no tag was written");
        let (status, _, _) = curl(&[
            "-u",
            &rig().login(),
            &format!("https://{}/v2/{repo}/manifests/v2", rig().registry),
        ]);
        assert_eq!(status, 404, "the tag does not exist");
        let out = tag("tagged.json");
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(log.manifest_puts(&repo), 1, "the positive control tagged");
    }

    #[test]
    fn a_password_or_result_that_cannot_be_printed_is_an_error() {
        let sb = Scratch::docker();
        let out = bounded(&sb, ECR_LOGIN, &["--password-stdout"], Stdout::Piped);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout, format!("{}\n", rig().password));
        for args in [
            &["--password-stdout"][..],
            &["--json"],
            &["--format", "env"],
        ] {
            let out = bounded(&sb, ECR_LOGIN, args, Stdout::Full);
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("failed to write the result to stdout"),
                "{}",
                out.stderr
            );
            assert!(
                !out.stderr.contains(&rig().password),
                "no secret in the error"
            );
            let out = bounded(&sb, ECR_LOGIN, args, Stdout::Closed);
            assert_eq!(out.code, 0, "{args:?} | (closed): {}", out.stderr);
        }
        let sb = Scratch::rig();
        let repo = unique("hostile-stdout");
        create_repository(&repo, "MUTABLE");
        let uri = format!("{}/{repo}", rig().registry);
        let ctx = context(&sb);
        let out = bounded(
            &sb,
            BUILD_PUSH,
            &[
                &ctx,
                "-r",
                &uri,
                "--commit-tag",
                "none",
                "--tag",
                "v1",
                "--json",
            ],
            Stdout::Full,
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("failed to write the result to stdout"),
            "{}",
            out.stderr
        );
        let out = bounded(
            &sb,
            TAG,
            &[
                "-r",
                &uri,
                "--source",
                "v1",
                "--commit-tag",
                "none",
                "--tag",
                "v2",
                "--json",
            ],
            Stdout::Full,
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        let out = bounded(
            &sb,
            TAG,
            &[
                "-r",
                &uri,
                "--source",
                "v1",
                "--commit-tag",
                "none",
                "--tag",
                "v3",
                "--json",
            ],
            Stdout::Piped,
        );
        let _ = json(&out.ok());
    }
}
