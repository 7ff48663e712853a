//! `render-taskdef`: register-ready ECS task definitions and CodeDeploy AppSpecs, validated offline.
//!
//! Render (the default command): read a task definition (JSON or YAML, `describe-task-definition`
//! output included), substitute `${VAR}`s from the environment, apply the edits the flags ask for,
//! validate, and write the result deterministically (keys in input order, 2-space JSON, trailing
//! newline) with atomic writes — or, with `--check`, only say whether the files on disk would change.
//! `check` validates only; `appspec` validates an AppSpec against its task definition and fills in
//! `<TASK_DEFINITION>`; `new-appspec` writes one from flags. No network I/O anywhere.

use crate::atomic;
use crate::cli::{Context, Step};
use crate::document::{self, ParseError, Syntax};
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::output::{Format, OutputArgs, Report};
use crate::reference::ImageRef;
use crate::taskdef::edit::{self, Change, Edit, Field, ImageMode, Placeholder};
use crate::taskdef::{self, Finding, Severity, appspec, template, validate};
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Render ECS task definitions and CodeDeploy AppSpecs, validated offline.
///
///   render-taskdef taskdef.json --image web=@imageDetail.json -o out/taskdef.json
///   render-taskdef taskdef.yaml --image web=$URI --env web:LOG_LEVEL=debug -o taskdef.json
///   render-taskdef taskdef.json --codedeploy --image web=@imageDetail.json \
///       --image-detail-dir out -o out/taskdef.json
///   render-taskdef check taskdef.json --appspec appspec.yaml
///   render-taskdef appspec appspec.yaml --taskdef taskdef.json -o out/appspec.yaml
///   render-taskdef new-appspec --container web --port 8080 -o appspec.yaml
///
/// Input: JSON or YAML, or `describe-task-definition` output (unwrapped; read-only keys dropped).
/// `${VAR}` and `${VAR:-default}` in values come from the environment; a missing variable is an
/// error (all of them listed at once); `$${` writes a literal `${`.
///
/// Per-container flags take `CONTAINER:` first (`--env web:KEY=VALUE`); a task with one container may
/// leave it out. Values split on the first `=`, so `KEY=a=b` sets `a=b`. Merge is the default (a name
/// that exists gets the new value in place; everything else is kept, empty values too); `--replace
/// FIELD` makes that field exactly the values given. Fields no flag names are never changed; fields
/// unknown to ECS are kept and warned about (an error under --strict).
///
/// Exit codes: 0 written (or up to date) · 1 findings (errors, or warnings under --strict), or
/// --check found a file that would change · 2 bad flag or input (malformed file with line:column,
/// missing variable, unknown container).
// Doc comments on the flag structs are `--help` text, where backticks would print as written.
#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Parser)]
#[command(
    name = "render-taskdef",
    version,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct RenderTaskdef {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    render: RenderArgs,

    #[command(flatten)]
    output: OutputArgs,
}

#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate a task definition (and optionally its AppSpec); write nothing. Exit 1 on findings.
    Check(CheckArgs),
    /// Validate an AppSpec (against its task definition) and fill in `<TASK_DEFINITION>` if asked;
    /// YAML in, YAML out (comments kept); JSON in, JSON out.
    Appspec(AppspecArgs),
    /// Write a CodeDeploy AppSpec for ECS blue/green from flags.
    NewAppspec(NewAppspecArgs),
}

/// Flags of the default (render) command.
#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Args)]
struct RenderArgs {
    /// The task definition template: JSON or YAML, or `-` for stdin.
    #[arg(value_name = "TASKDEF", required = true)]
    input: Option<PathBuf>,

    /// Where to write the rendered task definition (JSON); `-` for stdout.
    #[arg(
        short = 'o',
        long,
        value_name = "PATH",
        default_value = "-",
        env = "RENDER_TASKDEF_OUTPUT"
    )]
    output: PathBuf,

    /// A container's image: `CONTAINER=URI` or `CONTAINER=@imageDetail.json` (its ImageURI, as
    /// build-push writes it). A single-container task may give just `URI` or `@imageDetail.json`.
    #[arg(long = "image", value_name = "[CONTAINER=]URI|@FILE", value_parser = parse_image)]
    images: Vec<(Option<String>, ImageSource)>,

    /// Set an environment variable: `[CONTAINER:]NAME=VALUE` (repeatable).
    #[arg(long = "env", value_name = "[CONTAINER:]NAME=VALUE", value_parser = parse_pair)]
    env: Vec<Pair>,

    /// Read environment variables from a file of `NAME=VALUE` lines (`#` comments, optional
    /// `export`, optional quotes): `[CONTAINER:]PATH`. Applied before --env.
    #[arg(long = "env-file", value_name = "[CONTAINER:]PATH", value_parser = parse_prefixed)]
    env_files: Vec<(Option<String>, String)>,

    /// Add a secret by ARN: `[CONTAINER:]NAME=ARN` (Secrets Manager or SSM; sets `valueFrom`).
    #[arg(long = "secret", value_name = "[CONTAINER:]NAME=ARN", value_parser = parse_pair)]
    secrets: Vec<Pair>,

    /// Set a Docker label: `[CONTAINER:]KEY=VALUE`.
    #[arg(long = "label", value_name = "[CONTAINER:]KEY=VALUE", value_parser = parse_pair)]
    labels: Vec<Pair>,

    /// Set the log driver: `[CONTAINER:]DRIVER` (e.g. awslogs).
    #[arg(long = "log-driver", value_name = "[CONTAINER:]DRIVER", value_parser = parse_prefixed)]
    log_drivers: Vec<(Option<String>, String)>,

    /// Set a log driver option: `[CONTAINER:]KEY=VALUE` (e.g. web:awslogs-group=/ecs/web).
    #[arg(long = "log-option", value_name = "[CONTAINER:]KEY=VALUE", value_parser = parse_pair)]
    log_options: Vec<Pair>,

    /// Replace the command: `[CONTAINER:]JSON-ARRAY`, e.g. 'web:["npm","start"]'.
    #[arg(long = "command", value_name = "[CONTAINER:]JSON", value_parser = parse_command)]
    commands: Vec<(Option<String>, Vec<String>)>,

    /// Make a field exactly the values given instead of merging into it (repeatable).
    #[arg(long, value_enum, value_name = "FIELD")]
    replace: Vec<Field>,

    /// Render the CodeDeployToECS template: images given with --image become (or stay)
    /// `<IMAGEn_NAME>` placeholders, at most 4, and their URIs go to imageDetail.json files.
    #[arg(long, env = "RENDER_TASKDEF_CODEDEPLOY")]
    codedeploy: bool,

    /// With --codedeploy: write each placeholder's imageDetail.json here — IMAGE1_NAME's as
    /// DIR/imageDetail.json, IMAGEn_NAME's as DIR/imageN/imageDetail.json.
    #[arg(long, value_name = "DIR", requires = "codedeploy")]
    image_detail_dir: Option<PathBuf>,

    /// Also write imagedefinitions.json (the ECS rolling-deploy action's input) for the images given.
    #[arg(long, value_name = "PATH")]
    imagedefinitions: Option<PathBuf>,

    #[command(flatten)]
    common: Common,
}

#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Args)]
struct Common {
    /// Treat warnings (unknown fields, secret-looking environment values) as errors.
    #[arg(long, env = "RENDER_TASKDEF_STRICT")]
    strict: bool,

    /// Write nothing; exit 1 if a file on disk differs from what would be written.
    #[arg(long)]
    check: bool,
}

#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The task definition: JSON or YAML, or `-` for stdin.
    #[arg(value_name = "TASKDEF")]
    input: PathBuf,

    /// The file is the CodeDeployToECS template: `<IMAGEn_NAME>` placeholders are expected.
    #[arg(long)]
    codedeploy: bool,

    /// Also validate this AppSpec against the task definition.
    #[arg(long, value_name = "PATH")]
    appspec: Option<PathBuf>,

    /// Treat warnings as errors.
    #[arg(long, env = "RENDER_TASKDEF_STRICT")]
    strict: bool,

    #[command(flatten)]
    output: OutputArgs,
}

#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Args)]
struct AppspecArgs {
    /// The AppSpec: YAML or JSON, or `-` for stdin.
    #[arg(value_name = "APPSPEC")]
    input: PathBuf,

    /// The task definition it deploys: ContainerName and ContainerPort are checked against it.
    #[arg(long, value_name = "PATH")]
    taskdef: Option<PathBuf>,

    /// Replace `<TASK_DEFINITION>` with this ARN (for deploys outside the CodeDeployToECS action).
    #[arg(long, value_name = "ARN", value_parser = parse_task_definition_arn)]
    task_definition_arn: Option<String>,

    /// Where to write it; `-` for stdout.
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    output: PathBuf,

    #[command(flatten)]
    common: Common,

    #[command(flatten)]
    output_args: OutputArgs,
}

#[allow(clippy::doc_markdown, clippy::doc_link_with_quotes)]
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
struct NewAppspecArgs {
    /// The container the load balancer sends traffic to.
    #[arg(long, value_name = "NAME")]
    container: String,

    /// Its port.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,

    /// Check the container and port against this task definition.
    #[arg(long, value_name = "PATH")]
    taskdef: Option<PathBuf>,

    /// The task definition ARN (default: `<TASK_DEFINITION>`, which the CodeDeployToECS action fills in).
    #[arg(long, value_name = "ARN", value_parser = parse_task_definition_arn)]
    task_definition_arn: Option<String>,

    /// Fargate platform version (`LATEST` or like `1.4.0`).
    #[arg(long, value_name = "VERSION")]
    platform_version: Option<String>,

    /// A subnet for the awsvpc network configuration (repeatable; with --security-group).
    #[arg(long = "subnet", value_name = "ID", requires = "security_groups")]
    subnets: Vec<String>,

    /// A security group (repeatable; with --subnet).
    #[arg(long = "security-group", value_name = "ID", requires = "subnets")]
    security_groups: Vec<String>,

    /// Give tasks a public IP (AssignPublicIp ENABLED; default DISABLED).
    #[arg(long, requires = "subnets")]
    assign_public_ip: bool,

    /// A capacity provider: `NAME[:BASE[:WEIGHT]]` (repeatable), e.g. FARGATE:1:1.
    #[arg(long = "capacity-provider", value_name = "NAME[:BASE[:WEIGHT]]", value_parser = parse_capacity_provider)]
    capacity_providers: Vec<(String, Option<u64>, Option<u64>)>,

    /// A lifecycle hook: `HOOK=FUNCTION` (BeforeInstall, AfterInstall, AfterAllowTestTraffic,
    /// BeforeAllowTraffic, AfterAllowTraffic).
    #[arg(long = "hook", value_name = "HOOK=FUNCTION", value_parser = parse_hook)]
    hooks: Vec<(String, String)>,

    /// Where to write it (`.json` → JSON, else YAML); `-` for stdout (YAML).
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    output: PathBuf,

    #[command(flatten)]
    common: Common,

    #[command(flatten)]
    output_args: OutputArgs,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ImageSource {
    Uri(String),
    Detail(PathBuf),
}

/// `[CONTAINER:]NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    container: Option<String>,
    name: String,
    value: String,
}

fn split_container(s: &str) -> (Option<String>, &str) {
    match s.split_once(':') {
        Some((c, rest)) if !c.is_empty() => (Some(c.to_string()), rest),
        _ => (None, s),
    }
}

fn parse_pair(s: &str) -> Result<Pair, String> {
    let Some((left, value)) = s.split_once('=') else {
        return Err("expected [CONTAINER:]NAME=VALUE".into());
    };
    let (container, name) = split_container(left);
    if name.is_empty() {
        return Err("the name before `=` is empty".into());
    }
    Ok(Pair {
        container,
        name: name.to_string(),
        value: value.to_string(),
    })
}

fn parse_prefixed(s: &str) -> Result<(Option<String>, String), String> {
    let (container, rest) = split_container(s);
    if rest.is_empty() {
        return Err("the value after the container is empty".into());
    }
    Ok((container, rest.to_string()))
}

fn parse_command(s: &str) -> Result<(Option<String>, Vec<String>), String> {
    let (container, json) = if s.trim_start().starts_with('[') {
        (None, s)
    } else {
        split_container(s)
    };
    let args: Vec<String> = serde_json::from_str(json).map_err(|e| {
        format!("expected a JSON array of strings like '[\"npm\",\"start\"]' ({e})")
    })?;
    Ok((container, args))
}

fn parse_image(s: &str) -> Result<(Option<String>, ImageSource), String> {
    let (container, source) = match s.split_once('=') {
        Some((c, rest)) if !c.is_empty() => (Some(c.to_string()), rest),
        _ => (None, s),
    };
    if let Some(path) = source.strip_prefix('@') {
        if path.is_empty() {
            return Err("`@` needs a file: @imageDetail.json".into());
        }
        return Ok((container, ImageSource::Detail(PathBuf::from(path))));
    }
    ImageRef::parse(source).map_err(|e| e.reason().to_string())?;
    Ok((container, ImageSource::Uri(source.to_string())))
}

fn parse_task_definition_arn(s: &str) -> Result<String, String> {
    if appspec::is_task_definition_arn(s) {
        Ok(s.to_string())
    } else {
        Err("expected arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION".into())
    }
}

fn parse_capacity_provider(s: &str) -> Result<(String, Option<u64>, Option<u64>), String> {
    let mut parts = s.split(':');
    let name = parts.next().unwrap_or_default().to_string();
    if name.is_empty() {
        return Err("expected NAME[:BASE[:WEIGHT]]".into());
    }
    let mut number = |what: &str| -> Result<Option<u64>, String> {
        parts
            .next()
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| format!("{what} `{p}` is not a whole number"))
            })
            .transpose()
    };
    let base = number("base")?;
    let weight = number("weight")?;
    Ok((name, base, weight))
}

fn parse_hook(s: &str) -> Result<(String, String), String> {
    let (hook, function) = s.split_once('=').ok_or("expected HOOK=FUNCTION")?;
    if !appspec::HOOKS.contains(&hook) {
        return Err(format!(
            "`{hook}` is not an ECS hook; use one of {}",
            appspec::HOOKS.join(", ")
        ));
    }
    if function.trim().is_empty() {
        return Err("the function name is empty".into());
    }
    Ok((hook.to_string(), function.to_string()))
}

/// What can go wrong besides findings.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file could not be read.
    #[error("read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON or YAML.
    #[error("parse {syntax} `{}` at {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Its syntax.
        syntax: Syntax,
        /// Where and what.
        error: ParseError,
    },
    /// `${VAR}`s with no value.
    #[error("substitute variables in `{}`: {} not set: {}", path.display(), if missing.len() == 1 { "this variable is" } else { "these variables are" }, missing.iter().map(|m| format!("{} (at {})", m.name, m.path)).collect::<Vec<_>>().join(", "))]
    MissingVariables {
        /// The file.
        path: PathBuf,
        /// The variables.
        missing: Vec<template::Missing>,
    },
    /// An env file line is not `NAME=VALUE`.
    #[error("read `{}` line {line}: {reason}", path.display())]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An imageDetail.json without a usable ImageURI.
    #[error("read the image from `{}`: {reason}", path.display())]
    ImageDetail {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Flags that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// An edit that cannot be made.
    #[error(transparent)]
    Edit(#[from] edit::EditError),
    /// Writing a file failed.
    #[error(transparent)]
    Write(#[from] atomic::WriteError),
}

impl Diagnostic for RenderError {
    fn exit_code(&self) -> Code {
        match self {
            RenderError::Edit(e) => e.exit_code(),
            RenderError::Write(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            RenderError::MissingVariables { missing, .. } => Some(format!(
                "export {} (or write ${{VAR:-default}} in the template)",
                missing.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(" ")
            )),
            RenderError::EnvFile { .. } => Some("write one NAME=VALUE per line; `#` starts a comment".into()),
            RenderError::ImageDetail { .. } => Some(
                "pass the imageDetail.json build-push wrote ({\"ImageURI\": \"…@sha256:…\"}), or the URI itself".into(),
            ),
            RenderError::Edit(e) => e.help(),
            RenderError::Write(e) => e.help(),
            _ => None,
        }
    }
}

/// A file the step wrote (or would write).
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// Its path as given.
    pub path: String,
    /// The sha256 of its bytes.
    pub sha256: String,
    /// Whether it differs from the file on disk (always true for a new file).
    pub changed: bool,
}

/// A container's image after rendering.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerImage {
    /// The container.
    pub name: String,
    /// Its `image` field as written (a URI or a placeholder).
    pub image: String,
}

/// The result of `render-taskdef`, `appspec` and `new-appspec`. JSON fields (`schema_version` 1):
/// `command`; `input`; `output` (path, or `-` for stdout); `sha256` of the output; `written` (false
/// under --check or when findings stopped it); `changed` (differs from the file on disk);
/// `containers` [{name, image}]; `placeholders` [{placeholder, container, `image_uri`}]; `artifacts`
/// [{path, sha256, changed}]; `variables` (names substituted); `normalized` (what was unwrapped or
/// dropped); `findings` [{severity, rule, path, message}]; `errors`, `warnings` (counts).
#[derive(Debug, Clone, Serialize, Default)]
pub struct RenderReport {
    /// `render`, `check`, `appspec` or `new-appspec`.
    pub command: &'static str,
    /// The input file.
    pub input: String,
    /// The output file.
    pub output: Option<String>,
    /// sha256 of the output's bytes.
    pub sha256: Option<String>,
    /// Whether files were written.
    pub written: bool,
    /// Whether any output differs from the file on disk.
    pub changed: bool,
    /// Container images after rendering.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerImage>,
    /// CodeDeploy placeholders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placeholders: Vec<Placeholder>,
    /// Other files written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// Template variables substituted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<String>,
    /// Normalisation done on the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub normalized: Vec<String>,
    /// Findings, errors first.
    pub findings: Vec<Finding>,
    /// Number of error findings (warnings included under --strict).
    pub errors: usize,
    /// Number of warning findings.
    pub warnings: usize,
    #[serde(skip)]
    check: bool,
}

impl Report for RenderReport {
    const STEP: &'static str = "render-taskdef";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = String::new();
        for n in &self.normalized {
            s.push_str(&format!("note: {}: {n}\n", self.input));
        }
        for f in &self.findings {
            s.push_str(&format!("{f}\n"));
        }
        let out = self.output.as_deref().unwrap_or("-");
        let counts = if self.findings.is_empty() {
            String::new()
        } else {
            format!(" ({} error(s), {} warning(s))", self.errors, self.warnings)
        };
        if self.errors > 0 {
            let tail = if self.command == "check" {
                ""
            } else {
                "; nothing written"
            };
            s.push_str(&format!(
                "{}: {} error(s), {} warning(s){tail}\n",
                self.input, self.errors, self.warnings
            ));
            return s;
        }
        if self.command == "check" {
            s.push_str(&format!("{}: valid{counts}\n", self.input));
            return s;
        }
        if self.check {
            let changed: Vec<&str> = std::iter::once((out, self.changed))
                .chain(self.artifacts.iter().map(|a| (a.path.as_str(), a.changed)))
                .filter(|(_, c)| *c)
                .map(|(p, _)| p)
                .collect();
            if changed.is_empty() {
                s.push_str(&format!("{out}: up to date{counts}\n"));
            } else {
                s.push_str(&format!("would change: {}\n", changed.join(", ")));
            }
            return s;
        }
        if out != "-" {
            s.push_str(&format!("wrote {out}{counts}\n"));
        }
        for p in &self.placeholders {
            let uri = p
                .image_uri
                .as_deref()
                .unwrap_or("(no --image: filled from another artifact)");
            s.push_str(&format!(
                "  <{}> in {}: {uri}\n",
                p.placeholder, p.container
            ));
        }
        for a in &self.artifacts {
            s.push_str(&format!("wrote {}\n", a.path));
        }
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let mut v = vec![
            (
                "TASKDEF_OUTPUT".into(),
                self.output.clone().unwrap_or_default(),
            ),
            (
                "TASKDEF_SHA256".into(),
                self.sha256.clone().unwrap_or_default(),
            ),
        ];
        if self.command == "appspec" || self.command == "new-appspec" {
            v = vec![
                (
                    "APPSPEC_OUTPUT".into(),
                    self.output.clone().unwrap_or_default(),
                ),
                (
                    "APPSPEC_SHA256".into(),
                    self.sha256.clone().unwrap_or_default(),
                ),
            ];
        }
        v
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        vec![
            ("file".into(), self.output.clone().unwrap_or_default()),
            ("sha256".into(), self.sha256.clone().unwrap_or_default()),
        ]
    }

    fn markdown(&self) -> Option<String> {
        if self.findings.is_empty() {
            return None;
        }
        let mut md = format!(
            "### render-taskdef: `{}`\n\n| severity | where | finding |\n|---|---|---|\n",
            self.input
        );
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            md.push_str(&format!(
                "| {sev} | `{}` | {} |\n",
                f.path,
                f.message.replace('|', "\\|")
            ));
        }
        Some(md)
    }
}

impl Step for RenderTaskdef {
    const NAME: &'static str = "render-taskdef";

    fn output_args(&self) -> &OutputArgs {
        match &self.command {
            Some(Command::Check(a)) => &a.output,
            Some(Command::Appspec(a)) => &a.output_args,
            Some(Command::NewAppspec(a)) => &a.output_args,
            None => &self.output,
        }
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let format = ctx.out.format();
        match self.command {
            Some(Command::Check(args)) => check(&args, &ctx),
            Some(Command::Appspec(args)) => {
                stdout_free(&args.output, format, args.common.check)?;
                render_appspec(&args, &ctx)
            }
            Some(Command::NewAppspec(args)) => {
                stdout_free(&args.output, format, args.common.check)?;
                new_appspec(&args, &ctx)
            }
            None => {
                stdout_free(&self.render.output, format, self.render.common.check)?;
                render(&self.render, &ctx)
            }
        }
    }
}

/// The rendered file and a `--json`/`--format env` result cannot share stdout; `--check` needs a file.
fn stdout_free(output: &Path, format: Format, check: bool) -> Result<(), RenderError> {
    let to_stdout = output == Path::new("-");
    if to_stdout && format != Format::Human {
        return Err(RenderError::Usage(
            "print the result: stdout carries the rendered file; pass --output PATH with --json or --format env".into(),
        ));
    }
    if to_stdout && check {
        return Err(RenderError::Usage(
            "run --check: it compares with a file; pass --output PATH".into(),
        ));
    }
    Ok(())
}

/// A document read from a file or stdin.
struct Input {
    path: PathBuf,
    text: String,
    syntax: Syntax,
    value: serde_json::Value,
}

fn read_input(ctx: &Context, path: &Path) -> Result<Input, RenderError> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|source| RenderError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        s
    } else {
        std::fs::read_to_string(ctx.env.resolve(path)).map_err(|source| RenderError::Read {
            path: path.to_path_buf(),
            source,
        })?
    };
    let syntax = Syntax::detect(path, &text);
    let value = document::parse(&text, syntax).map_err(|error| RenderError::Parse {
        path: path.to_path_buf(),
        syntax,
        error,
    })?;
    Ok(Input {
        path: path.to_path_buf(),
        text,
        syntax,
        value,
    })
}

/// The task definition an AppSpec deploys: read, normalised, substituted.
fn read_taskdef(ctx: &Context, path: &Path) -> Result<serde_json::Value, RenderError> {
    let input = read_input(ctx, path)?;
    let (mut td, _) = taskdef::normalize(input.value);
    substitute(ctx, path, &mut td)?;
    Ok(td)
}

/// Substitutes `${VAR}`s from the environment; every missing one in one error.
fn substitute(
    ctx: &Context,
    path: &Path,
    value: &mut serde_json::Value,
) -> Result<template::Expanded, RenderError> {
    let lookup = |name: &str| ctx.env.var(name).map(str::to_string);
    let result = template::expand(value, &lookup);
    if !result.missing.is_empty() {
        return Err(RenderError::MissingVariables {
            path: path.to_path_buf(),
            missing: result.missing,
        });
    }
    Ok(result)
}

/// Sorts findings (errors first, stable) and counts them; under --strict warnings count as errors.
fn tally(report: &mut RenderReport, mut findings: Vec<Finding>, strict: bool) {
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    report.warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    report.errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if strict {
        report.errors += report.warnings;
    }
    report.findings = findings;
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::reference::Digest::sha256_of(bytes).hex().to_string()
}

/// Files to write, all computed before any is written.
struct Plan {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Plan {
    /// Compares each file with the disk; writes them unless `check`. Returns (changed per file).
    fn finish(&self, ctx: &Context, check: bool) -> Result<Vec<bool>, RenderError> {
        let changed: Vec<bool> = self
            .files
            .iter()
            .map(|(path, bytes)| {
                path == Path::new("-")
                    || std::fs::read(ctx.env.resolve(path)).map_or(true, |old| old != *bytes)
            })
            .collect();
        if check {
            return Ok(changed);
        }
        for (path, bytes) in &self.files {
            if path == Path::new("-") {
                ctx.out.stdout_text(&String::from_utf8_lossy(bytes));
            } else {
                atomic::write_creating_dirs(&ctx.env.resolve(path), bytes, 0o644)?;
            }
        }
        Ok(changed)
    }
}

/// Emits the report and maps it to the exit code.
fn conclude(ctx: &Context, report: &RenderReport) -> Result<Code, Error> {
    ctx.out.emit(report)?;
    let changed = report.changed || report.artifacts.iter().any(|a| a.changed);
    Ok(if report.errors > 0 || (report.check && changed) {
        Code::Verdict
    } else {
        Code::Ok
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn render(args: &RenderArgs, ctx: &Context) -> Result<Code, Error> {
    let input_path = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let input = read_input(ctx, &input_path)?;
    let (mut td, normalized) = taskdef::normalize(input.value);
    let expanded = substitute(ctx, &input.path, &mut td)?;

    let edits = edits(args, ctx)?;
    let mode = if args.codedeploy {
        ImageMode::CodeDeploy
    } else {
        ImageMode::Concrete
    };
    let applied = edit::apply(&mut td, &edits, &args.replace, mode)?;

    let mut report = RenderReport {
        command: "render",
        input: display(&input.path),
        output: Some(display(&args.output)),
        variables: expanded.used.clone(),
        normalized,
        check: args.common.check,
        ..RenderReport::default()
    };
    let findings = validate::task_definition(
        &td,
        &validate::Options {
            codedeploy: args.codedeploy,
            literal: expanded.literal.clone(),
        },
    );
    tally(&mut report, findings, args.common.strict);
    report.containers = taskdef::containers(&td)
        .iter()
        .filter_map(|c| {
            Some(ContainerImage {
                name: c.get("name")?.as_str()?.to_string(),
                image: c.get("image")?.as_str()?.to_string(),
            })
        })
        .collect();
    report.placeholders.clone_from(&applied.placeholders);
    if report.errors > 0 {
        return conclude(ctx, &report);
    }
    if args.codedeploy && args.image_detail_dir.is_some() {
        for p in applied
            .placeholders
            .iter()
            .filter(|p| p.image_uri.is_none())
        {
            ctx.out.warn(&format!(
                "<{}> (container {}) has no --image here, so no imageDetail.json is written for it; the pipeline must supply that artifact",
                p.placeholder, p.container
            ));
        }
    }

    let text = document::to_json(&td);
    let mut plan = Plan {
        files: vec![(args.output.clone(), text.into_bytes())],
    };
    plan.files.extend(artifact_files(args, &applied)?);
    let changed = plan.finish(ctx, args.common.check)?;
    report.sha256 = Some(sha256_hex(&plan.files[0].1));
    report.changed = changed[0];
    report.written = !args.common.check;
    report.artifacts = plan.files[1..]
        .iter()
        .zip(&changed[1..])
        .map(|((path, bytes), changed)| Artifact {
            path: display(path),
            sha256: sha256_hex(bytes),
            changed: *changed,
        })
        .collect();
    conclude(ctx, &report)
}

/// imageDetail.json per placeholder (with --image-detail-dir) and imagedefinitions.json (if asked).
fn artifact_files(
    args: &RenderArgs,
    applied: &edit::Applied,
) -> Result<Vec<(PathBuf, Vec<u8>)>, RenderError> {
    let mut files = Vec::new();
    if let Some(dir) = &args.image_detail_dir {
        for p in &applied.placeholders {
            let Some(uri) = &p.image_uri else { continue };
            let n = p.number();
            let path = if n == 1 {
                dir.join("imageDetail.json")
            } else {
                dir.join(format!("image{n}")).join("imageDetail.json")
            };
            files.push((path, crate::image_detail::minimal(uri)));
        }
    }
    if let Some(path) = &args.imagedefinitions {
        if applied.images.is_empty() {
            return Err(RenderError::Usage(
                "write imagedefinitions.json: no --image was given, so there is nothing to deploy"
                    .into(),
            ));
        }
        let list: Vec<serde_json::Value> = applied
            .images
            .iter()
            .map(|(name, uri)| serde_json::json!({ "name": name, "imageUri": uri }))
            .collect();
        files.push((
            path.clone(),
            document::to_json(&serde_json::Value::Array(list)).into_bytes(),
        ));
    }
    Ok(files)
}

/// The flags as edits, in a fixed order: env files, --env, --secret, --label, --log-driver,
/// --log-option, --command, --image.
fn edits(args: &RenderArgs, ctx: &Context) -> Result<Vec<Edit>, RenderError> {
    let mut edits = Vec::new();
    for (container, path) in &args.env_files {
        for (name, value) in read_env_file(ctx, Path::new(path))? {
            edits.push(Edit {
                container: container.clone(),
                change: Change::Pair(Field::Environment, name, value),
            });
        }
    }
    for (field, pairs) in [
        (Field::Environment, &args.env),
        (Field::Secrets, &args.secrets),
        (Field::Labels, &args.labels),
    ] {
        for p in pairs {
            edits.push(Edit {
                container: p.container.clone(),
                change: Change::Pair(field, p.name.clone(), p.value.clone()),
            });
        }
    }
    for (container, driver) in &args.log_drivers {
        edits.push(Edit {
            container: container.clone(),
            change: Change::LogDriver(driver.clone()),
        });
    }
    for p in &args.log_options {
        edits.push(Edit {
            container: p.container.clone(),
            change: Change::Pair(Field::LogOptions, p.name.clone(), p.value.clone()),
        });
    }
    for (container, command) in &args.commands {
        edits.push(Edit {
            container: container.clone(),
            change: Change::Command(command.clone()),
        });
    }
    for (container, source) in &args.images {
        let uri = match source {
            ImageSource::Uri(u) => u.clone(),
            ImageSource::Detail(path) => read_image_detail(ctx, path)?,
        };
        edits.push(Edit {
            container: container.clone(),
            change: Change::Image(uri),
        });
    }
    Ok(edits)
}

/// `NAME=VALUE` lines; `#` comments and blank lines skipped; `export ` and matching quotes stripped.
fn read_env_file(ctx: &Context, path: &Path) -> Result<Vec<(String, String)>, RenderError> {
    let text =
        std::fs::read_to_string(ctx.env.resolve(path)).map_err(|source| RenderError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let err = |reason: &str| RenderError::EnvFile {
            path: path.to_path_buf(),
            line: i + 1,
            reason: reason.into(),
        };
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| err("expected NAME=VALUE"))?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(err("the name is empty or has spaces"));
        }
        let value = value.trim();
        let value = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| value.strip_prefix(*a).and_then(|v| v.strip_suffix(*b)))
            .unwrap_or(value);
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// The ImageURI of an imageDetail.json (build-push's or the ECR source action's).
fn read_image_detail(ctx: &Context, path: &Path) -> Result<String, RenderError> {
    crate::image_detail::read(&ctx.env.resolve(path))
        .map(|(uri, _)| uri)
        .map_err(|reason| RenderError::ImageDetail {
            path: path.to_path_buf(),
            reason,
        })
}

fn check(args: &CheckArgs, ctx: &Context) -> Result<Code, Error> {
    let input = read_input(ctx, &args.input)?;
    let (mut td, normalized) = taskdef::normalize(input.value);
    let expanded = substitute(ctx, &input.path, &mut td)?;
    let mut findings = validate::task_definition(
        &td,
        &validate::Options {
            codedeploy: args.codedeploy,
            literal: expanded.literal.clone(),
        },
    );
    if let Some(path) = &args.appspec {
        let mut spec = read_input(ctx, path)?;
        substitute(ctx, path, &mut spec.value)?;
        findings.extend(
            appspec::validate(&spec.value, Some(&td), true)
                .into_iter()
                .map(|mut f| {
                    f.path = format!("{}: {}", path.display(), f.path);
                    f
                }),
        );
    }
    let mut report = RenderReport {
        command: "check",
        input: display(&input.path),
        variables: expanded.used.clone(),
        normalized,
        ..RenderReport::default()
    };
    tally(&mut report, findings, args.strict);
    conclude(ctx, &report)
}

fn render_appspec(args: &AppspecArgs, ctx: &Context) -> Result<Code, Error> {
    let input = read_input(ctx, &args.input)?;
    let mut doc = input.value.clone();
    let expanded = substitute(ctx, &input.path, &mut doc)?;
    let td = args
        .taskdef
        .as_ref()
        .map(|p| read_taskdef(ctx, p))
        .transpose()?;
    if let Some(arn) = &args.task_definition_arn
        && !appspec::set_task_definition(&mut doc, arn)
    {
        return Err(RenderError::Usage(format!(
            "set the task definition in `{}`: it has no Resources[0].<name>.Properties to hold it",
            input.path.display()
        ))
        .into());
    }
    let mut report = RenderReport {
        command: "appspec",
        input: display(&input.path),
        output: Some(display(&args.output)),
        variables: expanded.used.clone(),
        check: args.common.check,
        ..RenderReport::default()
    };
    let findings = appspec::validate(&doc, td.as_ref(), args.task_definition_arn.is_none());
    tally(&mut report, findings, args.common.strict);
    if report.errors > 0 {
        return conclude(ctx, &report);
    }
    // Keep the file's own text (comments, quoting) when only the placeholder changed.
    let text = if doc == input.value {
        input.text.clone()
    } else if let Some(patched) = args.task_definition_arn.as_deref().and_then(|arn| {
        let mut only_arn = input.value.clone();
        appspec::set_task_definition(&mut only_arn, arn);
        (only_arn == doc).then(|| appspec::patch_text(&input.text, input.syntax, arn, &doc))?
    }) {
        patched
    } else {
        document::to_text(&doc, input.syntax)
    };
    finish_single(
        ctx,
        report,
        &args.output,
        text.into_bytes(),
        args.common.check,
    )
}

fn finish_single(
    ctx: &Context,
    mut report: RenderReport,
    output: &Path,
    bytes: Vec<u8>,
    check: bool,
) -> Result<Code, Error> {
    report.sha256 = Some(sha256_hex(&bytes));
    let plan = Plan {
        files: vec![(output.to_path_buf(), bytes)],
    };
    report.changed = plan.finish(ctx, check)?[0];
    report.written = !check;
    conclude(ctx, &report)
}

fn new_appspec(args: &NewAppspecArgs, ctx: &Context) -> Result<Code, Error> {
    let spec = appspec::NewAppSpec {
        task_definition: args.task_definition_arn.clone(),
        container: args.container.clone(),
        port: args.port,
        platform_version: args.platform_version.clone(),
        subnets: args.subnets.clone(),
        security_groups: args.security_groups.clone(),
        assign_public_ip: args.assign_public_ip,
        capacity_providers: args.capacity_providers.clone(),
        hooks: args.hooks.clone(),
    };
    let doc = appspec::generate(&spec);
    let td = args
        .taskdef
        .as_ref()
        .map(|p| read_taskdef(ctx, p))
        .transpose()?;
    let mut report = RenderReport {
        command: "new-appspec",
        input: "(flags)".into(),
        output: Some(display(&args.output)),
        check: args.common.check,
        ..RenderReport::default()
    };
    tally(
        &mut report,
        appspec::validate(&doc, td.as_ref(), true),
        args.common.strict,
    );
    if report.errors > 0 {
        return conclude(ctx, &report);
    }
    let syntax = if args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        Syntax::Json
    } else {
        Syntax::Yaml
    };
    let text = document::to_text(&doc, syntax);
    finish_single(
        ctx,
        report,
        &args.output,
        text.into_bytes(),
        args.common.check,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_split_where_the_docs_say() {
        assert_eq!(
            parse_pair("web:URL=http://x?a=b").unwrap(),
            Pair {
                container: Some("web".into()),
                name: "URL".into(),
                value: "http://x?a=b".into()
            }
        );
        assert_eq!(
            parse_pair("KEY=").unwrap(),
            Pair {
                container: None,
                name: "KEY".into(),
                value: String::new()
            }
        );
        assert!(parse_pair("KEY").is_err());
        assert!(parse_pair("web:=v").is_err());
        assert_eq!(
            parse_command("[\"a b\",\"c\"]").unwrap(),
            (None, vec!["a b".into(), "c".into()])
        );
        assert_eq!(
            parse_command("web:[\"x\"]").unwrap(),
            (Some("web".into()), vec!["x".into()])
        );
        assert!(parse_command("web:npm start").is_err());
        assert_eq!(
            parse_image("web=@out/imageDetail.json").unwrap(),
            (
                Some("web".into()),
                ImageSource::Detail("out/imageDetail.json".into())
            )
        );
        assert_eq!(
            parse_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1").unwrap(),
            (
                None,
                ImageSource::Uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1".into())
            )
        );
        assert!(parse_image("web=Not An Image").is_err());
        assert_eq!(
            parse_capacity_provider("FARGATE:1:2").unwrap(),
            ("FARGATE".into(), Some(1), Some(2))
        );
        assert_eq!(
            parse_capacity_provider("FARGATE_SPOT").unwrap(),
            ("FARGATE_SPOT".into(), None, None)
        );
        assert!(parse_hook("BeforeStart=x").is_err());
    }

    #[test]
    fn clap_configuration_is_consistent() {
        use clap::CommandFactory;
        RenderTaskdef::command().debug_assert();
    }
}
