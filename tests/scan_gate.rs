//! `scan-gate` end to end: trivy's own filtered goldens as the oracle for our policy, grype and ECR
//! reports against hand-checked expectations, and ECR scans against moto — directly, seeded through
//! moto's API, and scripted through a proxy for the statuses and page sequences moto cannot produce.

use crate::common;

use crate::common::{
    Output, Proxy, Scratch, create_repository, fixture, json_as, rig, run, set, unique,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const GATE: &str = env!("CARGO_BIN_EXE_scan-gate");
const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");

fn gate(sb: &Scratch, args: &[&str]) -> Output {
    run(GATE, args, &sb.env, None)
}

/// (directory, golden, baseline, --fixable-only, --severity, .trivyignore)
type GoldenCase = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    Option<&'static str>,
    Option<&'static str>,
);

/// `scan-gate --json`, read back with every field `docs/json.md`, scan-gate lists and nothing else;
/// enumerated fields are enums with exactly the documented values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(clippy::struct_field_names, reason = "the field names are the JSON's")]
struct Gate {
    schema_version: u32,
    step: String,
    passed: bool,
    gate: String,
    fail_on: Option<Threshold>,
    severity: Option<Vec<SeverityName>>,
    fail_on_score: Option<f64>,
    fixable_only: bool,
    sources: Vec<Source>,
    counts: Counts,
    failing: Vec<JudgedFinding>,
    suppressed: Vec<JudgedFinding>,
    allowlist: Allowlist,
    problems: Vec<String>,
    artifacts: Vec<String>,
}

/// `fail_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum Threshold {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    None,
}

/// `severity[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum SeverityName {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Unknown,
    Undefined,
    Untriaged,
    Negligible,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    kind: SourceKind,
    name: String,
    findings: usize,
    status: Option<ScanStatus>,
}

/// `sources[].kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SourceKind {
    Trivy,
    Grype,
    Ecr,
    EcrScan,
}

/// `sources[].status`: ECR's statuses, and any other kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ScanStatus {
    Complete,
    Active,
    InProgress,
    Pending,
    Failed,
    UnsupportedImage,
    ScanEligibilityExpired,
    FindingsUnavailable,
    LimitExceeded,
    ImageArchived,
    Unknown,
    #[serde(untagged)]
    Other(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counts {
    found: BTreeMap<String, usize>,
    failing: BTreeMap<String, usize>,
    suppressed: BTreeMap<String, usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "read to check the JSON's shape; not every field is asserted"
)]
struct JudgedFinding {
    id: String,
    severity: Severity,
    package: Option<String>,
    installed: Option<String>,
    fixed: Option<String>,
    fix: FixState,
    score: Option<f64>,
    source: FindingSource,
    target: Option<String>,
    digest: Option<String>,
    purl: Option<String>,
    url: Option<String>,
    title: Option<String>,
    level: Level,
    pass: Option<Pass>,
    suppressed_by: Option<Suppression>,
}

/// `severity` of a finding: a level, or the unrated name the source gave.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    #[serde(untagged)]
    Unrated(String),
}

/// `level`: the level a finding counts as (unrated severities mapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum Level {
    Critical,
    High,
    Medium,
    Low,
    Informational,
}

/// `fix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FixState {
    Fixed,
    NotFixed,
    WontFix,
    NotAffected,
    Unknown,
}

/// `source` of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FindingSource {
    Trivy,
    Grype,
    EcrBasic,
    EcrEnhanced,
}

/// `pass`: why a finding does not fail the gate (`null`: it does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Pass {
    BelowThreshold,
    NotFixable,
    NotAffected,
    Allowlisted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suppression {
    reason: String,
    expires: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowlist {
    file: Option<String>,
    expired: Vec<Entry>,
    expiring: Vec<Entry>,
    stale: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "read to check the JSON's shape; not every field is asserted"
)]
struct Entry {
    id: String,
    reason: String,
    expires: String,
    package: Option<String>,
    purl: Option<String>,
    digest: Option<String>,
    matched: usize,
    days_left: i64,
}

fn gate_json(out: &Output) -> Gate {
    let g: Gate = json_as(out);
    assert_eq!((g.schema_version, g.step.as_str()), (1, "scan-gate"));
    g
}

/// (target, id, package, installed) of each failing finding.
fn failing_set(g: &Gate) -> BTreeSet<(String, String, String, String)> {
    g.failing
        .iter()
        .map(|f| {
            (
                f.target.clone().unwrap_or_default(),
                f.id.clone(),
                f.package.clone().unwrap_or_default(),
                f.installed.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The same tuples from a trivy report.
fn trivy_set(path: &str) -> BTreeSet<(String, String, String, String)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for r in v["Results"].as_array().unwrap() {
        for x in r["Vulnerabilities"].as_array().into_iter().flatten() {
            out.insert((
                r["Target"].as_str().unwrap().to_string(),
                x["VulnerabilityID"].as_str().unwrap().to_string(),
                x["PkgName"].as_str().unwrap().to_string(),
                x["InstalledVersion"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

fn today_plus(days: i64) -> String {
    buildsteps::scan::policy::Date::today()
        .plus_days(days)
        .to_string()
}

/// trivy's filtered goldens are the oracle: our gate over the full report, with the same options,
/// fails on exactly the findings trivy's own filtered output holds.
#[test]
fn trivy_filtered_goldens_are_exactly_what_the_gate_selects() {
    let sb = Scratch::offline();
    // (directory, golden, baseline, --fixable-only, --severity, .trivyignore)
    let cases: [GoldenCase; 11] = [
        (
            "main-dc3c56e",
            "alpine-39-high-critical",
            "alpine-39",
            true,
            Some("HIGH,CRITICAL"),
            None,
        ),
        (
            "main-dc3c56e",
            "alpine-39-ignore-cveids",
            "alpine-39",
            false,
            None,
            Some("alpine-39-ignore-cveids.trivyignore"),
        ),
        (
            "main-dc3c56e",
            "centos-7-ignore-unfixed",
            "centos-7",
            true,
            None,
            None,
        ),
        (
            "main-dc3c56e",
            "centos-7-medium",
            "centos-7",
            true,
            Some("MEDIUM"),
            None,
        ),
        (
            "main-dc3c56e",
            "debian-buster-ignore-unfixed",
            "debian-buster",
            true,
            None,
            None,
        ),
        (
            "main-42f795f",
            "alpine-310-ignore-unfixed",
            "alpine-310",
            true,
            None,
            None,
        ),
        (
            "main-42f795f",
            "alpine-310-medium-high",
            "alpine-310",
            true,
            Some("MEDIUM,HIGH"),
            None,
        ),
        (
            "main-42f795f",
            "alpine-310-ignore-cveids",
            "alpine-310",
            false,
            None,
            Some("alpine-310-ignore-cveids.trivyignore"),
        ),
        (
            "main-42f795f",
            "centos-7-ignore-unfixed",
            "centos-7",
            true,
            None,
            None,
        ),
        (
            "main-42f795f",
            "centos-7-low-high",
            "centos-7",
            true,
            Some("LOW,HIGH"),
            None,
        ),
        (
            "main-42f795f",
            "debian-buster-ignore-unfixed",
            "debian-buster",
            true,
            None,
            None,
        ),
    ];
    for (dir, golden, baseline, fixable, severity, ignore) in cases {
        let report = fixture(&format!("trivy/{dir}/{baseline}.json.golden"));
        let mut args = vec!["--report".to_string(), report.clone(), "--json".to_string()];
        if fixable {
            args.push("--fixable-only".into());
        }
        match severity {
            Some(s) => args.extend(["--severity".into(), s.into()]),
            // No severity filter in trivy: every severity counts.
            None => args.extend(["--fail-on".into(), "INFORMATIONAL".into()]),
        }
        if let Some(file) = ignore {
            // The same IDs as an allowlist (which, unlike .trivyignore, needs a reason and an expiry).
            let ids = std::fs::read_to_string(fixture(&format!("trivy/{dir}/{file}"))).unwrap();
            let mut entries = String::new();
            for id in ids.lines().filter(|l| !l.trim().is_empty()) {
                entries.push_str(&format!(
                    "  - id: {id}\n    reason: ignored in trivy's test\n    expires: {}\n",
                    today_plus(365)
                ));
            }
            let path = sb.write(&format!("{golden}.yaml"), &format!("allowlist:\n{entries}"));
            args.extend(["--allowlist".into(), path]);
        }
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = gate(&sb, &arg_refs);
        let g = gate_json(&out);
        let expected = trivy_set(&fixture(&format!("trivy/{dir}/{golden}.json.golden")));
        assert!(!expected.is_empty(), "{golden}: the oracle is not empty");
        assert_eq!(failing_set(&g), expected, "{dir}/{golden}");
        assert_eq!(
            (g.fixable_only, g.severity.is_some(), g.fail_on.is_some()),
            (fixable, severity.is_some(), severity.is_none())
        );
        assert_eq!(out.code, 1, "{golden}: findings remain, so the gate fails");
        if ignore.is_some() {
            assert_eq!(
                g.suppressed.len(),
                trivy_set(&report).len() - expected.len(),
                "{golden}"
            );
        }
    }
}

#[test]
fn grype_reports_against_hand_checked_expectations() {
    let sb = Scratch::offline();
    let all_fields = fixture("grype/defectdojo-anchore_grype-check_all_fields.json");
    let ids = |g: &Gate| {
        g.failing
            .iter()
            .map(|f| format!("{}:{}", f.id, f.package.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    // Default (HIGH): the two Critical glibc packages, the High redis and the two Django matches;
    // the Negligible krb5 finding maps to LOW.
    let g = gate_json(&gate(&sb, &["--report", &all_fields, "--json"]));
    assert_eq!(
        ids(&g),
        [
            "CVE-2021-33574:libc-bin",
            "CVE-2021-33574:libc6",
            "CVE-2021-32626:redis",
            "GHSA-v6rh-hp5x-86rv:Django",
            "GHSA-v6rh-hp5x-86rv:Django"
        ]
    );
    assert_eq!(g.counts.found.get("NEGLIGIBLE"), Some(&1));
    assert_eq!(g.gate, "at or above HIGH");
    // Fixable only: wont-fix (glibc, redis) drops out; Django has a fix.
    let g = gate_json(&gate(
        &sb,
        &["--report", &all_fields, "--json", "--fixable-only"],
    ));
    assert_eq!(
        ids(&g),
        ["GHSA-v6rh-hp5x-86rv:Django", "GHSA-v6rh-hp5x-86rv:Django"]
    );
    // LOW brings in the Negligible one; a mapping can raise it.
    assert_eq!(
        gate_json(&gate(
            &sb,
            &["--report", &all_fields, "--json", "--fail-on", "LOW"]
        ))
        .failing
        .len(),
        6
    );
    let g = gate_json(&gate(
        &sb,
        &[
            "--report",
            &all_fields,
            "--json",
            "--map-severity",
            "NEGLIGIBLE=CRITICAL",
        ],
    ));
    assert_eq!(g.failing[0].id, "CVE-2004-0971");
    assert_eq!(g.failing[0].level, Level::Critical);
    // Score threshold alone: only redis (CVSS 8.8) reaches 8.0.
    let g = gate_json(&gate(
        &sb,
        &[
            "--report",
            &all_fields,
            "--json",
            "--fail-on",
            "NONE",
            "--fail-on-score",
            "8.0",
        ],
    ));
    assert_eq!(ids(&g), ["CVE-2021-32626:redis"]);
    assert_eq!(
        (g.fail_on_score, g.gate.as_str()),
        (Some(8.0), "scored 8 or more")
    );

    // busybox 1.32.1: 1 Critical and 10 High; fix.state "" everywhere but one — an unknown fix
    // state counts as fixable, so --fixable-only hides nothing.
    let busybox = fixture("grype/defectdojo-anchore_grype-many_vulns_with_epss_values.json");
    let g = gate_json(&gate(
        &sb,
        &["--report", &busybox, "--json", "--fixable-only"],
    ));
    assert_eq!(
        (g.failing.len(), g.counts.failing.get("CRITICAL")),
        (11, Some(&1))
    );
    // grype's own snapshot: the Critical finding has an empty fix state.
    let snapshot = fixture("grype/grype-presenter-TestJsonImgsPresenter.golden");
    let g = gate_json(&gate(
        &sb,
        &["--report", &snapshot, "--json", "--fixable-only"],
    ));
    assert_eq!(ids(&g), ["CVE-1999-0002:package-2"]);
    // No matches: passes.
    let out = gate(
        &sb,
        &[
            "--report",
            &fixture("grype/defectdojo-anchore_grype-no_vuln.json"),
            "--json",
        ],
    );
    assert_eq!(out.code, 0);
    assert!(gate_json(&out).passed);
}

#[test]
fn ecr_scan_files_keep_their_counts_and_statuses() {
    let sb = Scratch::offline();
    let culture = fixture("ecr-scan/cultureamp-scan-findings-example-b.json");
    let g = gate_json(&gate(&sb, &["--report", &culture, "--json"]));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&culture).unwrap()).unwrap();
    let expected: BTreeMap<String, usize> =
        serde_json::from_value(v["imageScanFindings"]["findingSeverityCounts"].clone()).unwrap();
    assert_eq!(
        g.counts.found, expected,
        "our counts are ECR's findingSeverityCounts"
    );
    assert_eq!(g.failing.len(), 6, "1 CRITICAL + 5 HIGH");
    // UNDEFINED maps to MEDIUM unless told otherwise.
    let g = gate_json(&gate(
        &sb,
        &[
            "--report",
            &culture,
            "--json",
            "--map-severity",
            "UNDEFINED=HIGH",
        ],
    ));
    assert_eq!(g.failing.len(), 17);
    // The enhanced example: MEDIUM and UNTRIAGED, both passing at HIGH; UNTRIAGED=HIGH fails it.
    let enhanced = fixture("ecr-scan/moto-example-describe-image-scan-findings-enhanced.json");
    let g = gate_json(&gate(&sb, &["--report", &enhanced, "--json"]));
    assert!(g.passed);
    assert_eq!(g.sources[0].status, Some(ScanStatus::Complete));
    let out = gate(
        &sb,
        &[
            "--report",
            &enhanced,
            "--json",
            "--map-severity",
            "UNTRIAGED=HIGH",
        ],
    );
    assert_eq!(out.code, 1);
    assert_eq!(gate_json(&out).failing[0].id, "CVE-2025-24528");
    // The CLI example's single MEDIUM.
    let cli = fixture("ecr-scan/awscli-example-describe-image-scan-findings-basic.json");
    assert_eq!(
        gate(&sb, &["--report", &cli, "--fail-on", "MEDIUM"]).code,
        1
    );
    // A report in a failed state fails the gate even without findings.
    let failed = sb.write("failed.json", r#"{"imageScanStatus": {"status": "FAILED", "description": "UnsupportedImageError: The operating system and/or package manager are not supported."}, "imageScanFindings": {}}"#);
    let out = gate(&sb, &["--report", &failed]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("ended FAILED: UnsupportedImageError"),
        "{}",
        out.stderr
    );
    assert_eq!(
        gate(&sb, &["--report", &failed, "--on-scan-error", "warn"]).code,
        0
    );
}

#[test]
fn bad_reports_flags_and_allowlists_are_exit_2_naming_the_problem() {
    let sb = Scratch::offline();
    let bad = sb.write(
        "bad.json",
        "{\n  \"Results\": [\n    {\"Target\": }\n  ]\n}\n",
    );
    let out = gate(&sb, &["--report", &bad]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!("read the report `{bad}`: 3:")),
        "{}",
        out.stderr
    );
    let other = sb.write("other.json", "{\"foo\": 1}");
    let out = gate(&sb, &["--report", &other]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not a trivy"), "{}", out.stderr);
    assert_eq!(gate(&sb, &[]).code, 2, "nothing to read");
    assert_eq!(
        gate(&sb, &["--report", &bad, "--fail-on", "SEVERE"]).code,
        2
    );
    assert_eq!(
        gate(
            &sb,
            &["--report", &bad, "--severity", "HIGH", "--fail-on", "LOW"]
        )
        .code,
        2
    );
    let report = fixture("trivy/main-dc3c56e/alpine-39.json.golden");
    for (text, needle) in [
        (
            "allowlist:\n  - id: CVE-2019-1549\n    expires: 2030-01-01\n",
            "allowlist entry 1 (CVE-2019-1549): `reason` is required",
        ),
        (
            "allowlist:\n  - id: CVE-2019-1549\n    reason: x\n    expires: 01/02/2030\n",
            "`expires: 01/02/2030` is not a date",
        ),
        (
            "allowlist:\n  - id: CVE-2019-1549\n    reason: x\n",
            "`expires` is required",
        ),
        (
            "allowlist:\n  - id: CVE-2019-1549\n    reason: x\n    expires: 2030-01-01\n    pakage: openssl\n",
            "unknown key `pakage`",
        ),
        ("allowlist:\n  - id: [\n", "read the allowlist"),
    ] {
        let path = sb.write("list.yaml", text);
        let out = gate(&sb, &["--report", &report, "--allowlist", &path]);
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{text}: {}", out.stderr);
    }
}

/// Every file under `dir` and its sha256, to show a run changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path, common::sha256(&bytes));
            }
        }
    }
    files
}

/// An `aws ecr describe-image-scan-findings` answer as a file: `counts`, basic `findings`, and
/// `extra` top-level members (`"nextToken": …`).
fn ecr_file(status: &str, counts: &str, findings: &str, extra: &str) -> String {
    format!(
        r#"{{"imageId": {{"imageDigest": "sha256:{}"}}, "imageScanStatus": {{"status": "{status}", "description": "d"}}, "imageScanFindings": {{"findingSeverityCounts": {counts}, "findings": {findings}}}{extra}}}"#,
        "a".repeat(64)
    )
}

/// A row of the bad-input corpus: arguments, environment, exit code, a fragment of stderr.
type CorpusRow<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, i32, &'a str);

/// The bad-input corpus for scan-gate (files, flags and environment a hostile or careless user
/// gives): each row the arguments, the environment, the exit code and a fragment of the error. A
/// gate that passes by accident (a `NaN` threshold, a truncated report, a mapping that does nothing),
/// a panic or a wrapped number would each show here. Every run also names `--sarif`, `--junit` and
/// `--markdown`: a refused run writes none of them and changes no file.
#[test]
fn hostile_inputs_are_refused_and_nothing_is_written() {
    let sb = Scratch::offline();
    let grype = sb.write("grype.json", r#"{"matches": []}"#);
    let mut files = BTreeMap::new();
    for (name, text) in [
        ("array.json", "[]".to_string()),
        (
            "array-of-results.json",
            r#"[{"Target": "x", "Vulnerabilities": []}]"#.to_string(),
        ),
        ("string.json", "\"trivy\"".to_string()),
        ("number.json", "42".to_string()),
        ("true.json", "true".to_string()),
        ("null.json", "null".to_string()),
        ("empty.json", String::new()),
        ("blank.json", " \n\t\n".to_string()),
        ("bom-only.json", "\u{feff}".to_string()),
        ("bom-array.json", "\u{feff}[]".to_string()),
        (
            "not-json.json",
            "\u{feff}{\n  \"matches\": ]\n}".to_string(),
        ),
        (
            "token.json",
            ecr_file(
                "COMPLETE",
                r#"{"CRITICAL": 3}"#,
                "[]",
                r#", "nextToken": "tok-2""#,
            ),
        ),
        (
            "cli-token.json",
            ecr_file(
                "COMPLETE",
                "{}",
                "[]",
                r#", "NextToken": "eyJuZXh0VG9rZW4iOiAiMiJ9""#,
            ),
        ),
        (
            "token-only.json",
            ecr_file(
                "COMPLETE",
                r#"{"LOW": 1}"#,
                r#"[{"name": "CVE-1", "severity": "LOW"}]"#,
                r#", "nextToken": "tok-2""#,
            ),
        ),
        (
            "short.json",
            ecr_file("COMPLETE", r#"{"CRITICAL": 3}"#, "[]", ""),
        ),
        (
            "short-one.json",
            ecr_file(
                "COMPLETE",
                r#"{"CRITICAL": 1, "HIGH": 2}"#,
                r#"[{"name": "CVE-1", "severity": "CRITICAL"}, {"name": "CVE-2", "severity": "HIGH"}, {"name": "CVE-3", "severity": "LOW"}]"#,
                "",
            ),
        ),
        (
            "short-enhanced.json",
            std::fs::read_to_string(fixture(
                "ecr-scan/moto-example-describe-image-scan-findings-enhanced.json",
            ))
            .unwrap()
            .replace("\"UNTRIAGED\": 1", "\"UNTRIAGED\": 4"),
        ),
        ("in-progress.json", ecr_file("IN_PROGRESS", "{}", "[]", "")),
        ("pending.json", ecr_file("PENDING", "{}", "[]", "")),
        ("empty.yaml", String::new()),
        ("blank.yaml", "\n  \n".to_string()),
        ("empty-allowlist.json", String::new()),
    ] {
        files.insert(name, sb.write(name, &text));
    }
    let f = |name: &str| files[name].clone();
    let long = "9223372036854775807s";
    #[rustfmt::skip]
    let rows: Vec<CorpusRow> = vec![
        // --expiry-warning: days ahead, not behind.
        (vec!["--report".into(), grype.clone(), "--expiry-warning=-1".into()], vec![], 2, "-1 is not in 0..=36500"),
        (vec!["--report".into(), grype.clone()], vec![("SCAN_GATE_EXPIRY_WARNING", "-3")], 2, "-3 is not in 0..=36500"),
        // --fail-on-score: a finite number from 0 to 10.
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "NaN".into()], vec![], 2, "`NaN` is not a score: use a number from 0 to 10"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "nan".into()], vec![], 2, "`nan` is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "inf".into()], vec![], 2, "`inf` is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score=-inf".into()], vec![], 2, "`-inf` is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "infinity".into()], vec![], 2, "is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "11".into()], vec![], 2, "`11` is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "10.01".into()], vec![], 2, "`10.01` is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score=-1".into()], vec![], 2, "`-1` is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score".into(), "1e309".into()], vec![], 2, "is not a score"),
        (vec!["--report".into(), grype.clone(), "--fail-on-score=".into()], vec![], 2, "is not a score"),
        (vec!["--report".into(), grype.clone()], vec![("SCAN_GATE_FAIL_ON_SCORE", "inf")], 2, "`inf` is not a score"),
        // --map-severity: works on unrated names, or is refused.
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "HIGH=LOW".into()], vec![], 2, "`HIGH` is the level HIGH, which is never remapped"),
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "critical=LOW".into()], vec![], 2, "`CRITICAL` is the level CRITICAL"),
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "MODERATE=LOW".into()], vec![], 2, "`MODERATE` is the level MEDIUM"),
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "UNTRAIGED=HIGH".into()], vec![], 2, "`UNTRAIGED` is not an unrated severity"),
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "=HIGH".into()], vec![], 2, "is not an unrated severity"),
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "UNKNOWN=NONE".into()], vec![], 2, "`NONE` is not a level"),
        (vec!["--report".into(), grype.clone(), "--map-severity".into(), "UNKNOWN=LOW".into(), "--map-severity".into(), "unknown=HIGH".into()], vec![], 2, "maps UNKNOWN to both LOW and HIGH"),
        // --severity that names nothing (the policy was --fail-on's, the words said "in").
        (vec!["--report".into(), grype.clone(), "--severity".into(), String::new()], vec![], 2, "--severity LIST: it names no severity"),
        (vec!["--report".into(), grype.clone(), "--severity".into(), ",".into()], vec![], 2, "it names no severity"),
        (vec!["--report".into(), grype.clone()], vec![("SCAN_GATE_SEVERITY", "")], 2, "it names no severity"),
        // Durations: checked arithmetic, never a wrapped number or a panic.
        (vec!["--report".into(), grype.clone(), "--timeout".into(), long.into()], vec![], 2, "`9223372036854775807s` is too large"),
        (vec!["--report".into(), grype.clone()], vec![("SCAN_GATE_TIMEOUT", long)], 2, "`9223372036854775807s` is too large"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "18446744073709551615s1s".into()], vec![], 2, "too large"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "18446744073709551616".into()], vec![], 2, "too large"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "307445734561825861m".into()], vec![], 2, "too large"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "5124095576030432h".into()], vec![], 2, "too large"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "213503982334602d".into()], vec![], 2, "too large"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "36501d".into()], vec![], 2, "too large (at most 36500d)"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "1.5h".into()], vec![], 2, "whole numbers only"),
        (vec!["--report".into(), grype.clone(), "--timeout".into(), "10µs".into()], vec![], 2, "unknown unit `µs`"),
        (vec!["--report".into(), grype.clone(), "--poll-interval".into(), "18446744073709551615s".into()], vec![], 2, "too large"),
        (vec!["--report".into(), grype.clone(), "--poll-interval".into(), "0".into()], vec![], 2, "would poll ECR without a pause"),
        (vec!["--report".into(), grype.clone()], vec![("SCAN_GATE_POLL_INTERVAL", "0ms")], 2, "without a pause"),
        // Reports that are not a report, or only part of one.
        (vec!["--report".into(), f("array.json")], vec![], 2, "expected a JSON object (a trivy, grype or ECR report), found an array"),
        (vec!["--report".into(), f("array-of-results.json")], vec![], 2, "old trivy versions wrote one"),
        (vec!["--report".into(), f("bom-array.json")], vec![], 2, "found an array"),
        (vec!["--report".into(), f("string.json")], vec![], 2, "found a string"),
        (vec!["--report".into(), f("number.json")], vec![], 2, "found a number"),
        (vec!["--report".into(), f("true.json")], vec![], 2, "found a boolean"),
        (vec!["--report".into(), f("null.json")], vec![], 2, "found null"),
        (vec!["--report".into(), f("empty.json")], vec![], 2, "`: the file is empty"),
        (vec!["--report".into(), f("blank.json")], vec![], 2, "the file is empty"),
        (vec!["--report".into(), f("bom-only.json")], vec![], 2, "the file is empty"),
        (vec!["--report".into(), f("not-json.json")], vec![], 2, "`: 2:"),
        (vec!["--report".into(), f("token.json")], vec![], 2, "holds only part of the scan's findings: it ends with the page token tok-2, so more pages exist; findingSeverityCounts says CRITICAL 3, but 0 such finding(s) were read"),
        (vec!["--report".into(), f("cli-token.json")], vec![], 2, "page token eyJuZXh0VG9rZW4iOiAiMiJ9"),
        (vec!["--report".into(), f("token-only.json")], vec![], 2, "so more pages exist"),
        (vec!["--report".into(), f("short.json")], vec![], 2, "findingSeverityCounts says CRITICAL 3, but 0 such finding(s) were read"),
        (vec!["--report".into(), f("short-one.json")], vec![], 2, "says HIGH 2, but 1 such finding(s)"),
        (vec!["--report".into(), f("short-enhanced.json")], vec![], 2, "says UNTRIAGED 4, but 1 such"),
        (vec!["--report".into(), grype.clone(), "--report".into(), f("short.json")], vec![], 2, "says CRITICAL 3"),
        // Allowlists: empty is the same error in YAML and JSON.
        (vec!["--report".into(), grype.clone(), "--allowlist".into(), f("empty.yaml")], vec![], 2, "the file is empty: expected a mapping with `allowlist:`"),
        (vec!["--report".into(), grype.clone(), "--allowlist".into(), f("blank.yaml")], vec![], 2, "the file is empty: expected a mapping with `allowlist:`"),
        (vec!["--report".into(), grype.clone(), "--allowlist".into(), f("empty-allowlist.json")], vec![], 2, "the file is empty: expected a mapping with `allowlist:`"),
        // Repositories and tags ECR would refuse, refused before ECR is asked.
        (vec!["-r".into(), "app".into(), "--tag".into(), String::new()], vec![], 2, "use --tag: it is empty"),
        (vec!["-r".into(), "app".into(), "--tag".into(), "v 1".into()], vec![], 2, "use -r app --tag v 1:"),
        (vec!["-r".into(), "app".into(), "--tag=-x".into()], vec![], 2, "tag `-x` is invalid"),
        (vec!["-r".into(), "A B".into(), "--tag".into(), "v1".into()], vec![], 2, "use -r A B --tag v1:"),
        (vec!["-r".into(), String::new(), "--tag".into(), "v1".into()], vec![], 2, "use -r REPOSITORY: it is empty"),
        (vec!["--tag".into(), "v1".into()], vec![("SCAN_GATE_REPOSITORY", "")], 2, "use -r REPOSITORY: it is empty"),
        (vec!["-r".into(), "Team/App".into(), "--digest".into(), format!("sha256:{}", "a".repeat(64))], vec![], 2, "must be lowercase"),
        // Reports of scans that had not finished fail the gate closed, saying so.
        (vec!["--report".into(), f("in-progress.json")], vec![], 1, "had not finished (status IN_PROGRESS: d), so its findings are incomplete; failing closed"),
        (vec!["--report".into(), f("pending.json")], vec![], 1, "had not finished (status PENDING: d)"),
    ];
    let outputs = ["out/scan.sarif", "out/scan.xml", "out/scan.md"];
    std::fs::create_dir_all(sb.path("out")).unwrap();
    for (args, env, code, needle) in &rows {
        let before = snapshot(sb.dir.path());
        let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let paths: Vec<String> = outputs.iter().map(|o| sb.p(o)).collect();
        argv.extend([
            "--sarif",
            &paths[0],
            "--junit",
            &paths[1],
            "--markdown",
            &paths[2],
        ]);
        let out = run(GATE, &argv, &sb.env_with(env), None);
        let what = format!("{args:?} {env:?}");
        assert_eq!(out.code, *code, "{what}: {}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{what}: expected {needle:?} in {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("internal error"),
            "{what}: {}",
            out.stderr
        );
        if *code == 2 {
            assert_eq!(
                snapshot(sb.dir.path()),
                before,
                "{what}: a refused run changed files"
            );
            assert!(out.stdout.is_empty(), "{what}: {}", out.stdout);
        }
        for o in outputs {
            let _ = std::fs::remove_file(sb.path(o));
        }
    }
}

/// ECR basic findings carry their CVSS score as text: `NaN` or `inf` there is no score (SARIF's
/// `security-severity` would read "NaN"); the severity's own score stands in, as for a missing one.
#[test]
fn a_score_that_is_not_a_number_is_no_score() {
    let sb = Scratch::offline();
    for value in ["NaN", "inf", "-Infinity"] {
        let report = sb.write(
            "ecr.json",
            &ecr_file(
                "COMPLETE",
                r#"{"HIGH": 1}"#,
                &format!(
                    r#"[{{"name": "CVE-2024-1", "severity": "HIGH", "attributes": [{{"key": "CVSS3_SCORE", "value": "{value}"}}]}}]"#
                ),
                "",
            ),
        );
        let sarif = sb.p("scan.sarif");
        let out = gate(&sb, &["--report", &report, "--sarif", &sarif, "--json"]);
        assert_eq!(out.code, 1, "{value}: {}", out.stderr);
        let g = gate_json(&out);
        assert_eq!(g.failing[0].score, None, "{value}");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
        assert_eq!(
            doc["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"], "8.0",
            "{value}"
        );
        // A score threshold alone does not fail it: it has no score.
        let out = gate(
            &sb,
            &[
                "--report",
                &report,
                "--fail-on",
                "NONE",
                "--fail-on-score",
                "0",
            ],
        );
        assert_eq!(out.code, 0, "{value}: {}", out.stderr);
    }
}

/// A UTF-8 byte order mark (PowerShell's `Out-File`, Windows editors) changes nothing: the report
/// reads as it does without one, as render-taskdef and the allowlist read theirs.
#[test]
fn a_byte_order_mark_in_a_report_changes_nothing() {
    let sb = Scratch::offline();
    for (name, path) in [
        ("trivy.json", "trivy/main-dc3c56e/alpine-39.json.golden"),
        (
            "grype.json",
            "grype/defectdojo-anchore_grype-check_all_fields.json",
        ),
        (
            "ecr.json",
            "ecr-scan/cultureamp-scan-findings-example-b.json",
        ),
    ] {
        let plain = fixture(path);
        let text = std::fs::read_to_string(&plain).unwrap();
        let bom = sb.write(name, &format!("\u{feff}{text}"));
        let a = gate(&sb, &["--report", &plain, "--json"]);
        let b = gate(&sb, &["--report", &bom, "--json"]);
        assert_eq!(a.code, b.code, "{name}: {}", b.stderr);
        let (mut a, mut b) = (common::json(&a), common::json(&b));
        for v in [&mut a, &mut b] {
            v["sources"][0]["name"] = Value::Null;
        }
        assert_eq!(a, b, "{name}");
    }
}

/// Every binary that takes a duration refuses one that does not fit (exit 2 naming the flag,
/// never a panic's exit 70 or a wrapped number), and writes nothing.
#[test]
fn durations_that_do_not_fit_are_exit_2_in_every_binary() {
    const ECR_LOGIN: &str = env!("CARGO_BIN_EXE_ecr-login");
    let sb = Scratch::offline();
    let grype = sb.write("grype.json", r#"{"matches": []}"#);
    let values = [
        "18446744073709551615s1s",
        "9223372036854775807s",
        "18446744073709551615ms1ms",
        "307445734561825861m",
        "5124095576030432h",
        "213503982334602d",
        "99999999999999999999",
        "36500d1ms",
    ];
    for value in values {
        for (program, flag, var, extra) in [
            (
                ECR_LOGIN,
                "--min-validity",
                "ECR_LOGIN_MIN_VALIDITY",
                vec![],
            ),
            (
                GATE,
                "--timeout",
                "SCAN_GATE_TIMEOUT",
                vec!["--report", grype.as_str()],
            ),
            (
                GATE,
                "--poll-interval",
                "SCAN_GATE_POLL_INTERVAL",
                vec!["--report", grype.as_str()],
            ),
        ] {
            let before = snapshot(sb.dir.path());
            let mut argv = extra.clone();
            argv.extend([flag, value]);
            let by_flag = run(program, &argv, &sb.env, None);
            let by_env = run(program, &extra, &sb.env_with(&[(var, value)]), None);
            for out in [by_flag, by_env] {
                assert_eq!(out.code, 2, "{program} {flag} {value}: {}", out.stderr);
                assert!(
                    out.stderr.contains(&format!("`{value}` is too large"))
                        && out.stderr.contains(flag),
                    "{program} {flag} {value}: {}",
                    out.stderr
                );
            }
            assert_eq!(snapshot(sb.dir.path()), before, "{program} {flag} {value}");
        }
    }
}

#[test]
fn allowlist_entries_suppress_warn_expire_and_go_stale() {
    let sb = Scratch::offline();
    let report = fixture("trivy/main-dc3c56e/alpine-39.json.golden");
    let all = trivy_set(&report);
    let ids: Vec<&str> = all.iter().map(|t| t.1.as_str()).collect();
    assert!(
        ids.contains(&"CVE-2019-1549") && ids.contains(&"CVE-2019-14697"),
        "{ids:?}"
    );
    // The default file name is picked up from the working directory… here given explicitly.
    let list = format!(
        "allowlist:\n  - id: CVE-2019-1549\n    reason: not reachable in our use of openssl\n    expires: {}\n  - id: CVE-2019-14697\n    reason: vendor fix pending\n    expires: {}\n  - id: CVE-2000-0001\n    reason: was fixed long ago\n    expires: {}\n  - id: CVE-2019-1563\n    reason: scoped to another package\n    expires: {}\n    package: not-installed\n",
        today_plus(5),
        today_plus(-1),
        today_plus(200),
        today_plus(200)
    );
    let path = sb.write(".scan-gate.yaml", &list);
    let out = gate(
        &sb,
        &[
            "--report",
            &report,
            "--allowlist",
            &path,
            "--fail-on",
            "LOW",
            "--json",
        ],
    );
    let g = gate_json(&out);
    let suppressed: BTreeSet<&str> = g.suppressed.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(suppressed, BTreeSet::from(["CVE-2019-1549"]));
    assert_eq!(
        g.counts.suppressed.values().sum::<usize>(),
        g.suppressed.len()
    );
    assert_eq!(g.allowlist.file.as_deref(), Some(path.as_str()));
    assert_eq!(
        g.suppressed[0].suppressed_by.as_ref().unwrap().expires,
        today_plus(5)
    );
    assert!(g.suppressed.iter().all(|f| {
        f.suppressed_by
            .as_ref()
            .unwrap()
            .reason
            .starts_with("not reachable")
    }));
    assert!(
        g.failing.iter().any(|f| f.id == "CVE-2019-14697"),
        "expired entries no longer suppress"
    );
    assert_eq!(
        g.allowlist
            .expired
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["CVE-2019-14697"]
    );
    assert_eq!(
        g.allowlist
            .expiring
            .iter()
            .map(|e| (e.id.as_str(), e.days_left))
            .collect::<Vec<_>>(),
        [("CVE-2019-1549", 5)]
    );
    assert_eq!(
        g.allowlist
            .stale
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["CVE-2000-0001", "CVE-2019-1563"],
        "unused and out-of-scope entries are stale"
    );
    assert!(
        out.stderr
            .contains("warning: allowlist entry CVE-2019-1549 expires on"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("warning: allowlist entry CVE-2000-0001 matched no finding"),
        "{}",
        out.stderr
    );
    // Human output lists the suppression with its reason and the expired entry.
    let out = gate(
        &sb,
        &[
            "--report",
            &report,
            "--allowlist",
            &path,
            "--fail-on",
            "LOW",
        ],
    );
    assert!(
        out.stderr.contains("suppressed by the allowlist (2)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("CVE-2019-14697 expired on"),
        "{}",
        out.stderr
    );
}

// ---- against the rig: moto's ECR API ----

/// Registers a manifest in moto's ECR (as ECR holds an image after a push) and returns its digest.
fn register(repo: &str, tag: &str, manifest: &str, media_type: &str) -> String {
    register_with(repo, tag, manifest, media_type, &[])
}

/// [`register`] with further `put-image` flags (`--image-digest`).
fn register_with(
    repo: &str,
    tag: &str,
    manifest: &str,
    media_type: &str,
    extra: &[&str],
) -> String {
    let out = common::succeed(
        std::process::Command::new(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap())
            .args([
                "ecr",
                "put-image",
                "--repository-name",
                repo,
                "--image-tag",
                tag,
                "--image-manifest",
                manifest,
            ])
            .args([
                "--image-manifest-media-type",
                media_type,
                "--output",
                "json",
            ])
            .args(extra),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    v["image"]["imageId"]["imageDigest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A small synthetic image manifest (distinct per `seed`).
fn manifest(seed: &str) -> String {
    let config = buildsteps::reference::Digest::sha256_of(seed.as_bytes()).to_string();
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100, "digest": config},
        "layers": []
    })
    .to_string()
}

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A proxy in front of moto answering `DescribeImageScanFindings` from a script; everything else
/// (`BatchGetImage`, `StartImageScan`) reaches moto.
struct Scripted {
    proxy: Proxy,
    log: PathBuf,
    sb: Scratch,
    repo: String,
    digest: String,
}

impl Scripted {
    fn new(rules: &dyn Fn(&str, &str) -> Value) -> Scripted {
        let rig = rig();
        let mut sb = Scratch::rig();
        let repo = unique("scan/scripted");
        create_repository(&repo, "MUTABLE");
        let digest = register(&repo, "v1", &manifest(&repo), DOCKER_MANIFEST);
        let script = sb.write("script.json", &rules(&repo, &digest).to_string());
        let log = sb.dir.path().join("calls.log");
        let proxy = Proxy::start(
            &rig.moto,
            &["--script", &script, "--log-file", log.to_str().unwrap()],
        );
        set(
            &mut sb.env,
            "AWS_ENDPOINT_URL_ECR",
            &format!("http://127.0.0.1:{}", proxy.port()),
        );
        Scripted {
            proxy,
            log,
            sb,
            repo,
            digest,
        }
    }

    fn gate(&self, extra: &[&str]) -> Output {
        let mut args = vec!["-r", &self.repo, "--digest", &self.digest, "--json"];
        if !extra.contains(&"--poll-interval") {
            args.extend(["--poll-interval", "50ms"]);
        }
        args.extend(extra);
        gate(&self.sb, &args)
    }

    /// The scripted calls, in order: each request body.
    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l.split_once(' ').unwrap().1).unwrap())
            .collect()
    }
}

fn answer(
    repo: &str,
    digest: &str,
    status: &str,
    findings: Value,
    counts: &Value,
    next: Option<&str>,
) -> Value {
    let mut v = json!({
        "registryId": "123456789012",
        "repositoryName": repo,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status, "description": format!("status {status}")},
        "imageScanFindings": {"findingSeverityCounts": counts.clone()}
    });
    if findings.get("enhanced").is_some() {
        v["imageScanFindings"]["enhancedFindings"] = findings["enhanced"].clone();
    } else {
        v["imageScanFindings"]["findings"] = findings;
    }
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    v
}

fn basic(id: &str, severity: &str) -> Value {
    json!({"name": id, "severity": severity, "uri": format!("https://nvd.nist.gov/vuln/detail/{id}"),
           "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "1.1"}]})
}

fn enhanced(id: &str, severity: &str) -> Value {
    json!({"findingArn": format!("arn:aws:inspector2:us-east-1:123456789012:finding/{id}"), "title": id, "status": "ACTIVE",
           "severity": severity, "score": 7.5, "fixAvailable": "YES", "type": "PACKAGE_VULNERABILITY",
           "packageVulnerabilityDetails": {"vulnerabilityId": id, "source": "NVD", "vulnerablePackages": [{"name": "curl", "version": "7.88.1", "fixedInVersion": "7.88.2"}]}})
}

fn rule(target: &str, responses: Vec<Value>, matching: Option<&str>) -> Value {
    let mut r = json!({"target": target, "responses": responses.into_iter().map(|b| json!({"status": 200, "body": b})).collect::<Vec<_>>()});
    if let Some(m) = matching {
        r["match"] = json!(m);
    }
    r
}

fn not_found() -> Value {
    json!({"status": 400, "body": {"__type": "ScanNotFoundException", "message": "Image scan does not exist for the image"}})
}

fn complete_with(repo: &str, digest: &str) -> Value {
    json!({"status": 200, "body": answer(repo, digest, "COMPLETE", json!([basic("CVE-2024-0002", "HIGH")]), &json!({"HIGH": 1}), None)})
}

/// `BatchGetRepositoryScanningConfiguration`'s answer for a repository that scans on push.
fn scans_on_push(repo: &str) -> Value {
    json!({"target": "BatchGetRepositoryScanningConfiguration", "responses": [{"status": 200, "body": {
        "scanningConfigurations": [{
            "repositoryArn": format!("arn:aws:ecr:us-east-1:123456789012:repository/{repo}"),
            "repositoryName": repo, "scanOnPush": true, "scanFrequency": "SCAN_ON_PUSH",
            "appliedScanFilters": [{"filter": "*", "filterType": "WILDCARD"}]}],
        "failures": []}}]})
}

/// Every file the gate writes is checked before the first is written: a report named as `--sarif`
/// is not replaced, `--junit` is not written when `--markdown` cannot be, and an allowlist that
/// would expand without bound or nest past the limit is exit 2 naming the limit.
#[test]
fn output_paths_and_hostile_allowlists_fail_before_anything_is_written() {
    let sb = Scratch::offline();
    let report = sb.write(
        "in.json",
        &crate::common::fixture_text("grype/defectdojo-anchore_grype-no_vuln.json"),
    );
    let original = std::fs::read(&report).unwrap();
    let out = gate(&sb, &["--report", &report, "--sarif", &report]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "write `{report}` (--sarif): it is also the input `{report}` (--report)"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&report).unwrap(), original);
    std::fs::create_dir(sb.path("adir")).unwrap();
    let junit = sb.p("junit.xml");
    let out = gate(
        &sb,
        &[
            "--report",
            &report,
            "--junit",
            &junit,
            "--markdown",
            &sb.p("adir"),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("(--markdown): it is a directory"),
        "{}",
        out.stderr
    );
    assert!(!Path::new(&junit).exists(), "--junit was not written first");
    let out = gate(
        &sb,
        &["--report", &report, "--sarif", &junit, "--junit", &junit],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--sarif names the same file"),
        "{}",
        out.stderr
    );

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    for (name, text, message) in [
        ("bomb.yaml", bomb, "aliases expand to more than 1 MiB"),
        (
            "deep.yaml",
            format!("{}x\n", "- ".repeat(20_000)),
            "nested deeper than 100 levels",
        ),
        (
            "deep.json",
            format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
            "nested deeper than 100 levels",
        ),
        (
            "dup.json",
            "{\"allowlist\": [], \"allowlist\": []}".into(),
            "duplicate key `allowlist`",
        ),
    ] {
        let allowlist = sb.write(name, &text);
        let out = gate(
            &sb,
            &[
                "--report",
                &report,
                "--allowlist",
                &allowlist,
                "--junit",
                &junit,
            ],
        );
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("read the allowlist `{allowlist}`: "))
                && out.stderr.contains(message),
            "{name}: {}",
            out.stderr
        );
        assert!(!Path::new(&junit).exists());
    }
}

/// The tests of this area that need the rig (moto, the registry, the AWS CLI in its virtualenv).
mod on_the_rig {
    use super::*;

    #[test]
    fn sarif_junit_markdown_and_github_outputs() {
        let sb = Scratch::offline();
        let report = fixture("trivy/main-42f795f/centos-7.json.golden");
        let gh_out = sb.write("gh/output", "");
        let gh_summary = sb.write("gh/summary", "");
        let mut env = sb.env.clone();
        env.extend([
            ("GITHUB_ACTIONS".to_string(), "true".to_string()),
            ("GITHUB_OUTPUT".to_string(), gh_out.clone()),
            ("GITHUB_STEP_SUMMARY".to_string(), gh_summary.clone()),
        ]);
        let out = run(
            GATE,
            &[
                "--report",
                &report,
                "--sarif",
                &sb.p("out/scan.sarif"),
                "--junit",
                &sb.p("out/junit.xml"),
                "--markdown",
                &sb.p("out/scan.md"),
                "--json",
            ],
            &env,
            None,
        );
        assert_eq!(out.code, 1);
        let g = gate_json(&out);
        assert_eq!(g.artifacts.len(), 3);
        assert!(
            out.stderr
                .contains("::error title=scan-gate failed::26 finding(s) at or above HIGH"),
            "{}",
            out.stderr
        );
        let outputs = std::fs::read_to_string(&gh_out).unwrap();
        assert!(
            outputs.contains("passed") && outputs.contains("false") && outputs.contains("failing"),
            "{outputs}"
        );
        let summary = std::fs::read_to_string(&gh_summary).unwrap();
        assert!(
            summary.starts_with("### scan-gate: ❌ failed — 26 finding(s) at or above HIGH"),
            "{summary}"
        );
        assert_eq!(
            std::fs::read_to_string(sb.p("out/scan.md"))
                .unwrap()
                .trim_end(),
            summary.trim_end()
        );

        // SARIF: valid against the OASIS 2.1.0 schema; every finding reported once, fingerprints unique.
        // The rig's virtualenv (where its AWS CLI lives) has jsonschema and the SARIF schema.
        let aws_cli = PathBuf::from(std::env::var("BUILDSTEPS_RIG_AWS_CLI").unwrap());
        let python = aws_cli.with_file_name("python");
        let check = std::process::Command::new(&python)
            .args([
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/support/validate_sarif.py"
                ),
                &sb.p("out/scan.sarif"),
            ])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "SARIF invalid: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let sarif: Value =
            serde_json::from_str(&std::fs::read_to_string(sb.p("out/scan.sarif")).unwrap())
                .unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), trivy_set(&report).len());
        let prints: BTreeSet<&str> = results
            .iter()
            .map(|r| {
                r["partialFingerprints"]["imageVulnerability/v1"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(prints.len(), results.len(), "fingerprints are unique");
        assert_eq!(results[0]["level"], "error", "most severe first");
        let rule = &sarif["runs"][0]["tool"]["driver"]["rules"]
            [usize::try_from(results[0]["ruleIndex"].as_u64().unwrap()).unwrap()];
        assert_eq!(rule["id"], results[0]["ruleId"]);
        assert!(
            rule["properties"]["security-severity"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
                >= 7.0
        );

        // JUnit: parsed back by a real XML parser; one failing testcase per failing finding.
        let parse = std::process::Command::new("python3")
            .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); cs = r.iter('testcase'); print(sum(1 for c in cs if c.find('failure') is not None), r.get('failures'))", &sb.p("out/junit.xml")])
            .output()
            .unwrap();
        assert!(
            parse.status.success(),
            "{}",
            String::from_utf8_lossy(&parse.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&parse.stdout).trim(), "26 26");

        // Same run with a passing gate: JUnit holds one passing testcase, no annotation.
        let out = run(
            GATE,
            &[
                "--report",
                &report,
                "--fail-on",
                "CRITICAL",
                "--junit",
                &sb.p("pass.xml"),
            ],
            &env,
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains("::error"), "{}", out.stderr);
        let junit = std::fs::read_to_string(sb.p("pass.xml")).unwrap();
        assert!(junit.contains("tests=\"1\" failures=\"0\""), "{junit}");
    }

    /// Push a real image, register the same manifest and digest in moto, and gate on moto's scan: its
    /// static HIGH finding fails at --fail-on HIGH and passes at CRITICAL (the second run reads the
    /// existing scan: one manual scan per image per day).
    #[test]
    fn a_pushed_image_is_gated_on_ecrs_scan_in_moto() {
        let rig = rig();
        let sb = Scratch::rig();
        let repo = unique("scan/app");
        create_repository(&repo, "MUTABLE");
        let ctx = sb.write(
            "ctx/Dockerfile",
            &format!("FROM {}\nRUN echo scanned > /scanned\n", rig.base_image),
        );
        let ctx = Path::new(&ctx).parent().unwrap().display().to_string();
        let detail = sb.p("imageDetail.json");
        let uri = format!("{}/{repo}", rig.registry);
        run(
            BUILD_PUSH,
            &[
                &ctx,
                "-r",
                &uri,
                "--latest",
                "false",
                "--image-detail",
                &detail,
            ],
            &sb.env,
            None,
        )
        .ok();
        let image_uri: Value =
            serde_json::from_str(&std::fs::read_to_string(&detail).unwrap()).unwrap();
        let image_uri = image_uri["ImageURI"].as_str().unwrap().to_string();
        let digest = image_uri.split_once('@').unwrap().1.to_string();
        // The manifest exactly as the registry holds it.
        let raw = std::process::Command::new("curl")
            .args([
                "-sSf",
                "-u",
                &rig.login(),
                "-H",
                &format!("Accept: {DOCKER_MANIFEST}"),
            ])
            .arg(format!(
                "https://{}/v2/{repo}/manifests/{digest}",
                rig.registry
            ))
            .output()
            .unwrap();
        assert!(raw.status.success());
        let registered = register_with(
            &repo,
            "built",
            &String::from_utf8(raw.stdout).unwrap(),
            DOCKER_MANIFEST,
            &["--image-digest", &digest],
        );
        assert_eq!(registered, digest, "moto holds the same digest");

        let out = gate(
            &sb,
            &["--from", &detail, "--poll-interval", "100ms", "--json"],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        assert_eq!(g.sources[0].kind, SourceKind::EcrScan);
        assert_eq!(g.sources[0].name, format!("{repo}@{digest}"));
        assert_eq!(g.sources[0].status, Some(ScanStatus::Complete));
        assert_eq!(g.failing[0].id, "CVE-9999-9999");
        assert_eq!(g.failing[0].digest.as_deref(), Some(digest.as_str()));
        assert!(
            out.stderr.contains("started a basic scan"),
            "{}",
            out.stderr
        );
        // Second run: StartImageScan would hit the daily limit; the existing scan is read. By tag too.
        let out = gate(
            &sb,
            &[
                "-r",
                &uri,
                "--tag",
                "built",
                "--fail-on",
                "CRITICAL",
                "--poll-interval",
                "100ms",
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{repo}:built is {digest}")),
            "the tag is resolved once: {}",
            out.stderr
        );
        // An image ECR does not have: one clear error.
        let out = gate(&sb, &["-r", &repo, "--tag", "nope"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("ECR has no such image"),
            "{}",
            out.stderr
        );
    }

    /// moto's own seeding API: an enhanced-scanning answer for the image.
    #[test]
    fn enhanced_findings_seeded_in_moto() {
        let rig = rig();
        let sb = Scratch::rig();
        let repo = unique("scan/enhanced");
        create_repository(&repo, "MUTABLE");
        let digest = register(&repo, "v1", &manifest(&repo), DOCKER_MANIFEST);
        let mut answer: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(
                "ecr-scan/moto-example-describe-image-scan-findings-enhanced.json",
            ))
            .unwrap(),
        )
        .unwrap();
        answer["repositoryName"] = json!(repo);
        answer["imageId"] = json!({"imageDigest": digest});
        let seeded = std::process::Command::new("curl")
            .args([
                "-sSf",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
            ])
            .arg(json!({"results": [answer], "region": "us-east-1"}).to_string())
            .arg(format!(
                "{}/moto-api/static/ecr/scan-finding-results",
                rig.moto
            ))
            .output()
            .unwrap();
        assert!(
            seeded.status.success(),
            "{}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let out = gate(
            &sb,
            &[
                "-r",
                &repo,
                "--digest",
                &digest,
                "--poll-interval",
                "100ms",
                "--map-severity",
                "UNTRIAGED=HIGH",
                "--json",
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        assert_eq!(g.sources[0].findings, 2);
        let failing: Vec<(&str, FindingSource, Option<&str>)> = g
            .failing
            .iter()
            .map(|f| (f.id.as_str(), f.source, f.package.as_deref()))
            .collect();
        assert_eq!(
            failing,
            [("CVE-2025-24528", FindingSource::EcrEnhanced, Some("krb5"))]
        );
        assert_eq!(g.counts.found.get("UNTRIAGED"), Some(&1));
    }

    #[test]
    fn in_progress_then_complete() {
        let s = Scripted::new(&|repo, digest| {
            json!([rule(
                "DescribeImageScanFindings",
                vec![
                    answer(repo, digest, "IN_PROGRESS", json!([]), &json!({}), None),
                    answer(repo, digest, "IN_PROGRESS", json!([]), &json!({}), None),
                    answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([basic("CVE-2024-0001", "CRITICAL")]),
                        &json!({"CRITICAL": 1}),
                        None
                    ),
                ],
                None
            )])
        });
        let out = s.gate(&[]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        assert_eq!(
            g.failing.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["CVE-2024-0001"]
        );
        assert_eq!(s.calls().len(), 3, "polled until COMPLETE");
        assert!(s.proxy.count() >= 4, "BatchGetImage went to moto as well");
    }

    #[test]
    fn enhanced_findings_settle_before_the_decision() {
        let s = Scripted::new(&|repo, digest| {
            let one = json!({"enhanced": [enhanced("CVE-1", "HIGH")]});
            let two = json!({"enhanced": [enhanced("CVE-1", "HIGH"), enhanced("CVE-2", "HIGH")]});
            let three = json!({"enhanced": [enhanced("CVE-1", "HIGH"), enhanced("CVE-2", "HIGH"), enhanced("CVE-3", "CRITICAL")]});
            json!([rule(
                "DescribeImageScanFindings",
                vec![
                    answer(repo, digest, "ACTIVE", one, &json!({"HIGH": 1}), None),
                    answer(repo, digest, "ACTIVE", two, &json!({"HIGH": 2}), None),
                    answer(
                        repo,
                        digest,
                        "ACTIVE",
                        three,
                        &json!({"HIGH": 2, "CRITICAL": 1}),
                        None
                    ),
                ],
                None
            )])
        });
        let out = s.gate(&["--settle-polls", "3"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        assert_eq!(g.failing.len(), 3, "the settled set, not the first answer");
        assert_eq!(g.sources[0].status, Some(ScanStatus::Active));
        assert_eq!(
            s.calls().len(),
            5,
            "1, 2, then 3 findings three times in a row"
        );
    }

    #[test]
    fn failed_and_unknown_statuses() {
        let failed = Scripted::new(&|repo, digest| {
            json!([rule(
                "DescribeImageScanFindings",
                vec![answer(repo, digest, "FAILED", json!([]), &json!({}), None)],
                None
            )])
        });
        let out = failed.gate(&[]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        assert!(!g.passed);
        assert_eq!(
            g.problems,
            [format!(
                "scan of {}@{} ended FAILED: status FAILED",
                failed.repo, failed.digest
            )]
        );
        let out = failed.gate(&["--on-scan-error", "warn"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("warning: scan of"), "{}", out.stderr);

        let unknown = Scripted::new(&|repo, digest| {
            json!([rule(
                "DescribeImageScanFindings",
                vec![answer(
                    repo,
                    digest,
                    "QUANTUM_SCANNING",
                    json!([]),
                    &json!({}),
                    None
                )],
                None
            )])
        });
        let out = unknown.gate(&["--on-scan-error", "warn"]);
        assert_eq!(
            out.code, 1,
            "an unknown status fails closed: {}",
            out.stderr
        );
        assert!(gate_json(&out).problems[0].contains("QUANTUM_SCANNING"));
    }

    #[test]
    fn every_page_is_read_and_a_repeated_token_stops_the_loop() {
        let pages = Scripted::new(&|repo, digest| {
            json!([
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([basic("CVE-P2", "HIGH")]),
                        &json!({}),
                        None
                    )],
                    Some("\"tok-2\"")
                ),
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([basic("CVE-P1", "HIGH")]),
                        &json!({"HIGH": 2}),
                        Some("tok-2")
                    )],
                    None
                ),
            ])
        });
        let g = gate_json(&pages.gate(&[]));
        assert_eq!(
            g.failing
                .iter()
                .map(|f| f.id.as_str())
                .collect::<BTreeSet<_>>(),
            BTreeSet::from(["CVE-P1", "CVE-P2"])
        );
        let tokens: Vec<Option<String>> = pages
            .calls()
            .iter()
            .map(|c| c["nextToken"].as_str().map(str::to_string))
            .collect();
        assert_eq!(tokens, [None, Some("tok-2".to_string())]);

        let repeat = Scripted::new(&|repo, digest| {
            json!([
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([basic("CVE-R2", "HIGH")]),
                        &json!({}),
                        Some("tok-A")
                    )],
                    Some("\"tok-A\"")
                ),
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([basic("CVE-R1", "HIGH")]),
                        &json!({"HIGH": 2}),
                        Some("tok-A")
                    )],
                    None
                ),
            ])
        });
        let out = repeat.gate(&[]);
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("returned the page token tok-A twice"),
            "{}",
            out.stderr
        );
        assert_eq!(
            repeat.calls().len(),
            2,
            "no third request for a token already followed"
        );
        assert_eq!(gate_json(&out).failing.len(), 2);
    }

    /// Just after a push to a repository that scans on push, the scan may not be visible yet: the gate
    /// looks twice more before starting one; and when starting one hits the daily limit, it reads the
    /// scan that exists.
    #[test]
    fn scan_on_push_races_and_the_daily_scan_limit() {
        let limit = json!({"status": 400, "body": {"__type": "LimitExceededException", "message": "The scan quota per image has been exceeded. Wait and try again."}});
        let race = Scripted::new(&|repo, digest| {
            json!([
                {"target": "DescribeImageScanFindings", "responses": [not_found(), not_found(), complete_with(repo, digest)]},
                {"target": "StartImageScan", "responses": [limit.clone()]},
                scans_on_push(repo)
            ])
        });
        let out = race.gate(&[]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(gate_json(&out).failing[0].id, "CVE-2024-0002");
        let ops = |s: &Scripted| -> Vec<String> {
            std::fs::read_to_string(&s.log)
                .unwrap()
                .lines()
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            ops(&race).iter().filter(|o| *o == "StartImageScan").count(),
            0,
            "no scan started during the race: {:?}",
            ops(&race)
        );

        let limited = Scripted::new(&|repo, digest| {
            json!([
                {"target": "DescribeImageScanFindings", "responses": [not_found(), not_found(), not_found(), complete_with(repo, digest)]},
                {"target": "StartImageScan", "responses": [limit.clone()]},
                scans_on_push(repo)
            ])
        });
        let out = limited.gate(&[]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(gate_json(&out).failing[0].id, "CVE-2024-0002");
        assert_eq!(
            ops(&limited),
            [
                "DescribeImageScanFindings",
                "BatchGetRepositoryScanningConfiguration",
                "DescribeImageScanFindings",
                "DescribeImageScanFindings",
                "StartImageScan",
                "DescribeImageScanFindings"
            ]
        );

        // A repository that does not scan by itself (moto's answer, forwarded: MANUAL): no scan is
        // coming, so the gate starts one at once — and looks again a second later, not a poll later.
        let manual = Scripted::new(&|repo, digest| {
            json!([
                {"target": "DescribeImageScanFindings", "responses": [not_found(), complete_with(repo, digest)]},
                {"target": "StartImageScan", "responses": [{"status": 200, "body": {
                    "registryId": "123456789012", "repositoryName": repo, "imageId": {"imageDigest": digest},
                    "imageScanStatus": {"status": "IN_PROGRESS"}}}]}
            ])
        });
        let out = manual.gate(&["--poll-interval", "1m", "--timeout", "30s"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(gate_json(&out).failing[0].id, "CVE-2024-0002");
        assert_eq!(
            ops(&manual),
            [
                "DescribeImageScanFindings",
                "StartImageScan",
                "DescribeImageScanFindings"
            ]
        );
    }

    #[test]
    fn a_scan_that_never_finishes_times_out_with_exit_4() {
        let s = Scripted::new(&|repo, digest| {
            json!([rule(
                "DescribeImageScanFindings",
                vec![answer(
                    repo,
                    digest,
                    "IN_PROGRESS",
                    json!([]),
                    &json!({}),
                    None
                )],
                None
            )])
        });
        let started = std::time::Instant::now();
        let out = s.gate(&["--timeout", "2s", "--poll-interval", "200ms"]);
        assert_eq!(out.code, 4, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("not finished after 2s (last status: IN_PROGRESS)"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("help: raise --timeout"),
            "{}",
            out.stderr
        );
        // The deadline is respected (generously: the failure this guards against is a 10-minute hang).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(s.calls().len() >= 3, "it polled meanwhile");
    }

    #[test]
    fn an_index_is_gated_on_each_platform_image() {
        let s = Scripted::new(&|_, _| json!([]));
        let amd = register(&s.repo, "amd64", &manifest("amd64-image"), DOCKER_MANIFEST);
        let arm = register(&s.repo, "arm64", &manifest("arm64-image"), DOCKER_MANIFEST);
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": 300, "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": 300, "platform": {"architecture": "arm64", "os": "linux"}}
            ]
        })
        .to_string();
        let index_digest = register(
            &s.repo,
            "multi",
            &index,
            "application/vnd.oci.image.index.v1+json",
        );
        // moto's default answer (after the scan we start) for each platform image.
        let out = gate(
            &s.sb,
            &[
                "-r",
                &s.repo,
                "--tag",
                "multi",
                "--poll-interval",
                "50ms",
                "--json",
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        let names: Vec<&str> = g.sources.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [format!("{}@{amd}", s.repo), format!("{}@{arm}", s.repo)]
        );
        assert!(
            out.stderr.contains(&format!(
                "{index_digest} is an index: gating its 2 platform image(s)"
            )),
            "{}",
            out.stderr
        );
    }

    /// The fail-open case: `findingSeverityCounts` say CRITICAL 3 while the first page of findings
    /// is empty and a `nextToken` says more exist. Every page is read, so the three fail the gate.
    #[test]
    fn counts_on_an_empty_first_page_are_read_to_the_last_page() {
        let s = Scripted::new(&|repo, digest| {
            let three = json!([
                basic("CVE-C1", "CRITICAL"),
                basic("CVE-C2", "CRITICAL"),
                basic("CVE-C3", "CRITICAL")
            ]);
            json!([
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        three,
                        &json!({"CRITICAL": 3}),
                        None
                    )],
                    Some("\"tok-2\"")
                ),
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([]),
                        &json!({"CRITICAL": 3}),
                        Some("tok-2")
                    )],
                    None
                ),
            ])
        });
        let out = s.gate(&[]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let g = gate_json(&out);
        assert_eq!(g.failing.len(), 3);
        assert_eq!(g.counts.found.get("CRITICAL"), Some(&3));
        assert_eq!(s.calls().len(), 2, "both pages, once");
    }

    /// When every page has been read and the findings are still short of their own counts, the
    /// answer is read again; three such reads in a row are exit 4 naming the shortfall, never a
    /// pass on what was read. A repeated page token that leaves findings unread is the same.
    #[test]
    fn findings_short_of_their_counts_fail_closed() {
        let short = Scripted::new(&|repo, digest| {
            json!([rule(
                "DescribeImageScanFindings",
                vec![answer(
                    repo,
                    digest,
                    "COMPLETE",
                    json!([basic("CVE-L1", "LOW")]),
                    &json!({"CRITICAL": 3, "LOW": 1}),
                    None
                )],
                None
            )])
        });
        let out = short.gate(&[]);
        assert_eq!(out.code, 4, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "failed to read ECR's scan of {}@{}: its answer is incomplete: findingSeverityCounts says CRITICAL 3, but 0 such finding(s) were read, in 3 reads in a row",
                short.repo, short.digest
            )),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("help: "), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "no verdict: {}", out.stdout);
        assert_eq!(short.calls().len(), 3);

        let repeated = Scripted::new(&|repo, digest| {
            json!([
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([]),
                        &json!({}),
                        Some("tok-A")
                    )],
                    Some("\"tok-A\"")
                ),
                rule(
                    "DescribeImageScanFindings",
                    vec![answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([]),
                        &json!({"HIGH": 2}),
                        Some("tok-A")
                    )],
                    None
                ),
            ])
        });
        let out = repeated.gate(&[]);
        assert_eq!(out.code, 4, "{}", out.stderr);
        assert!(
            out.stderr.contains("page token tok-A twice"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("says HIGH 2, but 0 such"),
            "{}",
            out.stderr
        );

        // The deadline still rules: a short answer until --timeout is the timeout's exit 4, with
        // the shortfall as the last status.
        let out = short.gate(&["--timeout", "0s"]);
        assert_eq!(out.code, 4, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("last status: COMPLETE, findingSeverityCounts says CRITICAL 3"),
            "{}",
            out.stderr
        );
    }

    /// A short answer that completes on the next read (a page written while it was read) is judged
    /// on the complete one.
    #[test]
    fn a_short_read_that_completes_is_judged_complete() {
        let s = Scripted::new(&|repo, digest| {
            json!([rule(
                "DescribeImageScanFindings",
                vec![
                    answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([]),
                        &json!({"CRITICAL": 1}),
                        None
                    ),
                    answer(
                        repo,
                        digest,
                        "COMPLETE",
                        json!([basic("CVE-LATE", "CRITICAL")]),
                        &json!({"CRITICAL": 1}),
                        None
                    ),
                ],
                None
            )])
        });
        let out = s.gate(&[]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(gate_json(&out).failing[0].id, "CVE-LATE");
        assert_eq!(s.calls().len(), 2);
    }
}
