//! The gate's reports: a table for people, SARIF 2.1.0 for code scanning, JUnit XML for test report
//! readers (CodeBuild report groups, most CI servers), Markdown for step summaries.

use super::policy::{Judged, Pass, Verdict};
use super::{FixState, Severity};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// GitHub keeps at most this many results per SARIF run; we keep the most severe.
pub const SARIF_MAX_RESULTS: usize = 5000;

/// The table's columns: the rated levels, then unrated.
const COLUMNS: [&str; 6] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNRATED",
];

fn column(s: &Severity) -> usize {
    match s {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Informational => 4,
        Severity::Unrated(_) => 5,
    }
}

/// Counts by severity (as the source rated it): found, failing, suppressed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Every finding.
    pub found: BTreeMap<String, usize>,
    /// Findings that fail the gate.
    pub failing: BTreeMap<String, usize>,
    /// Findings an allowlist entry suppressed.
    pub suppressed: BTreeMap<String, usize>,
}

/// Counts the verdict.
pub fn counts(v: &Verdict) -> Counts {
    let mut c = Counts::default();
    for j in &v.judged {
        let key = j.finding.severity.name().to_string();
        *c.found.entry(key.clone()).or_default() += 1;
        match j.pass {
            None => *c.failing.entry(key).or_default() += 1,
            Some(Pass::Allowlisted) => *c.suppressed.entry(key).or_default() += 1,
            _ => {}
        }
    }
    c
}

fn row(map: &BTreeMap<String, usize>) -> [usize; 6] {
    let mut out = [0; 6];
    for (k, n) in map {
        out[column(&Severity::parse(k))] += n;
    }
    out
}

fn versions(j: &Judged) -> String {
    let f = &j.finding;
    let installed = f.installed.as_deref().unwrap_or("?");
    match (&f.fixed, f.fix) {
        (Some(fixed), _) => format!("{installed} → {fixed}"),
        (None, FixState::WontFix) => format!("{installed} (won't fix)"),
        (None, FixState::NotFixed) => format!("{installed} (no fix)"),
        _ => installed.to_string(),
    }
}

/// The table for people (stderr).
pub fn human(v: &Verdict, gate: &str, passed: bool, problems: &[String]) -> String {
    let tally = counts(v);
    let mut s = String::new();
    let _ = write!(s, "{:<12}", "");
    for h in COLUMNS {
        let _ = write!(s, "{h:>14}");
    }
    s.push('\n');
    for (name, map) in [
        ("found", &tally.found),
        ("failing", &tally.failing),
        ("suppressed", &tally.suppressed),
    ] {
        let _ = write!(s, "{name:<12}");
        for n in row(map) {
            let _ = write!(s, "{n:>14}");
        }
        s.push('\n');
    }
    let failing: Vec<&Judged> = v.failing().collect();
    if !failing.is_empty() {
        let _ = writeln!(s, "\nfailing ({}):", failing.len());
        for j in failing.iter().take(100) {
            let f = &j.finding;
            let _ = writeln!(
                s,
                "  {:<10} {:<20} {:<28} {:<30} {}",
                j.level.name(),
                f.id,
                f.package.as_deref().unwrap_or("-"),
                versions(j),
                f.source
            );
        }
        if failing.len() > 100 {
            let _ = writeln!(
                s,
                "  … and {} more (see --json, --sarif or --junit)",
                failing.len() - 100
            );
        }
    }
    let suppressed: Vec<&Judged> = v.suppressed().collect();
    if !suppressed.is_empty() {
        let _ = writeln!(s, "\nsuppressed by the allowlist ({}):", suppressed.len());
        for j in suppressed {
            let reason = reason(j);
            let _ = writeln!(
                s,
                "  {:<10} {:<20} {:<28} {reason}",
                j.finding.severity.name(),
                j.finding.id,
                j.finding.package.as_deref().unwrap_or("-")
            );
        }
    }
    for e in &v.expired {
        let _ = writeln!(
            s,
            "allowlist: {} expired on {} and no longer suppresses ({} finding(s)); renew it with a reason or fix the finding",
            e.entry.id, e.entry.expires, e.matched
        );
    }
    for e in &v.stale {
        let _ = writeln!(s, "allowlist: {} matched no finding; remove it", e.entry.id);
    }
    for p in problems {
        let _ = writeln!(s, "{p}");
    }
    let failing_count = v.failing().count();
    let _ = writeln!(
        s,
        "\nscan-gate: {} — {failing_count} finding(s) {gate}{}",
        if passed { "PASSED" } else { "FAILED" },
        if problems.is_empty() {
            String::new()
        } else {
            format!("; {} scan problem(s)", problems.len())
        }
    );
    s
}

fn reason(j: &Judged) -> String {
    j.suppressed_by
        .as_ref()
        .map(|s| format!("{} (until {})", s.reason, s.expires))
        .unwrap_or_default()
}

fn level_for_sarif(s: &Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

fn security_severity(j: &Judged) -> f64 {
    j.finding.score.unwrap_or(match j.level {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 3.0,
        _ => 0.0,
    })
}

/// SARIF 2.1.0: one rule per vulnerability ID, one result per finding (at most 5,000, most severe
/// first), suppressed findings marked as such, `partialFingerprints` from digest + ID + package.
/// Compact JSON with a trailing newline.
pub fn sarif(v: &Verdict, artifact: &str, version: &str) -> String {
    let mut order: Vec<usize> = (0..v.judged.len())
        .filter(|i| v.judged[*i].pass != Some(Pass::NotAffected))
        .collect();
    order.sort_by(|a, b| {
        let (a, b) = (&v.judged[*a], &v.judged[*b]);
        b.level
            .cmp(&a.level)
            .then(a.pass.is_some().cmp(&b.pass.is_some()))
    });
    let dropped = order.len().saturating_sub(SARIF_MAX_RESULTS);
    order.truncate(SARIF_MAX_RESULTS);
    let mut rules: Vec<SarifRule> = Vec::new();
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut results = Vec::with_capacity(order.len());
    for i in order {
        let j = &v.judged[i];
        let f = &j.finding;
        let score = security_severity(j);
        let index = *rule_index.entry(f.id.as_str()).or_insert_with(|| {
            rules.push(sarif_rule(j, score));
            rules.len() - 1
        });
        let rule = &mut rules[index].properties;
        if score > rule.security_severity {
            rule.security_severity = score;
        }
        results.push(SarifResult {
            rule_id: &f.id,
            rule_index: index,
            level: level_for_sarif(&j.level),
            message: SarifText {
                text: format!(
                    "{} {} in {} {} ({}; found by {})",
                    j.level.name(),
                    f.id,
                    f.package.as_deref().unwrap_or("?"),
                    versions(j),
                    f.digest
                        .as_deref()
                        .or(f.target.as_deref())
                        .unwrap_or("image"),
                    f.source
                ),
            },
            locations: [SarifLocation {
                physical_location: SarifPhysical {
                    artifact_location: SarifArtifact { uri: artifact },
                    region: SarifRegion { start_line: 1 },
                },
            }],
            partial_fingerprints: SarifFingerprints {
                image_vulnerability: f.fingerprint(),
            },
            suppressions: (j.pass == Some(Pass::Allowlisted)).then(|| {
                [SarifSuppression {
                    kind: "external",
                    justification: reason(j),
                }]
            }),
        });
    }
    let log = SarifLog {
        version: "2.1.0",
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        runs: [SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "scan-gate",
                    version,
                    rules,
                },
            },
            results,
            properties: SarifRunProperties {
                omitted_results: dropped,
            },
        }],
    };
    let mut text = serde_json::to_string(&log).expect("the SARIF log serialises");
    text.push('\n');
    text
}

fn sarif_rule(j: &Judged, score: f64) -> SarifRule<'_> {
    let f = &j.finding;
    SarifRule {
        id: &f.id,
        name: "ImageVulnerability",
        short_description: SarifText {
            text: f.title.clone().unwrap_or_else(|| f.id.clone()),
        },
        help_uri: f
            .url
            .clone()
            .unwrap_or_else(|| format!("https://nvd.nist.gov/vuln/detail/{}", f.id)),
        help: SarifText {
            text: format!(
                "{} in {}",
                f.id,
                f.package.as_deref().unwrap_or("a package")
            ),
        },
        properties: SarifRuleProperties {
            security_severity: score,
            tags: ["security", "vulnerability", j.level.name()],
        },
    }
}

#[derive(serde::Serialize)]
struct SarifLog<'a> {
    version: &'static str,
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [SarifRun<'a>; 1],
}

#[derive(serde::Serialize)]
struct SarifRun<'a> {
    tool: SarifTool<'a>,
    results: Vec<SarifResult<'a>>,
    properties: SarifRunProperties,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRunProperties {
    omitted_results: usize,
}

#[derive(serde::Serialize)]
struct SarifTool<'a> {
    driver: SarifDriver<'a>,
}

#[derive(serde::Serialize)]
struct SarifDriver<'a> {
    name: &'static str,
    version: &'a str,
    rules: Vec<SarifRule<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule<'a> {
    id: &'a str,
    name: &'static str,
    short_description: SarifText,
    help_uri: String,
    help: SarifText,
    properties: SarifRuleProperties<'a>,
}

#[derive(serde::Serialize)]
struct SarifRuleProperties<'a> {
    #[serde(rename = "security-severity", serialize_with = "one_decimal")]
    security_severity: f64,
    tags: [&'a str; 3],
}

// serde's `serialize_with` passes a reference.
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's `serialize_with` passes a reference"
)]
fn one_decimal<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:.1}"))
}

#[derive(serde::Serialize)]
struct SarifText {
    text: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: SarifText,
    locations: [SarifLocation<'a>; 1],
    partial_fingerprints: SarifFingerprints,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[SarifSuppression; 1]>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation<'a> {
    physical_location: SarifPhysical<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysical<'a> {
    artifact_location: SarifArtifact<'a>,
    region: SarifRegion,
}

#[derive(serde::Serialize)]
struct SarifArtifact<'a> {
    uri: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: u32,
}

#[derive(serde::Serialize)]
struct SarifFingerprints {
    #[serde(rename = "imageVulnerability/v1")]
    image_vulnerability: String,
}

#[derive(serde::Serialize)]
struct SarifSuppression {
    kind: &'static str,
    justification: String,
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one failing testcase per failing finding, suppressed ones skipped, and one passing
/// testcase for the gate itself when nothing fails.
pub fn junit(v: &Verdict, gate: &str) -> String {
    let failing: Vec<usize> = (0..v.judged.len())
        .filter(|i| v.judged[*i].pass.is_none())
        .collect();
    let suppressed: Vec<usize> = (0..v.judged.len())
        .filter(|i| v.judged[*i].pass == Some(Pass::Allowlisted))
        .collect();
    let tests = failing.len() + suppressed.len() + usize::from(failing.is_empty());
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"scan-gate\" tests=\"{tests}\" failures=\"{}\" skipped=\"{}\">",
        failing.len(),
        suppressed.len()
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"scan-gate\" tests=\"{tests}\" failures=\"{}\" skipped=\"{}\" errors=\"0\">",
        failing.len(),
        suppressed.len()
    );
    for i in &failing {
        let j = &v.judged[*i];
        let f = &j.finding;
        let _ = writeln!(
            s,
            "    <testcase {}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
            testcase(f),
            xml(j.level.name()),
            xml(&format!("{} {} {gate}", j.level.name(), f.id)),
            xml(&format!(
                "{}\n{} {}\nsource: {}\ntarget: {}\n{}",
                f.title.as_deref().unwrap_or(&f.id),
                f.package.as_deref().unwrap_or("?"),
                versions(j),
                f.source,
                f.digest.as_deref().or(f.target.as_deref()).unwrap_or("-"),
                f.url.as_deref().unwrap_or("")
            ))
        );
    }
    for i in &suppressed {
        let f = &v.judged[*i].finding;
        let _ = writeln!(
            s,
            "    <testcase {}>\n      <skipped message=\"{}\"/>\n    </testcase>",
            testcase(f),
            xml(&format!("allowlisted: {}", reason(&v.judged[*i])))
        );
    }
    if failing.is_empty() {
        let _ = writeln!(
            s,
            "    <testcase classname=\"scan-gate\" name=\"{}\"/>",
            xml(&format!("no findings {gate}"))
        );
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

/// A testcase's `classname` and `name` attributes for a finding.
fn testcase(f: &super::Vulnerability) -> String {
    format!(
        "classname=\"{}\" name=\"{}\"",
        xml(f.package.as_deref().unwrap_or("image")),
        xml(&format!(
            "{} in {} {}",
            f.id,
            f.package.as_deref().unwrap_or("?"),
            f.installed.as_deref().unwrap_or("")
        ))
    )
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for a step summary.
pub fn markdown(v: &Verdict, gate: &str, passed: bool, problems: &[String]) -> String {
    let tally = counts(v);
    let failing = v.failing().count();
    let mut s = format!(
        "### scan-gate: {} — {failing} finding(s) {gate}\n\n| | {} |\n|---|{}\n",
        if passed { "✅ passed" } else { "❌ failed" },
        COLUMNS.join(" | "),
        "---:|".repeat(COLUMNS.len())
    );
    for (name, map) in [
        ("found", &tally.found),
        ("failing", &tally.failing),
        ("suppressed", &tally.suppressed),
    ] {
        let cells: Vec<String> = row(map).iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "| {name} | {} |", cells.join(" | "));
    }
    for p in problems {
        let _ = writeln!(s, "\n> **{}**", md(p));
    }
    if failing > 0 {
        s.push_str("\n#### Failing\n\n| severity | ID | package | version | source |\n|---|---|---|---|---|\n");
        for j in v.failing().take(50) {
            let f = &j.finding;
            let id = match &f.url {
                Some(u) => format!("[{}]({u})", md(&f.id)),
                None => md(&f.id),
            };
            let _ = writeln!(
                s,
                "| {} | {id} | {} | {} | {} |",
                j.level.name(),
                md(f.package.as_deref().unwrap_or("-")),
                md(&versions(j)),
                f.source
            );
        }
        if failing > 50 {
            let _ = writeln!(s, "\n… and {} more.", failing - 50);
        }
    }
    let suppressed: Vec<usize> = (0..v.judged.len())
        .filter(|i| v.judged[*i].pass == Some(Pass::Allowlisted))
        .collect();
    if !suppressed.is_empty() {
        s.push_str("\n#### Suppressed\n\n| ID | package | reason |\n|---|---|---|\n");
        for i in suppressed.iter().take(50) {
            let f = &v.judged[*i].finding;
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                md(&f.id),
                md(f.package.as_deref().unwrap_or("-")),
                md(&reason(&v.judged[*i]))
            );
        }
    }
    if !v.expired.is_empty() || !v.stale.is_empty() || !v.expiring.is_empty() {
        s.push_str("\n#### Allowlist\n\n");
        for e in &v.expired {
            let _ = writeln!(
                s,
                "- `{}` expired on {} — no longer suppresses",
                md(&e.entry.id),
                e.entry.expires
            );
        }
        for e in &v.expiring {
            let _ = writeln!(
                s,
                "- `{}` expires on {} ({} day(s))",
                md(&e.entry.id),
                e.entry.expires,
                e.days_left
            );
        }
        for e in &v.stale {
            let _ = writeln!(s, "- `{}` matched nothing — remove it", md(&e.entry.id));
        }
    }
    s
}
