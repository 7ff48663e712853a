//! ECR scan statuses: which keep the gate waiting, which end a scan without findings, and what each
//! does to the gate (`--on-scan-error`; a status this version does not know fails closed).

use super::args::OnScanError;
use serde::Serialize;
use std::fmt;

/// A scan's status as ECR (or a `describe-image-scan-findings` file) spells it. Emitted in `--json`
/// exactly as read; a status this version does not know is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanStatus {
    /// `COMPLETE`: a basic scan finished; its findings are final.
    Complete,
    /// `ACTIVE`: enhanced scanning watches the image; its findings are read until they settle.
    Active,
    /// `IN_PROGRESS`: the scan runs.
    InProgress,
    /// `PENDING`: the scan waits to run.
    Pending,
    /// `FAILED`: the scan failed.
    Failed,
    /// `UNSUPPORTED_IMAGE`: ECR cannot scan this image (operating system or media type).
    UnsupportedImage,
    /// `SCAN_ELIGIBILITY_EXPIRED`: enhanced scanning no longer watches the image.
    ScanEligibilityExpired,
    /// `FINDINGS_UNAVAILABLE`: the scan's findings cannot be read.
    FindingsUnavailable,
    /// `LIMIT_EXCEEDED`: the image's scan quota is used up.
    LimitExceeded,
    /// `IMAGE_ARCHIVED`: the image is archived and not scanned.
    ImageArchived,
    /// `UNKNOWN`: ECR gave no status.
    Unknown,
    /// Any other status, as given: this version does not know it, so the gate fails closed.
    #[serde(untagged)]
    Other(String),
}

impl ScanStatus {
    /// The status for `s`, as spelt (case matters: ECR's statuses are upper case).
    pub(crate) fn parse(s: &str) -> ScanStatus {
        match s {
            "COMPLETE" => ScanStatus::Complete,
            "ACTIVE" => ScanStatus::Active,
            "IN_PROGRESS" => ScanStatus::InProgress,
            "PENDING" => ScanStatus::Pending,
            "FAILED" => ScanStatus::Failed,
            "UNSUPPORTED_IMAGE" => ScanStatus::UnsupportedImage,
            "SCAN_ELIGIBILITY_EXPIRED" => ScanStatus::ScanEligibilityExpired,
            "FINDINGS_UNAVAILABLE" => ScanStatus::FindingsUnavailable,
            "LIMIT_EXCEEDED" => ScanStatus::LimitExceeded,
            "IMAGE_ARCHIVED" => ScanStatus::ImageArchived,
            "UNKNOWN" => ScanStatus::Unknown,
            other => ScanStatus::Other(other.to_string()),
        }
    }

    /// The status from an ECR answer, `UNKNOWN` when it had none.
    pub(crate) fn of(status: Option<&str>) -> ScanStatus {
        status.map_or(ScanStatus::Unknown, ScanStatus::parse)
    }

    /// The name as ECR spells it.
    pub(crate) fn name(&self) -> &str {
        match self {
            ScanStatus::Complete => "COMPLETE",
            ScanStatus::Active => "ACTIVE",
            ScanStatus::InProgress => "IN_PROGRESS",
            ScanStatus::Pending => "PENDING",
            ScanStatus::Failed => "FAILED",
            ScanStatus::UnsupportedImage => "UNSUPPORTED_IMAGE",
            ScanStatus::ScanEligibilityExpired => "SCAN_ELIGIBILITY_EXPIRED",
            ScanStatus::FindingsUnavailable => "FINDINGS_UNAVAILABLE",
            ScanStatus::LimitExceeded => "LIMIT_EXCEEDED",
            ScanStatus::ImageArchived => "IMAGE_ARCHIVED",
            ScanStatus::Unknown => "UNKNOWN",
            ScanStatus::Other(s) => s,
        }
    }

    /// Whether the scan ended without findings (`--on-scan-error` decides what that does).
    fn ended_without_findings(&self) -> bool {
        matches!(
            self,
            ScanStatus::Failed
                | ScanStatus::UnsupportedImage
                | ScanStatus::ScanEligibilityExpired
                | ScanStatus::FindingsUnavailable
                | ScanStatus::LimitExceeded
                | ScanStatus::ImageArchived
        )
    }
}

impl fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A status that is not a result, in words, and whether it fails the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The sentence reported (`scan of app@sha256:… ended FAILED: …`).
    pub(crate) message: String,
    /// Whether it fails the gate.
    pub(crate) fatal: bool,
}

impl Problem {
    /// The problem `status` is for the scan of `what`; `None` for COMPLETE and ACTIVE.
    pub(crate) fn of(
        status: &ScanStatus,
        description: Option<&str>,
        what: &str,
        on_error: OnScanError,
    ) -> Option<Problem> {
        if matches!(status, ScanStatus::Complete | ScanStatus::Active) {
            return None;
        }
        let description = description.map(|d| format!(": {d}")).unwrap_or_default();
        Some(if status.ended_without_findings() {
            Problem {
                message: format!("scan of {what} ended {status}{description}"),
                fatal: on_error == OnScanError::Fail,
            }
        } else if matches!(status, ScanStatus::InProgress | ScanStatus::Pending) {
            // Only a report file gets here: the live wait polls on.
            Problem {
                message: format!(
                    "scan of {what} had not finished (status {status}{description}), so its findings are incomplete; failing closed"
                ),
                fatal: true,
            }
        } else if *status == ScanStatus::Unknown {
            Problem {
                message: format!(
                    "scan of {what} has no status (UNKNOWN{description}), so its findings may be incomplete; failing closed"
                ),
                fatal: true,
            }
        } else {
            Problem {
                message: format!(
                    "scan of {what} has status {status}{description}, which this version does not know; failing closed"
                ),
                fatal: true,
            }
        })
    }

    /// Whether any of `problems` fails the gate.
    pub(crate) fn any_fatal(problems: &[Problem]) -> bool {
        problems.iter().any(|p| p.fatal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: &str, description: Option<&str>, on: OnScanError) -> Option<Problem> {
        Problem::of(&ScanStatus::parse(status), description, "x", on)
    }

    #[test]
    fn statuses_fail_warn_or_fail_closed() {
        assert_eq!(problem("COMPLETE", None, OnScanError::Fail), None);
        assert_eq!(
            problem("FAILED", Some("boom"), OnScanError::Warn),
            Some(Problem {
                message: "scan of x ended FAILED: boom".into(),
                fatal: false
            })
        );
        assert!(problem("FAILED", None, OnScanError::Fail).unwrap().fatal);
        let p = problem("QUANTUM", None, OnScanError::Warn).unwrap();
        assert!(p.fatal && p.message.contains("failing closed"), "{p:?}");
        assert!(p.message.contains("does not know"), "{p:?}");
        for status in ["IN_PROGRESS", "PENDING"] {
            let p = problem(status, Some("queued"), OnScanError::Warn).unwrap();
            assert!(p.fatal, "{p:?}");
            assert_eq!(
                p.message,
                format!(
                    "scan of x had not finished (status {status}: queued), so its findings are incomplete; failing closed"
                )
            );
        }
        let p = problem("UNKNOWN", None, OnScanError::Warn).unwrap();
        assert!(p.fatal && p.message.contains("has no status"), "{p:?}");
    }

    #[test]
    fn statuses_read_back_as_spelt() {
        for s in [
            "COMPLETE",
            "SCAN_ELIGIBILITY_EXPIRED",
            "UNKNOWN",
            "complete",
            "QUANTUM",
        ] {
            let status = ScanStatus::parse(s);
            assert_eq!(status.name(), s);
            assert_eq!(serde_json::to_value(&status).unwrap(), s);
        }
        assert_eq!(ScanStatus::of(None), ScanStatus::Unknown);
    }
}
