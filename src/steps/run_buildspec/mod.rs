//! `run-buildspec`: run a CodeBuild buildspec (version 0.2) on this machine the way CodeBuild runs it.
//!
//! One shell session for the whole build (variables and `cd` persist between commands and phases);
//! each command's exit status is checked; `finally` blocks run whatever happened; a failed `build`
//! still runs `post_build` with `CODEBUILD_BUILD_SUCCEEDING=0`, a failed `install` or `pre_build`
//! ends the build (unless `on-failure: CONTINUE`); artifacts are collected into an output directory
//! unless `install` or `pre_build` failed, as CodeBuild uploads them.
//!
//! - `args`: the flags.
//! - `secrets`: `env.parameter-store` and `env.secrets-manager` values (`--env`, else AWS).
//! - `variables`: the variables the commands see, and the build ID.
//! - `session`: the shell process the commands are fed to, and its log.
//! - `phases`: CodeBuild's phase transitions.
//! - `artifacts`: artifact and report files.
//! - `batch`: a buildspec's `batch` — the legs, each a build of its own in a copy of the source,
//!   run in dependency order, in parallel up to `--parallel`.
//! - `report`: the result (`--json`, the summary, `--format env`); `error`: what can go wrong.

mod args;
mod artifacts;
mod batch;
mod error;
mod phases;
mod report;
mod secrets;
mod session;
mod variables;
mod workspace;

pub use args::RunBuildspec;

use crate::adapters::git;
use crate::buildspec::{self, Buildspec};
use crate::cli::{Context, Step};
use crate::error::Error;
use crate::exit::Code;
use crate::output::OutputArgs;
use artifacts::Upload;
use error::RunError;
use report::RunReport;
use secrets::Resolved;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

impl Step for RunBuildspec {
    const NAME: &'static str = "run-buildspec";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let spec = read(&ctx.env.resolve(&self.buildspec), &self.buildspec)?;
        if let Some(batch) = spec.batch.clone().filter(|_| !self.no_batch) {
            return batch::run(self, ctx, spec, batch).await;
        }
        let secrets = secrets::resolve(&spec, &self.env, self.region.as_deref()).await?;
        let out = ctx.out.clone();
        let report = tokio::task::spawn_blocking(move || build(&self, &ctx, &spec, &secrets, None))
            .await
            .map_err(|e| crate::error::TaskFailed(e.to_string()))??;
        out.info(report.timings().trim_end());
        out.emit(&report)?;
        Ok(if report.succeeded {
            Code::Ok
        } else {
            Code::Verdict
        })
    }
}

/// The buildspec at `path` (named `shown` in errors), read strictly.
fn read(path: &Path, shown: &Path) -> Result<Buildspec, RunError> {
    let text =
        crate::input::read_to_string(path, crate::input::DOCUMENT_LIMIT).map_err(|source| {
            RunError::Read {
                path: shown.to_path_buf(),
                source,
            }
        })?;
    buildspec::parse(&text).map_err(|error| RunError::Spec {
        path: shown.to_path_buf(),
        error,
    })
}

/// Where the build runs and what its commands see.
struct Plan {
    /// The source directory, canonical.
    src: PathBuf,
    /// Its git HEAD, when it is a checkout.
    head: Option<git::Head>,
    /// `CODEBUILD_BUILD_ID`.
    build_id: String,
    /// Every variable of the build shell.
    env: Vec<(String, String)>,
    /// Set when the build is to stop (a batch leg, on fast-fail).
    stop: Option<Arc<AtomicBool>>,
}

/// A leg of a batch, as its build sees it.
#[derive(Debug)]
pub(super) struct LegRun<'a> {
    /// `CODEBUILD_BATCH_BUILD_IDENTIFIER`.
    pub(super) identifier: &'a str,
    /// `CODEBUILD_BUILD_BATCH_ARN`.
    pub(super) batch_arn: &'a str,
    /// The leg's `env.image` (`CODEBUILD_BUILD_IMAGE`), reported, not run.
    pub(super) image: Option<&'a str>,
    /// The leg's `env.variables`.
    pub(super) variables: &'a [(String, String)],
    /// Set to stop the leg.
    pub(super) stop: Arc<AtomicBool>,
}

/// `--src`, canonical; it must be a directory.
fn source_dir(args: &RunBuildspec, ctx: &Context) -> Result<PathBuf, RunError> {
    let src =
        std::fs::canonicalize(ctx.env.resolve(&args.src)).map_err(|source| RunError::Read {
            path: args.src.clone(),
            source,
        })?;
    if !src.is_dir() {
        return Err(RunError::NotADirectory {
            path: args.src.clone(),
        });
    }
    Ok(src)
}

/// The source directory, its commit, the build ID and the variables.
fn plan(
    args: &RunBuildspec,
    ctx: &Context,
    spec: &Buildspec,
    secrets: &Resolved,
    leg: Option<&LegRun<'_>>,
) -> Result<Plan, RunError> {
    let src = source_dir(args, ctx)?;
    if !spec.artifacts.is_empty() {
        crate::output_path::check_directory("--out", &args.out, ctx.env.cwd())?;
    }
    let head = git::head(&src).ok().flatten();
    let build_id = variables::build_id(args.project.as_deref(), &src);
    let codebuild = variables::codebuild(args, &ctx.env, &src, &build_id, head.as_ref(), leg);
    let env = variables::environment(args, &ctx.env, spec, codebuild, &secrets.values, leg);
    Ok(Plan {
        src,
        head,
        build_id,
        env,
        stop: leg.map(|l| Arc::clone(&l.stop)),
    })
}

/// The build: plan, the phases, then the artifacts (unless the build stopped early) and reports.
fn build(
    args: &RunBuildspec,
    ctx: &Context,
    spec: &Buildspec,
    secrets: &Resolved,
    leg: Option<&LegRun<'_>>,
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let plan = plan(args, ctx, spec, secrets, leg)?;
    ctx.out.info(&format!(
        "[Container] Running {} as build {} in {}",
        args.buildspec.display(),
        plan.build_id,
        plan.src.display()
    ));
    let roots = artifacts::Roots::new(&plan.src, ctx.env.var("TMPDIR"));
    roots.check(spec)?;
    let outcome = phases::run(spec, &plan, &secrets.masks, &ctx.out)?;
    let (artifacts, upload_error) = if outcome.uploads {
        match artifacts::collect_all(spec, &roots, &ctx.env.resolve(&args.out), &ctx.out)? {
            Upload::Collected(artifacts) => (artifacts, None),
            Upload::NoMatch(reason) => (Vec::new(), Some(reason)),
        }
    } else {
        artifacts::not_uploaded(spec, &ctx.out);
        (Vec::new(), None)
    };
    // Exported values reach CodePipeline and the log: a secret among them is masked, as CodeBuild
    // masks it.
    let exported = outcome
        .exported
        .into_iter()
        .map(|(k, v)| (k, secrets::mask(&secrets.masks, &v)))
        .collect();
    Ok(RunReport {
        succeeded: outcome.succeeded && upload_error.is_none(),
        stopped: outcome.stopped,
        build_id: plan.build_id,
        build_number: args.build_number,
        source_version: plan.head.map(|h| h.commit),
        phases: outcome.phases,
        exported,
        artifacts,
        upload_error,
        reports: artifacts::report_files(spec, &roots)?,
        duration_ms: elapsed_ms(started),
    })
}

/// Milliseconds since `started`.
fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
