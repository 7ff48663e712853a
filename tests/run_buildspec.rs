//! `run-buildspec` end to end: real shells running real buildspecs in a git checkout, the log, the
//! phase transitions, exported variables and the artifact layout read back from disk.

use crate::common;

use crate::common::{Output, Scratch, git, rig, run};
use serde_json::Value;

const RUN: &str = env!("CARGO_BIN_EXE_run-buildspec");

/// A source directory with a buildspec, in a git repository with one commit.
fn checkout(buildspec: &str) -> Scratch {
    let sb = Scratch::offline();
    sb.write("src/buildspec.yml", buildspec);
    sb.write("src/app/main.txt", "main\n");
    sb.write("src/app/lib/util.txt", "util\n");
    sb.write("src/docs/readme.md", "docs\n");
    let src = sb.path("src");
    git(&src, &["init", "-q"]);
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "init"]);
    sb
}

fn build(sb: &Scratch, extra: &[&str]) -> (Output, Value) {
    let buildspec = sb.p("src/buildspec.yml");
    let src = sb.p("src");
    let out_dir = sb.p("out");
    let mut args = vec![buildspec.as_str(), "--src", &src, "--json"];
    if !extra.contains(&"--out") {
        args.extend(["--out", &out_dir]);
    }
    args.extend(extra);
    let out = run(RUN, &args, &sb.env, None);
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn one_shell_session_codebuild_variables_and_a_failing_build() {
    let sb = checkout(
        r#"version: 0.2
env:
  variables:
    GREETING: hello world
    NUM: 42
  exported-variables:
    - RESULT
    - NEVER_SET
phases:
  install:
    commands:
      - cd app
      - FOO=bar
  pre_build:
    commands:
      - echo "pre $GREETING $NUM $(basename $(pwd)) $FOO"
      - echo "src=$CODEBUILD_SRC_DIR version=$CODEBUILD_RESOLVED_SOURCE_VERSION number=$CODEBUILD_BUILD_NUMBER region=$AWS_REGION/$AWS_DEFAULT_REGION"
  build:
    commands:
      - echo "build succeeding=$CODEBUILD_BUILD_SUCCEEDING"
      - printf 'no newline'
      - RESULT="multi word"
      - exit_code() { return 3; }; exit_code
      - echo never printed
    finally:
      - echo "finally ran"
  post_build:
    commands:
      - echo "post succeeding=$CODEBUILD_BUILD_SUCCEEDING id=$CODEBUILD_BUILD_ID"
"#,
    );
    let (out, v) = build(
        &sb,
        &[
            "--build-number",
            "7",
            "--region",
            "eu-west-1",
            "--project",
            "shop",
        ],
    );
    assert_eq!(out.code, 1, "a failed build exits non-zero: {}", out.stderr);
    assert_eq!(
        statuses(&v),
        [
            ("install".to_string(), "SUCCEEDED".to_string()),
            ("pre_build".into(), "SUCCEEDED".into()),
            ("build".into(), "FAILED".into()),
            ("post_build".into(), "SUCCEEDED".into()),
        ]
    );
    assert_eq!(v["succeeded"], false);
    assert_eq!(
        v["phases"][2]["failed_command"],
        "exit_code() { return 3; }; exit_code"
    );
    let log = &out.stderr;
    assert!(
        log.contains("\npre hello world 42 app bar\n"),
        "variables and cd persist across phases: {log}"
    );
    let head = std::process::Command::new("git")
        .args(["-C", &sb.p("src"), "rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let src = std::fs::canonicalize(sb.path("src")).unwrap();
    assert!(
        log.contains(&format!(
            "src={} version={head} number=7 region=eu-west-1/eu-west-1",
            src.display()
        )),
        "{log}"
    );
    assert_eq!(v["source_version"], head.as_str());
    assert!(v["build_id"].as_str().unwrap().starts_with("shop:"), "{v}");
    assert!(log.contains("build succeeding=1"), "{log}");
    assert!(log.contains("\nno newline\n"), "{log}");
    assert!(
        log.contains(
            "Command did not exit successfully exit_code() { return 3; }; exit_code exit status 3"
        ),
        "{log}"
    );
    assert!(
        !log.contains("never printed"),
        "the rest of a failed phase is skipped: {log}"
    );
    assert!(log.contains("finally ran"), "{log}");
    assert!(
        log.contains(&format!(
            "post succeeding=0 id={}",
            v["build_id"].as_str().unwrap()
        )),
        "{log}"
    );
    assert_eq!(
        v["exported"],
        serde_json::json!({"RESULT": "multi word"}),
        "unset variables are not exported"
    );
    assert!(
        log.contains("phase        status      duration\ninstall      SUCCEEDED"),
        "a timing summary ends the log: {log}"
    );
}

#[test]
fn a_failed_pre_build_stops_the_build_unless_told_to_continue() {
    let spec = |on_failure: &str| {
        format!(
            "version: 0.2\nphases:\n  pre_build:\n    on-failure: {on_failure}\n    commands:\n      - test -f missing-file\n  build:\n    commands:\n      - echo built > built.txt\n  post_build:\n    commands:\n      - echo post\nartifacts:\n  files:\n    - built.txt\n"
        )
    };
    let sb = checkout(&spec("ABORT"));
    let (out, v) = build(&sb, &[]);
    assert_eq!(out.code, 1);
    assert_eq!(
        statuses(&v),
        [
            ("pre_build".to_string(), "FAILED".to_string()),
            ("build".into(), "SKIPPED".into()),
            ("post_build".into(), "SKIPPED".into()),
        ]
    );
    assert_eq!(
        v["artifacts"],
        serde_json::json!([]),
        "nothing is uploaded after install/pre_build fail"
    );
    assert!(!sb.path("out").exists());

    let sb = checkout(&spec("CONTINUE"));
    let (out, v) = build(&sb, &[]);
    assert_eq!(out.code, 1, "the build still failed");
    assert_eq!(
        statuses(&v),
        [
            ("pre_build".to_string(), "FAILED".to_string()),
            ("build".into(), "SUCCEEDED".into()),
            ("post_build".into(), "SUCCEEDED".into()),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("out/built.txt")).unwrap(),
        "built\n"
    );
}

#[test]
fn artifacts_base_directory_discard_paths_secondary_and_reports() {
    let sb = checkout(
        r"version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - |
        [[ -d app ]] && mkdir -p reports
        echo '<testsuites/>' > reports/junit.xml
artifacts:
  files:
    - '**/*'
  base-directory: app
  name: app-$(date)
  secondary-artifacts:
    flat:
      files:
        - app/**/*.txt
      discard-paths: yes
    docs:
      files: docs/readme.md
reports:
  unit:
    files:
      - '**/*.xml'
    base-directory: reports
    file-format: JUNITXML
",
    );
    // Run twice: the output directory inside the source is never collected into itself.
    build(&sb, &["--out", &sb.p("src/out")]);
    let (out, v) = build(&sb, &["--out", &sb.p("src/out")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let files = |dir: &str| -> Vec<String> {
        let mut names = Vec::new();
        let root = sb.path(dir);
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    names.push(e.path().strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        names.sort();
        names
    };
    assert_eq!(
        files("src/out"),
        [
            "docs/docs/readme.md",
            "flat/main.txt",
            "flat/util.txt",
            "lib/util.txt",
            "main.txt"
        ]
    );
    assert_eq!(v["artifacts"][0]["name"], "app-$(date)");
    assert_eq!(
        v["artifacts"][0]["files"],
        serde_json::json!(["lib/util.txt", "main.txt"])
    );
    assert_eq!(
        v["reports"],
        serde_json::json!([{"name": "unit", "file_format": "JUNITXML", "files": ["junit.xml"]}])
    );
}

#[test]
fn invalid_buildspecs_and_secret_variables() {
    let sb = checkout(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n  biuld:\n    commands: [x]\n",
    );
    let (out, _) = build(&sb, &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("line 6: `phases.biuld`: unknown key `biuld`"),
        "{}",
        out.stderr
    );
    let sb = checkout("version: 0.2\nphases:\n  build:\n    commands:\n      - [unclosed\n");
    let (out, _) = build(&sb, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("line "), "{}", out.stderr);

    let sb = checkout(
        "version: 0.2\nenv:\n  parameter-store:\n    DB_PASSWORD: /prod/db/password\n  secrets-manager:\n    API_KEY: prod/api:key\nphases:\n  build:\n    commands:\n      - echo \"using $DB_PASSWORD and $API_KEY\"\n",
    );
    let (out, _) = build(&sb, &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("resolve DB_PASSWORD, API_KEY: no value given and no AWS credentials"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--env DB_PASSWORD=… --env API_KEY=…"),
        "{}",
        out.stderr
    );
    let (out, v) = build(
        &sb,
        &[
            "--env",
            "DB_PASSWORD=s3cr3t-value",
            "--env",
            "API_KEY=k3y-value",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("using *** and ***"),
        "secrets are masked in the log: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("s3cr3t-value") && !out.stdout.contains("s3cr3t-value"),
        "{}",
        out.stderr
    );
    assert_eq!(v["succeeded"], true);
}

/// `run-buildspec --json`, read back with every field the `run-buildspec` section of docs/json.md lists and nothing
/// else.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildJson {
    schema_version: u32,
    step: String,
    succeeded: bool,
    build_id: String,
    build_number: u64,
    source_version: Option<String>,
    phases: Vec<PhaseJson>,
    exported: std::collections::BTreeMap<String, String>,
    artifacts: Vec<ArtifactJson>,
    upload_error: Option<String>,
    reports: Vec<ReportJson>,
    duration_ms: u64,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseJson {
    name: PhaseName,
    status: PhaseStatus,
    duration_ms: u64,
    failed_command: Option<String>,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum PhaseName {
    Install,
    PreBuild,
    Build,
    PostBuild,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum PhaseStatus {
    Succeeded,
    Failed,
    Skipped,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ArtifactJson {
    identifier: Option<String>,
    name: Option<String>,
    directory: String,
    files: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportJson {
    name: String,
    file_format: Option<String>,
    files: Vec<String>,
}

fn build_json(out: &Output) -> BuildJson {
    let b: BuildJson = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!((b.schema_version, b.step.as_str()), (1, "run-buildspec"));
    b
}

/// The `--json` contract: every phase name and status, a failed command, exported variables, the
/// primary and a secondary artifact and a report group, read into types that refuse any field the
/// documentation does not list.
#[test]
fn the_json_output_is_the_documented_contract() {
    let sb = checkout(
        r"version: 0.2
env:
  variables:
    STAGE: test
  exported-variables:
    - STAGE
    - UNSET_ONE
phases:
  install:
    commands:
      - echo install
  pre_build:
    commands:
      - mkdir -p reports && echo '<testsuites/>' > reports/junit.xml
  build:
    commands:
      - echo built > app/built.txt
      - test -f app/never.txt
  post_build:
    commands:
      - echo post
artifacts:
  files:
    - '**/*.txt'
  base-directory: app
  name: app
  secondary-artifacts:
    docs:
      files:
        - docs/readme.md
reports:
  unit:
    files:
      - '*.xml'
    base-directory: reports
    file-format: JUNITXML
",
    );
    let (out, _) = build(&sb, &["--build-number", "3", "--project", "shop"]);
    assert_eq!(out.code, 1, "the build phase fails: {}", out.stderr);
    let b = build_json(&out);
    assert!(!b.succeeded);
    assert!(b.build_id.starts_with("shop:"), "{}", b.build_id);
    assert_eq!(b.build_number, 3);
    assert_eq!(b.source_version.as_deref().map(str::len), Some(40));
    let phases: Vec<(&PhaseName, &PhaseStatus, Option<&str>)> = b
        .phases
        .iter()
        .map(|p| (&p.name, &p.status, p.failed_command.as_deref()))
        .collect();
    assert_eq!(
        phases,
        [
            (&PhaseName::Install, &PhaseStatus::Succeeded, None),
            (&PhaseName::PreBuild, &PhaseStatus::Succeeded, None),
            (
                &PhaseName::Build,
                &PhaseStatus::Failed,
                Some("test -f app/never.txt")
            ),
            (&PhaseName::PostBuild, &PhaseStatus::Succeeded, None),
        ]
    );
    assert!(b.phases.iter().map(|p| p.duration_ms).sum::<u64>() <= b.duration_ms);
    assert_eq!(
        b.exported,
        [("STAGE".to_string(), "test".to_string())].into()
    );
    let artifacts: Vec<(Option<&str>, Option<&str>, &[String])> = b
        .artifacts
        .iter()
        .map(|a| (a.identifier.as_deref(), a.name.as_deref(), &a.files[..]))
        .collect();
    assert_eq!(
        artifacts,
        [
            (
                None,
                Some("app"),
                &[
                    "built.txt".to_string(),
                    "lib/util.txt".into(),
                    "main.txt".into()
                ][..]
            ),
            (Some("docs"), None, &["docs/readme.md".to_string()][..]),
        ]
    );
    let out_dir = std::fs::canonicalize(sb.path("out")).unwrap();
    assert_eq!(b.artifacts[0].directory, out_dir.display().to_string());
    assert_eq!(
        b.artifacts[1].directory,
        out_dir.join("docs").display().to_string()
    );
    let reports: Vec<(&str, Option<&str>, &[String])> = b
        .reports
        .iter()
        .map(|r| (r.name.as_str(), r.file_format.as_deref(), &r.files[..]))
        .collect();
    assert_eq!(
        reports,
        [("unit", Some("JUNITXML"), &["junit.xml".to_string()][..])]
    );

    // A failed pre_build: the later phases are SKIPPED, nothing is collected.
    let sb = checkout(
        "version: 0.2\nphases:\n  pre_build:\n    commands:\n      - 'false'\n  build:\n    commands:\n      - echo never\nartifacts:\n  files:\n    - '**/*'\n",
    );
    let (out, _) = build(&sb, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let b = build_json(&out);
    let phases: Vec<(&PhaseName, &PhaseStatus, u64)> = b
        .phases
        .iter()
        .map(|p| (&p.name, &p.status, p.duration_ms))
        .collect();
    assert_eq!(phases[1], (&PhaseName::Build, &PhaseStatus::Skipped, 0));
    assert_eq!(phases[0].1, &PhaseStatus::Failed);
    assert!(b.artifacts.is_empty() && b.reports.is_empty() && b.exported.is_empty());
}

/// The tests of this area that need the rig (moto, the registry, the AWS CLI in its virtualenv).
#[test]
fn secret_values_are_masked_on_stderr_in_exported_variables_and_in_every_output() {
    let sb = checkout(
        r#"version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /prod/db/password
  secrets-manager:
    API_KEY: prod/api:key
  exported-variables:
    - LEAK
    - PLAIN
phases:
  build:
    commands:
      - echo "db=$DB_PASSWORD" >&2
      - printf 'key=%s\n' "$API_KEY"
      - export LEAK="token:$API_KEY" PLAIN=visible
      - printf '%s\n' "$DB_PASSWORD" | sed 's/^/piped /' >&2
"#,
    );
    let secrets = [
        "--env",
        "DB_PASSWORD=s3cr3t-value",
        "--env",
        "API_KEY=k3y-value",
    ];
    let (out, v) = build(&sb, &secrets);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in ["db=***", "key=***", "piped ***"] {
        assert!(out.stderr.contains(line), "`{line}` in\n{}", out.stderr);
    }
    assert_eq!(v["exported"]["LEAK"], "token:***");
    assert_eq!(v["exported"]["PLAIN"], "visible");
    let mut env_args = vec![sb.p("src/buildspec.yml"), "--src".into(), sb.p("src")];
    env_args.extend(["--out", "out", "--format", "env"].map(String::from));
    env_args.extend(secrets.map(String::from));
    let env_args: Vec<&str> = env_args.iter().map(String::as_str).collect();
    let env_out = run(RUN, &env_args, &sb.env, None);
    assert_eq!(env_out.code, 0, "{}", env_out.stderr);
    assert!(
        env_out.stdout.contains("LEAK='token:***'") || env_out.stdout.contains("LEAK=token:***"),
        "{}",
        env_out.stdout
    );
    for o in [&out, &env_out] {
        for secret in ["s3cr3t-value", "k3y-value"] {
            assert!(
                !o.stdout.contains(secret) && !o.stderr.contains(secret),
                "{secret} leaked:\n{}\n{}",
                o.stdout,
                o.stderr
            );
        }
    }
}

/// A buildspec whose build leaves `ran` behind, with `artifacts` appended.
fn with_artifacts(artifacts: &str) -> Scratch {
    checkout(&format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - touch ran\n{artifacts}"
    ))
}

#[test]
fn artifact_patterns_stay_inside_the_source_and_results_inside_out() {
    // Refused when the buildspec is read: nothing runs, nothing is written.
    for (artifacts, fragment) in [
        (
            "artifacts:\n  files:\n    - '../data/*'\n",
            "line 8: `artifacts.files[0]`: `../data/*` has a `..` component",
        ),
        (
            "artifacts:\n  files: app/../../x\n",
            "`app/../../x` has a `..` component",
        ),
        (
            "artifacts:\n  files: '**/*'\n  base-directory: ../up\n",
            "`../up` has a `..` component",
        ),
        (
            "artifacts:\n  files: '**/*'\n  secondary-artifacts:\n    ../x:\n      files: '*'\n",
            "`../x` is not an artifact identifier",
        ),
        (
            "artifacts:\n  files: 'app/[abc'\n",
            "`app/[abc` is not a valid pattern",
        ),
        // Absolute paths are for files the build wrote in the temporary directory; others are
        // refused before the build starts.
        (
            "artifacts:\n  files: /etc/hostname\n",
            "`/etc/hostname`: the path is outside the source directory and the temporary directory",
        ),
        (
            "artifacts:\n  files: '/**/*'\n",
            "`/**/*`: the path is outside",
        ),
        (
            "reports:\n  r:\n    files: '*'\n    base-directory: /etc\n",
            "`/etc`: the path is outside",
        ),
    ] {
        let sb = with_artifacts(artifacts);
        let (out, v) = build(&sb, &[]);
        assert_eq!(out.code, 2, "{artifacts}\n{}", out.stderr);
        assert!(
            out.stderr.contains(fragment),
            "{artifacts}: `{fragment}` in\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("\nhelp: "), "{}", out.stderr);
        assert_eq!(v, Value::Null, "no JSON on an error");
        assert!(!sb.path("src/ran").exists(), "{artifacts}: the build ran");
        assert!(!sb.path("out").exists(), "{artifacts}: out was created");
    }

    // A link inside the source that leads outside it is refused, and nothing is copied.
    let sb = with_artifacts("artifacts:\n  files: '**/*'\n");
    std::os::unix::fs::symlink("/etc/hostname", sb.path("src/app/hostname")).unwrap();
    let (out, _) = build(&sb, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("app/hostname`: it leads to `/etc/hostname`, outside the source directory"),
        "{}",
        out.stderr
    );
    assert!(!sb.path("out").exists());

    // A file the build wrote in the temporary directory is collected (CodeBuild's `/tmp/build.json`).
    let tmp = tempfile::tempdir_in("/tmp").unwrap();
    let written = tmp.path().join("build.json");
    let sb = checkout(&format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo '{{}}' > {w}\nartifacts:\n  files:\n    - {w}\n    - app/main.txt\n  discard-paths: yes\n  secondary-artifacts:\n    kept:\n      files: {w}\n",
        w = written.display()
    ));
    let (out, v) = build(&sb, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        v["artifacts"][0]["files"],
        serde_json::json!(["build.json", "main.txt"])
    );
    let kept = format!("kept{}", written.display());
    assert_eq!(
        std::fs::read_to_string(sb.path(&format!("out/{kept}"))).unwrap(),
        "{}\n"
    );
}

#[test]
fn an_artifact_that_matches_nothing_fails_the_build_and_copies_nothing() {
    let sb = with_artifacts(
        "artifacts:\n  files: app/main.txt\n  secondary-artifacts:\n    docs:\n      files: docs/missing.md\n",
    );
    let (out, _) = build(&sb, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let b = build_json(&out);
    assert!(!b.succeeded);
    assert!(b.phases.iter().all(|p| p.status == PhaseStatus::Succeeded));
    assert!(b.artifacts.is_empty());
    assert_eq!(
        b.upload_error.as_deref(),
        Some("no matching artifact paths found for the secondary artifact `docs`")
    );
    assert!(
        out.stderr
            .contains("[Container] Phase complete: UPLOAD_ARTIFACTS State: FAILED"),
        "{}",
        out.stderr
    );
    assert!(
        !sb.path("out").exists(),
        "the primary artifact was not copied either"
    );
}

#[test]
fn out_and_src_are_checked_before_the_build_starts() {
    let sb = with_artifacts("artifacts:\n  files: app/main.txt\n");
    sb.write("a-file", "x\n");
    std::fs::create_dir(sb.path("locked")).unwrap();
    std::fs::set_permissions(
        sb.path("locked"),
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .unwrap();
    let a_file = sb.p("a-file");
    let under_file = sb.p("a-file/out");
    let locked = sb.p("locked/out");
    let root = is_root();
    for (args, fragment) in [
        (vec!["--out", a_file.as_str()], "a-file` is not a directory"),
        (
            vec!["--out", under_file.as_str()],
            "a-file` is not a directory",
        ),
        // No one, root included, creates files in /proc.
        (
            vec!["--out", "/proc/run-buildspec-out"],
            "no file can be created in `/proc`",
        ),
    ]
    .into_iter()
    .chain((!root).then(|| (vec!["--out", locked.as_str()], "no file can be created in")))
    {
        let (out, _) = build(&sb, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(fragment),
            "{args:?}: `{fragment}` in\n{}",
            out.stderr
        );
        assert!(!sb.path("src/ran").exists(), "{args:?}: the build ran");
    }
    let buildspec = sb.p("src/buildspec.yml");
    let out = run(RUN, &[&buildspec, "--src", &a_file], &sb.env, None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("a-file` as the source directory (--src): it is not a directory"),
        "{}",
        out.stderr
    );
    assert!(!sb.path("src/ran").exists());
    assert_eq!(std::fs::read_to_string(sb.path("a-file")).unwrap(), "x\n");
}

/// Whether the tests run as root (who can write anywhere, so a read-only directory proves nothing).
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn a_command_that_ends_the_shell_keeps_its_state_and_finally_still_runs() {
    let sb = checkout(
        r#"version: 0.2
env:
  exported-variables:
    - STAGE
phases:
  build:
    commands:
      - cd app
      - export STAGE=built
      - exit 3
      - echo never
    finally:
      - echo "finally in $(basename "$PWD") with STAGE=$STAGE"
  post_build:
    commands:
      - echo "post_build in $(basename "$PWD") with STAGE=$STAGE, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
      - sleep 300 & echo $! > "$CODEBUILD_SRC_DIR/sleeper.pid"
"#,
    );
    let (out, v) = build(&sb, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("[Container] Command did not exit successfully exit 3 exit status 3"),
        "the real status: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("never"), "{}", out.stderr);
    assert!(
        out.stderr.contains("finally in app with STAGE=built"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("post_build in app with STAGE=built, succeeding=0"),
        "{}",
        out.stderr
    );
    assert_eq!(
        statuses(&v),
        [
            ("build".into(), "FAILED".into()),
            ("post_build".into(), "SUCCEEDED".into())
        ]
    );
    assert_eq!(v["phases"][0]["failed_command"], "exit 3");
    assert_eq!(v["exported"]["STAGE"], "built");
    // The background process did not outlive the build.
    let pid = std::fs::read_to_string(sb.path("src/sleeper.pid")).unwrap();
    let alive = std::path::Path::new(&format!("/proc/{}", pid.trim())).exists();
    let state = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    assert!(
        !alive || state.contains(") Z "),
        "sleep {} still runs: {state}",
        pid.trim()
    );
}

mod on_the_rig {
    use super::*;

    /// `env.parameter-store` and `env.secrets-manager` read through the SDK — SSM and Secrets Manager in
    /// moto (the SDK's own endpoint variables point there) — and masked in the log.
    #[test]
    fn parameter_store_and_secrets_manager_values_come_from_aws() {
        let rig = rig();
        let aws = |args: &[&str]| {
            let out = std::process::Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
                .args(args)
                .args(["--endpoint-url", &rig.moto])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let id = common::unique("rb");
        aws(&[
            "ssm",
            "put-parameter",
            "--name",
            &format!("/{id}/db"),
            "--type",
            "SecureString",
            "--value",
            "db-pass-123",
        ]);
        aws(&[
            "secretsmanager",
            "create-secret",
            "--name",
            &format!("{id}/api"),
            "--secret-string",
            "{\"key\": \"api-key-456\", \"n\": 7}",
        ]);
        let mut sb = checkout(&format!(
            "version: 0.2\nenv:\n  parameter-store:\n    DB_PASSWORD: /{id}/db\n  secrets-manager:\n    API_KEY: {id}/api:key\n    WHOLE: {id}/api\nphases:\n  build:\n    commands:\n      - echo \"db=$DB_PASSWORD api=$API_KEY\"\n      - '[ \"$DB_PASSWORD\" = db-pass-123 ] && [ \"$API_KEY\" = api-key-456 ]'\n      - printf %s \"$WHOLE\" > \"$CODEBUILD_SRC_DIR/whole.json\"\n"
        ));
        sb.env = common::base_env(sb.dir.path());
        for (k, v) in [
            ("AWS_ENDPOINT_URL_SSM", rig.moto.as_str()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", rig.moto.as_str()),
        ] {
            common::set(&mut sb.env, k, v);
        }
        let (out, v) = build(&sb, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(v["succeeded"], true);
        assert!(out.stderr.contains("db=*** api=***"), "{}", out.stderr);
        assert!(
            out.stderr.contains("[ \"$DB_PASSWORD\" = *** ]"),
            "command lines are masked too: {}",
            out.stderr
        );
        let whole: Value =
            serde_json::from_str(&std::fs::read_to_string(sb.path("src/whole.json")).unwrap())
                .unwrap();
        assert_eq!(
            whole["n"], 7,
            "a secret without json-key is the whole string"
        );
        assert!(
            !out.stderr.contains("db-pass-123") && !out.stderr.contains("api-key-456"),
            "{}",
            out.stderr
        );

        // A parameter that does not exist: one error naming the variable and the parameter.
        let mut sb = checkout(&format!(
            "version: 0.2\nenv:\n  parameter-store:\n    MISSING: /{id}/nope\nphases:\n  build:\n    commands:\n      - echo hi\n"
        ));
        sb.env = common::base_env(sb.dir.path());
        common::set(&mut sb.env, "AWS_ENDPOINT_URL_SSM", &rig.moto);
        let (out, _) = build(&sb, &[]);
        // SSM answered with an error: exit 4 (the remote's answer), and no command ran.
        assert_eq!(out.code, 4, "{}", out.stderr);
        assert!(!out.stderr.contains("\nhi\n"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("resolve MISSING from SSM parameter /{id}/nope")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("ParameterNotFound"), "{}", out.stderr);
    }
}
