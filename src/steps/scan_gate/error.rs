//! `scan-gate`'s errors besides the adapters': unreadable reports and allowlists, flags that do not
//! fit together, a missing image, a scan that did not finish in time.

use crate::atomic;
use crate::error::Diagnostic;
use crate::exit::Code;
use crate::scan::reports;
use std::path::PathBuf;

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
    /// An ECR report file holds only part of the scan's findings.
    #[error("read the report `{}`: it holds only part of the scan's findings: {reason}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Why: a page token left in it, or counts above the findings it holds.
        reason: String,
    },
    /// ECR's answer held fewer findings than its own counts, after every page was read.
    #[error("read ECR's scan of {repository}@{digest}: its answer is incomplete: {reason}")]
    Incomplete {
        /// The repository.
        repository: String,
        /// The digest.
        digest: String,
        /// The shortfall.
        reason: String,
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
            GateError::Timeout { .. } | GateError::Incomplete { .. } => Code::Remote,
            GateError::Write(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            GateError::Report { .. } => Some(
                "pass trivy's `--format json`, grype's `-o json` or `aws ecr describe-image-scan-findings` output".into(),
            ),
            GateError::Truncated { .. } => Some(
                "write every page: `aws ecr describe-image-scan-findings` follows nextToken itself unless --max-items or --no-paginate stops it (or gate on ECR directly: --from, --image, -r)".into(),
            ),
            GateError::Incomplete { .. } => Some(
                "run the gate again; if ECR keeps answering so, compare with `aws ecr describe-image-scan-findings` and report it to AWS".into(),
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
