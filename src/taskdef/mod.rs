//! ECS task definitions and CodeDeploy AppSpecs, offline: reading (`describe-task-definition` output
//! included), templating, the edits `render-taskdef` makes, and validation against the ECS model and
//! the rules ECS and CodeDeploy enforce at registration or deploy time.
//!
//! Everything works on `serde_json::Value` with keys in input order, so a field nobody asked about
//! reaches the output exactly as it was read.

pub mod appspec;
pub mod edit;
mod model;
pub mod platforms;
pub mod schema;
pub mod template;
pub mod validate;

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Allowed, but probably not what was meant; an error under `--strict`.
    Warning,
    /// ECS or CodeDeploy would refuse the file, or it would not run.
    Error,
}

/// One problem in a document, at a JSON path, with what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: Level,
    /// A stable name for the rule (`fargate-size`, `host-port`, `unknown-field`…).
    pub rule: &'static str,
    /// Where: `containerDefinitions[1].portMappings[0].hostPort`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Finding {
    /// An error finding.
    pub fn error(rule: &'static str, path: &JsonPath, message: impl Into<String>) -> Finding {
        Finding {
            severity: Level::Error,
            rule,
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// A warning finding.
    pub fn warning(rule: &'static str, path: &JsonPath, message: impl Into<String>) -> Finding {
        Finding {
            severity: Level::Warning,
            rule,
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Level::Warning => "warning",
            Level::Error => "error",
        };
        if self.path.is_empty() {
            write!(f, "{severity}: {}", self.message)
        } else {
            write!(f, "{severity}: {}: {}", self.path, self.message)
        }
    }
}

pub use crate::document::JsonPath;

/// Keys `describe-task-definition` returns that `register-task-definition` refuses.
pub const READ_ONLY_KEYS: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// Turns `describe-task-definition` output into register input: unwraps `{"taskDefinition": …}`
/// (hoisting a sibling non-empty `tags`), drops the read-only keys and an empty `tags` (which
/// registration refuses). Returns what it did, for the report.
pub fn normalize(doc: Value) -> (Value, Vec<String>) {
    let mut notes = Vec::new();
    let mut doc = match doc {
        Value::Object(mut outer)
            if outer.get("taskDefinition").is_some_and(Value::is_object)
                && outer
                    .keys()
                    .all(|k| k == "taskDefinition" || k == "tags" || k == "ResponseMetadata") =>
        {
            notes.push("unwrapped `taskDefinition` (describe-task-definition output)".to_string());
            let mut inner = outer.remove("taskDefinition").unwrap_or_default();
            if let (Some(tags), Value::Object(map)) = (outer.remove("tags"), &mut inner)
                && tags.as_array().is_some_and(|t| !t.is_empty())
                && !map.contains_key("tags")
            {
                notes.push("moved the sibling `tags` into the task definition".to_string());
                map.insert("tags".into(), tags);
            }
            inner
        }
        other => other,
    };
    if let Value::Object(map) = &mut doc {
        let dropped: Vec<&str> = READ_ONLY_KEYS
            .iter()
            .copied()
            .filter(|k| map.shift_remove(*k).is_some())
            .collect();
        if !dropped.is_empty() {
            notes.push(format!("dropped read-only keys: {}", dropped.join(", ")));
        }
        if map
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            map.shift_remove("tags");
            notes.push("dropped the empty `tags` (registration refuses an empty list)".to_string());
        }
    }
    (doc, notes)
}

/// The container definitions, if the document has a list of them.
pub fn containers(td: &Value) -> &[Value] {
    td.get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The names of the containers, in order (unnamed ones skipped).
pub fn container_names(td: &Value) -> Vec<String> {
    containers(td)
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// A container definition by name, mutable.
pub fn container_mut<'a>(td: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    td.get_mut("containerDefinitions")?
        .as_array_mut()?
        .iter_mut()
        .filter_map(Value::as_object_mut)
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// `<IMAGE1_NAME>`…: the number of a CodeDeploy image placeholder.
pub fn image_placeholder(s: &str) -> Option<u8> {
    let n = s.strip_prefix("<IMAGE")?.strip_suffix("_NAME>")?;
    match n.parse::<u8>() {
        Ok(n) if n >= 1 && n.to_string().len() == s.len() - "<IMAGE_NAME>".len() => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_print_as_the_issue_names_them() {
        let p = JsonPath::root()
            .key("containerDefinitions")
            .index(1)
            .key("portMappings")
            .index(0)
            .key("hostPort");
        assert_eq!(
            p.to_string(),
            "containerDefinitions[1].portMappings[0].hostPort"
        );
        let p = JsonPath::root()
            .key("logConfiguration")
            .key("options")
            .key("awslogs-group");
        assert_eq!(p.to_string(), "logConfiguration.options[\"awslogs-group\"]");
    }

    #[test]
    fn describe_output_becomes_register_input() {
        let (v, notes) = normalize(json!({
            "taskDefinition": {"family": "a", "revision": 3, "status": "ACTIVE", "containerDefinitions": [],
                               "compatibilities": ["EC2"]},
            "tags": [{"key": "team", "value": "x"}]
        }));
        assert_eq!(
            v,
            json!({"family": "a", "containerDefinitions": [], "tags": [{"key": "team", "value": "x"}]})
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
        let (v, _) = normalize(json!({"taskDefinition": {"family": "a", "tags": []}, "tags": []}));
        assert_eq!(v, json!({"family": "a"}));
        let plain = json!({"family": "a", "cpu": "256"});
        assert_eq!(normalize(plain.clone()), (plain, vec![]));
    }

    #[test]
    fn image_placeholders() {
        assert_eq!(image_placeholder("<IMAGE1_NAME>"), Some(1));
        assert_eq!(image_placeholder("<IMAGE4_NAME>"), Some(4));
        assert_eq!(image_placeholder("<IMAGE01_NAME>"), None);
        assert_eq!(image_placeholder("<IMAGE_NAME>"), None);
        assert_eq!(image_placeholder("IMAGE1_NAME"), None);
    }
}
