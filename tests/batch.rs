//! `run-buildspec` batch builds end to end: a buildspec's `batch` legs run as builds of their own
//! (real shells, each in its own copy of the source), in dependency order and in parallel, read back
//! from the JSON report, the log and the artifacts on disk.

use crate::common::{Output, Scratch, git, run};
use serde_json::Value;

const RUN: &str = env!("CARGO_BIN_EXE_run-buildspec");

/// A git checkout holding `buildspec.yml`.
fn checkout(buildspec: &str) -> Scratch {
    let sb = Scratch::offline();
    sb.write("src/buildspec.yml", buildspec);
    sb.write("src/app.txt", "app\n");
    sb.write("src/.gitignore", "ignored.log\n");
    let src = sb.path("src");
    git(&src, &["init", "-q"]);
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "init"]);
    sb.write("src/ignored.log", "not for the legs\n");
    sb
}

fn batch(sb: &Scratch, extra: &[&str]) -> (Output, Value) {
    let buildspec = sb.p("src/buildspec.yml");
    let src = sb.p("src");
    let out_dir = sb.p("out");
    let mut args = vec![
        buildspec.as_str(),
        "--src",
        &src,
        "--out",
        &out_dir,
        "--json",
    ];
    args.extend(extra);
    let out = run(RUN, &args, &sb.env, None);
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

/// The leg called `id` in a batch report.
fn leg<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["legs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["identifier"] == id)
        .unwrap_or_else(|| panic!("no leg {id}: {v}"))
}

/// When a leg started and ended, in milliseconds after the batch started.
fn span(leg: &Value) -> (u64, u64) {
    let start = leg["started_ms"].as_u64().unwrap();
    (start, start + leg["duration_ms"].as_u64().unwrap())
}

const GRAPH: &str = r#"version: 0.2
batch:
  build-graph:
    - identifier: build_amd64
      env:
        type: LINUX_CONTAINER
        compute-type: BUILD_GENERAL1_SMALL
        image: aws/codebuild/amazonlinux2-x86_64-standard:5.0
        variables:
          ARCH: amd64
    - identifier: build_arm64
      env:
        type: ARM_CONTAINER
        compute-type: BUILD_GENERAL1_LARGE
        image: aws/codebuild/amazonlinux2-aarch64-standard:3.0
        variables:
          ARCH: arm64
    - identifier: merge
      depend-on:
        - build_amd64
        - build_arm64
env:
  variables:
    ARCH: none
phases:
  build:
    commands:
      - if [ -n "$CODEBUILD_BATCH_BUILD_IDENTIFIER" ]; then test ! -e ignored.log; fi
      - echo "$ARCH" > arch.txt
      - echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER $CODEBUILD_BUILD_BATCH_ARN $CODEBUILD_BUILD_ID $CODEBUILD_BUILD_IMAGE" > ids.txt
      - echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" > commit.txt
      - touch "written-by-$CODEBUILD_BATCH_BUILD_IDENTIFIER"
      - if [ "$ARCH" != none ]; then sleep 2; fi
artifacts:
  files:
    - arch.txt
    - ids.txt
    - commit.txt
"#;

#[test]
fn a_build_graph_runs_its_legs_in_parallel_in_order_each_as_a_build_of_its_own() {
    let sb = checkout(GRAPH);
    let (out, v) = batch(&sb, &["--parallel", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(v["succeeded"], true);
    assert_eq!(v["kind"], "build-graph");
    let (amd, arm, merge) = (
        leg(&v, "build_amd64"),
        leg(&v, "build_arm64"),
        leg(&v, "merge"),
    );
    for l in [amd, arm, merge] {
        assert_eq!(l["status"], "SUCCEEDED", "{l}");
    }
    // The two platform legs overlap; the merge starts once both have ended.
    let (a, b, m) = (span(amd), span(arm), span(merge));
    assert!(a.0 < b.1 && b.0 < a.1, "the legs overlap: {a:?} {b:?}");
    assert!(
        m.0 >= a.1 && m.0 >= b.1,
        "merge after both: {m:?} {a:?} {b:?}"
    );

    // Each leg's artifacts in OUT/IDENTIFIER, with its own variables over the buildspec's.
    let read = |p: &str| std::fs::read_to_string(sb.path(p)).unwrap();
    assert_eq!(read("out/build_amd64/arch.txt"), "amd64\n");
    assert_eq!(read("out/build_arm64/arch.txt"), "arm64\n");
    assert_eq!(read("out/merge/arch.txt"), "none\n");
    let arn = v["batch_arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:codebuild:") && arn.contains(":build-batch/src:"),
        "{arn}"
    );
    let mut build_ids = Vec::new();
    for id in ["build_amd64", "build_arm64", "merge"] {
        let ids = read(&format!("out/{id}/ids.txt"));
        let fields: Vec<&str> = ids.split_whitespace().collect();
        assert_eq!(fields[0], id);
        assert_eq!(fields[1], arn);
        assert!(fields[2].starts_with("src:"), "{ids}");
        build_ids.push(fields[2].to_string());
        assert_eq!(
            read(&format!("out/{id}/commit.txt")).trim(),
            git(&sb.path("src"), &["rev-parse", "HEAD"]).trim(),
            "each leg's copy is the same commit"
        );
    }
    build_ids.sort();
    build_ids.dedup();
    assert_eq!(build_ids.len(), 3, "one build ID per leg");
    assert_eq!(
        read("out/build_arm64/ids.txt").split_whitespace().nth(3),
        Some("aws/codebuild/amazonlinux2-aarch64-standard:3.0")
    );
    // Each leg worked in a copy of its own: nothing it wrote is in the checkout.
    assert!(!sb.path("src/written-by-merge").exists());
    assert!(!sb.path("src/arch.txt").exists());

    // Environments are reported (with the platform they imply), not emulated.
    assert_eq!(arm["platform"], "linux/arm64");
    assert_eq!(amd["platform"], "linux/amd64");
    assert_eq!(arm["compute_type"], "BUILD_GENERAL1_LARGE");
    assert!(arm["privileged_mode"].is_null());
    assert!(merge["platform"].is_null());
    // Every line of a leg's log carries its identifier; the table lists every leg.
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("[build_arm64] [Container] Entering phase BUILD")),
        "{}",
        out.stderr
    );
    let table: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("leg "))
        .collect();
    assert!(
        table[0].contains("status") && table[0].contains("duration"),
        "{table:?}"
    );
    assert!(
        table[2].starts_with("build_arm64")
            && table[2].contains("SUCCEEDED")
            && table[2].contains("ARM_CONTAINER")
            && table[2].contains("linux/arm64"),
        "{table:?}"
    );

    // One leg at a time: they no longer overlap.
    std::fs::remove_dir_all(sb.path("out")).unwrap();
    let (out, v) = batch(&sb, &["--parallel", "1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (a, b) = (span(leg(&v, "build_amd64")), span(leg(&v, "build_arm64")));
    assert!(a.1 <= b.0 || b.1 <= a.0, "one after the other: {a:?} {b:?}");

    // --no-batch: the phases once, as a single build (CodeBuild's StartBuild).
    std::fs::remove_dir_all(sb.path("out")).unwrap();
    let (out, v) = batch(&sb, &["--no-batch"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(v["legs"].is_null() && v["build_id"].is_string(), "{v}");
    assert_eq!(read("out/arch.txt"), "none\n");
}

const FAILING: &str = r#"version: 0.2
batch:
  fast-fail: FAST
  build-graph:
    - identifier: slow
      env:
        variables: {MODE: slow}
    - identifier: bad
      env:
        variables: {MODE: bad}
    - identifier: after_bad
      depend-on: [bad]
    - identifier: tolerated
      ignore-failure: true
      env:
        variables: {MODE: bad}
phases:
  build:
    commands:
      - if [ "$MODE" = bad ]; then sleep 1; exit 3; fi
      - if [ "$MODE" = slow ]; then echo slow started; sleep 20; echo slow finished; fi
"#;

#[test]
fn fast_fail_stops_the_other_legs_and_a_failed_dependency_stops_its_dependents() {
    // Without fast-fail: every independent leg runs to its end; the one after `bad` never runs.
    let sb = checkout(
        &FAILING
            .replace("FAST", "false")
            .replace("sleep 20", "sleep 1"),
    );
    let (out, v) = batch(&sb, &["--parallel", "4"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(v["succeeded"], false);
    assert_eq!(leg(&v, "slow")["status"], "SUCCEEDED");
    assert_eq!(leg(&v, "bad")["status"], "FAILED");
    let after = leg(&v, "after_bad");
    assert_eq!(after["status"], "STOPPED");
    assert!(
        after["reason"]
            .as_str()
            .unwrap()
            .contains("`bad` did not succeed")
    );
    assert!(after["build"].is_null(), "it never ran");
    assert!(
        after["buildspec"]
            .as_str()
            .unwrap()
            .ends_with("buildspec.yml"),
        "{after}"
    );
    assert!(
        !out.stderr
            .contains("[after_bad] [Container] Entering phase")
    );
    assert_eq!(leg(&v, "tolerated")["status"], "FAILED");
    assert!(out.stderr.lines().any(|l| l == "[slow] slow finished"));

    // ignore-failure alone does not fail the batch.
    let sb = checkout(
        &FAILING
            .replace("FAST", "false")
            .replace("sleep 20", "sleep 1")
            .replace(
                "variables: {MODE: bad}\n    - identifier: after_bad\n      depend-on: [bad]\n",
                "variables: {MODE: good}\n",
            ),
    );
    let (out, v) = batch(&sb, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(v["succeeded"], true);
    assert_eq!(leg(&v, "tolerated")["status"], "FAILED");

    // fast-fail: `bad` stops `slow` while it runs.
    let sb = checkout(&FAILING.replace("FAST", "true"));
    let (out, v) = batch(&sb, &["--parallel", "4"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let slow = leg(&v, "slow");
    assert_eq!(slow["status"], "STOPPED", "{slow}");
    assert!(
        slow["reason"].as_str().unwrap().contains("fast-fail"),
        "{slow}"
    );
    assert!(out.stderr.contains("[slow] slow started"), "{}", out.stderr);
    assert!(
        !out.stderr.lines().any(|l| l == "[slow] slow finished"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_build_matrix_runs_every_combination() {
    let sb = checkout(
        r#"version: 0.2
batch:
  build-matrix:
    static:
      env:
        type: ARM_CONTAINER
    dynamic:
      env:
        image:
          - image/one
          - image/two
        variables:
          GREETING:
            - hello
            - bonjour
phases:
  build:
    commands:
      - echo "$CODEBUILD_BUILD_IMAGE $GREETING" > combo.txt
artifacts:
  files: combo.txt
"#,
    );
    let (out, v) = batch(&sb, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(v["kind"], "build-matrix");
    let mut combos: Vec<String> = v["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["platform"], "linux/arm64");
            let id = l["identifier"].as_str().unwrap();
            std::fs::read_to_string(sb.path(&format!("out/{id}/combo.txt")))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    combos.sort();
    assert_eq!(
        combos,
        [
            "image/one bonjour",
            "image/one hello",
            "image/two bonjour",
            "image/two hello"
        ]
    );
}

#[test]
fn an_invalid_batch_is_exit_2_naming_its_line_and_runs_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "build-graph:\n    - identifier: a-b",
            "line 4",
            "`a-b` is not a leg identifier",
        ),
        (
            "build-graph:\n    - identifier: a\n      depend-on: [x]",
            "line 5",
            "`x` is not a leg of this batch",
        ),
        (
            "build-graph:\n    - identifier: a\n      depend-on: [b]\n    - identifier: b\n      depend-on: [a]",
            "line 5",
            "make a cycle",
        ),
        (
            "build-list:\n    - identifier: a\n    - identifier: a",
            "line 5",
            "`a` names two legs",
        ),
        (
            "build-list:\n    - buildspec: other.yml",
            "line 4",
            "a leg needs an `identifier`",
        ),
        (
            "build-list:\n    - identifier: a\n      env:\n        colour: red",
            "line 6",
            "unknown key `colour`",
        ),
        (
            "build-list:\n    - identifier: a\n      depend-on: [b]",
            "line 5",
            "unknown key `depend-on`",
        ),
        (
            "build-list:\n    - identifier: a\n  build-graph: []",
            "line 3",
            "one of build-graph, build-list or build-matrix",
        ),
        ("fast-fail: true", "line 2", "add one of build-graph"),
        (
            "combine-artifacts: maybe\n  build-list:\n    - identifier: a",
            "line 3",
            "expected yes or no",
        ),
        (
            "build-fanout:\n    parallelism: 2",
            "line 3",
            "build-fanout",
        ),
        ("build-matrix:\n    static: {}", "line 3", "add `dynamic:`"),
        (
            "build-matrix:\n    dynamic:\n      env:\n        image: []",
            "line 6",
            "at least one value",
        ),
        ("build-list: []", "line 3", "no legs"),
    ];
    for (section, line, reason) in cases {
        let sb = checkout(&format!(
            "version: 0.2\nbatch:\n  {section}\nphases:\n  build:\n    commands:\n      - touch ran\n"
        ));
        let (out, _) = batch(&sb, &[]);
        assert_eq!(out.code, 2, "{section}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{line}: `batch"))
                && out.stderr.contains(reason)
                && out.stderr.contains("batch-build-buildspec"),
            "{section}: {}",
            out.stderr
        );
        assert!(!sb.path("out").exists(), "{section}: nothing ran");
    }
    // A leg's own buildspec is read before any leg runs.
    let sb = checkout(
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: b\n      buildspec: other.yml\nphases:\n  build:\n    commands:\n      - touch ran\n",
    );
    sb.write("src/other.yml", "version: 0.2\nphases: {}\nnot-a-key: 1\n");
    let (out, _) = batch(&sb, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("other.yml") && out.stderr.contains("not-a-key"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("[a]"), "{}", out.stderr);
}
