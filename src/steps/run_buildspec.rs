//! `run-buildspec`: run a CodeBuild buildspec (version 0.2) on this machine the way CodeBuild runs it.
//!
//! One shell session for the whole build (variables and `cd` persist between commands and phases);
//! each command's exit status is checked; `finally` blocks run whatever happened; a failed `build`
//! still runs `post_build` with `CODEBUILD_BUILD_SUCCEEDING=0`, a failed `install` or `pre_build`
//! ends the build (unless `on-failure: CONTINUE`); artifacts are collected into an output directory
//! unless `install` or `pre_build` failed, as CodeBuild uploads them.

use crate::adapters::ecr::{Aws, AwsError};
use crate::adapters::git;
use crate::buildspec::{self, Artifact, Buildspec, OnFailure, PHASES, Phase};
use crate::cli::{Context, Step};
use crate::context::Glob;
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::output::{Output, OutputArgs, Report};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// Run a CodeBuild buildspec locally, the way CodeBuild runs it.
///
///   run-buildspec                                   # ./buildspec.yml on this directory, artifacts in ./out
///   run-buildspec ci/buildspec.yml --src app --out build/out
///   run-buildspec --env DB_PASSWORD=… --env IMAGE_REPO_NAME=app   # set or override variables
///
/// Variables: the process environment, then the CodeBuild ones (CODEBUILD_BUILD_ID,
/// CODEBUILD_SRC_DIR, CODEBUILD_RESOLVED_SOURCE_VERSION from git, CODEBUILD_BUILD_NUMBER,
/// CODEBUILD_BUILD_SUCCEEDING, AWS_REGION, …), then `env.variables`, then --env. Variables from
/// `env.parameter-store` and `env.secrets-manager` are read through the AWS SDK (GetParameter with
/// decryption; GetSecretValue with json-key, version-stage, version-id), or taken from --env; their
/// values are masked in the log.
///
/// Exit codes: 0 the build succeeded · 1 it failed (the summary says where) · 2 bad flag or an
/// invalid buildspec (with its line number).
#[allow(clippy::doc_markdown)]
#[derive(Debug, clap::Parser)]
#[command(name = "run-buildspec", version, verbatim_doc_comment)]
pub struct RunBuildspec {
    /// The buildspec to run.
    #[arg(
        value_name = "BUILDSPEC",
        default_value = "buildspec.yml",
        env = "RUN_BUILDSPEC_FILE"
    )]
    buildspec: PathBuf,

    /// The source directory (CODEBUILD_SRC_DIR): where the commands start.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".",
        env = "RUN_BUILDSPEC_SRC"
    )]
    src: PathBuf,

    /// Where artifacts are collected (the primary's files at the top, secondary ones under their
    /// identifier).
    #[arg(
        short = 'o',
        long,
        value_name = "DIR",
        default_value = "out",
        env = "RUN_BUILDSPEC_OUT"
    )]
    out: PathBuf,

    /// Set a variable: NAME=VALUE (repeatable; wins over env.variables; required for
    /// parameter-store and secrets-manager variables).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_var)]
    env: Vec<(String, String)>,

    /// The project name in CODEBUILD_BUILD_ID (default: the source directory's name).
    #[arg(long, value_name = "NAME", env = "RUN_BUILDSPEC_PROJECT")]
    project: Option<String>,

    /// CODEBUILD_BUILD_NUMBER.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        env = "RUN_BUILDSPEC_BUILD_NUMBER"
    )]
    build_number: u64,

    /// AWS_REGION and AWS_DEFAULT_REGION for the commands (default: AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION", env = "RUN_BUILDSPEC_REGION")]
    region: Option<String>,

    #[command(flatten)]
    output: OutputArgs,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{k}` is not a variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// What can go wrong before or around the build (a failing command is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The buildspec cannot be read.
    #[error("read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The buildspec is invalid.
    #[error("read the buildspec `{}`: {error}", path.display())]
    Spec {
        /// The file.
        path: PathBuf,
        /// What and where.
        error: buildspec::SpecError,
    },
    /// Secret variables without values and no AWS credentials to fetch them.
    #[error("resolve {}: no value given and no AWS credentials to read it", names.join(", "))]
    Unresolved {
        /// The variables.
        names: Vec<String>,
    },
    /// Fetching a parameter or secret failed.
    #[error("resolve {name} from {source_ref}")]
    Fetch {
        /// The variable.
        name: String,
        /// `SSM parameter …` or `Secrets Manager secret …`.
        source_ref: String,
        /// What AWS said.
        #[source]
        reason: FetchError,
    },
    /// The shell could not be started.
    #[error("start the build shell `{shell}`")]
    Shell {
        /// The shell.
        shell: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing an artifact failed.
    #[error(transparent)]
    Write(#[from] crate::atomic::WriteError),
    /// Collecting artifacts failed.
    #[error("collect artifact file `{}`", path.display())]
    Artifact {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for RunError {
    fn exit_code(&self) -> Code {
        match self {
            RunError::Fetch { reason, .. } => reason.exit_code(),
            RunError::Artifact { .. } | RunError::Shell { .. } => Code::Internal,
            RunError::Write(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            RunError::Write(e) => e.help(),
            RunError::Fetch { reason, .. } => reason.help(),
            RunError::Unresolved { names } => Some(format!(
                "set AWS credentials to read them from SSM Parameter Store / Secrets Manager, or pass them with {}",
                names.iter().map(|n| format!("--env {n}=…")).collect::<Vec<_>>().join(" ")
            )),
            RunError::Spec { .. } => Some(
                "the buildspec reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html".into(),
            ),
            _ => None,
        }
    }
}

/// Where a secret variable's value lives.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// An SSM parameter name or ARN.
    Parameter(&'a str),
    /// `secret-id[:json-key[:version-stage[:version-id]]]` (the secret ID may be an ARN).
    Secret(&'a str),
}

/// Reading a secret failed: AWS refused or failed, or the JSON key is not there.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The secret is not JSON with that key.
    #[error("{0}")]
    Key(String),
}

impl Diagnostic for FetchError {
    fn exit_code(&self) -> Code {
        match self {
            FetchError::Aws(e) => e.exit_code(),
            FetchError::Key(_) => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            FetchError::Aws(e) => e.help(),
            FetchError::Key(_) => None,
        }
    }
}

/// `secret-id:json-key:version-stage:version-id`, the secret ID possibly an ARN (7 `:`-parts).
fn split_secret_ref(reference: &str) -> (String, Option<&str>, Option<&str>, Option<&str>) {
    let parts: Vec<&str> = reference.split(':').collect();
    let id_parts = if reference.starts_with("arn:") {
        7.min(parts.len())
    } else {
        1
    };
    let rest = &parts[id_parts..];
    let field = |i: usize| rest.get(i).copied().filter(|s| !s.is_empty());
    (parts[..id_parts].join(":"), field(0), field(1), field(2))
}

impl Source<'_> {
    fn describe(&self) -> String {
        match self {
            Source::Parameter(p) => format!("SSM parameter {p}"),
            Source::Secret(s) => format!("Secrets Manager secret {s}"),
        }
    }

    async fn fetch(&self, aws: &Aws) -> Result<String, FetchError> {
        match self {
            Source::Parameter(name) => Ok(aws.parameter(name).await?),
            Source::Secret(reference) => {
                let (id, key, stage, version) = split_secret_ref(reference);
                let text = aws.secret(&id, stage, version).await?;
                let Some(key) = key else { return Ok(text) };
                let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
                    FetchError::Key(format!("the secret is not JSON, so it has no key `{key}`"))
                })?;
                match doc.get(key) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(other) => Ok(other.to_string()),
                    None => Err(FetchError::Key(format!(
                        "the secret's JSON has no key `{key}`"
                    ))),
                }
            }
        }
    }
}

/// One phase's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// `install`, `pre_build`, `build`, `post_build`.
    pub name: &'static str,
    /// `SUCCEEDED`, `FAILED` or `SKIPPED`.
    pub status: &'static str,
    /// Wall time.
    pub duration_ms: u64,
    /// The command that failed, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_command: Option<String>,
}

/// Files collected for one artifact.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactReport {
    /// The identifier (secondary artifacts) or `null` for the primary.
    pub identifier: Option<String>,
    /// The artifact's name, if the buildspec gives one.
    pub name: Option<String>,
    /// Where its files are.
    pub directory: String,
    /// The files, relative to `directory`.
    pub files: Vec<String>,
}

/// A report group's files.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFiles {
    /// The group.
    pub name: String,
    /// The format, if given.
    pub file_format: Option<String>,
    /// The files found, relative to the source directory.
    pub files: Vec<String>,
}

/// The result of `run-buildspec`. JSON fields (`schema_version` 1): `succeeded`; `build_id`;
/// `build_number`; `source_version`; `phases` [{name, status, `duration_ms`, `failed_command`}];
/// `exported` {NAME: value}; `artifacts` [{identifier, name, directory, files}]; `reports` [{name,
/// `file_format`, files}]; `duration_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Whether the build succeeded.
    pub succeeded: bool,
    /// `CODEBUILD_BUILD_ID`.
    pub build_id: String,
    /// `CODEBUILD_BUILD_NUMBER`.
    pub build_number: u64,
    /// `CODEBUILD_RESOLVED_SOURCE_VERSION`, when the source is a git checkout.
    pub source_version: Option<String>,
    /// Each phase.
    pub phases: Vec<PhaseReport>,
    /// `env.exported-variables` and their values at the end of the build.
    pub exported: BTreeMap<String, String>,
    /// Artifacts collected.
    pub artifacts: Vec<ArtifactReport>,
    /// Report files found.
    pub reports: Vec<ReportFiles>,
    /// Total wall time.
    pub duration_ms: u64,
}

impl RunReport {
    /// The phase timing table (logged whatever the output format).
    fn timings(&self) -> String {
        let mut s = String::from("\nphase        status      duration\n");
        for p in &self.phases {
            s.push_str(&format!(
                "{:<12} {:<11} {:>7.2}s\n",
                p.name,
                p.status,
                p.duration_ms as f64 / 1000.0
            ));
        }
        s
    }
}

impl Report for RunReport {
    const STEP: &'static str = "run-buildspec";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.exported {
            s.push_str(&format!("exported {k}={v}\n"));
        }
        for a in &self.artifacts {
            s.push_str(&format!(
                "artifact {}: {} file(s) in {}\n",
                a.identifier.as_deref().unwrap_or("(primary)"),
                a.files.len(),
                a.directory
            ));
        }
        for r in &self.reports {
            s.push_str(&format!("report {}: {}\n", r.name, r.files.join(", ")));
        }
        s.push_str(&format!(
            "build {} {} in {:.2}s",
            self.build_id,
            if self.succeeded {
                "SUCCEEDED"
            } else {
                "FAILED"
            },
            self.duration_ms as f64 / 1000.0
        ));
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .exported
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.push(("BUILD_SUCCEEDED".into(), self.succeeded.to_string()));
        v
    }
}

impl Step for RunBuildspec {
    const NAME: &'static str = "run-buildspec";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let path = ctx.env.resolve(&self.buildspec);
        let text = std::fs::read_to_string(&path).map_err(|source| RunError::Read {
            path: self.buildspec.clone(),
            source,
        })?;
        let spec = buildspec::parse(&text).map_err(|error| RunError::Spec {
            path: self.buildspec.clone(),
            error,
        })?;
        let (resolved, secrets) = self.resolve_secrets(&spec).await?;
        let report =
            tokio::task::spawn_blocking(move || self.build(&ctx, &spec, &resolved, &secrets))
                .await
                .map_err(|e| crate::error::TaskFailed(e.to_string()))??;
        Ok(if report.succeeded {
            Code::Ok
        } else {
            Code::Verdict
        })
    }
}

/// A shell session the commands are written to, one at a time.
struct Session {
    child: Child,
    stdin: ChildStdin,
    results: mpsc::Receiver<Event>,
    marker: String,
    secrets: Vec<String>,
}

/// What the reader thread saw.
enum Event {
    /// A command finished with this status.
    Status(i32),
    /// An exported variable's value (hex).
    Exported(String, String),
}

impl Session {
    fn start(
        shell: &str,
        src: &Path,
        env: &[(String, String)],
        out: &Output,
        secrets: &[String],
    ) -> Result<Session, RunError> {
        let mut child = Command::new(shell)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(src)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| RunError::Shell {
                shell: shell.to_string(),
                source,
            })?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let marker = format!("__run_buildspec_{}_{nanos}__", std::process::id());
        let (tx, results) = mpsc::channel();
        let out = out.clone();
        let masks = secrets.to_vec();
        let mark = marker.clone();
        std::thread::spawn(move || forward(stdout, &mark, &out, &masks, &tx));
        Ok(Session {
            child,
            stdin,
            results,
            marker,
            secrets: secrets.to_vec(),
        })
    }

    /// `text` with every secret value replaced by `***`, as the log shows it.
    fn mask(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
    }

    /// Runs one command with CodeBuild's log lines (secrets masked): `Ok` on exit status 0, else
    /// `Err(whether the shell is still alive)`.
    fn command(&mut self, command: &str, out: &Output) -> Result<(), bool> {
        out.info(&format!(
            "[Container] Running command {}",
            self.mask(command)
        ));
        match self.run(command) {
            Some(0) => Ok(()),
            status => {
                out.info(&format!(
                    "[Container] Command did not exit successfully {} exit status {}",
                    self.mask(command),
                    status.map_or_else(|| "(the shell exited)".to_string(), |c| c.to_string())
                ));
                Err(status.is_some())
            }
        }
    }

    /// Runs one command; `None` when the shell is gone (the command ended the session).
    fn run(&mut self, command: &str) -> Option<i32> {
        let script = format!(
            "{{ {command}\n}} </dev/null\nprintf '\\n%s %s\\n' '{}' \"$?\"\n",
            self.marker
        );
        self.stdin.write_all(script.as_bytes()).ok()?;
        self.stdin.flush().ok()?;
        match self.results.recv().ok()? {
            Event::Status(code) => Some(code),
            Event::Exported(..) => None,
        }
    }

    fn export(&mut self, name: &str, value: &str) {
        let _ = writeln!(
            self.stdin,
            "export {name}={}",
            crate::output::shell_quote(value)
        );
    }

    /// The values of `names` that are set, read from the session.
    fn exported(&mut self, names: &[String]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for name in names {
            let script = format!(
                "if [ \"${{{name}+set}}\" = set ]; then printf '\\n%s %s %s\\n' '{m}VAR' '{name}' \"$(printf %s \"${name}\" | od -An -tx1 | tr -d ' \\n')\"; else printf '\\n%s %s -\\n' '{m}VAR' '{name}'; fi\n",
                m = self.marker
            );
            if self.stdin.write_all(script.as_bytes()).is_err() {
                break;
            }
            let _ = self.stdin.flush();
            match self.results.recv() {
                Ok(Event::Exported(n, hex)) if hex != "-" => {
                    out.insert(n, unhex(&hex));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        out
    }

    fn finish(mut self) {
        let _ = self.stdin.write_all(b"exit 0\n");
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Copies the shell's output to our log, masking secrets, and turns marker lines into events.
fn forward(
    stdout: std::process::ChildStdout,
    marker: &str,
    out: &Output,
    secrets: &[String],
    tx: &mpsc::Sender<Event>,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let mut held_blank = false;
    let var_marker = format!("{marker}VAR ");
    let status_marker = format!("{marker} ");
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(rest) = text.strip_prefix(&var_marker) {
            held_blank = false;
            let mut parts = rest.splitn(2, ' ');
            let name = parts.next().unwrap_or_default().to_string();
            let hex = parts.next().unwrap_or_default().to_string();
            let _ = tx.send(Event::Exported(name, hex));
            continue;
        }
        if let Some(code) = text.strip_prefix(&status_marker) {
            held_blank = false;
            let _ = tx.send(Event::Status(code.trim().parse().unwrap_or(1)));
            continue;
        }
        if text.is_empty() {
            if held_blank {
                out.line("");
            }
            held_blank = true;
            continue;
        }
        if held_blank {
            out.line("");
            held_blank = false;
        }
        let mut shown = text.to_string();
        for s in secrets {
            shown = shown.replace(s.as_str(), "***");
        }
        out.line(&shown);
    }
}

impl RunBuildspec {
    /// The values of `env.parameter-store` and `env.secrets-manager` variables — from --env, else
    /// through the AWS SDK — and the values to mask in the log.
    async fn resolve_secrets(
        &self,
        spec: &Buildspec,
    ) -> Result<(Vec<(String, String)>, Vec<String>), Error> {
        let given: BTreeMap<&str, &str> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let wanted: Vec<(&str, Source<'_>)> = spec
            .parameter_store
            .iter()
            .map(|(k, v)| (k.as_str(), Source::Parameter(v.as_str())))
            .chain(
                spec.secrets_manager
                    .iter()
                    .map(|(k, v)| (k.as_str(), Source::Secret(v.as_str()))),
            )
            .collect();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|(k, _)| !given.contains_key(k))
            .map(|(k, _)| (*k).to_string())
            .collect();
        let aws = if missing.is_empty() {
            None
        } else {
            Some(
                Aws::load(self.region.as_deref(), None)
                    .await
                    .map_err(|e| match e {
                        AwsError::NoCredentials { .. } | AwsError::NoRegion => {
                            Error::from(RunError::Unresolved {
                                names: missing.clone(),
                            })
                        }
                        other => Error::from(other),
                    })?,
            )
        };
        let mut resolved = Vec::new();
        for (name, source) in wanted {
            let value = match (given.get(name), &aws) {
                (Some(v), _) => (*v).to_string(),
                (None, Some(aws)) => source.fetch(aws).await.map_err(|reason| RunError::Fetch {
                    name: name.to_string(),
                    source_ref: source.describe(),
                    reason,
                })?,
                (None, None) => unreachable!("credentials were loaded for every missing value"),
            };
            resolved.push((name.to_string(), value));
        }
        let masks = resolved
            .iter()
            .map(|(_, v)| v.clone())
            .filter(|v| v.len() >= 3)
            .collect();
        Ok((resolved, masks))
    }

    /// The variables the commands see.
    fn environment(
        &self,
        ctx: &Context,
        spec: &Buildspec,
        src: &Path,
        build_id: &str,
        head: Option<&git::Head>,
    ) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = ctx
            .env
            .vars()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let region = self
            .region
            .clone()
            .or_else(|| ctx.env.var("AWS_REGION").map(str::to_string))
            .or_else(|| ctx.env.var("AWS_DEFAULT_REGION").map(str::to_string))
            .unwrap_or_else(|| "us-east-1".into());
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let version = head.map(|h| h.commit.clone()).unwrap_or_default();
        let codebuild = [
            ("CODEBUILD_CI", "true".to_string()),
            ("CODEBUILD_BUILD_ID", build_id.to_string()),
            ("CODEBUILD_BUILD_NUMBER", self.build_number.to_string()),
            ("CODEBUILD_SRC_DIR", src.display().to_string()),
            ("CODEBUILD_RESOLVED_SOURCE_VERSION", version.clone()),
            (
                "CODEBUILD_SOURCE_VERSION",
                head.and_then(|h| h.branch.clone()).unwrap_or(version),
            ),
            ("CODEBUILD_BUILD_SUCCEEDING", "1".to_string()),
            ("CODEBUILD_START_TIME", start.to_string()),
            ("CODEBUILD_INITIATOR", "run-buildspec".to_string()),
            ("CODEBUILD_BUILD_IMAGE", "local".to_string()),
            ("AWS_REGION", region.clone()),
            ("AWS_DEFAULT_REGION", region),
        ];
        for (k, v) in codebuild {
            env.insert(k.to_string(), v);
        }
        for (k, v) in &spec.variables {
            env.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.env {
            env.insert(k.clone(), v.clone());
        }
        env.into_iter().collect()
    }

    fn build(
        self,
        ctx: &Context,
        spec: &Buildspec,
        resolved: &[(String, String)],
        secrets: &[String],
    ) -> Result<RunReport, Error> {
        let started = Instant::now();
        let src =
            std::fs::canonicalize(ctx.env.resolve(&self.src)).map_err(|source| RunError::Read {
                path: self.src.clone(),
                source,
            })?;
        let head = git::head(&src).ok().flatten();
        let project = self.project.clone().unwrap_or_else(|| {
            src.file_name()
                .map_or_else(|| "local".into(), |n| n.to_string_lossy().into_owned())
        });
        let build_id = format!("{project}:{}", uuid());
        let mut env = self.environment(ctx, spec, &src, &build_id, head.as_ref());
        for (k, v) in resolved {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        let out = &ctx.out;
        out.info(&format!(
            "[Container] Running {} as build {build_id} in {}",
            self.buildspec.display(),
            src.display()
        ));
        let mut session = Session::start(&spec.shell, &src, &env, out, secrets)?;

        let mut phases = Vec::new();
        let mut succeeded = true;
        // After a failed install or pre_build (ABORT) nothing more runs and nothing is uploaded;
        // after a failed build only post_build runs.
        let mut stop_all = false;
        let mut only_post_build = false;
        for name in PHASES {
            let Some(phase) = spec.phases.iter().find(|p| p.name == name) else {
                continue;
            };
            if stop_all || (only_post_build && name != "post_build") {
                phases.push(PhaseReport {
                    name,
                    status: "SKIPPED",
                    duration_ms: 0,
                    failed_command: None,
                });
                out.info(&format!(
                    "[Container] Phase {} skipped",
                    name.to_uppercase()
                ));
                continue;
            }
            let (report, alive) = run_phase(&mut session, phase, succeeded, out);
            let failed = report.status == "FAILED";
            phases.push(report);
            if !alive {
                out.warn("the build shell exited; later phases start a new shell (variables set so far are lost)");
                session.finish();
                session = Session::start(&spec.shell, &src, &env, out, secrets)?;
            }
            if failed {
                succeeded = false;
                if phase.on_failure == OnFailure::Abort {
                    match name {
                        "build" => only_post_build = true,
                        "post_build" => {}
                        _ => stop_all = true,
                    }
                }
            }
        }
        let exported = session.exported(&spec.exported);
        session.finish();

        let mut artifacts = Vec::new();
        if !stop_all {
            let out_dir = ctx.env.resolve(&self.out);
            if !spec.artifacts.is_empty() {
                std::fs::create_dir_all(&out_dir).map_err(|source| RunError::Artifact {
                    path: out_dir.clone(),
                    source,
                })?;
            }
            // Canonical, so the walk can recognise (and skip) it inside the source directory.
            let out_dir = std::fs::canonicalize(&out_dir).unwrap_or(out_dir);
            for artifact in &spec.artifacts {
                artifacts.push(collect(artifact, &src, &out_dir)?);
            }
        } else if !spec.artifacts.is_empty() {
            out.info(
                "[Container] Artifacts not uploaded: the build stopped before the build phase",
            );
        }
        let reports = report_files(spec, &src);
        let report = RunReport {
            succeeded,
            build_id,
            build_number: self.build_number,
            source_version: head.map(|h| h.commit),
            phases,
            exported,
            artifacts,
            reports,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        out.info(report.timings().trim_end());
        out.emit(&report)?;
        Ok(report)
    }
}

/// The files each report group names.
fn report_files(spec: &Buildspec, src: &Path) -> Vec<ReportFiles> {
    spec.reports
        .iter()
        .map(|g| ReportFiles {
            name: g.name.clone(),
            file_format: g.file_format.clone(),
            files: matching(
                &g.files,
                &[],
                &src.join(g.base_directory.as_deref().unwrap_or("")),
                None,
            )
            .into_iter()
            .map(|(rel, _)| rel)
            .collect(),
        })
        .collect()
}

/// Runs one phase's commands then its `finally` block. Returns the report and whether the shell is
/// still alive.
fn run_phase(
    session: &mut Session,
    phase: &Phase,
    succeeding: bool,
    out: &Output,
) -> (PhaseReport, bool) {
    let started = Instant::now();
    let upper = phase.name.to_uppercase();
    out.info(&format!("[Container] Entering phase {upper}"));
    session.export(
        "CODEBUILD_BUILD_SUCCEEDING",
        if succeeding { "1" } else { "0" },
    );
    let mut failed_command = None;
    let mut alive = true;
    for command in &phase.commands {
        if let Err(still_alive) = session.command(command, out) {
            alive = still_alive;
            failed_command = Some(session.mask(command));
            break;
        }
    }
    if alive {
        for command in &phase.finally {
            if let Err(still_alive) = session.command(command, out) {
                alive = still_alive;
                failed_command.get_or_insert_with(|| session.mask(command));
                if !alive {
                    break;
                }
            }
        }
    }
    let status = if failed_command.is_some() {
        "FAILED"
    } else {
        "SUCCEEDED"
    };
    out.info(&format!(
        "[Container] Phase complete: {upper} State: {status}"
    ));
    (
        PhaseReport {
            name: phase.name,
            status,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            failed_command,
        },
        alive,
    )
}

/// A random build UUID (version 4 layout) from the OS generator.
fn uuid() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::reference::hex_lower(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Files under `base` (or absolute paths) matching any of `patterns` and none of `exclude`:
/// (path as matched, file).
fn matching(
    patterns: &[String],
    exclude: &[String],
    base: &Path,
    skip: Option<&Path>,
) -> Vec<(String, PathBuf)> {
    let exclude: Vec<Glob> = exclude.iter().filter_map(|p| Glob::new(p).ok()).collect();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for pattern in patterns {
        let (root, rel_pattern) = if let Some(abs) = pattern.strip_prefix('/') {
            (PathBuf::from("/"), abs.to_string())
        } else {
            (
                base.to_path_buf(),
                pattern.trim_start_matches("./").to_string(),
            )
        };
        if !rel_pattern.contains(['*', '?', '[']) {
            let file = root.join(&rel_pattern);
            if file.is_file() {
                found.push((pattern.trim_start_matches("./").to_string(), file));
            }
            continue;
        }
        let Ok(glob) = Glob::new(&rel_pattern) else {
            continue;
        };
        // Walk from the pattern's literal prefix directory.
        let prefix: Vec<&str> = rel_pattern
            .split('/')
            .take_while(|seg| !seg.contains(['*', '?', '[']))
            .collect();
        let start = root.join(prefix.join("/"));
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    // Never collect the output directory into itself.
                    if skip != Some(path.as_path()) {
                        stack.push(path);
                    }
                } else if kind.is_file() || kind.is_symlink() {
                    let Ok(rel) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let rel = rel.to_string_lossy().into_owned();
                    let shown = if pattern.starts_with('/') {
                        format!("/{rel}")
                    } else {
                        rel.clone()
                    };
                    if glob.matches(&rel)
                        && !exclude.iter().any(|e| e.matches(&rel))
                        && !found.iter().any(|(p, _)| *p == shown)
                    {
                        found.push((shown, path));
                    }
                }
            }
        }
    }
    found.sort();
    found
}

/// Copies an artifact's files into `out` (secondary artifacts into `out/<identifier>`).
fn collect(artifact: &Artifact, src: &Path, out: &Path) -> Result<ArtifactReport, RunError> {
    let base = src.join(artifact.base_directory.as_deref().unwrap_or(""));
    let dir = match &artifact.identifier {
        Some(id) => out.join(id),
        None => out.to_path_buf(),
    };
    let mut files = Vec::new();
    for (rel, file) in matching(&artifact.files, &artifact.exclude, &base, Some(out)) {
        let name = if artifact.discard_paths {
            Path::new(&rel)
                .file_name()
                .map_or_else(|| rel.clone(), |n| n.to_string_lossy().into_owned())
        } else {
            rel.trim_start_matches('/').to_string()
        };
        let bytes = std::fs::read(&file).map_err(|source| RunError::Artifact {
            path: file.clone(),
            source,
        })?;
        crate::atomic::write_creating_dirs(&dir.join(&name), &bytes, 0o644)?;
        files.push(name);
    }
    files.sort();
    files.dedup();
    Ok(ArtifactReport {
        identifier: artifact.identifier.clone(),
        name: artifact.name.clone(),
        directory: dir.display().to_string(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_uuids() {
        assert_eq!(parse_var("A_1=x=y").unwrap(), ("A_1".into(), "x=y".into()));
        assert!(parse_var("A-B=1").is_err());
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(unhex("68c3a9"), "hé");
    }

    #[test]
    fn secret_references() {
        assert_eq!(
            split_secret_ref("prod/db"),
            ("prod/db".into(), None, None, None)
        );
        assert_eq!(
            split_secret_ref("prod/db:password"),
            ("prod/db".into(), Some("password"), None, None)
        );
        assert_eq!(
            split_secret_ref(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password::v1"
            ),
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf".into(),
                Some("password"),
                None,
                Some("v1")
            )
        );
    }

    #[test]
    fn artifact_patterns() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.txt", "sub/b.txt", "sub/deep/c.json", "skip/d.txt"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let names = |pats: &[&str], ex: &[&str]| -> Vec<String> {
            let pats: Vec<String> = pats.iter().map(ToString::to_string).collect();
            let ex: Vec<String> = ex.iter().map(ToString::to_string).collect();
            matching(&pats, &ex, dir.path(), None)
                .into_iter()
                .map(|(r, _)| r)
                .collect()
        };
        assert_eq!(
            names(&["**/*"], &["skip/**"]),
            ["a.txt", "sub/b.txt", "sub/deep/c.json"]
        );
        assert_eq!(
            names(&["sub/**/*.json", "a.txt"], &[]),
            ["a.txt", "sub/deep/c.json"]
        );
        assert_eq!(names(&["*.txt"], &[]), ["a.txt"]);
        assert_eq!(names(&["missing.txt"], &[]), Vec::<String>::new());
    }
}
