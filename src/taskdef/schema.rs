//! Checking a document against the shapes of an AWS API's input: unknown fields, wrong types, values
//! outside an enumeration, missing required members, `null`s. The shapes themselves are generated
//! (see `model.rs`).

use super::{Finding, JsonPath};
use serde_json::Value;

/// The type of a member.
#[derive(Debug)]
pub enum Ty {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A string from a fixed set.
    Enum(&'static [&'static str]),
    /// A list of the inner type.
    List(&'static Ty),
    /// A mapping from strings to the inner type.
    Map(&'static Ty),
    /// A structure.
    Struct(&'static Shape),
}

/// A structure: its members, in the API's order, and which are required.
#[derive(Debug)]
pub struct Shape {
    /// The API's name for it (`ContainerDefinition`).
    pub name: &'static str,
    /// Member names and types.
    pub members: &'static [(&'static str, Ty)],
    /// Members that must be present.
    pub required: &'static [&'static str],
}

impl Shape {
    /// The type of a member.
    pub fn member(&self, name: &str) -> Option<&'static Ty> {
        self.members
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }
}

/// Checks `value` against `ty`, adding a finding for each problem.
pub fn check(value: &Value, ty: &Ty, path: &JsonPath, findings: &mut Vec<Finding>) {
    if value.is_null() {
        findings.push(Finding::error(
            "type",
            path,
            "`null` is not accepted; remove the field or give it a value",
        ));
        return;
    }
    match ty {
        Ty::String => {
            if !value.is_string() {
                findings.push(mismatch(path, "a string", value));
            }
        }
        Ty::Integer => {
            if !(value.is_i64() || value.is_u64()) {
                findings.push(mismatch(path, "a whole number", value));
            }
        }
        Ty::Number => {
            if !value.is_number() {
                findings.push(mismatch(path, "a number", value));
            }
        }
        Ty::Boolean => {
            if !value.is_boolean() {
                findings.push(mismatch(path, "`true` or `false`", value));
            }
        }
        Ty::Enum(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => {}
            Some(s) => findings.push(Finding::error(
                "type",
                path,
                format!("`{s}` is not one of {}", one_of(allowed)),
            )),
            None => findings.push(mismatch(
                path,
                &format!("one of {}", one_of(allowed)),
                value,
            )),
        },
        Ty::List(inner) => match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(item, inner, &path.index(i), findings);
                }
            }
            None => findings.push(mismatch(path, "a list", value)),
        },
        Ty::Map(inner) => match value.as_object() {
            Some(map) => {
                for (k, v) in map {
                    check(v, inner, &path.key(k), findings);
                }
            }
            None => findings.push(mismatch(path, "a mapping", value)),
        },
        Ty::Struct(shape) => match value.as_object() {
            Some(map) => {
                for (k, v) in map {
                    match shape.member(k) {
                        Some(t) => check(v, t, &path.key(k), findings),
                        None => findings.push(Finding::warning(
                            "unknown-field",
                            &path.key(k),
                            unknown_field(shape, k),
                        )),
                    }
                }
                for required in shape.required {
                    if !map.contains_key(*required) {
                        findings.push(Finding::error(
                            "required",
                            &path.key(required),
                            format!("{} requires `{required}`", shape.name),
                        ));
                    }
                }
            }
            None => findings.push(mismatch(path, &format!("a {} mapping", shape.name), value)),
        },
    }
}

fn one_of(allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mismatch(path: &JsonPath, expected: &str, found: &Value) -> Finding {
    let hint = match found {
        Value::String(s) if s.parse::<i64>().is_ok() && expected == "a whole number" => {
            format!(" (write {s} without quotes)")
        }
        Value::Number(n) if expected == "a string" => format!(" (write \"{n}\" in quotes)"),
        _ => String::new(),
    };
    Finding::error(
        "type",
        path,
        format!("expected {expected}, found {}{hint}", describe(found)),
    )
}

/// `the string "256"`, `the number 80`…, for messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", Value::String(s.clone())),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn unknown_field(shape: &Shape, name: &str) -> String {
    let suggestion = shape
        .members
        .iter()
        .map(|(m, _)| {
            (
                edit_distance(&m.to_ascii_lowercase(), &name.to_ascii_lowercase()),
                m,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    match suggestion {
        Some((_, m)) => format!(
            "`{name}` is not a field of {}; did you mean `{m}`? (it is kept as written; ECS will refuse it)",
            shape.name
        ),
        None => format!(
            "`{name}` is not a field of {} in this version's ECS model (it is kept as written; a newer ECS API may accept it)",
            shape.name
        ),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskdef::model::REGISTER_TASK_DEFINITION_REQUEST;
    use serde_json::json;

    fn findings(v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        check(
            v,
            &Ty::Struct(REGISTER_TASK_DEFINITION_REQUEST),
            &JsonPath::root(),
            &mut out,
        );
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn types_enums_required_and_unknown_fields() {
        let got = findings(&json!({
            "family": "web",
            "networkMode": "awsvpcx",
            "cpu": 256,
            "containerDefinitions": [{"name": "a", "image": "x", "memory": "256", "essentail": false,
                                      "logConfiguration": {"options": {"a": 1}}}],
            "enableFaultInjection": null
        }));
        assert_eq!(
            got,
            [
                "error: networkMode: `awsvpcx` is not one of `bridge`, `host`, `awsvpc`, `none`",
                "error: cpu: expected a string, found the number 256 (write \"256\" in quotes)",
                "error: containerDefinitions[0].memory: expected a whole number, found the string \"256\" (write 256 without quotes)",
                "warning: containerDefinitions[0].essentail: `essentail` is not a field of ContainerDefinition; did you mean `essential`? (it is kept as written; ECS will refuse it)",
                "error: containerDefinitions[0].logConfiguration.options.a: expected a string, found the number 1 (write \"1\" in quotes)",
                "error: containerDefinitions[0].logConfiguration.logDriver: LogConfiguration requires `logDriver`",
                "error: enableFaultInjection: `null` is not accepted; remove the field or give it a value",
            ]
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
