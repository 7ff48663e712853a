//! The result of `scan-gate`: [`GateReport`] and its parts, and its [`Report`] impl (the `--json`
//! object, the human table, `--format env` variables, GitHub outputs and the Markdown summary).
//! Every field is listed in `docs/json.md`, scan-gate.

use super::args::{ScanGate, SeverityName, Threshold};
use super::rules::Rules;
use super::status::{Problem, ScanStatus};
use crate::output::Report;
use crate::scan::outputs::{self, Counts};
use crate::scan::policy::{EntryState, Judged, Verdict};
use serde::Serialize;

/// What kind of source findings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A trivy JSON report (`--report`).
    Trivy,
    /// A grype JSON report (`--report`).
    Grype,
    /// A `describe-image-scan-findings` file (`--report`).
    Ecr,
    /// ECR's scan of the image, read live (`ecr-scan`).
    EcrScan,
}

/// Where findings came from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// The kind of source.
    pub kind: SourceKind,
    /// The file, or `repository@digest`.
    pub name: String,
    /// How many findings it had.
    pub findings: usize,
    /// ECR (a scan or a scan file): the scan's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ScanStatus>,
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

/// The result of `scan-gate` (`schema_version` 1): whether the gate passed, the rule, the sources
/// read, counts, the failing and suppressed findings, the allowlist's state, scan problems and the
/// files written.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// Whether the gate passed.
    pub passed: bool,
    /// The rule, in words.
    pub gate: String,
    /// `--fail-on` (absent with `--severity`).
    pub fail_on: Option<Threshold>,
    /// `--severity`, in upper case (absent without it).
    pub severity: Option<Vec<SeverityName>>,
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
    pub(crate) human: String,
    #[serde(skip)]
    pub(crate) markdown: String,
}

impl GateReport {
    /// The result of judging under `rules`; `artifacts` is filled in as the files are written.
    pub(crate) fn new(
        args: &ScanGate,
        rules: &Rules,
        verdict: &Verdict,
        sources: Vec<SourceReport>,
        problems: &[Problem],
    ) -> GateReport {
        let passed = verdict.failing().next().is_none() && !Problem::any_fatal(problems);
        let problems: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
        let gate = &rules.gate;
        GateReport {
            passed,
            gate: gate.clone(),
            fail_on: args.severity.is_empty().then_some(args.fail_on),
            severity: (!args.severity.is_empty()).then(|| rules.severities.clone()),
            fail_on_score: args.fail_on_score,
            fixable_only: args.fixable_only,
            sources,
            counts: outputs::counts(verdict),
            failing: verdict.failing().cloned().collect(),
            suppressed: verdict.suppressed().cloned().collect(),
            allowlist: AllowlistReport {
                file: rules.allowlist.as_ref().map(|p| p.display().to_string()),
                expired: verdict.expired.clone(),
                expiring: verdict.expiring.clone(),
                stale: verdict.stale.clone(),
            },
            human: outputs::human(verdict, gate, passed, &problems),
            markdown: outputs::markdown(verdict, gate, passed, &problems),
            problems,
            artifacts: Vec::new(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerated_fields_emit_the_documented_strings() {
        let kinds = [
            (SourceKind::Trivy, "trivy"),
            (SourceKind::Grype, "grype"),
            (SourceKind::Ecr, "ecr"),
            (SourceKind::EcrScan, "ecr-scan"),
        ];
        for (kind, text) in kinds {
            assert_eq!(serde_json::to_value(kind).unwrap(), text);
        }
        assert_eq!(serde_json::to_value(Threshold::None).unwrap(), "NONE");
        assert_eq!(
            serde_json::to_value(Threshold::Informational).unwrap(),
            "INFORMATIONAL"
        );
        for name in SeverityName::ALL {
            assert_eq!(serde_json::to_value(name).unwrap(), name.name());
        }
    }
}
