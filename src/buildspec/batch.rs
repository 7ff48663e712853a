//! A buildspec's `batch` section: the legs of a CodeBuild batch build (`build-graph`,
//! `build-list`, or `build-matrix` expanded into its combinations), and `fast-fail`, read as
//! strictly as the rest — every problem names its line. `combine-artifacts` is read too, though
//! CodeBuild takes it from the project's batch configuration.

use super::{JsonPath, Reader, SpecError};
use serde_json::Value;

/// How the batch is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchKind {
    /// `build-graph`: legs with `depend-on`.
    BuildGraph,
    /// `build-list`: independent legs.
    BuildList,
    /// `build-matrix`: every combination of the `dynamic` values.
    BuildMatrix,
}

impl BatchKind {
    /// The key as the buildspec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::BuildGraph => "build-graph",
            BatchKind::BuildList => "build-list",
            BatchKind::BuildMatrix => "build-matrix",
        }
    }
}

/// The batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// How the legs are described.
    pub kind: BatchKind,
    /// `fast-fail`: a failed leg stops the others.
    pub fast_fail: bool,
    /// `combine-artifacts`: the legs' artifacts are one artifact. CodeBuild reads this from the
    /// project's batch configuration (`combineArtifacts`); it is taken here too, as
    /// `--combine-artifacts`.
    pub combine_artifacts: bool,
    /// The legs, in file order (a matrix's in the order of its combinations).
    pub legs: Vec<Leg>,
}

/// One leg: a build of its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leg {
    /// `identifier` (`CODEBUILD_BATCH_BUILD_IDENTIFIER`).
    pub identifier: String,
    /// `buildspec`: another buildspec file, relative to the source directory.
    pub buildspec: Option<String>,
    /// `depend-on`: legs that must succeed first.
    pub depend_on: Vec<String>,
    /// `ignore-failure`: the batch succeeds even if this leg fails.
    pub ignore_failure: bool,
    /// `env.image`.
    pub image: Option<String>,
    /// `env.compute-type`.
    pub compute_type: Option<String>,
    /// `env.type` (`LINUX_CONTAINER`, `ARM_CONTAINER`, …).
    pub environment_type: Option<String>,
    /// `env.fleet`.
    pub fleet: Option<String>,
    /// `env.privileged-mode`.
    pub privileged_mode: Option<bool>,
    /// `env.variables`: set for this leg, over the buildspec's own.
    pub variables: Vec<(String, String)>,
    /// The line the leg starts on.
    pub line: Option<usize>,
}

impl Leg {
    /// The platform the leg's environment implies, from its environment type (`ARM_CONTAINER` →
    /// `linux/arm64`, `LINUX_CONTAINER` → `linux/amd64`, `MAC_ARM` → `darwin/arm64`, …) or an
    /// ARM Lambda compute type; `None` when neither says (the project's environment decides).
    pub fn platform(&self) -> Option<&'static str> {
        let by_type = match self.environment_type.as_deref() {
            Some("ARM_CONTAINER" | "ARM_EC2" | "ARM_LAMBDA_CONTAINER") => Some("linux/arm64"),
            Some(
                "LINUX_CONTAINER" | "LINUX_EC2" | "LINUX_GPU_CONTAINER" | "LINUX_LAMBDA_CONTAINER",
            ) => Some("linux/amd64"),
            Some("MAC_ARM") => Some("darwin/arm64"),
            Some(t) if t.starts_with("WINDOWS") => Some("windows/amd64"),
            _ => None,
        };
        by_type.or_else(|| {
            self.compute_type
                .as_deref()
                .filter(|c| c.starts_with("ARM_LAMBDA"))
                .map(|_| "linux/arm64")
        })
    }
}

const BATCH_KEYS: [&str; 6] = [
    "fast-fail",
    "combine-artifacts",
    "build-graph",
    "build-list",
    "build-matrix",
    "build-fanout",
];
const LEG_ENV_KEYS: [&str; 6] = [
    "compute-type",
    "fleet",
    "image",
    "privileged-mode",
    "type",
    "variables",
];

/// Reads `batch` at `path`.
pub(super) fn read(r: &Reader<'_>, v: &Value, path: &JsonPath) -> Result<Batch, SpecError> {
    let m = r.map(v, path, &BATCH_KEYS)?;
    let kinds: Vec<&str> = ["build-graph", "build-list", "build-matrix", "build-fanout"]
        .into_iter()
        .filter(|k| m.contains_key(*k))
        .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            return Err(r.err(
                path,
                "add one of build-graph, build-list or build-matrix (the legs of the batch)",
            ));
        }
        [_, second, ..] => {
            return Err(r.err(
                &path.key(second),
                format!(
                    "a batch is one of build-graph, build-list or build-matrix, and this one has {}",
                    kinds.join(" and ")
                ),
            ));
        }
    };
    let combine_artifacts = r
        .optional(m, path, "combine-artifacts", Reader::boolean)?
        .unwrap_or(false);
    let fast_fail = r
        .optional(m, path, "fast-fail", Reader::boolean)?
        .unwrap_or(false);
    let at = path.key(kind);
    let (kind, legs) = match kind {
        "build-graph" => (BatchKind::BuildGraph, legs(r, &m[kind], &at, true)?),
        "build-list" => (BatchKind::BuildList, legs(r, &m[kind], &at, false)?),
        "build-matrix" => (BatchKind::BuildMatrix, matrix(r, &m[kind], &at)?),
        _ => {
            return Err(r.err(
                &at,
                "build-fanout (test splitting across parallel builds) is not run locally; use \
                 build-list or build-matrix for the legs",
            ));
        }
    };
    check_graph(r, &at, &legs)?;
    Ok(Batch {
        kind,
        fast_fail,
        combine_artifacts,
        legs,
    })
}

/// The legs of a `build-graph` (with `depend-on`) or a `build-list`.
fn legs(r: &Reader<'_>, v: &Value, path: &JsonPath, graph: bool) -> Result<Vec<Leg>, SpecError> {
    let Value::Array(items) = v else {
        return Err(r.err(path, "expected a list of legs (`- identifier: …`)"));
    };
    if items.is_empty() {
        return Err(r.err(path, "the batch has no legs"));
    }
    let keys: &[&str] = if graph {
        &[
            "identifier",
            "buildspec",
            "debug-session",
            "depend-on",
            "env",
            "ignore-failure",
        ]
    } else {
        &[
            "identifier",
            "buildspec",
            "debug-session",
            "env",
            "ignore-failure",
        ]
    };
    let mut legs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let m = r.map(item, &p, keys)?;
        let identifier = r
            .optional(m, &p, "identifier", Reader::text)?
            .ok_or_else(|| r.err(&p, "a leg needs an `identifier`"))?;
        let mut leg = Leg {
            identifier: identifier_of(r, &p.key("identifier"), &identifier)?,
            buildspec: r.optional(m, &p, "buildspec", Reader::text)?,
            depend_on: r
                .optional(m, &p, "depend-on", Reader::list_or_one)?
                .unwrap_or_default(),
            ignore_failure: r
                .optional(m, &p, "ignore-failure", Reader::boolean)?
                .unwrap_or(false),
            line: r.positions.get(&p.to_string()).map(|(l, _)| *l),
            ..Leg::default()
        };
        r.optional(m, &p, "debug-session", Reader::boolean)?;
        if let Some(env) = m.get("env") {
            leg_env(r, env, &p.key("env"), &mut leg)?;
        }
        legs.push(leg);
    }
    Ok(legs)
}

/// A leg's `env`.
fn leg_env(r: &Reader<'_>, v: &Value, path: &JsonPath, leg: &mut Leg) -> Result<(), SpecError> {
    let m = r.map(v, path, &LEG_ENV_KEYS)?;
    leg.image = r.optional(m, path, "image", Reader::text)?;
    leg.compute_type = r.optional(m, path, "compute-type", Reader::text)?;
    leg.environment_type = r.optional(m, path, "type", Reader::text)?;
    leg.fleet = r.optional(m, path, "fleet", Reader::text)?;
    leg.privileged_mode = r.optional(m, path, "privileged-mode", Reader::boolean)?;
    if leg.compute_type.is_some() && leg.fleet.is_some() {
        return Err(r.err(
            &path.key("fleet"),
            "compute-type and fleet cannot both be given for one leg",
        ));
    }
    leg.variables = r
        .optional(m, path, "variables", Reader::pairs)?
        .unwrap_or_default();
    Ok(())
}

/// How one value of a matrix dimension sets a leg: (leg, the dimension's name, the value).
type Set = fn(&mut Leg, &str, &str);

/// One dimension of a matrix: its name (a variable's; empty for the others), how it sets a leg,
/// and its values.
type Dimension = (String, Set, Vec<String>);

/// A `build-matrix`: the `static` settings every leg has, and one leg per combination of the
/// `dynamic` values — `buildspec`, then `env.image`, `env.compute-type`, then each `env.variables`
/// list in file order, the last varying fastest. The legs are named `build1`, `build2`, …
fn matrix(r: &Reader<'_>, v: &Value, path: &JsonPath) -> Result<Vec<Leg>, SpecError> {
    let map = r.map(v, path, &["static", "dynamic"])?;
    let base = matrix_static(r, map.get("static"), path)?;
    let Some(dynamic) = map.get("dynamic") else {
        return Err(r.err(
            path,
            "add `dynamic:` with the lists to combine (buildspec, env.image, env.compute-type, \
             env.variables)",
        ));
    };
    let dims = matrix_dimensions(r, dynamic, &path.key("dynamic"))?;
    let total: usize = dims.iter().map(|(_, _, values)| values.len()).product();
    if total > MAX_LEGS {
        return Err(r.err(
            &path.key("dynamic"),
            format!("the matrix makes {total} builds; a batch runs at most {MAX_LEGS}"),
        ));
    }
    let mut legs = Vec::with_capacity(total);
    for n in 0..total {
        let mut leg = base.clone();
        leg.identifier = format!("build{}", n + 1);
        // Mixed radix, the last dimension fastest.
        let mut rest = n;
        let mut picks = vec![0; dims.len()];
        for (i, (_, _, values)) in dims.iter().enumerate().rev() {
            picks[i] = rest % values.len();
            rest /= values.len();
        }
        for ((name, set, values), pick) in dims.iter().zip(picks) {
            set(&mut leg, name, &values[pick]);
        }
        legs.push(leg);
    }
    Ok(legs)
}

/// A matrix's `static` section: what every leg has.
fn matrix_static(
    r: &Reader<'_>,
    section: Option<&Value>,
    path: &JsonPath,
) -> Result<Leg, SpecError> {
    let mut base = Leg {
        line: r.positions.get(&path.to_string()).map(|(l, _)| *l),
        ..Leg::default()
    };
    if let Some(section) = section {
        let at = path.key("static");
        let map = r.map(section, &at, &["ignore-failure", "env", "debug-session"])?;
        base.ignore_failure = r
            .optional(map, &at, "ignore-failure", Reader::boolean)?
            .unwrap_or(false);
        r.optional(map, &at, "debug-session", Reader::boolean)?;
        if let Some(env) = map.get("env") {
            leg_env(r, env, &at.key("env"), &mut base)?;
        }
    }
    Ok(base)
}

/// A matrix's `dynamic` section: the lists it combines, each at least one value.
fn matrix_dimensions(
    r: &Reader<'_>,
    section: &Value,
    at: &JsonPath,
) -> Result<Vec<Dimension>, SpecError> {
    let map = r.map(section, at, &["buildspec", "env"])?;
    let mut dims: Vec<Dimension> = Vec::new();
    let mut dim = |name: &str, set: Set, values: Vec<String>, path: &JsonPath| {
        if values.is_empty() {
            return Err(r.err(path, "expected a list of at least one value"));
        }
        dims.push((name.to_string(), set, values));
        Ok(())
    };
    if let Some(files) = r.optional(map, at, "buildspec", Reader::list_or_one)? {
        dim(
            "",
            |leg, _, value| leg.buildspec = Some(value.into()),
            files,
            &at.key("buildspec"),
        )?;
    }
    if let Some(env) = map.get("env") {
        let env_at = at.key("env");
        let env_map = r.map(env, &env_at, &["image", "compute-type", "variables"])?;
        if let Some(images) = r.optional(env_map, &env_at, "image", Reader::list_or_one)? {
            dim(
                "",
                |leg, _, value| leg.image = Some(value.into()),
                images,
                &env_at.key("image"),
            )?;
        }
        if let Some(types) = r.optional(env_map, &env_at, "compute-type", Reader::list_or_one)? {
            dim(
                "",
                |leg, _, value| leg.compute_type = Some(value.into()),
                types,
                &env_at.key("compute-type"),
            )?;
        }
        if let Some(vars) = env_map.get("variables") {
            let vars_at = env_at.key("variables");
            let vars = vars
                .as_object()
                .ok_or_else(|| r.err(&vars_at, "expected a mapping of NAME: [values]"))?;
            for (name, values) in vars {
                let values = r.list_or_one(values, &vars_at.key(name))?;
                dim(
                    name,
                    |leg, name, value| {
                        leg.variables.retain(|(k, _)| k != name);
                        leg.variables.push((name.into(), value.into()));
                    },
                    values,
                    &vars_at.key(name),
                )?;
            }
        }
    }
    if dims.is_empty() {
        return Err(r.err(
            at,
            "a matrix needs at least one list (buildspec, env.image, env.compute-type or \
             env.variables)",
        ));
    }
    Ok(dims)
}

/// The most legs a batch runs (CodeBuild's limit on builds in a batch).
const MAX_LEGS: usize = 100;

/// An identifier as CodeBuild takes it: letters, digits and `_`, fewer than 128 (`-` is refused:
/// "must contain only alphanumeric characters and underscores").
fn identifier_of(r: &Reader<'_>, path: &JsonPath, id: &str) -> Result<String, SpecError> {
    let ok = !id.is_empty()
        && id.len() < 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(id.to_string())
    } else {
        Err(r.err(
            path,
            format!(
                "`{id}` is not a leg identifier: letters, digits and `_` only, fewer than 128 \
                 (no `-`)"
            ),
        ))
    }
}

/// Identifiers are unique, `depend-on` names legs of the batch, and the graph has no cycle.
fn check_graph(r: &Reader<'_>, path: &JsonPath, legs: &[Leg]) -> Result<(), SpecError> {
    if legs.len() > MAX_LEGS {
        return Err(r.err(
            path,
            format!(
                "the batch has {} legs; it runs at most {MAX_LEGS}",
                legs.len()
            ),
        ));
    }
    let at = |i: usize| path.index(i);
    for (i, leg) in legs.iter().enumerate() {
        if legs[..i].iter().any(|l| l.identifier == leg.identifier) {
            return Err(r.err(
                &at(i).key("identifier"),
                format!(
                    "`{}` names two legs; identifiers are unique",
                    leg.identifier
                ),
            ));
        }
        for dep in &leg.depend_on {
            if dep == &leg.identifier {
                return Err(r.err(
                    &at(i).key("depend-on"),
                    format!("`{dep}` depends on itself"),
                ));
            }
            if !legs.iter().any(|l| &l.identifier == dep) {
                return Err(r.err(
                    &at(i).key("depend-on"),
                    format!("`{dep}` is not a leg of this batch"),
                ));
            }
        }
    }
    // Kahn's algorithm: whatever is left has a cycle.
    let mut done: Vec<bool> = vec![false; legs.len()];
    loop {
        let ready: Vec<usize> = (0..legs.len())
            .filter(|&i| {
                !done[i]
                    && legs[i].depend_on.iter().all(|d| {
                        legs.iter()
                            .position(|l| &l.identifier == d)
                            .is_some_and(|j| done[j])
                    })
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            done[i] = true;
        }
    }
    if let Some(i) = done.iter().position(|d| !d) {
        let cycle: Vec<&str> = legs
            .iter()
            .zip(&done)
            .filter(|(_, d)| !**d)
            .map(|(l, _)| l.identifier.as_str())
            .collect();
        return Err(r.err(
            &at(i).key("depend-on"),
            format!(
                "the legs {} can never start: their depend-on lists make a cycle",
                cycle.join(", ")
            ),
        ));
    }
    Ok(())
}
