//! What the gate judges: the findings, where each batch came from and the scan problems seen — read
//! here from the `--report` files, and from ECR's scan in [`super::ecr`].

use super::args::ScanGate;
use super::error::GateError;
use super::report::{SourceKind, SourceReport};
use super::status::{Problem, ScanStatus};
use crate::cli::Context;
use crate::scan::Vulnerability;
use crate::scan::reports::{self, Kind};
use std::path::Path;

/// Findings with their sources and the scan problems met on the way.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Every finding, unjudged.
    pub(crate) findings: Vec<Vulnerability>,
    /// One entry per report file or scanned digest.
    pub(crate) sources: Vec<SourceReport>,
    /// Scan statuses that failed or warned.
    pub(crate) problems: Vec<Problem>,
}

impl Gathered {
    /// Adds what `other` gathered after what this holds.
    pub(crate) fn extend(&mut self, other: Gathered) {
        self.findings.extend(other.findings);
        self.sources.extend(other.sources);
        self.problems.extend(other.problems);
    }
}

/// Reads every `--report`, noting its source and any scan-status problem.
pub(crate) fn read_reports(args: &ScanGate, ctx: &Context) -> Result<Gathered, GateError> {
    let mut gathered = Gathered::default();
    for path in &args.reports {
        read_report(args, ctx, path, &mut gathered)?;
    }
    Ok(gathered)
}

fn read_report(
    args: &ScanGate,
    ctx: &Context,
    path: &Path,
    gathered: &mut Gathered,
) -> Result<(), GateError> {
    let text = crate::input::read_to_string(&ctx.env.resolve(path), crate::input::REPORT_LIMIT)
        .map_err(|source| GateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let parsed = reports::parse(&text).map_err(|reason| GateError::Report {
        path: path.to_path_buf(),
        reason,
    })?;
    let name = path.display().to_string();
    let status = parsed.status.as_ref().map(|(s, _)| ScanStatus::parse(s));
    if let (Some(status), Some((_, description))) = (&status, &parsed.status)
        && let Some(p) = Problem::of(status, description.as_deref(), &name, args.on_scan_error)
    {
        gathered.problems.push(p);
    }
    // A truncated file fails closed: judging the findings it holds would pass those it lacks.
    let mut truncated: Vec<String> = parsed
        .next_token
        .iter()
        .map(|token| format!("it ends with the page token {token}, so more pages exist"))
        .collect();
    truncated.extend(parsed.unread.iter().map(ToString::to_string));
    if !truncated.is_empty() {
        return Err(GateError::Truncated {
            path: path.to_path_buf(),
            reason: truncated.join("; "),
        });
    }
    gathered.sources.push(SourceReport {
        kind: match parsed.kind {
            Kind::Trivy => SourceKind::Trivy,
            Kind::Grype => SourceKind::Grype,
            Kind::Ecr => SourceKind::Ecr,
        },
        name,
        findings: parsed.findings.len(),
        status,
    });
    gathered.findings.extend(parsed.findings);
    Ok(())
}
