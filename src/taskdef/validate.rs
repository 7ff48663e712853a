//! Offline validation of a task definition: the ECS model (types, enumerations, unknown fields), then
//! the rules ECS enforces at registration or launch that the model does not express. Each finding
//! names its JSON path and says what is allowed. Rules (their `rule` names in `--json`):
//!
//! | rule | what |
//! |---|---|
//! | `type`, `required`, `unknown-field` | the RegisterTaskDefinition model |
//! | `name` | family and container names: 1–255 of `[A-Za-z0-9_-]`, container names unique |
//! | `containers` | 1–10 containers, each with `name` and `image` |
//! | `essential` | at least one essential container (`essential` defaults to true) |
//! | `fargate-size` | Fargate task cpu/memory pairs (`"1 vCPU"`, `"2 GB"` forms accepted) |
//! | `network-mode` | Fargate needs `awsvpc` |
//! | `port` | `hostPort` under awsvpc/host, no mappings under `none`, ranges, clashes |
//! | `log-driver` | Fargate drivers; `awslogs` options |
//! | `fargate` | EC2-only fields on Fargate (`privileged`, `links`, devices…) |
//! | `ephemeral-storage` | 21–200 GiB |
//! | `memory` | `memory` > `memoryReservation`; EC2 containers sized; sums within the task |
//! | `health-check` | command form and interval/timeout/retries/startPeriod ranges |
//! | `execution-role` | required for secrets, private registry auth, S3 env files, ECR pulls and awslogs on Fargate |
//! | `role-arn` | role ARNs well formed |
//! | `image` | image references parse; placeholders only where meant |
//! | `leftover` | `${…}`, `{{…}}`, `<TASK_DEFINITION>`, `<IMAGEn_NAME>` left in the file |
//! | `secret-in-environment` | secret-looking names with literal values (warning) |
//! | `size` | the request ECS receives (compact JSON) is at most 64 KiB |
//! | `runtime-platform` | with `--platform-images`: `runtimePlatform` is a platform the image has ([`super::platforms`]) |

use super::model::REGISTER_TASK_DEFINITION_REQUEST;
use super::schema::{self, Ty};
use super::{Finding, JsonPath, image_placeholder};
use crate::reference::ImageRef;
use serde_json::Value;

/// What the file is for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The file is the CodeDeployToECS template: `<IMAGEn_NAME>` in `image` is expected.
    pub codedeploy: bool,
    /// Paths whose `${` was written as `$${` in the template: a literal on purpose (e.g. for a
    /// shell in the container), not a leftover.
    pub literal: Vec<String>,
}

/// Fargate's task-level CPU units and the memory (MiB) each allows: (cpu, first, last, step).
const FARGATE_SIZES: [(u64, u64, u64, u64); 7] = [
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122_880, 8192),
];

/// Every finding for the task definition `td`.
pub fn task_definition(td: &Value, options: &Options) -> Vec<Finding> {
    let root = JsonPath::root();
    let mut out = Vec::new();
    if !td.is_object() {
        out.push(Finding::error(
            "type",
            &root,
            format!(
                "a task definition is a mapping of fields, found {}",
                schema::describe(td)
            ),
        ));
        return out;
    }
    schema::check(
        td,
        &Ty::Struct(REGISTER_TASK_DEFINITION_REQUEST),
        &root,
        &mut out,
    );
    let task = Task::read(td);
    names(td, &mut out);
    containers(td, &task, &mut out);
    fargate(td, &task, &mut out);
    ports(td, &task, &mut out);
    roles(td, &task, &mut out);
    leftovers(td, &root, options, &mut out);
    let size = serde_json::to_vec(td).map_or(0, |v| v.len());
    if size > MAX_SIZE {
        out.push(Finding::error(
            "size",
            &root,
            format!("the task definition is {size} bytes as compact JSON; ECS accepts at most {MAX_SIZE} (64 KiB): move large values to environment files in S3 or to secrets"),
        ));
    }
    out
}

/// The largest task definition ECS registers, in bytes of compact JSON.
pub const MAX_SIZE: usize = 65_536;

/// Task-level facts the rules share.
struct Task {
    fargate: bool,
    network_mode: String,
    cpu: Option<u64>,
    memory: Option<u64>,
}

impl Task {
    fn read(td: &Value) -> Task {
        let fargate = td
            .get("requiresCompatibilities")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|c| c == "FARGATE"));
        let network_mode = td
            .get("networkMode")
            .and_then(Value::as_str)
            .unwrap_or(if fargate { "awsvpc" } else { "bridge" })
            .to_string();
        Task {
            fargate,
            network_mode,
            cpu: td.get("cpu").and_then(Value::as_str).and_then(parse_cpu),
            memory: td
                .get("memory")
                .and_then(Value::as_str)
                .and_then(parse_memory),
        }
    }
}

/// `"1024"`, `"1 vCPU"`, `"0.25 vcpu"` → CPU units.
pub fn parse_cpu(s: &str) -> Option<u64> {
    parse_size(s, &["vcpu"], 1024)
}

/// `"2048"`, `"2 GB"`, `"0.5GB"` → MiB.
pub fn parse_memory(s: &str) -> Option<u64> {
    parse_size(s, &["gb", "gib"], 1024)
}

fn parse_size(s: &str, units: &[&str], factor: u64) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    if let Some(n) = units.iter().find_map(|u| lower.strip_suffix(u)) {
        let n: f64 = n.trim().parse().ok()?;
        let v = n * factor as f64;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked just before: finite, positive and whole"
        )]
        return (v.is_finite() && v > 0.0 && v.fract() == 0.0).then_some(v as u64);
    }
    lower.parse().ok()
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn names(td: &Value, out: &mut Vec<Finding>) {
    if let Some(family) = td.get("family").and_then(Value::as_str)
        && !name_ok(family)
    {
        out.push(Finding::error(
            "name",
            &JsonPath::root().key("family"),
            format!("`{family}` is not a family name: use 1–255 letters, digits, `_` or `-`"),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in super::containers(td).iter().enumerate() {
        let Some(name) = c.get("name").and_then(Value::as_str) else {
            continue;
        };
        let path = cpath(i).key("name");
        if !name_ok(name) {
            out.push(Finding::error(
                "name",
                &path,
                format!("`{name}` is not a container name: use 1–255 letters, digits, `_` or `-`"),
            ));
        }
        if seen.contains(&name) {
            out.push(Finding::error(
                "name",
                &path,
                format!("container name `{name}` is used twice; names must be unique"),
            ));
        }
        seen.push(name);
    }
}

fn cpath(i: usize) -> JsonPath {
    JsonPath::root().key("containerDefinitions").index(i)
}

fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

#[expect(
    clippy::too_many_lines,
    reason = "one rule after another, each a few lines, in the order the findings are reported"
)]
fn containers(td: &Value, task: &Task, out: &mut Vec<Finding>) {
    let list = super::containers(td);
    let path = JsonPath::root().key("containerDefinitions");
    if td.get("containerDefinitions").is_some_and(Value::is_array) && list.is_empty() {
        out.push(Finding::error(
            "containers",
            &path,
            "a task needs at least one container",
        ));
    }
    if list.len() > 10 {
        out.push(Finding::error(
            "containers",
            &path,
            format!(
                "{} containers; a task definition holds at most 10",
                list.len()
            ),
        ));
    }
    if !list.is_empty()
        && !list
            .iter()
            .any(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
    {
        out.push(Finding::error(
            "essential",
            &path,
            "no container is essential; mark at least one `\"essential\": true` (the default when omitted)",
        ));
    }
    let (mut cpu_sum, mut mem_sum) = (0i64, 0i64);
    for (i, c) in list.iter().enumerate() {
        let p = cpath(i);
        if !c.is_object() {
            continue;
        }
        for key in ["name", "image"] {
            if c.get(key).is_none() {
                out.push(Finding::error(
                    "containers",
                    &p.key(key),
                    format!("every container needs `{key}`"),
                ));
            }
        }
        let memory = int(c, "memory");
        let reservation = int(c, "memoryReservation");
        if let (Some(m), Some(r)) = (memory, reservation)
            && m <= r
        {
            out.push(Finding::error(
                "memory",
                &p.key("memoryReservation"),
                format!(
                    "memoryReservation ({r} MiB) must be less than memory ({m} MiB), the hard limit"
                ),
            ));
        }
        if !task.fargate
            && task.memory.is_none()
            && c.get("memory").is_none()
            && c.get("memoryReservation").is_none()
        {
            out.push(Finding::error(
                "memory",
                &p,
                "the task has no task-level `memory`, so on EC2 each container needs `memory` or `memoryReservation` (MiB)",
            ));
        }
        cpu_sum += int(c, "cpu").unwrap_or(0);
        mem_sum += memory.or(reservation).unwrap_or(0);
        if let Some(hc) = c.get("healthCheck").filter(|h| h.is_object()) {
            health_check(hc, &p.key("healthCheck"), out);
        }
        if let Some(lc) = c.get("logConfiguration").filter(|l| l.is_object()) {
            log_configuration(lc, &p.key("logConfiguration"), task, out);
        }
        if let Some(image) = c.get("image").and_then(Value::as_str)
            && image_placeholder(image).is_none()
            && let Err(e) = ImageRef::parse(image)
        {
            out.push(Finding::error(
                "image",
                &p.key("image"),
                format!("`{image}` is not an image reference ({}); write REPOSITORY[:TAG][@DIGEST], e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2", e.reason()),
            ));
        }
        secret_environment(c, &p, out);
    }
    let sums = [
        ("cpu", task.cpu, cpu_sum, "CPU units"),
        ("memory", task.memory, mem_sum, "MiB"),
    ];
    for (key, limit, sum, unit) in sums {
        if let Some(limit) = limit
            && u64::try_from(sum).is_ok_and(|s| s > limit)
        {
            out.push(Finding::error(
                "memory",
                &path,
                format!(
                    "the containers' {key} adds up to {sum} {unit}, more than the task's {limit}"
                ),
            ));
        }
    }
}

fn health_check(hc: &Value, p: &JsonPath, out: &mut Vec<Finding>) {
    let ranges = [
        ("interval", 5, 300),
        ("timeout", 2, 60),
        ("retries", 1, 10),
        ("startPeriod", 0, 300),
    ];
    for (key, lo, hi) in ranges {
        if let Some(v) = int(hc, key)
            && !(lo..=hi).contains(&v)
        {
            out.push(Finding::error(
                "health-check",
                &p.key(key),
                format!("{v} is outside {lo}–{hi}"),
            ));
        }
    }
    if let Some(cmd) = hc.get("command").and_then(Value::as_array) {
        let first = cmd.first().and_then(Value::as_str);
        let ok = matches!(first, Some("NONE"))
            || (matches!(first, Some("CMD" | "CMD-SHELL")) && cmd.len() > 1);
        if !ok {
            out.push(Finding::error(
                "health-check",
                &p.key("command"),
                "start with \"CMD\" (then the arguments) or \"CMD-SHELL\" (then one shell command), e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]",
            ));
        }
    }
}

fn log_configuration(lc: &Value, p: &JsonPath, task: &Task, out: &mut Vec<Finding>) {
    let Some(driver) = lc.get("logDriver").and_then(Value::as_str) else {
        return;
    };
    if task.fargate && !matches!(driver, "awslogs" | "splunk" | "awsfirelens") {
        out.push(Finding::error(
            "log-driver",
            &p.key("logDriver"),
            format!("Fargate supports the log drivers `awslogs`, `splunk` and `awsfirelens`, not `{driver}`"),
        ));
    }
    if driver == "awslogs" {
        let options = lc.get("options").and_then(Value::as_object);
        let mut needed = vec!["awslogs-group", "awslogs-region"];
        if task.fargate {
            needed.push("awslogs-stream-prefix");
        }
        for key in needed {
            if !options.is_some_and(|o| o.contains_key(key)) {
                out.push(Finding::error(
                    "log-driver",
                    &p.key("options").key(key),
                    format!(
                        "the awslogs driver needs `{key}`{}",
                        if key == "awslogs-stream-prefix" {
                            " on Fargate"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
    }
}

fn fargate(td: &Value, task: &Task, out: &mut Vec<Finding>) {
    let root = JsonPath::root();
    if let Some(eph) = td.get("ephemeralStorage").and_then(|e| int(e, "sizeInGiB"))
        && !(21..=200).contains(&eph)
    {
        out.push(Finding::error(
            "ephemeral-storage",
            &root.key("ephemeralStorage").key("sizeInGiB"),
            format!("{eph} GiB is outside 21–200"),
        ));
    }
    if !task.fargate {
        return;
    }
    if task.network_mode != "awsvpc" {
        out.push(Finding::error(
            "network-mode",
            &root.key("networkMode"),
            format!("Fargate tasks need `awsvpc`, not `{}`", task.network_mode),
        ));
    }
    fargate_size(td, task, out);
    let unsupported_task = [
        ("placementConstraints", "placement constraints"),
        ("ipcMode", "`ipcMode`"),
        ("inferenceAccelerators", "inference accelerators"),
    ];
    for (key, what) in unsupported_task {
        if td.get(key).is_some_and(present) {
            out.push(Finding::error(
                "fargate",
                &root.key(key),
                format!("Fargate does not support {what}; remove it"),
            ));
        }
    }
    if td.get("pidMode").and_then(Value::as_str) == Some("host") {
        out.push(Finding::error(
            "fargate",
            &root.key("pidMode"),
            "Fargate supports `pidMode` `task` only",
        ));
    }
    for (i, v) in td
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let p = root.key("volumes").index(i);
        if v.get("host")
            .and_then(|h| h.get("sourcePath"))
            .is_some_and(present)
        {
            out.push(Finding::error(
                "fargate",
                &p.key("host").key("sourcePath"),
                "Fargate has no host paths; use an empty `host` (task storage) or EFS",
            ));
        }
        if v.get("dockerVolumeConfiguration").is_some() {
            out.push(Finding::error(
                "fargate",
                &p.key("dockerVolumeConfiguration"),
                "Fargate does not support Docker volumes; use EFS",
            ));
        }
    }
    fargate_containers(td, out);
}

/// EC2-only container fields on Fargate.
fn fargate_containers(td: &Value, out: &mut Vec<Finding>) {
    for (i, c) in super::containers(td).iter().enumerate() {
        let p = cpath(i);
        if c.get("privileged").and_then(Value::as_bool) == Some(true) {
            out.push(Finding::error(
                "fargate",
                &p.key("privileged"),
                "Fargate does not run privileged containers",
            ));
        }
        for key in [
            "dockerSecurityOptions",
            "extraHosts",
            "dnsServers",
            "dnsSearchDomains",
        ] {
            if c.get(key).is_some_and(present) {
                out.push(Finding::error(
                    "fargate",
                    &p.key(key),
                    format!("Fargate does not support `{key}`"),
                ));
            }
        }
        if let Some(lp) = c.get("linuxParameters") {
            for key in [
                "devices",
                "sharedMemorySize",
                "tmpfs",
                "maxSwap",
                "swappiness",
            ] {
                if lp.get(key).is_some_and(present) {
                    out.push(Finding::error(
                        "fargate",
                        &p.key("linuxParameters").key(key),
                        format!("Fargate does not support `linuxParameters.{key}`"),
                    ));
                }
            }
        }
    }
}

/// Whether a field holds something (not `null`, `""`, `[]` or `{}`).
fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn fargate_size(td: &Value, task: &Task, out: &mut Vec<Finding>) {
    let root = JsonPath::root();
    let cpu_text = td.get("cpu").and_then(Value::as_str);
    let mem_text = td.get("memory").and_then(Value::as_str);
    let allowed_cpu = FARGATE_SIZES
        .iter()
        .map(|(c, ..)| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match (cpu_text, task.cpu) {
        (None, _) if td.get("cpu").is_none() => out.push(Finding::error(
            "fargate-size",
            &root.key("cpu"),
            format!("Fargate tasks need a task-level `cpu`: one of {allowed_cpu} (CPU units) or \"1 vCPU\" forms"),
        )),
        (Some(text), None) => out.push(Finding::error(
            "fargate-size",
            &root.key("cpu"),
            format!("`{text}` is not a CPU size: use CPU units ({allowed_cpu}) or \"1 vCPU\""),
        )),
        _ => {}
    }
    match (mem_text, task.memory) {
        (None, _) if td.get("memory").is_none() => out.push(Finding::error(
            "fargate-size",
            &root.key("memory"),
            "Fargate tasks need a task-level `memory` in MiB (\"2048\") or GB (\"2 GB\")",
        )),
        (Some(text), None) => out.push(Finding::error(
            "fargate-size",
            &root.key("memory"),
            format!("`{text}` is not a memory size: use MiB (\"2048\") or GB (\"2 GB\")"),
        )),
        _ => {}
    }
    let (Some(cpu), Some(memory)) = (task.cpu, task.memory) else {
        return;
    };
    match FARGATE_SIZES.iter().find(|(c, ..)| *c == cpu) {
        None => out.push(Finding::error(
            "fargate-size",
            &root.key("cpu"),
            format!("Fargate has no {cpu}-unit size; use one of {allowed_cpu}"),
        )),
        Some(&(_, first, last, step)) => {
            let ok = (first..=last).contains(&memory) && (memory - first) % step == 0;
            if !ok {
                out.push(Finding::error(
                    "fargate-size",
                    &root.key("memory"),
                    format!("with cpu {cpu}, Fargate allows memory {first}–{last} MiB in steps of {step}; got {memory}"),
                ));
            }
        }
    }
}

fn ports(td: &Value, task: &Task, out: &mut Vec<Finding>) {
    let mode = task.network_mode.as_str();
    let mut claimed: Vec<(i64, String, String)> = Vec::new(); // (port, protocol, path)
    for (i, c) in super::containers(td).iter().enumerate() {
        let p = cpath(i);
        if mode == "awsvpc" && c.get("links").is_some_and(present) {
            out.push(Finding::error(
                "fargate",
                &p.key("links"),
                "`links` work only in bridge mode; under awsvpc containers reach each other on localhost",
            ));
        }
        if mode == "awsvpc" && c.get("hostname").is_some_and(present) {
            out.push(Finding::error(
                "port",
                &p.key("hostname"),
                "`hostname` is not supported under awsvpc",
            ));
        }
        let Some(mappings) = c.get("portMappings").and_then(Value::as_array) else {
            continue;
        };
        if mode == "none" && !mappings.is_empty() {
            out.push(Finding::error(
                "port",
                &p.key("portMappings"),
                "networkMode `none` has no network: remove the port mappings or change the mode",
            ));
            continue;
        }
        for (j, m) in mappings.iter().enumerate() {
            let mp = p.key("portMappings").index(j);
            let container_port = int(m, "containerPort");
            if let Some(cp) = container_port
                && !(1..=65535).contains(&cp)
            {
                out.push(Finding::error(
                    "port",
                    &mp.key("containerPort"),
                    format!("{cp} is outside 1–65535"),
                ));
            }
            if container_port.is_none()
                && m.get("containerPortRange").is_none()
                && m.get("containerPort").is_none()
            {
                out.push(Finding::error(
                    "port",
                    &mp.key("containerPort"),
                    "a port mapping needs `containerPort` (or `containerPortRange`)",
                ));
            }
            let host_port = int(m, "hostPort");
            match (mode, host_port, container_port) {
                ("awsvpc" | "host", Some(h), Some(cp)) if h != cp => out.push(Finding::error(
                    "port",
                    &mp.key("hostPort"),
                    format!("under {mode} `hostPort` must be omitted or equal `containerPort` ({cp}); got {h}"),
                )),
                ("bridge", Some(h), _) if !(0..=65535).contains(&h) => out.push(Finding::error(
                    "port",
                    &mp.key("hostPort"),
                    format!("{h} is outside 0–65535 (0 or omitted: a dynamic host port)"),
                )),
                _ => {}
            }
            let protocol = m
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("tcp")
                .to_string();
            // The port that must be unique: the container port in the task's namespace (awsvpc, host),
            // the fixed host port on the instance (bridge).
            let unique = match mode {
                "awsvpc" | "host" => container_port,
                _ => host_port.filter(|h| *h > 0),
            };
            if let Some(port) = unique {
                if let Some((_, _, first)) = claimed
                    .iter()
                    .find(|(p, pr, _)| *p == port && *pr == protocol)
                {
                    out.push(Finding::error(
                        "port",
                        &mp,
                        format!("port {port}/{protocol} is already mapped at {first}; under {mode} each port can be mapped once"),
                    ));
                } else {
                    claimed.push((port, protocol, mp.to_string()));
                }
            }
        }
    }
}

fn roles(td: &Value, task: &Task, out: &mut Vec<Finding>) {
    let root = JsonPath::root();
    for key in ["taskRoleArn", "executionRoleArn"] {
        let Some(role) = td.get(key).and_then(Value::as_str) else {
            continue;
        };
        if let Some(problem) = role_problem(role) {
            out.push(Finding::error("role-arn", &root.key(key), problem));
        }
    }
    let has_execution_role = td
        .get("executionRoleArn")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty());
    if has_execution_role {
        return;
    }
    let mut reasons: Vec<String> = Vec::new();
    for (i, c) in super::containers(td).iter().enumerate() {
        let p = cpath(i);
        if c.get("secrets").is_some_and(present) {
            reasons.push(format!(
                "{} (ECS reads the secrets with it)",
                p.key("secrets")
            ));
        }
        let lc = c.get("logConfiguration");
        if lc.and_then(|l| l.get("secretOptions")).is_some_and(present) {
            reasons.push(format!(
                "{} (log driver secrets)",
                p.key("logConfiguration").key("secretOptions")
            ));
        }
        if c.get("repositoryCredentials").is_some() {
            reasons.push(format!(
                "{} (private registry credentials)",
                p.key("repositoryCredentials")
            ));
        }
        if c.get("environmentFiles").is_some_and(present) {
            reasons.push(format!(
                "{} (S3 environment files)",
                p.key("environmentFiles")
            ));
        }
        if task.fargate {
            if c.get("image")
                .and_then(Value::as_str)
                .is_some_and(is_private_ecr)
            {
                reasons.push(format!(
                    "{} (Fargate pulls from private ECR with it)",
                    p.key("image")
                ));
            }
            if lc.and_then(|l| l.get("logDriver")).and_then(Value::as_str) == Some("awslogs") {
                reasons.push(format!(
                    "{} (awslogs on Fargate)",
                    p.key("logConfiguration")
                ));
            }
        }
    }
    if !reasons.is_empty() {
        out.push(Finding::error(
            "execution-role",
            &root.key("executionRoleArn"),
            format!(
                "a task execution role is required by {}; set it to the role's ARN (e.g. arn:aws:iam::123456789012:role/ecsTaskExecutionRole)",
                reasons.join(", ")
            ),
        ));
    }
}

/// What is wrong with a role given as an ARN or a name, if anything.
fn role_problem(role: &str) -> Option<String> {
    if role.is_empty() {
        return None;
    }
    let Some(rest) = role.strip_prefix("arn:") else {
        let name_ok = role.len() <= 64
            && role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        return (!name_ok).then(|| {
            format!(
                "`{role}` is neither a role ARN (arn:aws:iam::ACCOUNT:role/NAME) nor a role name"
            )
        });
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts.as_slice() else {
        return Some(format!(
            "`{role}` is not an ARN: arn:PARTITION:iam::ACCOUNT:role/NAME"
        ));
    };
    if !partition.starts_with("aws") || *service != "iam" || !region.is_empty() {
        return Some(format!(
            "`{role}` is not an IAM ARN: arn:aws:iam::ACCOUNT:role/NAME"
        ));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!(
            "`{role}`: the account `{account}` is not a 12-digit AWS account ID"
        ));
    }
    if !resource.starts_with("role/") || resource.len() <= "role/".len() {
        return Some(format!("`{role}` does not name a role (…:role/NAME)"));
    }
    None
}

/// `123456789012.dkr.ecr.REGION.amazonaws.com/…`
fn is_private_ecr(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or("");
    crate::ecr_host::EcrRegistry::private(host).is_some()
}

/// Placeholders and template syntax left in the file.
fn leftovers(v: &Value, path: &JsonPath, options: &Options, out: &mut Vec<Finding>) {
    match v {
        Value::String(s) => {
            if let Some(n) = image_placeholder(s) {
                let is_image = path.to_string().starts_with("containerDefinitions[")
                    && path.to_string().ends_with("].image");
                if !is_image {
                    out.push(Finding::error(
                        "leftover",
                        path,
                        format!("`{s}` belongs in a container's `image` only"),
                    ));
                } else if !options.codedeploy {
                    out.push(Finding::error(
                        "leftover",
                        path,
                        format!("the placeholder `{s}` is still here; give the image (--image CONTAINER=URI) or keep it on purpose with --codedeploy (IMAGE{n}_NAME for the CodeDeployToECS action)"),
                    ));
                }
            } else if s.contains("<TASK_DEFINITION>") {
                out.push(Finding::error(
                    "leftover",
                    path,
                    "`<TASK_DEFINITION>` belongs in the AppSpec, not the task definition",
                ));
            } else if let Some(found) = template_leftover(s)
                && !options.literal.contains(&path.to_string())
            {
                out.push(Finding::error(
                    "leftover",
                    path,
                    format!("`{found}` was not substituted; define the variable or remove the template syntax"),
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leftovers(item, &path.index(i), options, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                leftovers(item, &path.key(k), options, out);
            }
        }
        _ => {}
    }
}

/// The first `${…}` or `{{…}}` in `s`.
fn template_leftover(s: &str) -> Option<&str> {
    for (open, close) in [("${", "}"), ("{{", "}}")] {
        if let Some(i) = s.find(open)
            && let Some(j) = s[i..].find(close)
        {
            return Some(&s[i..i + j + close.len()]);
        }
    }
    None
}

/// Environment entries whose names say secret and whose values are literal.
fn secret_environment(c: &Value, p: &JsonPath, out: &mut Vec<Finding>) {
    let container = c.get("name").and_then(Value::as_str).unwrap_or("CONTAINER");
    for (j, e) in c
        .get("environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (Some(name), Some(value)) = (
            e.get("name").and_then(Value::as_str),
            e.get("value").and_then(Value::as_str),
        ) else {
            continue;
        };
        let harmless = value.is_empty()
            || value.parse::<f64>().is_ok()
            || matches!(
                value.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no" | "on" | "off"
            )
            || value.starts_with("arn:");
        if looks_secret(name) && !harmless {
            out.push(Finding::warning(
                "secret-in-environment",
                &p.key("environment").index(j).key("value"),
                format!("`{name}` looks like a secret but its value is written in the task definition (readable by anyone who can describe it); store it in Secrets Manager or SSM and pass it with `secrets`: --secret {container}:{name}=arn:aws:secretsmanager:…"),
            ));
        }
    }
}

/// A name with a word like PASSWORD, SECRET, TOKEN or KEY in it (`DB_PASSWORD`, `apiKey`).
pub fn looks_secret(name: &str) -> bool {
    const WORDS: [&str; 11] = [
        "PASSWORD",
        "PASSWD",
        "PASS",
        "SECRET",
        "TOKEN",
        "KEY",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATE",
        "AUTH",
    ];
    // Split on separators and camelCase boundaries.
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_uppercase());
    }
    words.push(cur);
    words.iter().any(|w| {
        WORDS.contains(&w.as_str())
            || w.ends_with("PASSWORD")
            || w.ends_with("SECRET")
            || w.ends_with("TOKEN")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(td: &Value) -> Vec<String> {
        task_definition(td, &Options::default())
            .iter()
            .map(|f| format!("{}@{}", f.rule, f.path))
            .collect()
    }

    fn fargate_td() -> Value {
        json!({
            "family": "web",
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "containerDefinitions": [{
                "name": "web",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "portMappings": [{"containerPort": 80, "hostPort": 80}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}},
                "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0},
                "environment": [{"name": "MODE", "value": "prod"}]
            }]
        })
    }

    /// Sets `pointer` in a copy of the passing task definition and returns the findings.
    fn with(pointer: &str, value: Value) -> Vec<String> {
        let mut td = fargate_td();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match td.pointer_mut(parent).unwrap() {
            Value::Array(items) => items.push(value),
            Value::Object(map) if value.is_null() => {
                map.shift_remove(key);
            }
            Value::Object(map) => {
                map.insert(key.to_string(), value);
            }
            other => panic!("{pointer}: {other}"),
        }
        rules(&td)
    }

    #[test]
    fn a_good_fargate_task_passes() {
        assert_eq!(rules(&fargate_td()), Vec::<String>::new());
    }

    #[test]
    #[expect(clippy::too_many_lines, reason = "one table row per rule")]
    fn each_rule_fails_on_its_case() {
        let cases: Vec<(&str, Value, &[&str])> = vec![
            ("/memory", json!("4096"), &["fargate-size@memory"]),
            ("/cpu", json!("1 vCPU"), &["fargate-size@memory"]),
            ("/cpu", json!("300"), &["fargate-size@cpu"]),
            ("/cpu", json!("lots"), &["fargate-size@cpu"]),
            ("/memory", json!(null), &["fargate-size@memory"]),
            (
                "/networkMode",
                json!("bridge"),
                &["network-mode@networkMode"],
            ),
            (
                "/containerDefinitions/0/portMappings/0/hostPort",
                json!(8080),
                &["port@containerDefinitions[0].portMappings[0].hostPort"],
            ),
            (
                "/containerDefinitions/0/logConfiguration/logDriver",
                json!("json-file"),
                &["log-driver@containerDefinitions[0].logConfiguration.logDriver"],
            ),
            (
                "/containerDefinitions/0/logConfiguration/options/awslogs-stream-prefix",
                json!(null),
                &[
                    "log-driver@containerDefinitions[0].logConfiguration.options[\"awslogs-stream-prefix\"]",
                ],
            ),
            (
                "/containerDefinitions/0/privileged",
                json!(true),
                &["fargate@containerDefinitions[0].privileged"],
            ),
            (
                "/containerDefinitions/0/healthCheck/interval",
                json!(3),
                &["health-check@containerDefinitions[0].healthCheck.interval"],
            ),
            (
                "/containerDefinitions/0/healthCheck/retries",
                json!(11),
                &["health-check@containerDefinitions[0].healthCheck.retries"],
            ),
            (
                "/containerDefinitions/0/healthCheck/command",
                json!(["curl"]),
                &["health-check@containerDefinitions[0].healthCheck.command"],
            ),
            (
                "/containerDefinitions/0/name",
                json!("web app"),
                &["name@containerDefinitions[0].name"],
            ),
            ("/family", json!("a/b"), &["name@family"]),
            (
                "/containerDefinitions/0/essential",
                json!(false),
                &["essential@containerDefinitions"],
            ),
            ("/containerDefinitions/0/memory", json!(256), &[]),
            ("/containerDefinitions/0/memoryReservation", json!(128), &[]),
            (
                "/executionRoleArn",
                json!(null),
                &["execution-role@executionRoleArn"],
            ),
            (
                "/executionRoleArn",
                json!("arn:aws:iam::account_ID:role/ecsTaskExecutionRole"),
                &["role-arn@executionRoleArn"],
            ),
            (
                "/containerDefinitions/0/image",
                json!("<IMAGE1_NAME>"),
                &["leftover@containerDefinitions[0].image"],
            ),
            (
                "/containerDefinitions/0/image",
                json!("<your image here>"),
                &["image@containerDefinitions[0].image"],
            ),
            (
                "/family",
                json!("web-${STAGE}"),
                &["name@family", "leftover@family"],
            ),
            (
                "/containerDefinitions/0/environment/0/value",
                json!("{{ .Tag }}"),
                &["leftover@containerDefinitions[0].environment[0].value"],
            ),
            (
                "/containerDefinitions/0/environment/0/name",
                json!("DB_PASSWORD"),
                &["secret-in-environment@containerDefinitions[0].environment[0].value"],
            ),
            (
                "/containerDefinitions/0/environment/0/value",
                json!("<TASK_DEFINITION>"),
                &["leftover@containerDefinitions[0].environment[0].value"],
            ),
            (
                "/ephemeralStorage",
                json!({"sizeInGiB": 20}),
                &["ephemeral-storage@ephemeralStorage.sizeInGiB"],
            ),
            ("/ephemeralStorage", json!({"sizeInGiB": 21}), &[]),
            (
                "/containerDefinitions/0/links",
                json!(["db"]),
                &["fargate@containerDefinitions[0].links"],
            ),
            (
                "/containerDefinitions/0/hostname",
                json!("web"),
                &["port@containerDefinitions[0].hostname"],
            ),
            (
                "/containerDefinitions/0/image",
                json!(null),
                &["containers@containerDefinitions[0].image"],
            ),
            (
                "/placementConstraints",
                json!([{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}]),
                &["fargate@placementConstraints"],
            ),
            ("/placementConstraints", json!([]), &[]),
            (
                "/taskRoleArn",
                json!("arn:aws:iam::123456789012:user/bob"),
                &["role-arn@taskRoleArn"],
            ),
            ("/taskRoleArn", json!("app-task-role"), &[]),
            (
                "/containerDefinitions/0/secrets",
                json!([{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}]),
                &[],
            ),
            (
                "/containerDefinitions/0/portMappings/1",
                json!({"containerPort": 80}),
                &["port@containerDefinitions[0].portMappings[1]"],
            ),
        ];
        for (pointer, value, expected) in cases {
            assert_eq!(
                with(pointer, value.clone()),
                *expected,
                "{pointer} = {value}"
            );
        }
    }

    #[test]
    fn memory_ports_and_sizes() {
        let mut td = fargate_td();
        td["containerDefinitions"][0]["memory"] = json!(256);
        td["containerDefinitions"][0]["memoryReservation"] = json!(256);
        td["containerDefinitions"][0]["cpu"] = json!(512);
        assert_eq!(
            rules(&td),
            [
                "memory@containerDefinitions[0].memoryReservation",
                "memory@containerDefinitions"
            ]
        );

        let ec2 = json!({"family": "a", "containerDefinitions": [
            {"name": "a", "image": "nginx", "portMappings": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 81, "hostPort": 8080}]},
            {"name": "b", "image": "nginx", "memory": 64, "portMappings": [{"containerPort": 80, "hostPort": 8080}]}
        ]});
        assert_eq!(
            rules(&ec2),
            [
                "memory@containerDefinitions[0]",
                "port@containerDefinitions[1].portMappings[0]"
            ]
        );
        let none = json!({"family": "a", "networkMode": "none", "containerDefinitions": [
            {"name": "a", "image": "nginx", "memory": 64, "portMappings": [{"containerPort": 80}]}]});
        assert_eq!(rules(&none), ["port@containerDefinitions[0].portMappings"]);

        let mut eleven = fargate_td();
        let web = eleven["containerDefinitions"][0].clone();
        eleven["containerDefinitions"] = (0..11)
            .map(|i| {
                let mut c = web.clone();
                c["name"] = json!(format!("c{i}"));
                c["portMappings"] = json!([{"containerPort": 8000 + i}]);
                c
            })
            .collect();
        eleven["cpu"] = json!("4096");
        eleven["memory"] = json!("8192");
        assert_eq!(rules(&eleven), ["containers@containerDefinitions"]);

        assert_eq!(parse_cpu("0.25 vCPU"), Some(256));
        assert_eq!(parse_cpu("1vcpu"), Some(1024));
        assert_eq!(parse_memory("0.5 GB"), Some(512));
        assert_eq!(parse_memory("3072"), Some(3072));
        assert_eq!(parse_memory("3 MB"), None);
    }

    #[test]
    fn codedeploy_templates_may_keep_image_placeholders() {
        let mut td = fargate_td();
        td["containerDefinitions"][0]["image"] = json!("<IMAGE1_NAME>");
        let findings = task_definition(
            &td,
            &Options {
                codedeploy: true,
                ..Options::default()
            },
        );
        assert_eq!(findings, vec![]);
        td["family"] = json!("<IMAGE2_NAME>");
        assert_eq!(
            task_definition(
                &td,
                &Options {
                    codedeploy: true,
                    ..Options::default()
                }
            )
            .len(),
            2,
            "not in family (also a bad name)"
        );
    }

    #[test]
    fn secret_names() {
        for name in [
            "DB_PASSWORD",
            "apiKey",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "MYSQL_ROOT_PASSWORD",
            "client-secret",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "KEYCLOAK_URL",
            "MONKEY",
            "PASSAGE",
            "TOKENIZER_MODEL",
            "PORT",
            "PWD",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
