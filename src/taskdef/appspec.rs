//! CodeDeploy AppSpecs for ECS blue/green: validation (against the task definition when given),
//! `<TASK_DEFINITION>` substitution that keeps the file's own text (comments, quoting) intact, and
//! generation from flags.

use super::{Finding, JsonPath};
use crate::document::{self, Syntax};
use serde_json::{Map, Value, json};

/// The placeholder the CodeDeployToECS action replaces with the registered task definition's ARN.
pub const TASK_DEFINITION_PLACEHOLDER: &str = "<TASK_DEFINITION>";

/// The ECS lifecycle hooks, in the order they run.
pub const HOOKS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

/// A member looked up with its first letter in either case (`AwsvpcConfiguration` and the
/// `awsvpcConfiguration` some templates use).
fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<(&'a str, &'a Value)> {
    map.iter()
        .find(|(k, _)| {
            let mut a = k.chars();
            let mut b = key.chars();
            a.next().map(|c| c.to_ascii_lowercase()) == b.next().map(|c| c.to_ascii_lowercase())
                && a.as_str() == b.as_str()
        })
        .map(|(k, v)| (k.as_str(), v))
}

fn unknown_keys(map: &Map<String, Value>, known: &[&str], path: &JsonPath, out: &mut Vec<Finding>) {
    for k in map.keys() {
        if !known.iter().any(|n| get_key_matches(k, n)) {
            out.push(Finding::warning(
                "unknown-field",
                &path.key(k),
                format!(
                    "`{k}` is not an AppSpec field here (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
}

fn get_key_matches(k: &str, known: &str) -> bool {
    let mut m = Map::new();
    m.insert(k.to_string(), Value::Null);
    get(&m, known).is_some()
}

/// Whether `s` is a task definition ARN with a revision.
pub fn is_task_definition_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, rest] = parts.as_slice() else {
        return false;
    };
    let Some(family_rev) = rest.strip_prefix("task-definition/") else {
        return false;
    };
    let Some((family, revision)) = family_rev.rsplit_once(':') else {
        return false;
    };
    *arn == "arn"
        && partition.starts_with("aws")
        && *service == "ecs"
        && crate::ecr_host::is_region_name(region)
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !family.is_empty()
        && family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !revision.is_empty()
        && revision.chars().all(|c| c.is_ascii_digit())
}

/// The `Properties` of the one target service, if the document has that shape.
fn properties_mut(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    let resources = doc
        .as_object_mut()?
        .iter_mut()
        .find(|(k, _)| k.as_str() == "Resources")?
        .1;
    let target = resources
        .as_array_mut()?
        .first_mut()?
        .as_object_mut()?
        .values_mut()
        .next()?;
    target
        .as_object_mut()?
        .get_mut("Properties")?
        .as_object_mut()
}

/// Sets `TaskDefinition` (the CodeDeployToECS action's job, for deploys outside it). Returns whether
/// the document had a place for it.
pub fn set_task_definition(doc: &mut Value, arn: &str) -> bool {
    match properties_mut(doc) {
        Some(props) => {
            props.insert("TaskDefinition".into(), Value::String(arn.into()));
            true
        }
        None => false,
    }
}

/// `text` with the `<TASK_DEFINITION>` value replaced by `arn`, everything else byte for byte — when
/// that reads back as `expected`; else `None` (the caller re-serialises).
pub fn patch_text(text: &str, syntax: Syntax, arn: &str, expected: &Value) -> Option<String> {
    let needle = TASK_DEFINITION_PLACEHOLDER;
    if text.matches(needle).count() != 1 {
        return None;
    }
    let patched = text.replacen(needle, arn, 1);
    (document::parse(&patched, syntax).ok().as_ref() == Some(expected)).then_some(patched)
}

/// Every finding for an AppSpec. `td`: the task definition it deploys (checks `ContainerName` and
/// `ContainerPort`). `placeholder_ok`: whether `<TASK_DEFINITION>` may remain (the file goes to the
/// CodeDeployToECS action).
pub fn validate(doc: &Value, td: Option<&Value>, placeholder_ok: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let root = JsonPath::root();
    let Some(map) = doc.as_object() else {
        out.push(Finding::error(
            "appspec",
            &root,
            "an AppSpec is a mapping with `version`, `Resources` and optionally `Hooks`",
        ));
        return out;
    };
    unknown_keys(map, &["version", "Resources", "Hooks"], &root, &mut out);
    match map.get("version") {
        Some(v) if v.as_f64() == Some(0.0) || v.as_str() == Some("0.0") => {}
        Some(v) => out.push(Finding::error(
            "appspec",
            &root.key("version"),
            format!("must be 0.0, found {}", super::schema::describe(v)),
        )),
        None => out.push(Finding::error(
            "appspec",
            &root.key("version"),
            "add `version: 0.0`",
        )),
    }
    let rpath = root.key("Resources");
    match map.get("Resources").and_then(Value::as_array) {
        Some(list) if list.len() == 1 => {
            target_service(&list[0], &rpath.index(0), td, placeholder_ok, &mut out);
        }
        Some(list) => out.push(Finding::error(
            "appspec",
            &rpath,
            format!(
                "an ECS AppSpec has exactly one resource (the TargetService), found {}",
                list.len()
            ),
        )),
        None => out.push(Finding::error(
            "appspec",
            &rpath,
            "add `Resources:` with one `TargetService` of `Type: AWS::ECS::Service`",
        )),
    }
    if let Some(hooks) = map.get("Hooks") {
        hooks_rule(hooks, &root.key("Hooks"), &mut out);
    }
    out
}

fn target_service(
    item: &Value,
    path: &JsonPath,
    td: Option<&Value>,
    placeholder_ok: bool,
    out: &mut Vec<Finding>,
) {
    let Some((name, service)) = item
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        out.push(Finding::error(
            "appspec",
            path,
            "the resource is a mapping with one key (e.g. `TargetService:`)",
        ));
        return;
    };
    let path = path.key(name);
    let Some(service) = service.as_object() else {
        out.push(Finding::error(
            "appspec",
            &path,
            "a mapping with `Type` and `Properties`",
        ));
        return;
    };
    unknown_keys(service, &["Type", "Properties"], &path, out);
    if service.get("Type").and_then(Value::as_str) != Some("AWS::ECS::Service") {
        out.push(Finding::error(
            "appspec",
            &path.key("Type"),
            "must be `AWS::ECS::Service`",
        ));
    }
    let ppath = path.key("Properties");
    let Some(props) = service.get("Properties").and_then(Value::as_object) else {
        out.push(Finding::error(
            "appspec",
            &ppath,
            "add `Properties` with `TaskDefinition` and `LoadBalancerInfo`",
        ));
        return;
    };
    unknown_keys(
        props,
        &[
            "TaskDefinition",
            "LoadBalancerInfo",
            "PlatformVersion",
            "NetworkConfiguration",
            "CapacityProviderStrategy",
        ],
        &ppath,
        out,
    );
    let tpath = ppath.key("TaskDefinition");
    match props.get("TaskDefinition").and_then(Value::as_str) {
        Some(TASK_DEFINITION_PLACEHOLDER) if placeholder_ok => {}
        Some(TASK_DEFINITION_PLACEHOLDER) => out.push(Finding::error(
            "leftover",
            &tpath,
            "`<TASK_DEFINITION>` is still here; pass --task-definition-arn ARN, or keep it for the CodeDeployToECS action",
        )),
        Some(arn) if is_task_definition_arn(arn) => {}
        Some(other) => out.push(Finding::error(
            "appspec",
            &tpath,
            format!("`{other}` is neither `<TASK_DEFINITION>` nor a task definition ARN (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION)"),
        )),
        None => out.push(Finding::error("appspec", &tpath, "add `TaskDefinition: <TASK_DEFINITION>` (the action fills it in) or a task definition ARN")),
    }
    load_balancer(props, &ppath, td, out);
    if let Some(pv) = props.get("PlatformVersion") {
        let ok = pv.as_str().is_some_and(|s| {
            s == "LATEST" || {
                let parts: Vec<&str> = s.split('.').collect();
                parts.len() == 3
                    && parts
                        .iter()
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            }
        });
        if !ok {
            out.push(Finding::error(
                "appspec",
                &ppath.key("PlatformVersion"),
                format!(
                    "{} is not a Fargate platform version: `LATEST` or like `1.4.0`",
                    super::schema::describe(pv)
                ),
            ));
        }
    }
    if let Some((key, nc)) = get(props, "NetworkConfiguration") {
        network(nc, &ppath.key(key), out);
    }
    if let Some(cps) = props.get("CapacityProviderStrategy") {
        capacity_providers(cps, &ppath.key("CapacityProviderStrategy"), out);
    }
}

fn load_balancer(
    props: &Map<String, Value>,
    ppath: &JsonPath,
    td: Option<&Value>,
    out: &mut Vec<Finding>,
) {
    let lpath = ppath.key("LoadBalancerInfo");
    let lb = match props.get("LoadBalancerInfo") {
        Some(Value::Object(lb)) => lb,
        Some(Value::Array(_)) => {
            out.push(Finding::error(
                "appspec",
                &lpath,
                "must be a mapping (`ContainerName:` and `ContainerPort:` under it), not a list",
            ));
            return;
        }
        Some(_) => {
            out.push(Finding::error(
                "appspec",
                &lpath,
                "must be a mapping with `ContainerName` and `ContainerPort`",
            ));
            return;
        }
        None => {
            out.push(Finding::error("appspec", &lpath, "add `LoadBalancerInfo` with `ContainerName` and `ContainerPort` (the container and port the load balancer sends traffic to)"));
            return;
        }
    };
    unknown_keys(lb, &["ContainerName", "ContainerPort"], &lpath, out);
    let name = match lb.get("ContainerName").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() => Some(n),
        other => {
            out.push(Finding::error(
                "appspec",
                &lpath.key("ContainerName"),
                format!(
                    "{} is not a container name; name the container that serves traffic",
                    other.map_or_else(|| "nothing".to_string(), |s| format!("{s:?}"))
                ),
            ));
            None
        }
    };
    let port = lb
        .get("ContainerPort")
        .and_then(Value::as_i64)
        .filter(|p| (1..=65535).contains(p));
    if port.is_none() {
        out.push(Finding::error(
            "appspec",
            &lpath.key("ContainerPort"),
            format!(
                "{} is not a port: a whole number 1–65535",
                lb.get("ContainerPort")
                    .map_or_else(|| "nothing".to_string(), super::schema::describe)
            ),
        ));
    }
    let (Some(td), Some(name)) = (td, name) else {
        return;
    };
    let Some(container) = super::containers(td)
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
    else {
        out.push(Finding::error(
            "appspec",
            &lpath.key("ContainerName"),
            format!(
                "the task definition has no container `{name}` (containers: {})",
                super::container_names(td).join(", ")
            ),
        ));
        return;
    };
    let Some(port) = port else { return };
    let ports: Vec<i64> = container
        .get("portMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("containerPort").and_then(Value::as_i64))
        .collect();
    if !ports.contains(&port) {
        out.push(Finding::error(
            "appspec",
            &lpath.key("ContainerPort"),
            format!(
                "container `{name}` does not map port {port} (its container ports: {})",
                if ports.is_empty() {
                    "none".to_string()
                } else {
                    ports
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
}

fn network(nc: &Value, path: &JsonPath, out: &mut Vec<Finding>) {
    let Some(awsvpc) = nc.as_object().and_then(|m| get(m, "AwsvpcConfiguration")) else {
        out.push(Finding::error(
            "appspec",
            path,
            "holds `AwsvpcConfiguration` with `Subnets`, `SecurityGroups` and `AssignPublicIp`",
        ));
        return;
    };
    let apath = path.key(awsvpc.0);
    let Some(cfg) = awsvpc.1.as_object() else {
        out.push(Finding::error("appspec", &apath, "must be a mapping"));
        return;
    };
    unknown_keys(
        cfg,
        &["Subnets", "SecurityGroups", "AssignPublicIp"],
        &apath,
        out,
    );
    for (key, prefix, max) in [("Subnets", "subnet-", 16), ("SecurityGroups", "sg-", 5)] {
        let Some((k, list)) = get(cfg, key) else {
            out.push(Finding::error("appspec", &apath.key(key), format!("add `{key}` (NetworkConfiguration needs Subnets, SecurityGroups and AssignPublicIp together)")));
            continue;
        };
        let Some(items) = list.as_array().filter(|l| !l.is_empty() && l.len() <= max) else {
            out.push(Finding::error(
                "appspec",
                &apath.key(k),
                format!("a list of 1–{max} IDs"),
            ));
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let ok = item.as_str().is_some_and(|s| {
                s.strip_prefix(prefix)
                    .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()))
            });
            if !ok {
                out.push(Finding::error(
                    "appspec",
                    &apath.key(k).index(i),
                    format!(
                        "{} is not an ID like `{prefix}0123456789abcdef0`",
                        super::schema::describe(item)
                    ),
                ));
            }
        }
    }
    match get(cfg, "AssignPublicIp") {
        Some((_, v)) if matches!(v.as_str(), Some("ENABLED" | "DISABLED")) => {}
        Some((k, v)) => out.push(Finding::error(
            "appspec",
            &apath.key(k),
            format!(
                "{} must be `ENABLED` or `DISABLED`",
                super::schema::describe(v)
            ),
        )),
        None => out.push(Finding::error(
            "appspec",
            &apath.key("AssignPublicIp"),
            "add `AssignPublicIp: DISABLED` (or ENABLED)",
        )),
    }
}

fn capacity_providers(cps: &Value, path: &JsonPath, out: &mut Vec<Finding>) {
    let Some(items) = cps.as_array() else {
        out.push(Finding::error(
            "appspec",
            path,
            "a list of {CapacityProvider, Base, Weight}",
        ));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(m) = item.as_object() else {
            out.push(Finding::error(
                "appspec",
                &p,
                "a mapping with `CapacityProvider`, `Base`, `Weight`",
            ));
            continue;
        };
        unknown_keys(m, &["CapacityProvider", "Base", "Weight"], &p, out);
        if m.get("CapacityProvider")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            out.push(Finding::error(
                "appspec",
                &p.key("CapacityProvider"),
                "name the capacity provider (e.g. FARGATE, FARGATE_SPOT)",
            ));
        }
        for (key, max) in [("Base", 100_000), ("Weight", 1000)] {
            if let Some(v) = m.get(key)
                && !v.as_i64().is_some_and(|n| (0..=max).contains(&n))
            {
                out.push(Finding::error(
                    "appspec",
                    &p.key(key),
                    format!("a whole number 0–{max}"),
                ));
            }
        }
    }
}

fn hooks_rule(hooks: &Value, path: &JsonPath, out: &mut Vec<Finding>) {
    let Some(items) = hooks.as_array() else {
        out.push(Finding::error(
            "appspec",
            path,
            "a list of `- HOOK: lambda-function-name` entries",
        ));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(m) = item.as_object().filter(|m| m.len() == 1) else {
            out.push(Finding::error(
                "appspec",
                &p,
                "one `HOOK: lambda-function-name` per list item",
            ));
            continue;
        };
        let (hook, function) = m.iter().next().expect("one entry");
        if !HOOKS.contains(&hook.as_str()) {
            out.push(Finding::error(
                "appspec",
                &p.key(hook),
                format!(
                    "`{hook}` is not an ECS hook; use one of {}",
                    HOOKS.join(", ")
                ),
            ));
        }
        if !function
            .as_str()
            .is_some_and(|f| !f.trim().is_empty() && !f.contains(char::is_whitespace))
        {
            out.push(Finding::error(
                "appspec",
                &p.key(hook),
                format!(
                    "{} is not a Lambda function name or ARN",
                    super::schema::describe(function)
                ),
            ));
        }
    }
}

/// The flags of `render-taskdef new-appspec`.
#[derive(Debug, Clone, Default)]
pub struct NewAppSpec {
    /// `TaskDefinition` (default `<TASK_DEFINITION>`).
    pub task_definition: Option<String>,
    /// `LoadBalancerInfo.ContainerName`.
    pub container: String,
    /// `LoadBalancerInfo.ContainerPort`.
    pub port: u16,
    /// `PlatformVersion`.
    pub platform_version: Option<String>,
    /// `AwsvpcConfiguration.Subnets`.
    pub subnets: Vec<String>,
    /// `AwsvpcConfiguration.SecurityGroups`.
    pub security_groups: Vec<String>,
    /// `AwsvpcConfiguration.AssignPublicIp`.
    pub assign_public_ip: bool,
    /// `CapacityProviderStrategy`: (provider, base, weight).
    pub capacity_providers: Vec<(String, Option<u64>, Option<u64>)>,
    /// `Hooks`: (hook, function).
    pub hooks: Vec<(String, String)>,
}

/// An AppSpec from flags, fields in the documented order.
pub fn generate(spec: &NewAppSpec) -> Value {
    let mut props = Map::new();
    props.insert(
        "TaskDefinition".into(),
        json!(
            spec.task_definition
                .as_deref()
                .unwrap_or(TASK_DEFINITION_PLACEHOLDER)
        ),
    );
    props.insert(
        "LoadBalancerInfo".into(),
        json!({"ContainerName": spec.container, "ContainerPort": spec.port}),
    );
    if let Some(pv) = &spec.platform_version {
        props.insert("PlatformVersion".into(), json!(pv));
    }
    if !spec.subnets.is_empty() || !spec.security_groups.is_empty() {
        props.insert(
            "NetworkConfiguration".into(),
            json!({"AwsvpcConfiguration": {
                "Subnets": spec.subnets,
                "SecurityGroups": spec.security_groups,
                "AssignPublicIp": if spec.assign_public_ip { "ENABLED" } else { "DISABLED" },
            }}),
        );
    }
    if !spec.capacity_providers.is_empty() {
        let list: Vec<Value> = spec
            .capacity_providers
            .iter()
            .map(|(name, base, weight)| {
                let mut m = Map::new();
                m.insert("CapacityProvider".into(), json!(name));
                if let Some(b) = base {
                    m.insert("Base".into(), json!(b));
                }
                if let Some(w) = weight {
                    m.insert("Weight".into(), json!(w));
                }
                Value::Object(m)
            })
            .collect();
        props.insert("CapacityProviderStrategy".into(), Value::Array(list));
    }
    let mut doc = Map::new();
    doc.insert("version".into(), json!(0.0));
    doc.insert(
        "Resources".into(),
        json!([{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}]),
    );
    if !spec.hooks.is_empty() {
        let mut hooks = spec.hooks.clone();
        hooks.sort_by_key(|(h, _)| HOOKS.iter().position(|k| k == h));
        doc.insert(
            "Hooks".into(),
            Value::Array(hooks.into_iter().map(|(h, f)| json!({ h: f })).collect()),
        );
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td() -> Value {
        json!({"family": "web", "containerDefinitions": [
            {"name": "web", "image": "x", "portMappings": [{"containerPort": 8080}]},
            {"name": "side", "image": "y"}]})
    }

    fn paths(doc: &Value, placeholder_ok: bool) -> Vec<String> {
        validate(doc, Some(&td()), placeholder_ok)
            .iter()
            .map(|f| format!("{}@{}", f.rule, f.path))
            .collect()
    }

    fn minimal() -> Value {
        generate(&NewAppSpec {
            container: "web".into(),
            port: 8080,
            ..NewAppSpec::default()
        })
    }

    #[test]
    fn generated_appspecs_validate() {
        assert_eq!(paths(&minimal(), true), Vec::<String>::new());
        let full = generate(&NewAppSpec {
            task_definition: Some(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7".into(),
            ),
            container: "web".into(),
            port: 8080,
            platform_version: Some("1.4.0".into()),
            subnets: vec!["subnet-0a1b".into(), "subnet-0c2d".into()],
            security_groups: vec!["sg-01".into()],
            assign_public_ip: false,
            capacity_providers: vec![
                ("FARGATE".into(), Some(1), Some(1)),
                ("FARGATE_SPOT".into(), None, Some(3)),
            ],
            hooks: vec![
                ("AfterAllowTestTraffic".into(), "smoke".into()),
                ("BeforeInstall".into(), "prep".into()),
            ],
        });
        assert_eq!(paths(&full, false), Vec::<String>::new());
        assert_eq!(
            full["Hooks"],
            json!([{"BeforeInstall": "prep"}, {"AfterAllowTestTraffic": "smoke"}])
        );
    }

    #[test]
    fn each_rule_fails_on_its_case() {
        let set = |pointer: &str, v: Value| {
            let mut doc = minimal();
            *doc.pointer_mut(pointer).unwrap() = v;
            paths(&doc, true)
        };
        let lb = "/Resources/0/TargetService/Properties/LoadBalancerInfo";
        assert_eq!(set("/version", json!(1)), ["appspec@version"]);
        assert_eq!(
            set(&format!("{lb}/ContainerName"), json!("nope")),
            ["appspec@Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerName"]
        );
        assert_eq!(
            set(&format!("{lb}/ContainerPort"), json!(80)),
            ["appspec@Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort"]
        );
        assert_eq!(
            set(&format!("{lb}/ContainerPort"), json!(" ")),
            ["appspec@Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort"]
        );
        assert_eq!(
            set(lb, json!([{"ContainerName": "web"}])),
            ["appspec@Resources[0].TargetService.Properties.LoadBalancerInfo"]
        );
        assert_eq!(
            set(
                "/Resources/0/TargetService/Type",
                json!("AWS::Lambda::Function")
            ),
            ["appspec@Resources[0].TargetService.Type"]
        );
        assert_eq!(
            set(
                "/Resources/0/TargetService/Properties/TaskDefinition",
                json!("[arn]")
            ),
            ["appspec@Resources[0].TargetService.Properties.TaskDefinition"]
        );
        let mut doc = minimal();
        assert_eq!(
            paths(&doc, false),
            ["leftover@Resources[0].TargetService.Properties.TaskDefinition"]
        );
        doc["Hooks"] = json!([{"BeforeStart": "fn"}, {"AfterInstall": " "}]);
        assert_eq!(
            paths(&doc, true),
            [
                "appspec@Hooks[0].BeforeStart",
                "appspec@Hooks[1].AfterInstall"
            ]
        );
    }

    #[test]
    fn task_definition_arns() {
        assert!(is_task_definition_arn(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"
        ));
        assert!(is_task_definition_arn(
            "arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/a_b-c:12"
        ));
        assert!(!is_task_definition_arn(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web"
        ));
        assert!(!is_task_definition_arn(
            "arn:aws:ecs:us-east-1:1234:task-definition/web:1"
        ));
        assert!(!is_task_definition_arn("<TASK_DEFINITION>"));
    }

    #[test]
    fn substitution_keeps_the_text() {
        let text = "# keep me\nversion: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"<TASK_DEFINITION>\"   # the action fills this\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\n";
        let mut doc = document::parse(text, Syntax::Yaml).unwrap();
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        assert!(set_task_definition(&mut doc, arn));
        let patched = patch_text(text, Syntax::Yaml, arn, &doc).unwrap();
        assert_eq!(patched, text.replace("<TASK_DEFINITION>", arn));
        // A second occurrence (in a comment) means the text cannot be patched safely.
        let two = format!("# <TASK_DEFINITION> is replaced\n{text}");
        assert_eq!(patch_text(&two, Syntax::Yaml, arn, &doc), None);
    }
}
