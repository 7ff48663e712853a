//! Vulnerability findings from every source — ECR basic and enhanced scans, trivy and grype reports —
//! in one model, judged by one policy, written to every report format.
//!
//! - [`reports`]: reading trivy, grype and `describe-image-scan-findings` JSON (detected from content).
//! - [`policy`]: severity threshold or set, score threshold, fixable-only, the allowlist file.
//! - [`outputs`]: the human table, SARIF 2.1.0, JUnit XML and Markdown.

pub mod outputs;
pub mod policy;
pub mod reports;

use serde::Serialize;
use std::fmt;

/// A severity, normalised across sources. `Unrated` keeps what the source said (`UNKNOWN`,
/// `UNDEFINED`, `UNTRIAGED`, `NEGLIGIBLE`…); the policy maps it to a level by an explicit rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Below every other level (ECR basic's `INFORMATIONAL`).
    Informational,
    /// `LOW`.
    Low,
    /// `MEDIUM`.
    Medium,
    /// `HIGH`.
    High,
    /// `CRITICAL`.
    Critical,
    /// No rating from the source, in upper case as it said it.
    Unrated(String),
}

impl Severity {
    /// Reads a severity in any case (`High`, `HIGH`, `Negligible`…).
    pub fn parse(s: &str) -> Severity {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" => Severity::High,
            "MEDIUM" | "MODERATE" => Severity::Medium,
            "LOW" => Severity::Low,
            "INFORMATIONAL" | "INFO" => Severity::Informational,
            "" => Severity::Unrated("UNKNOWN".into()),
            other => Severity::Unrated(other.to_string()),
        }
    }

    /// The name, in upper case (`HIGH`, or the unrated name as given).
    pub fn name(&self) -> &str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFORMATIONAL",
            Severity::Unrated(s) => s,
        }
    }

    /// The rated levels, highest first.
    pub const LEVELS: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Whether a fix exists, as the source said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    /// A fixed version exists.
    Fixed,
    /// No fix yet.
    NotFixed,
    /// The vendor will not fix it.
    WontFix,
    /// The vendor says the package is not affected (VEX `not_affected`): never counted.
    NotAffected,
    /// The source does not say. Counted as fixable: a finding is never hidden for lack of data.
    Unknown,
}

/// One vulnerability in one package of one image or report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vulnerability {
    /// `CVE-2024-1234`, `GHSA-…`.
    pub id: String,
    /// The normalised severity.
    pub severity: Severity,
    /// The affected package.
    pub package: Option<String>,
    /// The installed version.
    pub installed: Option<String>,
    /// The fixed version(s), if any.
    pub fixed: Option<String>,
    /// Whether a fix exists.
    pub fix: FixState,
    /// CVSS base score or Inspector score.
    pub score: Option<f64>,
    /// `trivy`, `grype`, `ecr-basic` or `ecr-enhanced`.
    pub source: &'static str,
    /// What was scanned: the image digest or the report's target.
    pub target: Option<String>,
    /// The image digest, when known (for allowlist scopes and fingerprints).
    pub digest: Option<String>,
    /// The package URL.
    pub purl: Option<String>,
    /// A link to the advisory.
    pub url: Option<String>,
    /// A one-line title.
    pub title: Option<String>,
}

impl Vulnerability {
    /// A finding with just an ID, a severity and a source; the rest unknown.
    pub fn new(id: impl Into<String>, severity: Severity, source: &'static str) -> Vulnerability {
        Vulnerability {
            id: id.into(),
            severity,
            package: None,
            installed: None,
            fixed: None,
            fix: FixState::Unknown,
            score: None,
            source,
            target: None,
            digest: None,
            purl: None,
            url: None,
            title: None,
        }
    }

    /// A stable identity across runs: digest (or target), ID and package.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let key = format!(
            "{}|{}|{}",
            self.digest
                .as_deref()
                .or(self.target.as_deref())
                .unwrap_or(""),
            self.id,
            self.package.as_deref().unwrap_or("")
        );
        crate::reference::hex_lower(&sha2::Sha256::digest(key.as_bytes())[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_in_any_case_and_keep_unrated_names() {
        assert_eq!(Severity::parse("High"), Severity::High);
        assert_eq!(Severity::parse("critical"), Severity::Critical);
        assert_eq!(
            Severity::parse("Negligible"),
            Severity::Unrated("NEGLIGIBLE".into())
        );
        assert_eq!(Severity::parse("UNTRIAGED").name(), "UNTRIAGED");
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Informational);
    }

    #[test]
    fn fingerprints_are_stable_and_distinguish_packages() {
        let mut a = Vulnerability::new("CVE-1", Severity::High, "trivy");
        a.package = Some("openssl".into());
        let mut b = a.clone();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.package = Some("libssl".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 32);
    }
}
