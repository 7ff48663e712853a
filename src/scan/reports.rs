//! Reading scan results into [`Vulnerability`]s: trivy JSON (`SchemaVersion` 2), grype JSON, and ECR's
//! `DescribeImageScanFindings` answer (basic and enhanced) — as a file (the AWS CLI's output) or from the
//! SDK. The kind is detected from the top-level keys, never from the file name.

use super::{FixState, Severity, Vulnerability};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::fmt;

/// What kind of report a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// trivy `--format json`.
    Trivy,
    /// grype `-o json`.
    Grype,
    /// `aws ecr describe-image-scan-findings` output.
    Ecr,
}

/// A report's findings and, for ECR, the scan status it carries.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The kind detected.
    pub kind: Kind,
    /// The findings.
    pub findings: Vec<Vulnerability>,
    /// ECR: the scan status and its description.
    pub status: Option<(String, Option<String>)>,
    /// ECR: `findingSeverityCounts`.
    pub counts: BTreeMap<String, i64>,
    /// ECR: a `nextToken` (or the AWS CLI's `NextToken`) left in the file: the findings are then
    /// only the first page.
    pub next_token: Option<String>,
    /// ECR: severities whose `findingSeverityCounts` are above the findings the file holds (the
    /// file is then truncated).
    pub unread: Vec<Shortfall>,
}

/// A severity `findingSeverityCounts` counts more findings of than were read: the answer is
/// incomplete (a page missing, a file cut short), and judging what was read would pass findings
/// nobody saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The severity, as the counts spell it.
    pub severity: String,
    /// What `findingSeverityCounts` says.
    pub counted: i64,
    /// The findings of that severity read.
    pub read: usize,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "findingSeverityCounts says {} {}, but {} such finding(s) were read",
            self.severity, self.counted, self.read
        )
    }
}

/// The severities whose counts exceed the basic and enhanced findings read (every finding counted
/// once, whatever its status, as ECR counts them; names compared as [`Severity::parse`] reads them).
pub fn shortfalls(
    counts: &BTreeMap<String, i64>,
    basic: &[EcrBasic],
    enhanced: &[EcrEnhanced],
) -> Vec<Shortfall> {
    let mut read: BTreeMap<Severity, usize> = BTreeMap::new();
    let severities = basic
        .iter()
        .map(|b| b.severity.as_deref().unwrap_or(BASIC_UNRATED))
        .chain(
            enhanced
                .iter()
                .map(|e| e.severity.as_deref().unwrap_or(ENHANCED_UNRATED)),
        );
    for s in severities {
        *read.entry(Severity::parse(s)).or_default() += 1;
    }
    counts
        .iter()
        .filter_map(|(name, &counted)| {
            let got = read.get(&Severity::parse(name)).copied().unwrap_or(0);
            (i64::try_from(got).unwrap_or(i64::MAX) < counted).then(|| Shortfall {
                severity: name.clone(),
                counted,
                read: got,
            })
        })
        .collect()
}

/// What a basic finding without a severity is.
const BASIC_UNRATED: &str = "UNDEFINED";
/// What an enhanced finding without a severity is.
const ENHANCED_UNRATED: &str = "UNTRIAGED";

/// Why a report cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not JSON.
    #[error("{line}:{column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Nothing but white space.
    #[error("the file is empty")]
    Empty,
    /// JSON, but not an object (`[]`, a string…).
    #[error("expected a JSON object (a trivy, grype or ECR report), found {found}{hint}")]
    NotAnObject {
        /// What it is: `an array`, `a string`, `a number`, `a boolean` or `null`.
        found: &'static str,
        /// More, for an array.
        hint: &'static str,
    },
    /// JSON, but none of the formats.
    #[error(
        "not a trivy (SchemaVersion + Results), grype (matches) or ECR (imageScanFindings) JSON report"
    )]
    Unknown,
}

fn json_error(e: &serde_json::Error) -> ReportError {
    let text = e.to_string();
    let message = text
        .rfind(" at line ")
        .map_or(text.clone(), |i| text[..i].to_string());
    ReportError::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

#[derive(Deserialize)]
struct Sniff {
    #[serde(rename = "SchemaVersion")]
    schema_version: Option<IgnoredAny>,
    #[serde(rename = "Results")]
    results: Option<IgnoredAny>,
    #[serde(rename = "ArtifactName")]
    artifact_name: Option<IgnoredAny>,
    matches: Option<IgnoredAny>,
    #[serde(rename = "imageScanFindings")]
    image_scan_findings: Option<IgnoredAny>,
    #[serde(rename = "imageScanStatus")]
    image_scan_status: Option<IgnoredAny>,
}

/// Detects the kind of `text` and reads its findings. A UTF-8 byte order mark is skipped (editors on
/// Windows and PowerShell's `Out-File` write one), as `document::parse` skips it.
pub fn parse(text: &str) -> Result<Parsed, ReportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.trim_start().as_bytes().first() {
        Some(b'{') => {}
        None => return Err(ReportError::Empty),
        Some(first) => {
            // Well-formed JSON of another shape is named; anything else is a syntax error with its
            // position.
            serde_json::from_str::<IgnoredAny>(text).map_err(|e| json_error(&e))?;
            let found = match first {
                b'[' => "an array",
                b'"' => "a string",
                b't' | b'f' => "a boolean",
                b'n' => "null",
                _ => "a number",
            };
            let hint = if *first == b'[' {
                " (old trivy versions wrote one; trivy's `--format json` is an object with SchemaVersion 2)"
            } else {
                ""
            };
            return Err(ReportError::NotAnObject { found, hint });
        }
    }
    let sniff: Sniff = serde_json::from_str(text).map_err(|e| json_error(&e))?;
    let kind = if sniff.image_scan_findings.is_some() || sniff.image_scan_status.is_some() {
        Kind::Ecr
    } else if sniff.matches.is_some() {
        Kind::Grype
    } else if sniff.schema_version.is_some()
        || sniff.results.is_some()
        || sniff.artifact_name.is_some()
    {
        Kind::Trivy
    } else {
        return Err(ReportError::Unknown);
    };
    match kind {
        Kind::Trivy => trivy(text),
        Kind::Grype => grype(text),
        Kind::Ecr => ecr_json(text),
    }
    .map_err(|e| json_error(&e))
}

// ---- trivy ----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyReport {
    #[serde(default)]
    artifact_name: Option<String>,
    #[serde(default)]
    metadata: Option<TrivyMetadata>,
    #[serde(default)]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
struct TrivyMetadata {
    #[serde(rename = "RepoDigests", default)]
    repo_digests: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    vulnerabilities: Option<Vec<TrivyVuln>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyVuln {
    #[serde(rename = "VulnerabilityID", default)]
    vulnerability_id: String,
    #[serde(default)]
    pkg_name: Option<String>,
    #[serde(default)]
    pkg_identifier: Option<TrivyPkgId>,
    #[serde(default)]
    installed_version: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(rename = "CVSS", default)]
    cvss: Option<BTreeMap<String, TrivyCvss>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(rename = "PrimaryURL", default)]
    primary_url: Option<String>,
}

#[derive(Deserialize)]
struct TrivyPkgId {
    #[serde(rename = "PURL", default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct TrivyCvss {
    #[serde(rename = "V3Score", default)]
    v3: Option<f64>,
    #[serde(rename = "V2Score", default)]
    v2: Option<f64>,
}

/// trivy's `Status`, or without one (reports before 2022) a non-empty `FixedVersion`.
fn trivy_fix(status: Option<&str>, fixed: Option<&str>) -> FixState {
    match status {
        Some("fixed") => FixState::Fixed,
        Some("affected" | "fix_deferred") => FixState::NotFixed,
        Some("will_not_fix" | "end_of_life") => FixState::WontFix,
        Some("not_affected") => FixState::NotAffected,
        Some(_) => FixState::Unknown,
        None if fixed.is_some_and(|f| !f.is_empty()) => FixState::Fixed,
        None => FixState::NotFixed,
    }
}

fn trivy(text: &str) -> Result<Parsed, serde_json::Error> {
    let report: TrivyReport = serde_json::from_str(text)?;
    let digest = report
        .metadata
        .and_then(|m| m.repo_digests)
        .and_then(|d| d.into_iter().next())
        .and_then(|d| d.split_once('@').map(|(_, d)| d.to_string()));
    let mut findings = Vec::new();
    for result in report.results.unwrap_or_default() {
        let target = result.target.or_else(|| report.artifact_name.clone());
        for v in result.vulnerabilities.unwrap_or_default() {
            let score = v.cvss.as_ref().and_then(|m| {
                let best =
                    |f: fn(&TrivyCvss) -> Option<f64>| m.values().filter_map(f).reduce(f64::max);
                best(|c| c.v3).or_else(|| best(|c| c.v2))
            });
            findings.push(Vulnerability {
                fix: trivy_fix(v.status.as_deref(), v.fixed_version.as_deref()),
                id: v.vulnerability_id,
                severity: Severity::parse(v.severity.as_deref().unwrap_or("UNKNOWN")),
                package: v.pkg_name,
                installed: v.installed_version,
                fixed: v.fixed_version.filter(|f| !f.is_empty()),
                score,
                source: "trivy",
                target: target.clone(),
                digest: digest.clone(),
                purl: v.pkg_identifier.and_then(|p| p.purl),
                url: v.primary_url,
                title: v.title,
            });
        }
    }
    Ok(Parsed {
        kind: Kind::Trivy,
        findings,
        status: None,
        counts: BTreeMap::new(),
        next_token: None,
        unread: Vec::new(),
    })
}

// ---- grype ----

#[derive(Deserialize)]
struct GrypeReport {
    #[serde(default)]
    matches: Vec<GrypeMatch>,
    #[serde(default)]
    source: Option<GrypeSource>,
}

#[derive(Deserialize)]
struct GrypeSource {
    #[serde(default)]
    target: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    #[serde(default)]
    artifact: Option<GrypeArtifact>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeVuln {
    #[serde(default)]
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    fix: Option<GrypeFix>,
    #[serde(default)]
    cvss: Vec<GrypeCvss>,
    #[serde(default)]
    data_source: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct GrypeCvss {
    #[serde(default)]
    metrics: Option<GrypeMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeMetrics {
    #[serde(default)]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
}

fn grype(text: &str) -> Result<Parsed, serde_json::Error> {
    let report: GrypeReport = serde_json::from_str(text)?;
    let target = report.source.and_then(|s| s.target);
    let name = target.as_ref().and_then(|t| match t {
        serde_json::Value::String(s) => Some(s.clone()),
        other => other
            .get("userInput")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    });
    let digest = target
        .as_ref()
        .and_then(|t| t.get("manifestDigest"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let findings = report
        .matches
        .into_iter()
        .map(|m| {
            let v = m.vulnerability;
            let artifact = m.artifact;
            let fix = v.fix.as_ref();
            let state = match fix.and_then(|f| f.state.as_deref()) {
                Some("fixed") => FixState::Fixed,
                Some("not-fixed") => FixState::NotFixed,
                Some("wont-fix") => FixState::WontFix,
                _ => FixState::Unknown,
            };
            let fixed = fix.map(|f| f.versions.join(", ")).filter(|s| !s.is_empty());
            Vulnerability {
                id: v.id,
                severity: Severity::parse(v.severity.as_deref().unwrap_or("Unknown")),
                package: artifact.as_ref().and_then(|a| a.name.clone()),
                installed: artifact.as_ref().and_then(|a| a.version.clone()),
                fixed,
                fix: state,
                score: v
                    .cvss
                    .iter()
                    .filter_map(|c| c.metrics.as_ref()?.base_score)
                    .reduce(f64::max),
                source: "grype",
                target: name.clone(),
                digest: digest.clone(),
                purl: artifact.and_then(|a| a.purl),
                url: v.data_source,
                title: v.description.map(|d| first_line(&d)),
            }
        })
        .collect();
    Ok(Parsed {
        kind: Kind::Grype,
        findings,
        status: None,
        counts: BTreeMap::new(),
        next_token: None,
        unread: Vec::new(),
    })
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 160 {
        format!("{}…", line.chars().take(160).collect::<String>())
    } else {
        line.to_string()
    }
}

// ---- ECR ----

/// A basic-scanning finding, as the API returns it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EcrBasic {
    /// The vulnerability ID.
    #[serde(default)]
    pub name: String,
    /// The severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// The advisory link.
    #[serde(default)]
    pub uri: Option<String>,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// `package_name`, `package_version`, `CVSS3_SCORE`…
    #[serde(default)]
    pub attributes: Vec<EcrAttribute>,
}

/// A key/value attribute of a basic finding.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EcrAttribute {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: Option<String>,
}

/// An enhanced (Inspector) finding, as the API returns it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcrEnhanced {
    /// The finding's ARN.
    #[serde(default)]
    pub finding_arn: Option<String>,
    /// The title.
    #[serde(default)]
    pub title: Option<String>,
    /// `ACTIVE`, `SUPPRESSED` or `CLOSED`.
    #[serde(default)]
    pub status: Option<String>,
    /// The severity (`UNTRIAGED` possible).
    #[serde(default)]
    pub severity: Option<String>,
    /// `YES`, `NO` or `PARTIAL`.
    #[serde(default)]
    pub fix_available: Option<String>,
    /// The Inspector score.
    #[serde(default)]
    pub score: Option<f64>,
    /// The vulnerability and its packages.
    #[serde(default)]
    pub package_vulnerability_details: Option<EcrPackageDetails>,
}

/// `packageVulnerabilityDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcrPackageDetails {
    /// The CVE or advisory ID.
    #[serde(default)]
    pub vulnerability_id: Option<String>,
    /// The advisory link.
    #[serde(default)]
    pub source_url: Option<String>,
    /// The affected packages.
    #[serde(default)]
    pub vulnerable_packages: Vec<EcrPackage>,
}

/// One vulnerable package.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcrPackage {
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// The fixed version, or `NotAvailable`.
    #[serde(default)]
    pub fixed_in_version: Option<String>,
}

/// Basic findings as [`Vulnerability`]s.
pub fn from_basic(items: Vec<EcrBasic>, digest: Option<&str>) -> Vec<Vulnerability> {
    items
        .into_iter()
        .map(|b| {
            let attr = |k: &str| {
                b.attributes
                    .iter()
                    .find(|a| a.key == k)
                    .and_then(|a| a.value.clone())
            };
            // The attribute is text: `NaN` or `inf` would parse, and match no score threshold.
            let score = ["CVSS3_SCORE", "CVSS2_SCORE"].iter().find_map(|k| {
                attr(k)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|s| s.is_finite())
            });
            Vulnerability {
                package: attr("package_name"),
                installed: attr("package_version"),
                score,
                severity: Severity::parse(b.severity.as_deref().unwrap_or(BASIC_UNRATED)),
                id: b.name,
                fixed: None,
                fix: FixState::Unknown,
                source: "ecr-basic",
                target: digest.map(str::to_string),
                digest: digest.map(str::to_string),
                purl: None,
                url: b.uri,
                title: b.description.map(|d| first_line(&d)),
            }
        })
        .collect()
}

/// Enhanced findings as [`Vulnerability`]s: one per vulnerable package; only `ACTIVE` ones (Inspector's
/// `SUPPRESSED` and `CLOSED` are its own verdicts).
pub fn from_enhanced(items: Vec<EcrEnhanced>, digest: Option<&str>) -> Vec<Vulnerability> {
    let mut out = Vec::new();
    for e in items {
        if e.status.as_deref().is_some_and(|s| s != "ACTIVE") {
            continue;
        }
        let details = e.package_vulnerability_details.unwrap_or_default();
        let id = details
            .vulnerability_id
            .clone()
            .or_else(|| e.title.clone())
            .or(e.finding_arn.clone())
            .unwrap_or_default();
        let packages = if details.vulnerable_packages.is_empty() {
            vec![EcrPackage::default()]
        } else {
            details.vulnerable_packages
        };
        for p in packages {
            let fixed = p
                .fixed_in_version
                .filter(|f| !f.is_empty() && f != "NotAvailable");
            let fix = match (e.fix_available.as_deref(), &fixed) {
                (_, Some(_)) | (Some("YES" | "PARTIAL"), _) => FixState::Fixed,
                (Some("NO"), None) => FixState::NotFixed,
                _ => FixState::Unknown,
            };
            out.push(Vulnerability {
                id: id.clone(),
                severity: Severity::parse(e.severity.as_deref().unwrap_or(ENHANCED_UNRATED)),
                package: p.name,
                installed: p.version,
                fixed,
                fix,
                score: e.score,
                source: "ecr-enhanced",
                target: digest.map(str::to_string),
                digest: digest.map(str::to_string),
                purl: None,
                url: details.source_url.clone(),
                title: e.title.clone(),
            });
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcrAnswer {
    #[serde(default)]
    image_id: Option<EcrImageId>,
    #[serde(default)]
    image_scan_status: Option<EcrStatus>,
    #[serde(default)]
    image_scan_findings: Option<EcrFindings>,
    #[serde(default)]
    next_token: Option<String>,
    /// The AWS CLI's own pagination token (`--max-items`).
    #[serde(rename = "NextToken", default)]
    cli_next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcrImageId {
    #[serde(default)]
    image_digest: Option<String>,
}

#[derive(Deserialize)]
struct EcrStatus {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcrFindings {
    #[serde(default)]
    findings: Vec<EcrBasic>,
    #[serde(default)]
    enhanced_findings: Vec<EcrEnhanced>,
    #[serde(default)]
    finding_severity_counts: BTreeMap<String, i64>,
}

fn ecr_json(text: &str) -> Result<Parsed, serde_json::Error> {
    let answer: EcrAnswer = serde_json::from_str(text)?;
    let digest = answer.image_id.and_then(|i| i.image_digest);
    let found = answer.image_scan_findings.unwrap_or(EcrFindings {
        findings: Vec::new(),
        enhanced_findings: Vec::new(),
        finding_severity_counts: BTreeMap::new(),
    });
    let unread = shortfalls(
        &found.finding_severity_counts,
        &found.findings,
        &found.enhanced_findings,
    );
    let mut findings = from_basic(found.findings, digest.as_deref());
    findings.extend(from_enhanced(found.enhanced_findings, digest.as_deref()));
    Ok(Parsed {
        kind: Kind::Ecr,
        findings,
        status: answer
            .image_scan_status
            .and_then(|s| Some((s.status?, s.description))),
        counts: found.finding_severity_counts,
        next_token: answer.next_token.or(answer.cli_next_token),
        unread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn kinds_are_detected_from_content() {
        let trivy = parse(&fixture("trivy/main-dc3c56e/centos-7.json.golden")).unwrap();
        assert_eq!((trivy.kind, trivy.findings.len()), (Kind::Trivy, 3));
        let first = &trivy.findings[0];
        assert_eq!(
            (
                first.id.as_str(),
                first.package.as_deref(),
                first.fix,
                first.score
            ),
            ("CVE-2019-18276", Some("bash"), FixState::WontFix, Some(7.8))
        );
        let grype = parse(&fixture(
            "grype/defectdojo-anchore_grype-check_all_fields.json",
        ))
        .unwrap();
        assert_eq!((grype.kind, grype.findings.len()), (Kind::Grype, 6));
        assert_eq!(
            grype.findings[0].severity,
            Severity::Unrated("NEGLIGIBLE".into())
        );
        let ecr = parse(&fixture("ecr-scan/cultureamp-scan-findings-example-b.json")).unwrap();
        assert_eq!((ecr.kind, ecr.findings.len()), (Kind::Ecr, 257));
        assert_eq!(ecr.status.as_ref().unwrap().0, "COMPLETE");
        let enhanced = parse(&fixture(
            "ecr-scan/moto-example-describe-image-scan-findings-enhanced.json",
        ))
        .unwrap();
        assert_eq!(enhanced.findings.len(), 2);
        assert_eq!(
            enhanced.findings[1].severity,
            Severity::Unrated("UNTRIAGED".into())
        );
        assert_eq!(
            enhanced.findings[0].fix,
            FixState::NotFixed,
            "fixedInVersion NotAvailable, fixAvailable NO"
        );
    }

    #[test]
    fn errors_have_positions_and_unknown_shapes_are_named() {
        assert!(matches!(
            parse("{\n  \"a\": }"),
            Err(ReportError::Json { line: 2, .. })
        ));
        assert_eq!(parse("{\"foo\": 1}").unwrap_err(), ReportError::Unknown);
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_other_shapes_are_named() {
        let bom = format!(
            "\u{feff}{}",
            fixture("ecr-scan/awscli-example-describe-image-scan-findings-basic.json")
        );
        assert_eq!(parse(&bom).unwrap().findings.len(), 1);
        assert_eq!(
            parse("\u{feff}{\"matches\": []}").unwrap().kind,
            Kind::Grype
        );
        for (text, found) in [
            ("[]", "an array"),
            (" [{\"Target\": \"x\"}]\n", "an array"),
            ("\"trivy\"", "a string"),
            ("42", "a number"),
            ("-1", "a number"),
            ("true", "a boolean"),
            ("null", "null"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(e, ReportError::NotAnObject { found: f, .. } if f == found),
                "{text}: {e}"
            );
            assert!(!e.to_string().contains("Sniff"), "{text}: {e}");
        }
        assert!(parse("[]").unwrap_err().to_string().contains("old trivy"));
        for empty in ["", " \n\t", "\u{feff}", "\u{feff}\n"] {
            assert_eq!(parse(empty).unwrap_err(), ReportError::Empty, "{empty:?}");
        }
        assert!(matches!(
            parse("[1,"),
            Err(ReportError::Json { line: 1, .. })
        ));
        assert!(matches!(
            parse("\u{feff}{\n  \"matches\": ]\n}"),
            Err(ReportError::Json { line: 2, .. })
        ));
    }

    #[test]
    fn truncated_ecr_answers_are_detected() {
        let complete = fixture("ecr-scan/cultureamp-scan-findings-example-b.json");
        let parsed = parse(&complete).unwrap();
        assert_eq!((parsed.next_token, parsed.unread), (None, vec![]));

        let page = |extra: &str, counts: &str, findings: &str| {
            format!(
                r#"{{"imageScanStatus": {{"status": "COMPLETE"}}, "imageScanFindings": {{"findingSeverityCounts": {counts}, "findings": {findings}}}{extra}}}"#
            )
        };
        let empty_page = page(r#", "nextToken": "tok""#, r#"{"CRITICAL": 3}"#, "[]");
        let parsed = parse(&empty_page).unwrap();
        assert_eq!(parsed.next_token.as_deref(), Some("tok"));
        assert_eq!(
            parsed.unread,
            [Shortfall {
                severity: "CRITICAL".into(),
                counted: 3,
                read: 0
            }]
        );
        assert_eq!(
            parsed.unread[0].to_string(),
            "findingSeverityCounts says CRITICAL 3, but 0 such finding(s) were read"
        );
        // The AWS CLI's own token (--max-items).
        let cli = page(r#", "NextToken": "eyJ9""#, "{}", "[]");
        assert_eq!(parse(&cli).unwrap().next_token.as_deref(), Some("eyJ9"));
        // Counts are per severity, names as Severity::parse reads them; more read than counted is
        // fine, and a finding without a severity counts as UNDEFINED.
        let mixed = page(
            "",
            r#"{"critical": 1, "HIGH": 2, "UNDEFINED": 1}"#,
            r#"[{"name": "A", "severity": "CRITICAL"}, {"name": "B", "severity": "HIGH"}, {"name": "C"}, {"name": "D", "severity": "LOW"}]"#,
        );
        let unread = parse(&mixed).unwrap().unread;
        assert_eq!(
            unread,
            [Shortfall {
                severity: "HIGH".into(),
                counted: 2,
                read: 1
            }]
        );
        let enhanced = fixture("ecr-scan/moto-example-describe-image-scan-findings-enhanced.json");
        assert!(parse(&enhanced).unwrap().unread.is_empty());
        let shifted = enhanced.replace("\"UNTRIAGED\": 1", "\"UNTRIAGED\": 2");
        assert_eq!(parse(&shifted).unwrap().unread.len(), 1);
    }

    #[test]
    fn scores_that_are_not_numbers_are_dropped() {
        let with = |score: &str| EcrBasic {
            name: "CVE-1".into(),
            severity: Some("LOW".into()),
            attributes: vec![EcrAttribute {
                key: "CVSS3_SCORE".into(),
                value: Some(score.into()),
            }],
            ..EcrBasic::default()
        };
        for bad in ["NaN", "inf", "-infinity", "x"] {
            assert_eq!(from_basic(vec![with(bad)], None)[0].score, None, "{bad}");
        }
        assert_eq!(from_basic(vec![with("9.8")], None)[0].score, Some(9.8));
    }

    #[test]
    fn trivy_fix_states() {
        assert_eq!(trivy_fix(Some("affected"), None), FixState::NotFixed);
        assert_eq!(
            trivy_fix(Some("under_investigation"), None),
            FixState::Unknown
        );
        assert_eq!(trivy_fix(None, Some("1.2")), FixState::Fixed);
        assert_eq!(trivy_fix(None, Some("")), FixState::NotFixed);
        assert_eq!(trivy_fix(Some("not_affected"), None), FixState::NotAffected);
    }
}
