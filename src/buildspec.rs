//! CodeBuild buildspec files (version 0.2): the model `run-buildspec` runs, read strictly — every
//! problem names its line, the key and what is allowed.

mod batch;

pub use batch::{Batch, BatchKind, Leg};

use crate::document::{self, JsonPath, Positions};
use serde_json::Value;
use std::fmt;

/// The phases, in the order CodeBuild runs them.
pub const PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

/// What a failed phase does to the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OnFailure {
    /// Stop (CodeBuild's default): later phases are skipped, except that a failed `build` still
    /// runs `post_build`.
    Abort,
    /// Go on to the next phase.
    Continue,
}

/// One phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// `install`, `pre_build`, `build` or `post_build`.
    pub name: &'static str,
    /// The commands, in order, each run in the build's one shell session.
    pub commands: Vec<String>,
    /// Commands run after `commands` whether they succeeded or not.
    pub finally: Vec<String>,
    /// What a failure does.
    pub on_failure: OnFailure,
}

/// An artifact: files collected into the output directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Artifact {
    /// The identifier (secondary artifacts), or `None` for the primary.
    pub identifier: Option<String>,
    /// Glob patterns, relative to `base_directory` (or absolute), without `..` (checked when read).
    pub files: Vec<String>,
    /// Patterns to leave out.
    pub exclude: Vec<String>,
    /// Where the patterns start, relative to the source directory (or absolute), without `..`.
    pub base_directory: Option<String>,
    /// Put every file at the top of the artifact.
    pub discard_paths: bool,
    /// The artifact's name (CodeBuild's zip name; reported).
    pub name: Option<String>,
}

/// A report group's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportGroup {
    /// The group's name or ARN.
    pub name: String,
    /// Glob patterns, relative to `base_directory` (or absolute), without `..`.
    pub files: Vec<String>,
    /// Where the patterns start, relative to the source directory (or absolute), without `..`.
    pub base_directory: Option<String>,
    /// `JUNITXML`, `CUCUMBERJSON`…
    pub file_format: Option<String>,
}

/// A buildspec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buildspec {
    /// `env.shell`: `sh` (CodeBuild's default on Linux) or `bash`.
    pub shell: String,
    /// `env.variables`, in file order.
    pub variables: Vec<(String, String)>,
    /// `env.parameter-store`: variable → SSM parameter name.
    pub parameter_store: Vec<(String, String)>,
    /// `env.secrets-manager`: variable → `secret-id:json-key:version-stage:version-id`.
    pub secrets_manager: Vec<(String, String)>,
    /// `env.exported-variables`.
    pub exported: Vec<String>,
    /// The phases present, in CodeBuild's order.
    pub phases: Vec<Phase>,
    /// The primary artifact, then secondary ones.
    pub artifacts: Vec<Artifact>,
    /// `reports`.
    pub reports: Vec<ReportGroup>,
    /// `batch`: the legs of a batch build, when it has them.
    pub batch: Option<Batch>,
}

/// Why a buildspec cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

struct Reader<'a> {
    positions: &'a Positions,
}

impl Reader<'_> {
    fn err(&self, path: &JsonPath, message: impl Into<String>) -> SpecError {
        // The node's own line, else the nearest enclosing one.
        let mut p = path.to_string();
        let line = loop {
            if let Some((line, _)) = self.positions.get(&p) {
                break Some(*line);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => break self.positions.get("").map(|(l, _)| *l),
            }
        };
        let shown = path.to_string();
        SpecError {
            line,
            message: if shown.is_empty() {
                message.into()
            } else {
                format!("`{shown}`: {}", message.into())
            },
        }
    }

    fn map<'v>(
        &self,
        v: &'v Value,
        path: &JsonPath,
        allowed: &[&str],
    ) -> Result<&'v serde_json::Map<String, Value>, SpecError> {
        let map = v.as_object().ok_or_else(|| {
            self.err(
                path,
                format!("expected a mapping of {}", allowed.join(", ")),
            )
        })?;
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(self.err(
                    &path.key(key),
                    format!("unknown key `{key}`; allowed here: {}", allowed.join(", ")),
                ));
            }
        }
        Ok(map)
    }

    /// A scalar as text (numbers and booleans as written).
    fn text(&self, v: &Value, path: &JsonPath) -> Result<String, SpecError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.err(path, "expected a single value (text)")),
        }
    }

    fn list(&self, v: &Value, path: &JsonPath) -> Result<Vec<String>, SpecError> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.text(item, &path.index(i)))
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.err(path, "expected a list (`- item` lines)")),
        }
    }

    /// A list, or one value standing for a list of one (`files: imagedefinitions.json`).
    fn list_or_one(&self, v: &Value, path: &JsonPath) -> Result<Vec<String>, SpecError> {
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            other => self.list(other, path),
        }
    }

    fn pairs(&self, v: &Value, path: &JsonPath) -> Result<Vec<(String, String)>, SpecError> {
        let Some(map) = v.as_object() else {
            return Err(self.err(path, "expected a mapping of NAME: value"));
        };
        map.iter()
            .map(|(k, val)| Ok((k.clone(), self.text(val, &path.key(k))?)))
            .collect()
    }

    fn boolean(&self, v: &Value, path: &JsonPath) -> Result<bool, SpecError> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if matches!(s.as_str(), "yes" | "true") => Ok(true),
            Value::String(s) if matches!(s.as_str(), "no" | "false") => Ok(false),
            _ => Err(self.err(path, "expected yes or no")),
        }
    }

    fn optional<T>(
        &self,
        m: &serde_json::Map<String, Value>,
        path: &JsonPath,
        key: &str,
        read: impl Fn(&Self, &Value, &JsonPath) -> Result<T, SpecError>,
    ) -> Result<Option<T>, SpecError> {
        m.get(key)
            .map(|v| read(self, v, &path.key(key)))
            .transpose()
    }
}

const TOP_KEYS: [&str; 9] = [
    "version",
    "run-as",
    "env",
    "proxy",
    "batch",
    "phases",
    "reports",
    "artifacts",
    "cache",
];
const ENV_KEYS: [&str; 6] = [
    "shell",
    "variables",
    "parameter-store",
    "secrets-manager",
    "exported-variables",
    "git-credential-helper",
];
const ARTIFACT_KEYS: [&str; 8] = [
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
];

/// Reads a buildspec (YAML).
pub fn parse(text: &str) -> Result<Buildspec, SpecError> {
    let (doc, positions) = document::parse_with_positions(text).map_err(|e| SpecError {
        line: Some(e.line),
        message: format!("column {}: {}", e.column, e.message),
    })?;
    let r = Reader {
        positions: &positions,
    };
    let root = JsonPath::root();
    let top = r.map(&doc, &root, &TOP_KEYS)?;
    let version = root.key("version");
    match top.get("version") {
        Some(v) if r.text(v, &version)? == "0.2" => {}
        Some(v) => {
            return Err(r.err(
                &version,
                format!("version {} is not supported; use 0.2", r.text(v, &version)?),
            ));
        }
        None => return Err(r.err(&root, "add `version: 0.2` at the top")),
    }
    let mut spec = Buildspec {
        shell: "sh".into(),
        ..Buildspec::default()
    };
    if let Some(env) = top.get("env") {
        read_env(&r, env, &root.key("env"), &mut spec)?;
    }
    let Some(phases) = top.get("phases") else {
        return Err(r.err(
            &root,
            "add `phases:` with at least one of install, pre_build, build, post_build",
        ));
    };
    let phases_path = root.key("phases");
    let phases = r.map(phases, &phases_path, &PHASES)?;
    for name in PHASES {
        let Some(p) = phases.get(name) else { continue };
        let path = phases_path.key(name);
        let m = r.map(
            p,
            &path,
            &[
                "run-as",
                "on-failure",
                "runtime-versions",
                "commands",
                "finally",
            ],
        )?;
        let on_failure = match r.optional(m, &path, "on-failure", Reader::text)?.as_deref() {
            None | Some("ABORT") => OnFailure::Abort,
            Some("CONTINUE") => OnFailure::Continue,
            Some(other) => {
                return Err(r.err(
                    &path.key("on-failure"),
                    format!("`{other}` is not ABORT or CONTINUE"),
                ));
            }
        };
        spec.phases.push(Phase {
            name,
            commands: r
                .optional(m, &path, "commands", Reader::list)?
                .unwrap_or_default(),
            finally: r
                .optional(m, &path, "finally", Reader::list)?
                .unwrap_or_default(),
            on_failure,
        });
    }
    read_outputs(&r, top, &root, &mut spec)?;
    if let Some(b) = top.get("batch") {
        spec.batch = Some(batch::read(&r, b, &root.key("batch"))?);
    }
    Ok(spec)
}

/// `artifacts` and `reports`.
fn read_outputs(
    r: &Reader<'_>,
    top: &serde_json::Map<String, Value>,
    root: &JsonPath,
    spec: &mut Buildspec,
) -> Result<(), SpecError> {
    if let Some(a) = top.get("artifacts") {
        let path = root.key("artifacts");
        let m = r.map(a, &path, &ARTIFACT_KEYS)?;
        if m.contains_key("files") {
            spec.artifacts.push(artifact(r, m, &path, None)?);
        }
        if let Some(sec) = m.get("secondary-artifacts") {
            let sec_path = path.key("secondary-artifacts");
            let sec_map = sec
                .as_object()
                .ok_or_else(|| r.err(&sec_path, "expected a mapping of IDENTIFIER: {files: …}"))?;
            for (id, art) in sec_map {
                let p = sec_path.key(id);
                let am = r.map(art, &p, &ARTIFACT_KEYS[..7])?;
                let id = artifact_identifier(r, &p, id)?;
                spec.artifacts.push(artifact(r, am, &p, Some(id))?);
            }
        }
    }
    if let Some(reports) = top.get("reports") {
        let path = root.key("reports");
        let m = reports
            .as_object()
            .ok_or_else(|| r.err(&path, "expected a mapping of REPORT-GROUP: {files: …}"))?;
        for (name, g) in m {
            let p = path.key(name);
            let gm = r.map(
                g,
                &p,
                &["files", "base-directory", "discard-paths", "file-format"],
            )?;
            let files = r
                .optional(gm, &p, "files", Reader::list_or_one)?
                .unwrap_or_default();
            let base_directory = base_directory(r, gm, &p)?;
            spec.reports.push(ReportGroup {
                name: name.clone(),
                files: confined(r, &p.key("files"), files, base_directory.as_deref())?,
                base_directory,
                file_format: r.optional(gm, &p, "file-format", Reader::text)?,
            });
        }
    }
    Ok(())
}

fn read_env(
    r: &Reader<'_>,
    env: &Value,
    path: &JsonPath,
    spec: &mut Buildspec,
) -> Result<(), SpecError> {
    let m = r.map(env, path, &ENV_KEYS)?;
    if let Some(shell) = r.optional(m, path, "shell", Reader::text)? {
        if !matches!(shell.as_str(), "sh" | "bash" | "/bin/sh" | "/bin/bash") {
            return Err(r.err(
                &path.key("shell"),
                format!("`{shell}` is not a Linux shell CodeBuild supports: bash or /bin/sh"),
            ));
        }
        spec.shell = shell;
    }
    spec.variables = r
        .optional(m, path, "variables", Reader::pairs)?
        .unwrap_or_default();
    spec.parameter_store = r
        .optional(m, path, "parameter-store", Reader::pairs)?
        .unwrap_or_default();
    spec.secrets_manager = r
        .optional(m, path, "secrets-manager", Reader::pairs)?
        .unwrap_or_default();
    spec.exported = r
        .optional(m, path, "exported-variables", Reader::list)?
        .unwrap_or_default();
    Ok(())
}

/// Why an artifact or report path would leave the directory it is relative to, if it would: it has
/// a `..` component. (An absolute path is CodeBuild's way to collect a file the build wrote
/// elsewhere, such as `/tmp/build.json`; run-buildspec confines those when it runs.)
fn escapes(path: &str) -> Option<&'static str> {
    path.split('/')
        .any(|segment| segment == "..")
        .then_some("has a `..` component")
}

/// `patterns` (at `path` in the document), each a valid glob without `..`; relative to
/// `base_directory` when there is one, else to the source directory.
fn confined(
    r: &Reader<'_>,
    path: &JsonPath,
    patterns: Vec<String>,
    base_directory: Option<&str>,
) -> Result<Vec<String>, SpecError> {
    let within = if base_directory.is_some() {
        "base-directory"
    } else {
        "the source directory"
    };
    for (i, pattern) in patterns.iter().enumerate() {
        let why = escapes(pattern).map(str::to_string).or_else(|| {
            crate::build_context::Glob::new(pattern.trim_start_matches("./"))
                .err()
                .map(|e| format!("is not a valid pattern ({e})"))
        });
        if let Some(why) = why {
            // The list item, or the key when `files:` is one string.
            let item = path.index(i);
            let at = if r.positions.contains_key(&item.to_string()) {
                item
            } else {
                path.clone()
            };
            return Err(r.err(
                &at,
                format!("`{pattern}` {why}: patterns match files inside {within}"),
            ));
        }
    }
    Ok(patterns)
}

/// `base-directory` at `path`: relative to the source directory and inside it.
fn base_directory(
    r: &Reader<'_>,
    m: &serde_json::Map<String, Value>,
    path: &JsonPath,
) -> Result<Option<String>, SpecError> {
    let base = r.optional(m, path, "base-directory", Reader::text)?;
    if let Some(why) = base.as_deref().and_then(escapes) {
        return Err(r.err(
            &path.key("base-directory"),
            format!(
                "`{}` {why}: base-directory names a directory inside the source directory",
                base.unwrap_or_default()
            ),
        ));
    }
    Ok(base)
}

/// A secondary artifact's identifier as CodeBuild takes it: letters, digits and `_`, under 128.
fn artifact_identifier(r: &Reader<'_>, path: &JsonPath, id: &str) -> Result<String, SpecError> {
    if id.is_empty()
        || id.len() >= 128
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(r.err(
            path,
            format!(
                "`{id}` is not an artifact identifier: letters, digits and `_`, fewer than 128"
            ),
        ));
    }
    Ok(id.to_string())
}

fn artifact(
    r: &Reader<'_>,
    m: &serde_json::Map<String, Value>,
    path: &JsonPath,
    identifier: Option<String>,
) -> Result<Artifact, SpecError> {
    let files = r
        .optional(m, path, "files", Reader::list_or_one)?
        .ok_or_else(|| r.err(path, "an artifact needs `files:` (e.g. - '**/*')"))?;
    let base_directory = base_directory(r, m, path)?;
    Ok(Artifact {
        identifier,
        files: confined(r, &path.key("files"), files, base_directory.as_deref())?,
        exclude: r
            .optional(m, path, "exclude-paths", Reader::list_or_one)?
            .unwrap_or_default(),
        base_directory,
        discard_paths: r
            .optional(m, path, "discard-paths", Reader::boolean)?
            .unwrap_or(false),
        name: r.optional(m, path, "name", Reader::text)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/buildspec/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn real_buildspecs_parse() {
        let spec = parse(&fixture(
            "ecs-blue-green-deployment-with-codedeploy-buildspec-container.yaml",
        ))
        .unwrap();
        assert_eq!(spec.exported, ["IMAGE_URI"]);
        assert_eq!(
            spec.phases.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["pre_build", "build", "post_build"]
        );
        assert_eq!(spec.phases[0].commands.len(), 5);
        assert_eq!(
            spec.artifacts[0].files,
            ["/tmp/build.json", "imageDetail.json"]
        );
        assert!(spec.artifacts[0].discard_paths);
        for name in [
            "awsdocs-ecs-cd-pipeline-buildspec.yml",
            "fargate-dev-workshop-docker_build_deploy.yml",
            "fargate-workshop-s3sink-buildspec.yml",
        ] {
            parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("version: 0.2\nphases:\n  build:\n    commands:\n      - make\n  biuld:\n    commands: [x]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 6: `phases.biuld`: unknown key `biuld`; allowed here: install, pre_build, build, post_build"
        );
        let e = parse("version: 0.2\nphases:\n  build:\n    commands: make\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 4: `phases.build.commands`: expected a list (`- item` lines)"
        );
        let e = parse("version: 0.1\nphases: {}\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = parse("version: 0.2\nphases:\n  build:\n    on-failure: RETRY\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("line 4: `phases.build[\"on-failure\"]`"),
            "{e}"
        );
        let e = parse("version: 0.2\nphases:\n  build:\n    commands:\n      - [a\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }
}
