//! The gate: which findings fail the build.
//!
//! A finding is *in scope* when its severity is at or above `--fail-on` (default HIGH), or its score
//! is at or above `--fail-on-score`, or — with `--severity` — its severity is in that exact set (trivy's
//! `--severity`). Unrated severities map to a level first (`--map-severity NAME=LEVEL`; defaults:
//! NEGLIGIBLE→LOW, UNKNOWN/UNDEFINED/UNTRIAGED and anything else unrated→MEDIUM). `--fixable-only`
//! drops findings the source says have no fix (an unknown fix state counts as fixable); a vendor's
//! `not_affected` never counts. An in-scope finding matched by a live allowlist entry is suppressed;
//! every other in-scope finding fails the gate.
//!
//! The allowlist (`.scan-gate.yaml`):
//!
//! ```yaml
//! allowlist:
//!   - id: CVE-2023-1234              # required
//!     reason: not reachable from our code   # required
//!     expires: 2027-01-31            # required, YYYY-MM-DD; suppresses through that day
//!     package: libxml2               # optional scope
//!     purl: pkg:deb/debian/libxml2   # optional scope (prefix of the finding's purl)
//!     digest: sha256:…               # optional scope (one image)
//! ```
//!
//! Entries within `--expiry-warning` days of expiry warn; expired entries no longer suppress and are
//! listed; entries that matched no finding are reported as stale.

use super::{FixState, Severity, Vulnerability};
use crate::document::{self, Syntax};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A calendar date (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    days: i64,
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&m) || d == 0 || d > month_days[(m - 1) as usize] {
            return None;
        }
        Some(Date {
            days: days_from_civil(y, m, d),
        })
    }

    /// Today, in UTC.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date {
            days: i64::try_from(secs / 86_400).unwrap_or(0),
        }
    }

    /// The date `days` later (earlier when negative).
    #[must_use]
    pub fn plus_days(self, days: i64) -> Date {
        Date {
            days: self.days + days,
        }
    }

    /// Days from `self` to `other` (negative when `other` is earlier).
    pub fn days_until(self, other: Date) -> i64 {
        other.days - self.days
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The vulnerability ID it suppresses.
    pub id: String,
    /// Why (required).
    pub reason: String,
    /// The last day it suppresses.
    pub expires: Date,
    /// Only this package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Only packages whose purl starts with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Only this image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Entry {
    fn matches(&self, f: &Vulnerability) -> bool {
        self.id.eq_ignore_ascii_case(&f.id)
            && self
                .package
                .as_ref()
                .is_none_or(|p| f.package.as_ref() == Some(p))
            && self
                .purl
                .as_ref()
                .is_none_or(|p| f.purl.as_ref().is_some_and(|fp| fp.starts_with(p.as_str())))
            && self
                .digest
                .as_ref()
                .is_none_or(|d| f.digest.as_ref() == Some(d))
    }
}

/// The allowlist file is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AllowlistError {
    /// What is wrong, naming the entry.
    pub message: String,
}

const ENTRY_KEYS: [&str; 6] = ["id", "reason", "expires", "package", "purl", "digest"];

/// Parses an allowlist file (YAML or JSON). An empty file is the same error in both syntaxes.
pub fn parse_allowlist(text: &str, syntax: Syntax) -> Result<Vec<Entry>, AllowlistError> {
    let err = |message: String| AllowlistError { message };
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        return Err(err(
            "the file is empty: expected a mapping with `allowlist:` (a list of entries; `allowlist: []` for none)".into(),
        ));
    }
    let doc = document::parse(text, syntax).map_err(|e| err(e.to_string()))?;
    let Some(map) = doc.as_object() else {
        return Err(err(
            "expected a mapping with `allowlist:` (a list of entries)".into(),
        ));
    };
    for key in map.keys() {
        if key != "allowlist" && key != "version" {
            return Err(err(format!(
                "unknown top-level key `{key}` (expected `allowlist`)"
            )));
        }
    }
    let Some(items) = map.get("allowlist") else {
        return Ok(Vec::new());
    };
    let Some(items) = items.as_array() else {
        return Err(err("`allowlist` must be a list of entries".into()));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| entry(i, item))
        .collect()
}

fn entry(i: usize, item: &Value) -> Result<Entry, AllowlistError> {
    let id = item.get("id").and_then(Value::as_str);
    let name = format!("allowlist entry {} ({})", i + 1, id.unwrap_or("no id"));
    let err = |what: String| AllowlistError {
        message: format!("{name}: {what}"),
    };
    let Some(map) = item.as_object() else {
        return Err(err("expected a mapping with id, reason and expires".into()));
    };
    for key in map.keys() {
        if !ENTRY_KEYS.contains(&key.as_str()) {
            return Err(err(format!(
                "unknown key `{key}` (keys: {})",
                ENTRY_KEYS.join(", ")
            )));
        }
    }
    let text = |key: &str| -> Result<Option<String>, AllowlistError> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(err(format!("`{key}` must be non-empty text"))),
        }
    };
    let id = text("id")?.ok_or_else(|| err("`id` is required".into()))?;
    let reason = text("reason")?
        .ok_or_else(|| err("`reason` is required: say why this finding is accepted".into()))?;
    let expires_text = text("expires")?
        .ok_or_else(|| err("`expires` is required (YYYY-MM-DD): every exception ends".into()))?;
    let expires = Date::parse(&expires_text).ok_or_else(|| {
        err(format!(
            "`expires: {expires_text}` is not a date (YYYY-MM-DD)"
        ))
    })?;
    Ok(Entry {
        id,
        reason,
        expires,
        package: text("package")?,
        purl: text("purl")?,
        digest: text("digest")?,
    })
}

/// The policy's settings.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Fail on findings at or above this level (`None`: not by severity).
    pub fail_on: Option<Severity>,
    /// Instead of `fail_on`: fail on exactly these severity names.
    pub severities: Option<Vec<String>>,
    /// Also fail on findings whose score is at or above this.
    pub fail_on_score: Option<f64>,
    /// Only findings with a fix (or unknown fix state) count.
    pub fixable_only: bool,
    /// Unrated name → level.
    pub unrated: BTreeMap<String, Severity>,
    /// The allowlist.
    pub allowlist: Vec<Entry>,
    /// Today, for expiries.
    pub today: Date,
    /// Warn this many days before an entry expires.
    pub warn_days: i64,
}

impl Policy {
    /// The default mapping for unrated severities.
    pub fn default_unrated() -> BTreeMap<String, Severity> {
        BTreeMap::from([("NEGLIGIBLE".to_string(), Severity::Low)])
    }

    /// The level a severity counts as.
    pub fn level(&self, s: &Severity) -> Severity {
        match s {
            Severity::Unrated(name) => self.unrated.get(name).cloned().unwrap_or(Severity::Medium),
            other => other.clone(),
        }
    }
}

/// Why a finding does not fail the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pass {
    /// Below the threshold (or outside the severity set).
    BelowThreshold,
    /// `--fixable-only` and the source says there is no fix.
    NotFixable,
    /// The vendor says it does not apply.
    NotAffected,
    /// An allowlist entry suppresses it.
    Allowlisted,
}

/// A finding and the gate's decision.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The finding.
    #[serde(flatten)]
    pub finding: Vulnerability,
    /// The level it counts as (unrated severities mapped).
    pub level: Severity,
    /// `None`: it fails the gate.
    pub pass: Option<Pass>,
    /// The allowlist entry that suppresses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<Suppression>,
}

/// Which allowlist entry suppressed a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppression {
    /// The entry's reason.
    pub reason: String,
    /// Its expiry.
    pub expires: Date,
}

/// An allowlist entry's state after the run.
#[derive(Debug, Clone, Serialize)]
pub struct EntryState {
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// Findings it matched.
    pub matched: usize,
    /// Days left (negative: expired).
    pub days_left: i64,
}

/// The gate's decision on every finding.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Every finding, judged, failing ones first (then by level, highest first).
    pub judged: Vec<Judged>,
    /// Entries that have expired (and no longer suppress).
    pub expired: Vec<EntryState>,
    /// Entries within the warning window.
    pub expiring: Vec<EntryState>,
    /// Entries that matched no finding.
    pub stale: Vec<EntryState>,
}

impl Verdict {
    /// The findings that fail the gate.
    pub fn failing(&self) -> impl Iterator<Item = &Judged> {
        self.judged.iter().filter(|j| j.pass.is_none())
    }

    /// The findings an allowlist entry suppressed.
    pub fn suppressed(&self) -> impl Iterator<Item = &Judged> {
        self.judged
            .iter()
            .filter(|j| j.pass == Some(Pass::Allowlisted))
    }
}

/// Judges every finding.
pub fn evaluate(policy: &Policy, findings: Vec<Vulnerability>) -> Verdict {
    let mut matched = vec![0usize; policy.allowlist.len()];
    let live = |i: usize| policy.today.days_until(policy.allowlist[i].expires) >= 0;
    let mut judged: Vec<Judged> = findings
        .into_iter()
        .map(|finding| {
            let level = policy.level(&finding.severity);
            let mut entry = None;
            for (i, e) in policy.allowlist.iter().enumerate() {
                if e.matches(&finding) {
                    matched[i] += 1;
                    if entry.is_none() && live(i) {
                        entry = Some(i);
                    }
                }
            }
            let in_scope = match &policy.severities {
                Some(set) => set.iter().any(|s| s == finding.severity.name()),
                None => {
                    policy.fail_on.as_ref().is_some_and(|t| level >= *t)
                        || policy
                            .fail_on_score
                            .is_some_and(|t| finding.score.is_some_and(|s| s >= t))
                }
            };
            let pass = if finding.fix == FixState::NotAffected {
                Some(Pass::NotAffected)
            } else if !in_scope {
                Some(Pass::BelowThreshold)
            } else if policy.fixable_only
                && matches!(finding.fix, FixState::NotFixed | FixState::WontFix)
            {
                Some(Pass::NotFixable)
            } else if entry.is_some() {
                Some(Pass::Allowlisted)
            } else {
                None
            };
            Judged {
                finding,
                level,
                pass,
                suppressed_by: entry.filter(|_| pass == Some(Pass::Allowlisted)).map(|i| {
                    Suppression {
                        reason: policy.allowlist[i].reason.clone(),
                        expires: policy.allowlist[i].expires,
                    }
                }),
            }
        })
        .collect();
    judged.sort_by(|a, b| {
        a.pass
            .is_some()
            .cmp(&b.pass.is_some())
            .then_with(|| b.level.cmp(&a.level))
    });
    let mut expired = Vec::new();
    let mut expiring = Vec::new();
    let mut stale = Vec::new();
    for (i, e) in policy.allowlist.iter().enumerate() {
        let entry_state = EntryState {
            entry: e.clone(),
            matched: matched[i],
            days_left: policy.today.days_until(e.expires),
        };
        if entry_state.days_left < 0 {
            expired.push(entry_state);
        } else {
            if entry_state.days_left <= policy.warn_days {
                expiring.push(entry_state.clone());
            }
            if entry_state.matched == 0 {
                stale.push(entry_state);
            }
        }
    }
    Verdict {
        judged,
        expired,
        expiring,
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowlist: Vec<Entry>) -> Policy {
        Policy {
            fail_on: Some(Severity::High),
            severities: None,
            fail_on_score: None,
            fixable_only: false,
            unrated: Policy::default_unrated(),
            allowlist,
            today: Date::parse("2026-11-22").unwrap(),
            warn_days: 14,
        }
    }

    fn finding(id: &str, sev: &str, fix: FixState) -> Vulnerability {
        let mut f = Vulnerability::new(id, Severity::parse(sev), "trivy");
        f.fix = fix;
        f.package = Some("pkg".into());
        f
    }

    #[test]
    fn dates() {
        let d = Date::parse("2024-02-29").unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2024-2-1"), None);
        assert_eq!(d.days_until(Date::parse("2024-03-01").unwrap()), 1);
        assert_eq!(Date::parse("1970-01-01").unwrap().days, 0);
        assert!(Date::today() > Date::parse("2026-01-01").unwrap());
    }

    #[test]
    fn thresholds_fixability_and_mapping() {
        let findings = vec![
            finding("A", "CRITICAL", FixState::Fixed),
            finding("B", "HIGH", FixState::NotFixed),
            finding("C", "MEDIUM", FixState::Fixed),
            finding("D", "UNTRIAGED", FixState::Unknown),
            finding("E", "HIGH", FixState::NotAffected),
        ];
        let mut p = policy(vec![]);
        let ids = |v: &Verdict| {
            v.failing()
                .map(|j| j.finding.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&evaluate(&p, findings.clone())), ["A", "B"]);
        p.fixable_only = true;
        assert_eq!(ids(&evaluate(&p, findings.clone())), ["A"]);
        p.fixable_only = false;
        p.unrated.insert("UNTRIAGED".into(), Severity::Critical);
        assert_eq!(ids(&evaluate(&p, findings.clone())), ["A", "D", "B"]);
        p.fail_on = None;
        p.severities = Some(vec!["MEDIUM".into()]);
        assert_eq!(ids(&evaluate(&p, findings.clone())), ["C"]);
        p.severities = None;
        p.fail_on_score = Some(7.0);
        let mut scored = finding("S", "LOW", FixState::Fixed);
        scored.score = Some(7.5);
        assert_eq!(ids(&evaluate(&p, vec![scored])), ["S"]);
    }

    #[test]
    fn allowlist_entries_suppress_expire_warn_and_go_stale() {
        let text = "allowlist:\n  - id: CVE-1\n    reason: not reachable\n    expires: 2026-12-01\n  - id: CVE-2\n    reason: vendor fix pending\n    expires: 2026-11-21\n  - id: CVE-3\n    reason: gone\n    expires: 2027-06-01\n  - id: CVE-4\n    reason: other package\n    expires: 2027-06-01\n    package: other\n";
        let list = parse_allowlist(text, Syntax::Yaml).unwrap();
        let p = policy(list);
        let v = evaluate(
            &p,
            vec![
                finding("CVE-1", "HIGH", FixState::Fixed),
                finding("CVE-2", "HIGH", FixState::Fixed),
                finding("CVE-4", "HIGH", FixState::Fixed),
            ],
        );
        let failing: Vec<&str> = v.failing().map(|j| j.finding.id.as_str()).collect();
        assert_eq!(
            failing,
            ["CVE-2", "CVE-4"],
            "expired and out-of-scope entries do not suppress"
        );
        assert_eq!(v.suppressed().count(), 1);
        assert_eq!(
            v.expired
                .iter()
                .map(|e| e.entry.id.as_str())
                .collect::<Vec<_>>(),
            ["CVE-2"]
        );
        assert_eq!(
            v.expiring
                .iter()
                .map(|e| (e.entry.id.as_str(), e.days_left))
                .collect::<Vec<_>>(),
            [("CVE-1", 9)]
        );
        assert_eq!(
            v.stale
                .iter()
                .map(|e| e.entry.id.as_str())
                .collect::<Vec<_>>(),
            ["CVE-3", "CVE-4"]
        );
    }

    #[test]
    fn invalid_allowlists_name_the_entry() {
        let cases = [
            (
                "allowlist:\n  - id: CVE-1\n    expires: 2027-01-01\n",
                "allowlist entry 1 (CVE-1): `reason` is required",
            ),
            (
                "allowlist:\n  - id: CVE-1\n    reason: x\n",
                "allowlist entry 1 (CVE-1): `expires` is required",
            ),
            (
                "allowlist:\n  - id: CVE-1\n    reason: x\n    expires: 2027-13-01\n",
                "allowlist entry 1 (CVE-1): `expires: 2027-13-01` is not a date",
            ),
            (
                "allowlist:\n  - {id: A, reason: x, expires: 2027-01-01}\n  - id: CVE-9\n    reason: x\n    expiry: 2027-01-01\n",
                "allowlist entry 2 (CVE-9): unknown key `expiry`",
            ),
            ("ignore: []\n", "unknown top-level key `ignore`"),
            ("", "the file is empty"),
            ("\u{feff} \n\t\n", "the file is empty"),
            ("[]", "expected a mapping with `allowlist:`"),
            ("null", "expected a mapping with `allowlist:`"),
        ];
        for (text, expected) in cases {
            let e = parse_allowlist(text, Syntax::Yaml).unwrap_err();
            assert!(e.message.starts_with(expected), "{e} (expected {expected})");
        }
        // JSON and YAML say the same of the same content.
        for text in ["", " \n", "\u{feff}", "[]", "null", "{\"ignore\": []}"] {
            assert_eq!(
                parse_allowlist(text, Syntax::Json).unwrap_err(),
                parse_allowlist(text, Syntax::Yaml).unwrap_err(),
                "{text:?}"
            );
        }
        let bom = "\u{feff}{\"allowlist\": [{\"id\": \"A\", \"reason\": \"x\", \"expires\": \"2027-01-01\"}]}";
        assert_eq!(parse_allowlist(bom, Syntax::Json).unwrap().len(), 1);
    }
}
