//! The changes `render-taskdef` makes to container definitions: images (concrete, or CodeDeploy's
//! `<IMAGEn_NAME>` placeholders), environment, secrets, Docker labels, log driver and options, command.
//!
//! Merge is the default: a name that exists gets the new value in place, a new name is appended, every
//! other entry stays as it was (empty values included). Replace mode makes the field exactly the values
//! given. A field no flag names is never touched.

use super::{container_mut, container_names, image_placeholder};
use crate::error::Diagnostic;
use crate::exit::Code;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A per-container field that takes `NAME=VALUE` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    /// `environment` (`{"name", "value"}` entries).
    Environment,
    /// `secrets` (`{"name", "valueFrom"}` entries).
    Secrets,
    /// `dockerLabels`.
    Labels,
    /// `logConfiguration.options`.
    LogOptions,
}

impl Field {
    fn flag(self) -> &'static str {
        match self {
            Field::Environment => "--env",
            Field::Secrets => "--secret",
            Field::Labels => "--label",
            Field::LogOptions => "--log-option",
        }
    }
}

/// One change to one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set the image to this URI.
    Image(String),
    /// Set `NAME` to `VALUE` in a field.
    Pair(Field, String, String),
    /// Replace the command.
    Command(Vec<String>),
    /// Set `logConfiguration.logDriver`.
    LogDriver(String),
}

impl Change {
    fn flag(&self) -> &'static str {
        match self {
            Change::Image(_) => "--image",
            Change::Pair(field, ..) => field.flag(),
            Change::Command(_) => "--command",
            Change::LogDriver(_) => "--log-driver",
        }
    }
}

/// A change and the container it is for (`None`: the task's only container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The container's name, when given.
    pub container: Option<String>,
    /// What to change.
    pub change: Change,
}

/// What to do with images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// Write the URI into `image`.
    Concrete,
    /// Keep or insert `<IMAGEn_NAME>` for the CodeDeployToECS action; the URI goes to that
    /// placeholder's imageDetail.json.
    CodeDeploy,
}

/// A CodeDeploy image placeholder and what fills it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// `IMAGE1_NAME`: the text the action's `Image1ContainerName` setting names.
    pub placeholder: String,
    /// The container whose `image` holds it.
    pub container: String,
    /// The URI given for it (written to its imageDetail.json), if one was.
    pub image_uri: Option<String>,
}

impl Placeholder {
    /// The placeholder's number (1–4).
    pub fn number(&self) -> u8 {
        image_placeholder(&format!("<{}>", self.placeholder)).unwrap_or(0)
    }
}

/// What [`apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `(container, uri)` for each image given, in flag order.
    pub images: Vec<(String, String)>,
    /// In CodeDeploy mode, every placeholder in the task definition, by number.
    pub placeholders: Vec<Placeholder>,
    /// Containers that were changed, in task order.
    pub containers: Vec<String>,
}

/// An edit that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// No container has that name.
    #[error("apply {flag} {name}:…: the task definition has no container `{name}`")]
    UnknownContainer {
        /// The flag.
        flag: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// No container named and the task has several (or none).
    #[error("apply {flag}: the task definition has {} containers, so the flag must name one", known.len())]
    WhichContainer {
        /// The flag.
        flag: &'static str,
        /// The names that exist.
        known: Vec<String>,
    },
    /// Two `--image` flags for one container.
    #[error("apply --image: container `{0}` is given two images")]
    TwoImages(String),
    /// Log options for a container without a log configuration.
    #[error("apply --log-option to container `{0}`: it has no `logConfiguration`")]
    NoLogConfiguration(String),
    /// More than four images in CodeDeploy mode.
    #[error(
        "insert an image placeholder for container `{0}`: the CodeDeployToECS action takes at most 4 (<IMAGE1_NAME> to <IMAGE4_NAME>)"
    )]
    TooManyPlaceholders(String),
}

impl Diagnostic for EditError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        match self {
            EditError::UnknownContainer { known, .. } | EditError::WhichContainer { known, .. }
                if known.is_empty() =>
            {
                Some("the task definition has no named containers in `containerDefinitions`".into())
            }
            EditError::UnknownContainer { flag, known, .. }
            | EditError::WhichContainer { flag, known } => Some(format!(
                "containers: {}; e.g. {flag} {}:…",
                known.join(", "),
                known[0]
            )),
            EditError::TwoImages(_) => Some("give each container one --image".into()),
            EditError::NoLogConfiguration(c) => Some(format!(
                "set the driver too: --log-driver {c}:awslogs (or add `logConfiguration` to the template)"
            )),
            EditError::TooManyPlaceholders(_) => Some(
                "keep the other images concrete (drop their --image), or deploy with imagedefinitions.json".into(),
            ),
        }
    }
}

/// Applies `edits` to the task definition `td`. `replace` lists the fields given in replace mode.
pub fn apply(
    td: &mut Value,
    edits: &[Edit],
    replace: &[Field],
    mode: ImageMode,
) -> Result<Applied, EditError> {
    let names = container_names(td);
    let mut applied = Applied::default();
    // Resolve every container first, so a bad flag changes nothing.
    let mut resolved: Vec<(String, &Change)> = Vec::with_capacity(edits.len());
    for edit in edits {
        let name = match &edit.container {
            Some(n) if names.contains(n) => n.clone(),
            Some(n) => {
                return Err(EditError::UnknownContainer {
                    flag: edit.change.flag(),
                    name: n.clone(),
                    known: names,
                });
            }
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Err(EditError::WhichContainer {
                    flag: edit.change.flag(),
                    known: names,
                });
            }
        };
        if let Change::Image(uri) = &edit.change {
            if applied.images.iter().any(|(c, _)| *c == name) {
                return Err(EditError::TwoImages(name));
            }
            applied.images.push((name.clone(), uri.clone()));
        }
        resolved.push((name, &edit.change));
    }

    // Log options need a log configuration (from the template or --log-driver).
    for (name, change) in &resolved {
        if matches!(change, Change::Pair(Field::LogOptions, ..)) {
            let has_driver = resolved
                .iter()
                .any(|(n, c)| n == name && matches!(c, Change::LogDriver(_)));
            let has_config = td
                .get("containerDefinitions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| {
                    c.get("name").and_then(Value::as_str) == Some(name)
                        && c.get("logConfiguration").is_some_and(Value::is_object)
                });
            if !has_driver && !has_config {
                return Err(EditError::NoLogConfiguration(name.clone()));
            }
        }
    }

    if mode == ImageMode::CodeDeploy {
        applied.placeholders = placeholders(td, &applied.images)?;
    }

    // Replace mode: the field becomes exactly the pairs given for that container.
    let mut cleared: Vec<(String, Field)> = Vec::new();
    // Log drivers first, so that options given in any order land in the configuration they make.
    resolved.sort_by_key(|(_, change)| !matches!(change, Change::LogDriver(_)));
    for (name, change) in &resolved {
        let container = container_mut(td, name).expect("resolved above");
        match change {
            Change::Image(uri) => {
                if mode == ImageMode::Concrete {
                    container.insert("image".into(), Value::String(uri.clone()));
                }
            }
            Change::Command(args) => {
                container.insert("command".into(), json!(args));
            }
            Change::LogDriver(driver) => {
                let config = container
                    .entry("logConfiguration")
                    .or_insert_with(|| json!({}));
                if let Some(config) = config.as_object_mut() {
                    config.insert("logDriver".into(), Value::String(driver.clone()));
                }
            }
            Change::Pair(field, key, value) => {
                let fresh = replace.contains(field) && !cleared.contains(&(name.clone(), *field));
                if fresh {
                    cleared.push((name.clone(), *field));
                }
                set_pair(container, *field, key, value, fresh);
            }
        }
        if !applied.containers.contains(name) {
            applied.containers.push(name.clone());
        }
    }
    applied
        .containers
        .sort_by_key(|n| names.iter().position(|x| x == n));
    Ok(applied)
}

/// Keeps the placeholders the template has and inserts one for each other container given an image.
fn placeholders(
    td: &mut Value,
    images: &[(String, String)],
) -> Result<Vec<Placeholder>, EditError> {
    let mut found: Vec<Placeholder> = super::containers(td)
        .iter()
        .filter_map(|c| {
            let n = image_placeholder(c.get("image")?.as_str()?)?;
            Some(Placeholder {
                placeholder: format!("IMAGE{n}_NAME"),
                container: c.get("name")?.as_str()?.to_string(),
                image_uri: None,
            })
        })
        .collect();
    for (name, uri) in images {
        if let Some(p) = found.iter_mut().find(|p| p.container == *name) {
            p.image_uri = Some(uri.clone());
            continue;
        }
        let free = (1..=4u8).find(|n| found.iter().all(|p| p.number() != *n));
        let Some(n) = free else {
            return Err(EditError::TooManyPlaceholders(name.clone()));
        };
        let container = container_mut(td, name).expect("resolved above");
        container.insert("image".into(), Value::String(format!("<IMAGE{n}_NAME>")));
        found.push(Placeholder {
            placeholder: format!("IMAGE{n}_NAME"),
            container: name.clone(),
            image_uri: Some(uri.clone()),
        });
    }
    found.sort_by_key(Placeholder::number);
    Ok(found)
}

fn set_pair(container: &mut Map<String, Value>, field: Field, key: &str, value: &str, fresh: bool) {
    match field {
        Field::Environment => set_in_list(container, "environment", "value", key, value, fresh),
        Field::Secrets => set_in_list(container, "secrets", "valueFrom", key, value, fresh),
        Field::Labels => set_in_map(container, "dockerLabels", key, value, fresh),
        Field::LogOptions => {
            if let Some(config) = container
                .get_mut("logConfiguration")
                .and_then(Value::as_object_mut)
            {
                set_in_map(config, "options", key, value, fresh);
            }
        }
    }
}

/// `[{"name": key, <value_key>: value}, …]`: the entry with that name gets the value in place (its
/// other keys kept), else one is appended.
fn set_in_list(
    parent: &mut Map<String, Value>,
    field: &str,
    value_key: &str,
    key: &str,
    value: &str,
    fresh: bool,
) {
    let list = parent.entry(field).or_insert_with(|| json!([]));
    if fresh || !list.is_array() {
        *list = json!([]);
    }
    let items = list.as_array_mut().expect("made a list above");
    let existing = items
        .iter_mut()
        .filter_map(Value::as_object_mut)
        .find(|e| e.get("name").and_then(Value::as_str) == Some(key));
    match existing {
        Some(entry) => {
            entry.insert(value_key.into(), Value::String(value.into()));
        }
        None => items.push(json!({ "name": key, value_key: value })),
    }
}

fn set_in_map(parent: &mut Map<String, Value>, field: &str, key: &str, value: &str, fresh: bool) {
    let map = parent.entry(field).or_insert_with(|| json!({}));
    if fresh || !map.is_object() {
        *map = json!({});
    }
    map.as_object_mut()
        .expect("made a mapping above")
        .insert(key.into(), Value::String(value.into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(container: Option<&str>, change: Change) -> Edit {
        Edit {
            container: container.map(str::to_string),
            change,
        }
    }

    fn pair(field: Field, k: &str, v: &str) -> Change {
        Change::Pair(field, k.into(), v.into())
    }

    fn two() -> Value {
        json!({"family": "f", "containerDefinitions": [
            {"name": "web", "image": "<IMAGE1_NAME>", "environment": [{"name": "A", "value": "1"}, {"name": "EMPTY", "value": ""}],
             "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}},
            {"name": "side", "image": "public.ecr.aws/x/y:1", "dockerLabels": {"k": "v"}}
        ]})
    }

    #[test]
    fn merge_keeps_what_was_not_named_and_replace_makes_exactly_what_was_given() {
        let mut td = two();
        let edits = [
            edit(Some("web"), pair(Field::Environment, "A", "x=y=z")),
            edit(Some("web"), pair(Field::Environment, "B", "")),
            edit(
                Some("web"),
                pair(Field::LogOptions, "awslogs-region", "eu-west-1"),
            ),
            edit(Some("side"), pair(Field::Labels, "n", "m")),
            edit(
                Some("side"),
                Change::Command(vec!["a b".into(), "c".into()]),
            ),
        ];
        let applied = apply(&mut td, &edits, &[], ImageMode::Concrete).unwrap();
        assert_eq!(applied.containers, ["web", "side"]);
        assert_eq!(
            td["containerDefinitions"][0]["environment"],
            json!([{"name": "A", "value": "x=y=z"}, {"name": "EMPTY", "value": ""}, {"name": "B", "value": ""}])
        );
        assert_eq!(
            td["containerDefinitions"][0]["logConfiguration"]["options"],
            json!({"awslogs-group": "g", "awslogs-region": "eu-west-1"})
        );
        assert_eq!(
            td["containerDefinitions"][1]["dockerLabels"],
            json!({"k": "v", "n": "m"})
        );
        assert_eq!(
            td["containerDefinitions"][1]["command"],
            json!(["a b", "c"])
        );

        let mut td = two();
        let edits = [
            edit(Some("web"), pair(Field::Environment, "C", "3")),
            edit(Some("web"), pair(Field::Environment, "D", "4")),
            edit(Some("side"), pair(Field::Labels, "n", "m")),
        ];
        apply(&mut td, &edits, &[Field::Environment], ImageMode::Concrete).unwrap();
        assert_eq!(
            td["containerDefinitions"][0]["environment"],
            json!([{"name": "C", "value": "3"}, {"name": "D", "value": "4"}])
        );
        assert_eq!(
            td["containerDefinitions"][1]["dockerLabels"],
            json!({"k": "v", "n": "m"}),
            "labels merge"
        );
    }

    #[test]
    fn containers_are_named_or_the_only_one() {
        let mut td = two();
        let err = apply(
            &mut td,
            &[edit(Some("wbe"), pair(Field::Environment, "A", "1"))],
            &[],
            ImageMode::Concrete,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "apply --env wbe:…: the task definition has no container `wbe`"
        );
        assert_eq!(
            err.help().unwrap(),
            "containers: web, side; e.g. --env web:…"
        );
        let err = apply(
            &mut td,
            &[edit(None, Change::Image("r:1".into()))],
            &[],
            ImageMode::Concrete,
        )
        .unwrap_err();
        assert!(matches!(err, EditError::WhichContainer { .. }), "{err}");
        assert_eq!(td, two(), "a failed edit changes nothing");
        let mut one = json!({"containerDefinitions": [{"name": "only", "image": "a"}]});
        apply(
            &mut one,
            &[edit(None, Change::Image("b:2".into()))],
            &[],
            ImageMode::Concrete,
        )
        .unwrap();
        assert_eq!(one["containerDefinitions"][0]["image"], "b:2");
    }

    #[test]
    fn log_options_need_a_log_configuration() {
        let mut td = two();
        let err = apply(
            &mut td,
            &[edit(Some("side"), pair(Field::LogOptions, "a", "b"))],
            &[],
            ImageMode::Concrete,
        )
        .unwrap_err();
        assert!(matches!(err, EditError::NoLogConfiguration(_)), "{err}");
        let edits = [
            edit(Some("side"), pair(Field::LogOptions, "a", "b")),
            edit(Some("side"), Change::LogDriver("awslogs".into())),
        ];
        apply(&mut td, &edits, &[], ImageMode::Concrete).unwrap();
        assert_eq!(
            td["containerDefinitions"][1]["logConfiguration"],
            json!({"logDriver": "awslogs", "options": {"a": "b"}})
        );
    }

    #[test]
    fn codedeploy_keeps_placeholders_and_inserts_new_ones() {
        let mut td = two();
        let edits = [
            edit(Some("side"), Change::Image("repo/side@sha256:1".into())),
            edit(Some("web"), Change::Image("repo/web@sha256:2".into())),
        ];
        let applied = apply(&mut td, &edits, &[], ImageMode::CodeDeploy).unwrap();
        assert_eq!(td["containerDefinitions"][0]["image"], "<IMAGE1_NAME>");
        assert_eq!(td["containerDefinitions"][1]["image"], "<IMAGE2_NAME>");
        assert_eq!(
            applied.placeholders,
            [
                Placeholder {
                    placeholder: "IMAGE1_NAME".into(),
                    container: "web".into(),
                    image_uri: Some("repo/web@sha256:2".into())
                },
                Placeholder {
                    placeholder: "IMAGE2_NAME".into(),
                    container: "side".into(),
                    image_uri: Some("repo/side@sha256:1".into())
                },
            ]
        );
        let mut five = json!({"containerDefinitions": (1..=5).map(|i| json!({"name": format!("c{i}"), "image": "x"})).collect::<Vec<_>>()});
        let edits: Vec<Edit> = (1..=5)
            .map(|i| edit(Some(&format!("c{i}")), Change::Image("r:1".into())))
            .collect();
        let err = apply(&mut five, &edits, &[], ImageMode::CodeDeploy).unwrap_err();
        assert!(
            matches!(err, EditError::TooManyPlaceholders(ref c) if c == "c5"),
            "{err}"
        );
    }
}
