//! `scan-gate`'s flags: the clap struct (its doc comments are `--help`), and the small value types
//! and parsers only flags use.

use crate::output::OutputArgs;
use crate::scan::Severity;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Gate the build on image-scan findings: ECR (basic and enhanced), trivy and grype, one policy.
///
///   scan-gate --from imageDetail.json                      # ECR's scan of the image build-push pushed
///   scan-gate -r app --tag latest --fail-on CRITICAL       # a tag, resolved once to its digest
///   scan-gate --report trivy.json --report grype.json --fixable-only --sarif scan.sarif
///   scan-gate --from imageDetail.json --allowlist .scan-gate.yaml --junit reports/scan.xml
///
/// Policy: a finding fails the gate when its severity is at or above --fail-on (default HIGH), or its
/// score is at or above --fail-on-score, or (with --severity) its severity is in that exact set.
/// Unrated severities map through --map-severity (defaults: NEGLIGIBLE=LOW, anything else unrated
/// — UNKNOWN, UNDEFINED, UNTRIAGED — =MEDIUM). --fixable-only drops findings the source says have no
/// fix; an unknown fix state counts as fixable. Allowlist entries (.scan-gate.yaml) need an id, a
/// reason and an expiry date; expired entries stop suppressing, unused ones are reported.
///
/// Exit codes: 0 passed · 1 the gate failed (findings, or a failed or unknown scan status) · 2 bad
/// flag, report or allowlist · 3 credentials refused · 4 ECR failed after retries, or the scan did not
/// finish before --timeout.
#[expect(
    clippy::doc_markdown,
    reason = "--help text: flag values and file names read better without backticks"
)]
#[derive(Debug, clap::Parser)]
#[command(name = "scan-gate", version, verbatim_doc_comment)]
pub struct ScanGate {
    /// A scanner report: trivy JSON, grype JSON or `aws ecr describe-image-scan-findings` output
    /// (detected from its content). Repeatable; combines with the ECR scan.
    #[arg(long = "report", value_name = "FILE")]
    pub(crate) reports: Vec<PathBuf>,

    /// Gate on ECR's scan of the image (implied by --from, --image, --digest or --tag).
    #[arg(long, env = "SCAN_GATE_ECR")]
    pub(crate) ecr: bool,

    /// The image's imageDetail.json (build-push's artifact): its ImageURI names repository and digest.
    #[arg(long, value_name = "PATH", env = "SCAN_GATE_FROM")]
    pub(crate) from: Option<PathBuf>,

    /// The image as a full URI with a digest or tag (123456789012.dkr.ecr.REGION.amazonaws.com/app@sha256:…).
    #[arg(
        long,
        value_name = "URI",
        env = "SCAN_GATE_IMAGE",
        conflicts_with = "from"
    )]
    pub(crate) image: Option<String>,

    /// The ECR repository: a name in your registry, or a full URI.
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "SCAN_GATE_REPOSITORY"
    )]
    pub(crate) repository: Option<String>,

    /// The image digest in --repository.
    #[arg(
        long,
        value_name = "sha256:…",
        env = "SCAN_GATE_DIGEST",
        requires = "repository",
        conflicts_with = "tag"
    )]
    pub(crate) digest: Option<String>,

    /// A tag in --repository, resolved once to a digest (the gate is on the digest).
    #[arg(
        long,
        value_name = "TAG",
        env = "SCAN_GATE_TAG",
        requires = "repository"
    )]
    pub(crate) tag: Option<String>,

    /// The AWS region (default: from the repository URI, else the SDK's chain).
    #[arg(long, value_name = "REGION", env = "SCAN_GATE_REGION", value_parser = crate::ecr_host::parse_region)]
    pub(crate) region: Option<String>,

    /// How long to wait for ECR's scan, in total.
    #[arg(long, value_name = "DURATION", env = "SCAN_GATE_TIMEOUT", default_value = "10m", value_parser = crate::time::parse_duration)]
    pub(crate) timeout: Duration,

    /// The first wait between polls (grows 1.5× per poll, to 30s at most, with jitter).
    #[arg(long, value_name = "DURATION", env = "SCAN_GATE_POLL_INTERVAL", default_value = "5s", value_parser = parse_interval)]
    pub(crate) poll_interval: Duration,

    /// Enhanced scanning: read until this many polls in a row return the same findings.
    #[arg(long, value_name = "N", env = "SCAN_GATE_SETTLE_POLLS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) settle_polls: u32,

    /// What a scan that ended without findings does (FAILED, UNSUPPORTED_IMAGE,
    /// SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE…): fail the gate or warn. Unknown statuses always fail.
    #[arg(
        long,
        value_enum,
        value_name = "ACTION",
        env = "SCAN_GATE_ON_SCAN_ERROR",
        default_value = "fail"
    )]
    pub(crate) on_scan_error: OnScanError,

    /// Fail on findings at or above this severity: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, or NONE.
    #[arg(long, value_name = "SEVERITY", env = "SCAN_GATE_FAIL_ON", default_value = "HIGH", value_parser = parse_fail_on, conflicts_with = "severity")]
    pub(crate) fail_on: Threshold,

    /// Instead of --fail-on: fail on exactly these severities (comma-separated, as trivy's --severity).
    #[arg(
        long,
        value_name = "LIST",
        env = "SCAN_GATE_SEVERITY",
        value_delimiter = ','
    )]
    pub(crate) severity: Vec<String>,

    /// Also fail on findings whose CVSS or Inspector score is at or above this (0 to 10).
    #[arg(long, value_name = "SCORE", env = "SCAN_GATE_FAIL_ON_SCORE", value_parser = parse_score)]
    pub(crate) fail_on_score: Option<f64>,

    /// Count only findings with a fix (an unknown fix state counts as fixable).
    #[arg(long, env = "SCAN_GATE_FIXABLE_ONLY")]
    pub(crate) fixable_only: bool,

    /// Map an unrated severity to a level: NAME=LEVEL, NAME one of UNKNOWN, UNDEFINED, UNTRIAGED,
    /// NEGLIGIBLE (e.g. UNTRIAGED=HIGH). Repeatable.
    #[arg(long = "map-severity", value_name = "NAME=LEVEL", value_parser = parse_mapping)]
    pub(crate) map_severity: Vec<(String, Severity)>,

    /// The allowlist file (default: .scan-gate.yaml when it exists).
    #[arg(long, value_name = "PATH", env = "SCAN_GATE_ALLOWLIST")]
    pub(crate) allowlist: Option<PathBuf>,

    /// Warn about allowlist entries this many days before they expire.
    #[arg(
        long,
        value_name = "DAYS",
        env = "SCAN_GATE_EXPIRY_WARNING",
        default_value_t = 14,
        value_parser = clap::value_parser!(i64).range(0..=36_500)
    )]
    pub(crate) expiry_warning: i64,

    /// Write SARIF 2.1.0 here (GitHub code scanning).
    #[arg(long, value_name = "FILE", env = "SCAN_GATE_SARIF")]
    pub(crate) sarif: Option<PathBuf>,

    /// The file SARIF results point at (code scanning needs a location in the repository).
    #[arg(long, value_name = "PATH", default_value = "Dockerfile")]
    pub(crate) sarif_artifact: String,

    /// Write JUnit XML here (CodeBuild report groups, most CI servers).
    #[arg(long, value_name = "FILE", env = "SCAN_GATE_JUNIT")]
    pub(crate) junit: Option<PathBuf>,

    /// Write a Markdown summary here.
    #[arg(long, value_name = "FILE", env = "SCAN_GATE_MARKDOWN")]
    pub(crate) markdown: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// What a scan that produced no findings does to the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnScanError {
    /// Fail the gate.
    Fail,
    /// Warn and judge the other sources.
    Warn,
}

/// `--fail-on`: a level, or `NONE` (no threshold). Emitted in `--json` as given, in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Threshold {
    /// `CRITICAL`.
    Critical,
    /// `HIGH`.
    High,
    /// `MEDIUM`.
    Medium,
    /// `LOW`.
    Low,
    /// `INFORMATIONAL`: every rated finding.
    Informational,
    /// `NONE`: no severity threshold.
    None,
}

impl Threshold {
    /// The level a finding must reach to fail the gate; `None` for `NONE`.
    pub(crate) fn level(self) -> Option<Severity> {
        match self {
            Threshold::Critical => Some(Severity::Critical),
            Threshold::High => Some(Severity::High),
            Threshold::Medium => Some(Severity::Medium),
            Threshold::Low => Some(Severity::Low),
            Threshold::Informational => Some(Severity::Informational),
            Threshold::None => None,
        }
    }
}

/// A name `--severity` accepts: a level, or an unrated severity a source may report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SeverityName {
    /// `CRITICAL`.
    Critical,
    /// `HIGH`.
    High,
    /// `MEDIUM`.
    Medium,
    /// `LOW`.
    Low,
    /// `INFORMATIONAL`.
    Informational,
    /// `UNKNOWN` (trivy, grype; a finding without a severity).
    Unknown,
    /// `UNDEFINED` (ECR basic scanning).
    Undefined,
    /// `UNTRIAGED` (ECR enhanced scanning).
    Untriaged,
    /// `NEGLIGIBLE` (grype).
    Negligible,
}

impl SeverityName {
    /// Every name, in the order errors list them.
    pub(crate) const ALL: [SeverityName; 9] = [
        SeverityName::Critical,
        SeverityName::High,
        SeverityName::Medium,
        SeverityName::Low,
        SeverityName::Informational,
        SeverityName::Unknown,
        SeverityName::Undefined,
        SeverityName::Untriaged,
        SeverityName::Negligible,
    ];

    /// The name in upper case, as sources spell it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SeverityName::Critical => "CRITICAL",
            SeverityName::High => "HIGH",
            SeverityName::Medium => "MEDIUM",
            SeverityName::Low => "LOW",
            SeverityName::Informational => "INFORMATIONAL",
            SeverityName::Unknown => "UNKNOWN",
            SeverityName::Undefined => "UNDEFINED",
            SeverityName::Untriaged => "UNTRIAGED",
            SeverityName::Negligible => "NEGLIGIBLE",
        }
    }

    /// The name for `s`, which is already in upper case; `None` when it names no severity.
    pub(crate) fn parse(s: &str) -> Option<SeverityName> {
        SeverityName::ALL.into_iter().find(|n| n.name() == s)
    }
}

fn not_a_level(s: &str) -> String {
    format!("`{s}` is not a level: CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL")
}

fn parse_level(s: &str) -> Result<Severity, String> {
    match Severity::parse(s) {
        Severity::Unrated(_) => Err(not_a_level(s)),
        level => Ok(level),
    }
}

fn parse_fail_on(s: &str) -> Result<Threshold, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Threshold::None);
    }
    match Severity::parse(s) {
        Severity::Critical => Ok(Threshold::Critical),
        Severity::High => Ok(Threshold::High),
        Severity::Medium => Ok(Threshold::Medium),
        Severity::Low => Ok(Threshold::Low),
        Severity::Informational => Ok(Threshold::Informational),
        Severity::Unrated(_) => Err(not_a_level(s)),
    }
}

/// The unrated severities `--map-severity` maps, in the order errors list them.
const UNRATED: [SeverityName; 4] = [
    SeverityName::Unknown,
    SeverityName::Undefined,
    SeverityName::Untriaged,
    SeverityName::Negligible,
];

/// `NAME=LEVEL`. A level (`HIGH=LOW`) is refused rather than ignored: levels are never remapped, so
/// such a mapping would do nothing; so is a name no source reports (a typo would do nothing too).
fn parse_mapping(s: &str) -> Result<(String, Severity), String> {
    let (name, level) = s
        .split_once('=')
        .ok_or("expected NAME=LEVEL, e.g. UNTRIAGED=HIGH")?;
    let name = name.trim().to_ascii_uppercase();
    let unrated: Vec<&str> = UNRATED.iter().map(|n| n.name()).collect();
    let unrated = unrated.join(", ");
    if let level @ (Severity::Critical
    | Severity::High
    | Severity::Medium
    | Severity::Low
    | Severity::Informational) = Severity::parse(&name)
    {
        return Err(format!(
            "`{name}` is the level {level}, which is never remapped; only unrated severities map ({unrated}); to gate on exact severities use --severity"
        ));
    }
    if !UNRATED.iter().any(|n| n.name() == name) {
        return Err(format!(
            "`{name}` is not an unrated severity a source reports ({unrated})"
        ));
    }
    Ok((name, parse_level(level)?))
}

/// `--fail-on-score`: a CVSS or Inspector score, a finite number from 0 to 10 (`NaN` would match no
/// finding, `inf` none, `11` none: each a gate that passes by accident).
fn parse_score(s: &str) -> Result<f64, String> {
    let invalid = || format!("`{s}` is not a score: use a number from 0 to 10 (CVSS, Inspector)");
    let score: f64 = s.trim().parse().map_err(|_| invalid())?;
    if score.is_finite() && (0.0..=10.0).contains(&score) {
        Ok(score)
    } else {
        Err(invalid())
    }
}

/// `--poll-interval`: a duration above zero (zero would poll ECR without pause until --timeout).
fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = crate::time::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "`{s}` would poll ECR without a pause; use at least 1ms (default 5s)"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_finite_and_from_0_to_10() {
        for good in ["0", "7", "7.5", "10", " 9.8", "1e1"] {
            assert!(parse_score(good).is_ok(), "{good}");
        }
        for bad in [
            "NaN", "nan", "inf", "-inf", "infinity", "11", "10.01", "-0.1", "", "high", "1e309",
        ] {
            let e = parse_score(bad).unwrap_err();
            assert!(e.contains("from 0 to 10"), "{bad}: {e}");
        }
    }

    #[test]
    fn only_unrated_severities_map() {
        assert_eq!(
            parse_mapping("untriaged=high").unwrap(),
            ("UNTRIAGED".to_string(), Severity::High)
        );
        assert_eq!(
            parse_mapping("NEGLIGIBLE = LOW").unwrap(),
            ("NEGLIGIBLE".to_string(), Severity::Low)
        );
        for (text, needle) in [
            (
                "HIGH=LOW",
                "`HIGH` is the level HIGH, which is never remapped",
            ),
            ("moderate=LOW", "`MODERATE` is the level MEDIUM"),
            ("INFO=HIGH", "`INFO` is the level INFORMATIONAL"),
            ("UNTRAIGED=HIGH", "`UNTRAIGED` is not an unrated severity"),
            ("=HIGH", "`` is not an unrated severity"),
            ("UNKNOWN=", "is not a level"),
            ("UNKNOWN=UNTRIAGED", "is not a level"),
            ("UNKNOWN", "expected NAME=LEVEL"),
        ] {
            let e = parse_mapping(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn a_poll_interval_is_above_zero() {
        assert!(parse_interval("0").unwrap_err().contains("without a pause"));
        assert!(parse_interval("0s0ms").is_err());
        assert_eq!(parse_interval("1ms").unwrap(), Duration::from_millis(1));
        assert!(parse_interval("36501d").unwrap_err().contains("too large"));
    }
}
