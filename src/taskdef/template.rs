//! `${VAR}` and `${VAR:-default}` in string values, from the environment, fail-closed.
//!
//! Substitution happens on the parsed document's string values (never on the raw text), so a value
//! holding quotes or newlines cannot break the JSON or YAML around it. `$${` writes a literal `${`.
//! `${VAR}` with VAR set to the empty string gives ""; `${VAR:-default}` gives the default when VAR is
//! unset or empty, as in the shell. Every missing variable is listed in one error.

use super::JsonPath;
use serde_json::Value;

/// A variable that was needed and not set, and the first field that needed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The variable's name.
    pub name: String,
    /// The first field that refers to it.
    pub path: String,
}

/// What a substitution pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Variables that were read (sorted, each once).
    pub used: Vec<String>,
    /// Variables that were needed and not set.
    pub missing: Vec<Missing>,
    /// Paths of values where `$${` wrote a literal `${`.
    pub literal: Vec<String>,
}

/// Substitutes every `${…}` in the string values of `doc`, looking variables up with `lookup`.
pub fn expand(doc: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) -> Expanded {
    let mut out = Expanded::default();
    walk(doc, &JsonPath::root(), lookup, &mut out);
    out.used.sort();
    out.used.dedup();
    out
}

fn walk(
    v: &mut Value,
    path: &JsonPath,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Expanded,
) {
    match v {
        Value::String(s) if s.contains('$') => {
            if let Some(new) = expand_str(s, path, lookup, out) {
                *s = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(i), lookup, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                walk(item, &path.key(k), lookup, out);
            }
        }
        _ => {}
    }
}

/// The expanded string, or `None` when it holds nothing to expand.
fn expand_str(
    s: &str,
    path: &JsonPath,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Expanded,
) -> Option<String> {
    let mut result = String::with_capacity(s.len());
    let mut rest = s;
    let mut changed = false;
    while let Some(i) = rest.find('$') {
        result.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            result.push_str("${");
            if out.literal.last() != Some(&path.to_string()) {
                out.literal.push(path.to_string());
            }
            rest = tail;
            changed = true;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix("${") else {
            result.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body_and_tail.find('}') else {
            result.push_str(after);
            rest = "";
            break;
        };
        let body = &body_and_tail[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !is_name(name) {
            // Not ours (`${foo bar}`, `${1}`): kept, and the leftover check reports it.
            result.push_str(&after[..end + 3]);
            rest = &body_and_tail[end + 1..];
            continue;
        }
        changed = true;
        out.used.push(name.to_string());
        match (lookup(name), default) {
            (Some(value), Some(d)) if value.is_empty() => result.push_str(d),
            (Some(value), _) => result.push_str(&value),
            (None, Some(d)) => result.push_str(d),
            (None, None) => {
                result.push_str(&after[..end + 3]);
                if !out.missing.iter().any(|m| m.name == name) {
                    out.missing.push(Missing {
                        name: name.to_string(),
                        path: path.to_string(),
                    });
                }
            }
        }
        rest = &body_and_tail[end + 1..];
    }
    result.push_str(rest);
    changed.then_some(result)
}

fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAG" => Some("1.2".into()),
            "EMPTY" => Some(String::new()),
            "QUOTE" => Some("a\"b\nc".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_defaults_escapes_and_lists_every_missing_variable() {
        let mut doc = json!({
            "image": "repo:${TAG}",
            "a": "${EMPTY}|${EMPTY:-d}|${UNSET:-d2}|$${TAG}|$HOME|${not a var}|${QUOTE}",
            "list": ["${NOPE}", "${NOPE}", {"x": "${ALSO_NOPE}"}],
            "n": 5
        });
        let result = expand(&mut doc, &env);
        assert_eq!(
            doc,
            json!({
                "image": "repo:1.2",
                "a": "|d|d2|${TAG}|$HOME|${not a var}|a\"b\nc",
                "list": ["${NOPE}", "${NOPE}", {"x": "${ALSO_NOPE}"}],
                "n": 5
            })
        );
        assert_eq!(
            result.used,
            ["ALSO_NOPE", "EMPTY", "NOPE", "QUOTE", "TAG", "UNSET"]
        );
        assert_eq!(
            result.missing,
            [
                Missing {
                    name: "NOPE".into(),
                    path: "list[0]".into()
                },
                Missing {
                    name: "ALSO_NOPE".into(),
                    path: "list[2].x".into()
                },
            ]
        );
    }
}
