//! `scan-gate`: gate the build on image-scan findings — ECR basic and enhanced scans, trivy and grype
//! reports — with one policy and CI-native reports.
//!
//! ECR: the image (a digest, or a tag resolved once to a digest; an index resolved to its platform
//! images) is gated on its digest. The scan is started when none exists (`LimitExceededException`:
//! read the existing one) — at once where the repository does not scan by itself
//! (`BatchGetRepositoryScanningConfiguration`), else after `ScanNotFoundException` was retried
//! briefly (a scan-on-push race); the wait has one deadline and jittered backoff, looking again
//! a second after starting a scan; every status is handled explicitly and an
//! unknown one fails closed; every page is read and a repeated `nextToken` stops the loop; enhanced
//! scans (`ACTIVE`) are read until the findings settle.

use crate::adapters::ecr::{Aws, Ecr, ScanPage, ScanStart};
use crate::atomic;
use crate::cli::{Context, Step};
use crate::document::Syntax;
use crate::ecr_host::EcrRegistry;
use crate::environment::Ci;
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::output::{OutputArgs, Report, github};
use crate::reference::ImageRef;
use crate::scan::outputs::{self, Counts};
use crate::scan::policy::{self, Date, EntryState, Judged, Policy};
use crate::scan::reports::{self, Kind};
use crate::scan::{Finding, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
#[allow(clippy::doc_markdown, clippy::struct_excessive_bools)]
#[derive(Debug, clap::Parser)]
#[command(name = "scan-gate", version, verbatim_doc_comment)]
pub struct ScanGate {
    /// A scanner report: trivy JSON, grype JSON or `aws ecr describe-image-scan-findings` output
    /// (detected from its content). Repeatable; combines with the ECR scan.
    #[arg(long = "report", value_name = "FILE")]
    reports: Vec<PathBuf>,

    /// Gate on ECR's scan of the image (implied by --from, --image, --digest or --tag).
    #[arg(long, env = "SCAN_GATE_ECR")]
    ecr: bool,

    /// The image's imageDetail.json (build-push's artifact): its ImageURI names repository and digest.
    #[arg(long, value_name = "PATH", env = "SCAN_GATE_FROM")]
    from: Option<PathBuf>,

    /// The image as a full URI with a digest or tag (123456789012.dkr.ecr.REGION.amazonaws.com/app@sha256:…).
    #[arg(
        long,
        value_name = "URI",
        env = "SCAN_GATE_IMAGE",
        conflicts_with = "from"
    )]
    image: Option<String>,

    /// The ECR repository: a name in your registry, or a full URI.
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "SCAN_GATE_REPOSITORY"
    )]
    repository: Option<String>,

    /// The image digest in --repository.
    #[arg(
        long,
        value_name = "sha256:…",
        env = "SCAN_GATE_DIGEST",
        requires = "repository",
        conflicts_with = "tag"
    )]
    digest: Option<String>,

    /// A tag in --repository, resolved once to a digest (the gate is on the digest).
    #[arg(
        long,
        value_name = "TAG",
        env = "SCAN_GATE_TAG",
        requires = "repository"
    )]
    tag: Option<String>,

    /// The AWS region (default: from the repository URI, else the SDK's chain).
    #[arg(long, value_name = "REGION", env = "SCAN_GATE_REGION", value_parser = crate::ecr_host::parse_region)]
    region: Option<String>,

    /// How long to wait for ECR's scan, in total.
    #[arg(long, value_name = "DURATION", env = "SCAN_GATE_TIMEOUT", default_value = "10m", value_parser = crate::time::parse_duration)]
    timeout: Duration,

    /// The first wait between polls (grows 1.5× per poll, to 30s at most, with jitter).
    #[arg(long, value_name = "DURATION", env = "SCAN_GATE_POLL_INTERVAL", default_value = "5s", value_parser = crate::time::parse_duration)]
    poll_interval: Duration,

    /// Enhanced scanning: read until this many polls in a row return the same findings.
    #[arg(long, value_name = "N", env = "SCAN_GATE_SETTLE_POLLS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    settle_polls: u32,

    /// What a scan that ended without findings does (FAILED, UNSUPPORTED_IMAGE,
    /// SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE…): fail the gate or warn. Unknown statuses always fail.
    #[arg(
        long,
        value_enum,
        value_name = "ACTION",
        env = "SCAN_GATE_ON_SCAN_ERROR",
        default_value = "fail"
    )]
    on_scan_error: OnScanError,

    /// Fail on findings at or above this severity: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, or NONE.
    #[arg(long, value_name = "SEVERITY", env = "SCAN_GATE_FAIL_ON", default_value = "HIGH", value_parser = parse_fail_on, conflicts_with = "severity")]
    fail_on: FailOn,

    /// Instead of --fail-on: fail on exactly these severities (comma-separated, as trivy's --severity).
    #[arg(
        long,
        value_name = "LIST",
        env = "SCAN_GATE_SEVERITY",
        value_delimiter = ','
    )]
    severity: Vec<String>,

    /// Also fail on findings whose CVSS or Inspector score is at or above this.
    #[arg(long, value_name = "SCORE", env = "SCAN_GATE_FAIL_ON_SCORE")]
    fail_on_score: Option<f64>,

    /// Count only findings with a fix (an unknown fix state counts as fixable).
    #[arg(long, env = "SCAN_GATE_FIXABLE_ONLY")]
    fixable_only: bool,

    /// Map an unrated severity to a level: NAME=LEVEL (e.g. UNTRIAGED=HIGH). Repeatable.
    #[arg(long = "map-severity", value_name = "NAME=LEVEL", value_parser = parse_mapping)]
    map_severity: Vec<(String, Severity)>,

    /// The allowlist file (default: .scan-gate.yaml when it exists).
    #[arg(long, value_name = "PATH", env = "SCAN_GATE_ALLOWLIST")]
    allowlist: Option<PathBuf>,

    /// Warn about allowlist entries this many days before they expire.
    #[arg(
        long,
        value_name = "DAYS",
        env = "SCAN_GATE_EXPIRY_WARNING",
        default_value_t = 14
    )]
    expiry_warning: i64,

    /// Write SARIF 2.1.0 here (GitHub code scanning).
    #[arg(long, value_name = "FILE", env = "SCAN_GATE_SARIF")]
    sarif: Option<PathBuf>,

    /// The file SARIF results point at (code scanning needs a location in the repository).
    #[arg(long, value_name = "PATH", default_value = "Dockerfile")]
    sarif_artifact: String,

    /// Write JUnit XML here (CodeBuild report groups, most CI servers).
    #[arg(long, value_name = "FILE", env = "SCAN_GATE_JUNIT")]
    junit: Option<PathBuf>,

    /// Write a Markdown summary here.
    #[arg(long, value_name = "FILE", env = "SCAN_GATE_MARKDOWN")]
    markdown: Option<PathBuf>,

    #[command(flatten)]
    output: OutputArgs,
}

/// What a scan that produced no findings does to the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnScanError {
    /// Fail the gate.
    Fail,
    /// Warn and judge the other sources.
    Warn,
}

fn parse_level(s: &str) -> Result<Severity, String> {
    match Severity::parse(s) {
        Severity::Unrated(_) => Err(format!(
            "`{s}` is not a level: CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL"
        )),
        level => Ok(level),
    }
}

/// `--fail-on`: a level, or `NONE`.
#[derive(Debug, Clone)]
struct FailOn(Option<Severity>);

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(FailOn(None));
    }
    parse_level(s).map(|l| FailOn(Some(l)))
}

fn parse_mapping(s: &str) -> Result<(String, Severity), String> {
    let (name, level) = s
        .split_once('=')
        .ok_or("expected NAME=LEVEL, e.g. UNTRIAGED=HIGH")?;
    Ok((name.trim().to_ascii_uppercase(), parse_level(level)?))
}

/// What can go wrong besides the adapters.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A report could not be read.
    #[error("read the report `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A report is not one we read.
    #[error("read the report `{}`: {reason}", path.display())]
    Report {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: reports::ReportError,
    },
    /// The allowlist is invalid.
    #[error("read the allowlist `{}`: {reason}", path.display())]
    Allowlist {
        /// The file.
        path: PathBuf,
        /// Why (names the entry).
        reason: String,
    },
    /// Flags that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// The image does not exist in ECR.
    #[error("find `{reference}` in repository {repository}: ECR has no such image")]
    NoImage {
        /// The repository.
        repository: String,
        /// The tag or digest.
        reference: String,
    },
    /// The scan did not finish in time.
    #[error(
        "wait for ECR's scan of {repository}@{digest}: not finished after {waited} (last status: {status})"
    )]
    Timeout {
        /// The repository.
        repository: String,
        /// The digest.
        digest: String,
        /// How long we waited.
        waited: String,
        /// The last status seen.
        status: String,
    },
    /// Writing a report file failed.
    #[error(transparent)]
    Write(#[from] atomic::WriteError),
}

impl Diagnostic for GateError {
    fn exit_code(&self) -> Code {
        match self {
            GateError::Timeout { .. } => Code::Remote,
            GateError::Write(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            GateError::Report { .. } => Some(
                "pass trivy's `--format json`, grype's `-o json` or `aws ecr describe-image-scan-findings` output".into(),
            ),
            GateError::Allowlist { .. } => Some(
                "each entry: `- id: CVE-…`, `reason: …`, `expires: YYYY-MM-DD` (optional: package, purl, digest)".into(),
            ),
            GateError::Timeout { .. } => Some(
                "raise --timeout, or check the repository's scanning configuration (aws ecr get-registry-scanning-configuration)".into(),
            ),
            GateError::NoImage { .. } => Some("check the tag or digest (aws ecr describe-images)".into()),
            GateError::Write(e) => e.help(),
            _ => None,
        }
    }
}

/// Where findings came from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// `trivy`, `grype`, `ecr` (a file) or `ecr-scan` (the live scan).
    pub kind: &'static str,
    /// The file, or `repository@digest`.
    pub name: String,
    /// How many findings it had.
    pub findings: usize,
    /// ECR: the scan's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The allowlist's state after the run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AllowlistReport {
    /// The file read, if any.
    pub file: Option<String>,
    /// Entries that expired (they no longer suppress).
    pub expired: Vec<EntryState>,
    /// Entries expiring within the warning window.
    pub expiring: Vec<EntryState>,
    /// Entries that matched no finding.
    pub stale: Vec<EntryState>,
}

/// The result of `scan-gate`. JSON fields (`schema_version` 1): `passed`; `gate` (the rule in words);
/// `fail_on`, `severity`, `fail_on_score`, `fixable_only`; `sources` [{kind, name, findings, status}];
/// `counts` {found, failing, suppressed} by severity; `failing` and `suppressed` (findings: id,
/// severity, package, installed, fixed, fix, score, source, target, digest, purl, url, title, level,
/// pass, `suppressed_by`); `allowlist` {file, expired, expiring, stale}; `problems` (scan statuses
/// that failed or warned); `artifacts` (files written).
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// Whether the gate passed.
    pub passed: bool,
    /// The rule, in words.
    pub gate: String,
    /// `--fail-on`.
    pub fail_on: Option<String>,
    /// `--severity`.
    pub severity: Option<Vec<String>>,
    /// `--fail-on-score`.
    pub fail_on_score: Option<f64>,
    /// `--fixable-only`.
    pub fixable_only: bool,
    /// The sources read.
    pub sources: Vec<SourceReport>,
    /// Counts by severity.
    pub counts: Counts,
    /// Findings that fail the gate.
    pub failing: Vec<Judged>,
    /// Findings the allowlist suppressed.
    pub suppressed: Vec<Judged>,
    /// The allowlist's state.
    pub allowlist: AllowlistReport,
    /// Scan problems (failed or unknown statuses).
    pub problems: Vec<String>,
    /// Files written.
    pub artifacts: Vec<String>,
    #[serde(skip)]
    human: String,
    #[serde(skip)]
    markdown: String,
}

impl Report for GateReport {
    const STEP: &'static str = "scan-gate";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        self.human.clone()
    }

    fn variables(&self) -> Vec<(String, String)> {
        vec![
            ("SCAN_GATE_PASSED".into(), self.passed.to_string()),
            ("SCAN_GATE_FAILING".into(), self.failing.len().to_string()),
            (
                "SCAN_GATE_SUPPRESSED".into(),
                self.suppressed.len().to_string(),
            ),
        ]
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        vec![
            ("passed".into(), self.passed.to_string()),
            ("failing".into(), self.failing.len().to_string()),
            ("suppressed".into(), self.suppressed.len().to_string()),
        ]
    }

    fn markdown(&self) -> Option<String> {
        Some(self.markdown.clone())
    }
}

/// A scan status that ends the wait without findings, or an unknown one.
const SCAN_ERRORS: [&str; 6] = [
    "FAILED",
    "UNSUPPORTED_IMAGE",
    "SCAN_ELIGIBILITY_EXPIRED",
    "FINDINGS_UNAVAILABLE",
    "LIMIT_EXCEEDED",
    "IMAGE_ARCHIVED",
];

impl Step for ScanGate {
    const NAME: &'static str = "scan-gate";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        // Everything local is checked before any network call.
        let policy = self.policy(&ctx)?;
        let mut findings: Vec<Finding> = Vec::new();
        let mut sources = Vec::new();
        let mut problems: Vec<(String, bool)> = Vec::new();
        self.read_reports(&ctx, &mut findings, &mut sources, &mut problems)?;
        if let Some(target) = self.ecr_target(&ctx)? {
            let (found, src, problem) = self.gate_ecr(&ctx, &target).await?;
            findings.extend(found);
            sources.extend(src);
            problems.extend(problem);
        } else if self.reports.is_empty() {
            return Err(GateError::Usage(
                "gate: nothing to read; pass --from imageDetail.json, --image URI, -r REPO --digest/--tag, or --report FILE".into(),
            )
            .into());
        }

        let verdict = policy::evaluate(&policy, findings);
        let fatal = problems.iter().any(|(_, fatal)| *fatal);
        let passed = verdict.failing().next().is_none() && !fatal;
        let gate = self.describe_gate();
        let problem_text: Vec<String> = problems.iter().map(|(p, _)| p.clone()).collect();
        warn_about(&ctx, &verdict, &problems);
        let mut artifacts = Vec::new();
        if let Some(path) = &self.sarif {
            let sarif = outputs::sarif(&verdict, &self.sarif_artifact, env!("CARGO_PKG_VERSION"));
            write_file(&ctx.env.resolve(path), sarif.as_bytes())?;
            artifacts.push(path.display().to_string());
        }
        if let Some(path) = &self.junit {
            write_file(
                &ctx.env.resolve(path),
                outputs::junit(&verdict, &gate).as_bytes(),
            )?;
            artifacts.push(path.display().to_string());
        }
        let markdown = outputs::markdown(&verdict, &gate, passed, &problem_text);
        if let Some(path) = &self.markdown {
            write_file(&ctx.env.resolve(path), markdown.as_bytes())?;
            artifacts.push(path.display().to_string());
        }
        if ctx.out.ci() == Ci::GithubActions && !passed {
            ctx.out.line(&github::command(
                "error",
                &[("title", "scan-gate failed")],
                &format!(
                    "{} finding(s) {gate}{}",
                    verdict.failing().count(),
                    if fatal {
                        "; the scan did not complete"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let report = GateReport {
            passed,
            gate: gate.clone(),
            fail_on: (self.severity.is_empty()).then(|| {
                self.fail_on
                    .0
                    .as_ref()
                    .map_or_else(|| "NONE".into(), |s| s.name().to_string())
            }),
            severity: (!self.severity.is_empty()).then(|| self.severities()),
            fail_on_score: self.fail_on_score,
            fixable_only: self.fixable_only,
            sources,
            counts: outputs::counts(&verdict),
            failing: verdict.failing().cloned().collect(),
            suppressed: verdict.suppressed().cloned().collect(),
            allowlist: AllowlistReport {
                file: self.allowlist_path(&ctx).map(|p| p.display().to_string()),
                expired: verdict.expired.clone(),
                expiring: verdict.expiring.clone(),
                stale: verdict.stale.clone(),
            },
            human: outputs::human(&verdict, &gate, passed, &problem_text),
            markdown,
            problems: problem_text,
            artifacts,
        };
        ctx.out.emit(&report)?;
        Ok(if passed { Code::Ok } else { Code::Verdict })
    }
}

/// Warnings on stderr (annotations in GitHub Actions): scan problems that do not fail the gate, and
/// allowlist entries about to expire or matching nothing.
fn warn_about(ctx: &Context, verdict: &policy::Verdict, problems: &[(String, bool)]) {
    for (p, fatal) in problems {
        if !fatal {
            ctx.out.warn(p);
        }
    }
    for e in &verdict.expiring {
        ctx.out.warn(&format!(
            "allowlist entry {} expires on {} ({} day(s) left): {}",
            e.entry.id, e.entry.expires, e.days_left, e.entry.reason
        ));
    }
    for e in &verdict.stale {
        ctx.out.warn(&format!(
            "allowlist entry {} matched no finding; remove it",
            e.entry.id
        ));
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), GateError> {
    Ok(atomic::write_creating_dirs(path, bytes, 0o644)?)
}

/// A status that is not a result: `(message, fails the gate)`. `None` for COMPLETE and ACTIVE.
fn status_problem(
    status: &str,
    description: Option<&str>,
    what: &str,
    on_error: OnScanError,
) -> Option<(String, bool)> {
    if matches!(status, "COMPLETE" | "ACTIVE") {
        return None;
    }
    let description = description.map(|d| format!(": {d}")).unwrap_or_default();
    if SCAN_ERRORS.contains(&status) {
        Some((
            format!("scan of {what} ended {status}{description}"),
            on_error == OnScanError::Fail,
        ))
    } else {
        Some((
            format!(
                "scan of {what} has status {status}{description}, which this version does not know; failing closed"
            ),
            true,
        ))
    }
}

/// The target for `image` (a full URI), which must be in a private ECR registry.
fn ecr_target_of(image: &ImageRef, reference: String, given: &str) -> Result<EcrTarget, GateError> {
    let host = EcrRegistry::private(image.registry()).ok_or_else(|| {
        GateError::Usage(format!(
            "gate on `{given}`: `{}` is not a private ECR registry; for other registries scan with trivy or grype and pass --report",
            image.registry()
        ))
    })?;
    Ok(EcrTarget {
        registry_id: Some(host.account().to_string()),
        region: Some(host.region().to_string()),
        repository: image.repository().to_string(),
        reference,
    })
}

/// The ECR image to gate on.
#[derive(Debug, Clone)]
struct EcrTarget {
    registry_id: Option<String>,
    region: Option<String>,
    repository: String,
    reference: String,
}

impl ScanGate {
    /// Reads every --report into `findings`, noting its source and any scan-status problem.
    fn read_reports(
        &self,
        ctx: &Context,
        findings: &mut Vec<Finding>,
        sources: &mut Vec<SourceReport>,
        problems: &mut Vec<(String, bool)>,
    ) -> Result<(), GateError> {
        for path in &self.reports {
            let resolved = ctx.env.resolve(path);
            let text = std::fs::read_to_string(&resolved).map_err(|source| GateError::Read {
                path: path.clone(),
                source,
            })?;
            let parsed = reports::parse(&text).map_err(|reason| GateError::Report {
                path: path.clone(),
                reason,
            })?;
            let status = parsed.status.as_ref().map(|s| s.0.clone());
            if let Some((status, description)) = &parsed.status
                && let Some(p) = status_problem(
                    status,
                    description.as_deref(),
                    &path.display().to_string(),
                    self.on_scan_error,
                )
            {
                problems.push(p);
            }
            if let Some(token) = &parsed.next_token {
                ctx.out.warn(&format!(
                    "{} ends with nextToken {token}: it holds only the first page of findings",
                    path.display()
                ));
            }
            sources.push(SourceReport {
                kind: match parsed.kind {
                    Kind::Trivy => "trivy",
                    Kind::Grype => "grype",
                    Kind::Ecr => "ecr",
                },
                name: path.display().to_string(),
                findings: parsed.findings.len(),
                status,
            });
            findings.extend(parsed.findings);
        }
        Ok(())
    }

    fn severities(&self) -> Vec<String> {
        self.severity
            .iter()
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn describe_gate(&self) -> String {
        let mut parts = Vec::new();
        if self.severity.is_empty() {
            if let Some(level) = &self.fail_on.0 {
                parts.push(format!("at or above {level}"));
            }
        } else {
            parts.push(format!("in {}", self.severities().join(",")));
        }
        if let Some(score) = self.fail_on_score {
            parts.push(format!("scored {score} or more"));
        }
        let mut s = if parts.is_empty() {
            "(no threshold)".to_string()
        } else {
            parts.join(" or ")
        };
        if self.fixable_only {
            s.push_str(", fixable");
        }
        s
    }

    fn allowlist_path(&self, ctx: &Context) -> Option<PathBuf> {
        if let Some(p) = &self.allowlist {
            return Some(p.clone());
        }
        let default = PathBuf::from(".scan-gate.yaml");
        ctx.env.resolve(&default).exists().then_some(default)
    }

    fn policy(&self, ctx: &Context) -> Result<Policy, GateError> {
        let allowlist = match self.allowlist_path(ctx) {
            Some(path) => {
                let resolved = ctx.env.resolve(&path);
                let text =
                    std::fs::read_to_string(&resolved).map_err(|e| GateError::Allowlist {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                policy::parse_allowlist(&text, Syntax::detect(&path, &text)).map_err(|e| {
                    GateError::Allowlist {
                        path: path.clone(),
                        reason: e.message,
                    }
                })?
            }
            None => Vec::new(),
        };
        let mut unrated = Policy::default_unrated();
        for (name, level) in &self.map_severity {
            unrated.insert(name.clone(), level.clone());
        }
        let severities = self.severities();
        let known = [
            "CRITICAL",
            "HIGH",
            "MEDIUM",
            "LOW",
            "INFORMATIONAL",
            "UNKNOWN",
            "UNDEFINED",
            "UNTRIAGED",
            "NEGLIGIBLE",
        ];
        if let Some(bad) = severities.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(GateError::Usage(format!(
                "use --severity {bad}: not a severity ({})",
                known.join(", ")
            )));
        }
        Ok(Policy {
            fail_on: if severities.is_empty() {
                self.fail_on.0.clone()
            } else {
                None
            },
            severities: (!severities.is_empty()).then_some(severities),
            fail_on_score: self.fail_on_score,
            fixable_only: self.fixable_only,
            unrated,
            allowlist,
            today: Date::today(),
            warn_days: self.expiry_warning,
        })
    }

    /// The ECR image from --from, --image or -r with --digest/--tag; `None` when no ECR scan is asked.
    fn ecr_target(&self, ctx: &Context) -> Result<Option<EcrTarget>, GateError> {
        let uri = if let Some(path) = &self.from {
            let (uri, _) = crate::image_detail::read(&ctx.env.resolve(path)).map_err(|reason| {
                GateError::Usage(format!("read `{}`: {reason}", path.display()))
            })?;
            Some(uri)
        } else {
            self.image.clone()
        };
        if let Some(uri) = uri {
            let image = ImageRef::parse(&uri).map_err(|e| GateError::Usage(e.to_string()))?;
            let reference = match (image.digest(), image.tag()) {
                (Some(d), _) => d.to_string(),
                (None, Some(t))
                    if uri.contains(':')
                        && uri.rsplit('/').next().is_some_and(|l| l.contains(':')) =>
                {
                    t.to_string()
                }
                _ => {
                    return Err(GateError::Usage(format!(
                        "gate on `{uri}`: name the image by digest (…@sha256:…) or tag"
                    )));
                }
            };
            return ecr_target_of(&image, reference, &uri).map(Some);
        }
        let Some(repo) = &self.repository else {
            if self.ecr {
                return Err(GateError::Usage("gate on ECR: name the image with --from, --image, or -r REPO with --digest or --tag".into()));
            }
            return Ok(None);
        };
        let reference = match (&self.digest, &self.tag) {
            (Some(d), _) => {
                d.parse::<crate::reference::Digest>()
                    .map_err(|e| GateError::Usage(e.to_string()))?;
                d.clone()
            }
            (None, Some(t)) => t.clone(),
            (None, None) => {
                return Err(GateError::Usage(format!(
                    "gate on `{repo}`: pass --digest sha256:… or --tag TAG"
                )));
            }
        };
        let first = repo.split('/').next().unwrap_or("");
        if repo.contains('/') && first.contains('.') {
            let image = ImageRef::parse(repo).map_err(|e| GateError::Usage(e.to_string()))?;
            return ecr_target_of(&image, reference, repo).map(Some);
        }
        Ok(Some(EcrTarget {
            registry_id: None,
            region: None,
            repository: repo.clone(),
            reference,
        }))
    }

    /// Resolves the image, waits for each platform image's scan, and returns the findings.
    async fn gate_ecr(
        &self,
        ctx: &Context,
        target: &EcrTarget,
    ) -> Result<(Vec<Finding>, Vec<SourceReport>, Vec<(String, bool)>), Error> {
        let region = self.region.clone().or_else(|| target.region.clone());
        let aws = Aws::load(region.as_deref(), None).await?;
        let ecr = aws.ecr(&aws.region());
        let registry = target.registry_id.as_deref();
        let image = ecr
            .image_in(registry, &target.repository, &target.reference)
            .await?
            .ok_or_else(|| GateError::NoImage {
                repository: target.repository.clone(),
                reference: target.reference.clone(),
            })?;
        if !target.reference.starts_with("sha256:") {
            ctx.out.info(&format!(
                "{}:{} is {}",
                target.repository, target.reference, image.digest
            ));
        }
        let digests =
            platform_digests(&image.manifest).unwrap_or_else(|| vec![image.digest.clone()]);
        if digests.len() > 1 || digests[0] != image.digest {
            ctx.out.info(&format!(
                "{} is an index: gating its {} platform image(s)",
                image.digest,
                digests.len()
            ));
        }
        let mut findings = Vec::new();
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        let deadline = Instant::now() + self.timeout;
        for digest in digests {
            let name = format!("{}@{digest}", target.repository);
            let scan = self
                .wait_for_scan(ctx, &ecr, registry, &target.repository, &digest, deadline)
                .await?;
            let mut found = reports::from_basic(scan.basic, Some(&digest));
            found.extend(reports::from_enhanced(scan.enhanced, Some(&digest)));
            let status = scan.status.unwrap_or_else(|| "UNKNOWN".into());
            if let Some(p) = status_problem(
                &status,
                scan.description.as_deref(),
                &name,
                self.on_scan_error,
            ) {
                problems.push(p);
            }
            sources.push(SourceReport {
                kind: "ecr-scan",
                name,
                findings: found.len(),
                status: Some(status),
            });
            findings.extend(found);
        }
        Ok((findings, sources, problems))
    }

    /// Polls until the scan is final (or settled, for enhanced scanning) or the deadline passes.
    async fn wait_for_scan(
        &self,
        ctx: &Context,
        ecr: &Ecr,
        registry: Option<&str>,
        repository: &str,
        digest: &str,
        deadline: Instant,
    ) -> Result<ScanPage, Error> {
        let started_at = Instant::now();
        let mut interval = self.poll_interval;
        let mut started = false;
        let mut not_found = 0u32;
        // Worth waiting for a scan ECR starts by itself only where it does (unknown: wait).
        let mut by_itself: Option<bool> = None;
        let mut asked = false;
        let mut last_status = "none".to_string();
        let mut settled: Option<(BTreeMap<String, i64>, BTreeSet<String>)> = None;
        let mut stable = 0u32;
        loop {
            match all_pages(ctx, ecr, registry, repository, digest).await? {
                None => {
                    last_status = "no scan".into();
                    // Just after a push a scan-on-push may not be visible yet: where the repository
                    // scans on push (or it is not known), look twice more before starting one.
                    if !asked {
                        by_itself = ecr.scans_by_itself(repository).await;
                        asked = true;
                    }
                    if !started && (not_found >= 2 || by_itself == Some(false)) {
                        let answer = ecr.start_image_scan(registry, repository, digest).await?;
                        match &answer {
                            ScanStart::Started(_) => ctx
                                .out
                                .info(&format!("started a basic scan of {repository}@{digest}")),
                            ScanStart::AlreadyScanned | ScanStart::NotYet => {}
                            ScanStart::Unsupported(message) => {
                                return Ok(ScanPage {
                                    status: Some("UNSUPPORTED_IMAGE".into()),
                                    description: Some(message.clone()),
                                    ..ScanPage::default()
                                });
                            }
                        }
                        started = answer != ScanStart::NotYet;
                        if matches!(answer, ScanStart::Started(_)) {
                            // A small image's basic scan often takes seconds: look again soon,
                            // then back off as usual.
                            interval = interval.min(Duration::from_secs(1));
                        }
                    }
                    not_found += 1;
                }
                Some(page) => {
                    let status = page.status.clone().unwrap_or_else(|| "UNKNOWN".into());
                    last_status.clone_from(&status);
                    match status.as_str() {
                        "IN_PROGRESS" | "PENDING" => {}
                        "ACTIVE" => {
                            // Enhanced scanning keeps adding findings for a while: settle first.
                            let key = (
                                page.counts.clone(),
                                page.enhanced
                                    .iter()
                                    .map(|e| {
                                        e.finding_arn
                                            .clone()
                                            .unwrap_or_else(|| format!("{:?}", e.title))
                                    })
                                    .chain(page.basic.iter().map(|b| b.name.clone()))
                                    .collect::<BTreeSet<String>>(),
                            );
                            if settled.as_ref() == Some(&key) {
                                stable += 1;
                            } else {
                                stable = 1;
                                settled = Some(key);
                            }
                            if stable >= self.settle_polls {
                                return Ok(page);
                            }
                        }
                        // COMPLETE, and every status that ends the scan (judged by the caller).
                        _ => return Ok(page),
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(GateError::Timeout {
                    repository: repository.to_string(),
                    digest: digest.to_string(),
                    waited: crate::time::human(started_at.elapsed()),
                    status: last_status,
                }
                .into());
            }
            let wait = jitter(interval).min(deadline - now);
            tokio::time::sleep(wait).await;
            interval = (interval.mul_f64(1.5)).min(Duration::from_secs(30).max(self.poll_interval));
        }
    }
}

/// Every page of findings, counts and status from the first; a repeated `nextToken` ends the loop.
async fn all_pages(
    ctx: &Context,
    ecr: &Ecr,
    registry: Option<&str>,
    repository: &str,
    digest: &str,
) -> Result<Option<ScanPage>, Error> {
    let Some(mut first) = ecr
        .image_scan_findings(registry, repository, digest, None)
        .await?
    else {
        return Ok(None);
    };
    let mut seen = BTreeSet::new();
    let mut token = first.next_token.take();
    while let Some(t) = token {
        if !seen.insert(t.clone()) {
            ctx.out.warn(&format!(
                "ECR returned the page token {t} twice for {repository}@{digest}; stopping there"
            ));
            break;
        }
        let Some(page) = ecr
            .image_scan_findings(registry, repository, digest, Some(&t))
            .await?
        else {
            break;
        };
        first.basic.extend(page.basic);
        first.enhanced.extend(page.enhanced);
        token = page.next_token;
    }
    Ok(Some(first))
}

/// ±20 % around `d`, from the clock's low bits (no randomness crate needed for spreading polls).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.8 + f64::from(nanos % 1000) / 1000.0 * 0.4;
    d.mul_f64(factor)
}

/// An index's platform image digests (attestations and unknown platforms skipped); `None` for a
/// single image.
fn platform_digests(manifest: &str) -> Option<Vec<String>> {
    let doc: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let list = doc.get("manifests")?.as_array()?;
    let digests: Vec<String> = list
        .iter()
        .filter(|m| {
            let attestation = m
                .pointer("/annotations/vnd.docker.reference.type")
                .and_then(|v| v.as_str())
                == Some("attestation-manifest");
            let unknown = m.pointer("/platform/os").and_then(|v| v.as_str()) == Some("unknown");
            !attestation && !unknown
        })
        .filter_map(|m| m.get("digest")?.as_str().map(str::to_string))
        .collect();
    Some(digests).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fail_warn_or_fail_closed() {
        assert_eq!(
            status_problem("COMPLETE", None, "x", OnScanError::Fail),
            None
        );
        assert_eq!(
            status_problem("FAILED", Some("boom"), "x", OnScanError::Warn),
            Some(("scan of x ended FAILED: boom".into(), false))
        );
        assert!(
            status_problem("FAILED", None, "x", OnScanError::Fail)
                .unwrap()
                .1
        );
        let (text, fatal) = status_problem("QUANTUM", None, "x", OnScanError::Warn).unwrap();
        assert!(fatal && text.contains("failing closed"), "{text}");
    }

    #[test]
    fn indexes_resolve_to_platform_images() {
        let index = r#"{"manifests": [
            {"digest": "sha256:aa", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:bb", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:cc", "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}"#;
        assert_eq!(platform_digests(index).unwrap(), ["sha256:aa", "sha256:bb"]);
        assert_eq!(platform_digests(r#"{"layers": []}"#), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let d = jitter(Duration::from_secs(10));
        assert!(
            d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
            "{d:?}"
        );
    }
}
