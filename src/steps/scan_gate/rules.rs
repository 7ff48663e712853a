//! The gate's rules from the flags: the [`Policy`] findings are judged by (thresholds, severity set,
//! unrated mappings, the allowlist file) and the rule in words for every report.

use super::args::{ScanGate, SeverityName};
use super::error::GateError;
use crate::cli::Context;
use crate::document::Syntax;
use crate::scan::Severity;
use crate::scan::policy::{self, Date, Entry, Policy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The policy and what the reports say about it.
#[derive(Debug)]
pub(crate) struct Rules {
    /// What `policy::evaluate` applies.
    pub(crate) policy: Policy,
    /// The allowlist file read, if any.
    pub(crate) allowlist: Option<PathBuf>,
    /// `--severity`, checked and in upper case (empty: `--fail-on` applies).
    pub(crate) severities: Vec<SeverityName>,
    /// The rule, in words (`at or above HIGH or scored 9 or more, fixable`).
    pub(crate) gate: String,
}

/// Reads the allowlist and checks the severity flags; nothing here touches the network.
pub(crate) fn rules(args: &ScanGate, ctx: &Context) -> Result<Rules, GateError> {
    let allowlist_file = allowlist_path(args, ctx);
    let allowlist = match &allowlist_file {
        Some(path) => read_allowlist(path, ctx)?,
        None => Vec::new(),
    };
    let unrated = unrated(&args.map_severity)?;
    let severities = severities(&args.severity)?;
    if !args.severity.is_empty() && severities.is_empty() {
        return Err(GateError::Usage(
            "use --severity LIST: it names no severity (e.g. --severity CRITICAL,HIGH); without it --fail-on applies".into(),
        ));
    }
    let names: Vec<String> = severities.iter().map(|s| s.name().to_string()).collect();
    let policy = Policy {
        fail_on: if severities.is_empty() {
            args.fail_on.level()
        } else {
            None
        },
        severities: (!names.is_empty()).then_some(names),
        fail_on_score: args.fail_on_score,
        fixable_only: args.fixable_only,
        unrated,
        allowlist,
        today: Date::today(),
        warn_days: args.expiry_warning,
    };
    Ok(Rules {
        gate: describe(args, &severities),
        policy,
        allowlist: allowlist_file,
        severities,
    })
}

/// `--allowlist`, else `.scan-gate.yaml` when it exists.
fn allowlist_path(args: &ScanGate, ctx: &Context) -> Option<PathBuf> {
    if let Some(p) = &args.allowlist {
        return Some(p.clone());
    }
    let default = PathBuf::from(".scan-gate.yaml");
    ctx.env.resolve(&default).exists().then_some(default)
}

fn read_allowlist(path: &Path, ctx: &Context) -> Result<Vec<Entry>, GateError> {
    let invalid = |reason: String| GateError::Allowlist {
        path: path.to_path_buf(),
        reason,
    };
    let text = crate::input::read_to_string(&ctx.env.resolve(path), crate::input::DOCUMENT_LIMIT)
        .map_err(|e| invalid(e.to_string()))?;
    policy::parse_allowlist(&text, Syntax::detect(path, &text)).map_err(|e| invalid(e.message))
}

/// The default mappings with `--map-severity`'s over them; one name mapped to two levels is an
/// error (the first would be silently ignored).
fn unrated(given: &[(String, Severity)]) -> Result<BTreeMap<String, Severity>, GateError> {
    let mut unrated = Policy::default_unrated();
    let mut seen = BTreeMap::new();
    for (name, level) in given {
        if let Some(earlier) = seen.insert(name, level)
            && earlier != level
        {
            return Err(GateError::Usage(format!(
                "use --map-severity {name}=… once: it maps {name} to both {earlier} and {level}"
            )));
        }
        unrated.insert(name.clone(), level.clone());
    }
    Ok(unrated)
}

/// `--severity`'s names in upper case, blanks dropped; a name that is no severity is an error.
fn severities(given: &[String]) -> Result<Vec<SeverityName>, GateError> {
    given
        .iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .map(|s| {
            SeverityName::parse(&s).ok_or_else(|| {
                let known: Vec<&str> = SeverityName::ALL.iter().map(|n| n.name()).collect();
                GateError::Usage(format!(
                    "use --severity {s}: not a severity ({})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The rule in words, as the human text, JUnit and Markdown print it.
fn describe(args: &ScanGate, severities: &[SeverityName]) -> String {
    let mut parts = Vec::new();
    if args.severity.is_empty() {
        if let Some(level) = args.fail_on.level() {
            parts.push(format!("at or above {level}"));
        }
    } else {
        let names: Vec<&str> = severities.iter().map(|s| s.name()).collect();
        parts.push(format!("in {}", names.join(",")));
    }
    if let Some(score) = args.fail_on_score {
        parts.push(format!("scored {score} or more"));
    }
    let mut s = if parts.is_empty() {
        "(no threshold)".to_string()
    } else {
        parts.join(" or ")
    };
    if args.fixable_only {
        s.push_str(", fixable");
    }
    s
}
