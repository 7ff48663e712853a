//! Property: rendering changes only the fields the flags asked about. Random edits (environment,
//! secrets, labels, log options, command, image; merge or replace) on real task definitions; every
//! other field, in every container and at the top level, must come out exactly as it went in.

use buildsteps::taskdef::edit::{Change, Edit, Field, ImageMode, apply};
use buildsteps::taskdef::{container_names, normalize};
use proptest::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let text = crate::common::fixture_text(&format!("taskdef/{name}"));
    normalize(serde_json::from_str(&text).unwrap()).0
}

/// The container field each change touches.
fn field_of(change: &Change) -> &'static str {
    match change {
        Change::Image(_) => "image",
        Change::Command(_) => "command",
        Change::LogDriver(_) | Change::Pair(Field::LogOptions, ..) => "logConfiguration",
        Change::Pair(Field::Environment, ..) => "environment",
        Change::Pair(Field::Secrets, ..) => "secrets",
        Change::Pair(Field::Labels, ..) => "dockerLabels",
    }
}

fn change() -> impl Strategy<Value = Change> {
    let key = prop::sample::select(vec!["A", "B", "MODE", "awslogs-group", "EMPTY"])
        .prop_map(str::to_string);
    let value = "[a-z=:/ ]{0,8}";
    prop_oneof![
        (key.clone(), value).prop_map(|(k, v)| Change::Pair(Field::Environment, k, v)),
        (key.clone(), value).prop_map(|(k, v)| Change::Pair(Field::Secrets, k, v)),
        (key.clone(), value).prop_map(|(k, v)| Change::Pair(Field::Labels, k, v)),
        (key, value).prop_map(|(k, v)| Change::Pair(Field::LogOptions, k, v)),
        prop::collection::vec("[a-z ]{0,5}", 0..3).prop_map(Change::Command),
        "[a-z]{1,8}(:[0-9]{1,3})?".prop_map(Change::Image),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn only_the_fields_asked_about_change(
        which in 0usize..2,
        raw in prop::collection::vec((0usize..3, change()), 0..12),
        replace in prop::collection::vec(prop::sample::select(vec![Field::Environment, Field::Secrets, Field::Labels, Field::LogOptions]), 0..3),
        codedeploy in any::<bool>(),
    ) {
        let original = fixture([
            "firelens-examples-appmesh-firelens-colorteller-black-ecs-task-def.json",
            "amazon-ecs-deploy-task-definition-testing-describe-output.json",
        ][which]);
        let names = container_names(&original);
        let mut edits: Vec<Edit> = raw
            .into_iter()
            .map(|(i, change)| Edit { container: Some(names[i % names.len()].clone()), change })
            .collect();
        // One image per container (two are an error, tested elsewhere); log options need a driver.
        let mut seen = Vec::new();
        edits.retain(|e| !matches!(e.change, Change::Image(_)) || {
            let first = !seen.contains(&e.container);
            seen.push(e.container.clone());
            first
        });
        let needs_driver: Vec<Option<String>> = edits.iter().filter(|e| matches!(e.change, Change::Pair(Field::LogOptions, ..))).map(|e| e.container.clone()).collect();
        for c in needs_driver {
            edits.push(Edit { container: c, change: Change::LogDriver("awslogs".into()) });
        }
        let mode = if codedeploy { ImageMode::CodeDeploy } else { ImageMode::Concrete };
        let mut rendered = original.clone();
        apply(&mut rendered, &edits, &replace, mode).unwrap();

        // Top level: only containerDefinitions may differ.
        let (a, b) = (original.as_object().unwrap(), rendered.as_object().unwrap());
        prop_assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (k, v) in a {
            if k != "containerDefinitions" {
                prop_assert_eq!(v, &b[k]);
            }
        }
        // Each container: only the fields its edits name.
        let before = original["containerDefinitions"].as_array().unwrap();
        let after = rendered["containerDefinitions"].as_array().unwrap();
        prop_assert_eq!(before.len(), after.len());
        for (c0, c1) in before.iter().zip(after) {
            let name = c0["name"].as_str().unwrap();
            let touched: Vec<&str> = edits.iter().filter(|e| e.container.as_deref() == Some(name)).map(|e| field_of(&e.change)).collect();
            for (k, v) in c0.as_object().unwrap() {
                if !touched.contains(&k.as_str()) {
                    prop_assert_eq!(Some(v), c1.get(k), "{}.{} changed", name, k);
                }
            }
            for k in c1.as_object().unwrap().keys() {
                prop_assert!(c0.get(k).is_some() || touched.contains(&k.as_str()), "{}.{} appeared", name, k);
            }
            // What was asked is there: the last value given for each environment name.
            for e in edits.iter().filter(|e| e.container.as_deref() == Some(name)) {
                if let Change::Pair(Field::Environment, key, _) = &e.change {
                    let last = edits.iter().rev().find_map(|x| match &x.change {
                        Change::Pair(Field::Environment, k, v) if k == key && x.container == e.container => Some(v),
                        _ => None,
                    }).unwrap();
                    let found = c1["environment"].as_array().unwrap().iter().find(|x| x["name"] == key.as_str()).unwrap();
                    prop_assert_eq!(&found["value"], &Value::String(last.clone()));
                }
            }
        }
    }
}
