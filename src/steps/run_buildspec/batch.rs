//! A batch build: the buildspec's `batch` legs, each a build of its own as in CodeBuild — its own
//! copy of the source (`workspace`), shell, `CODEBUILD_BUILD_ID`, `CODEBUILD_BATCH_BUILD_IDENTIFIER`
//! and `CODEBUILD_BUILD_BATCH_ARN`, log lines prefixed with its identifier, artifacts in
//! `OUT/IDENTIFIER/`. A leg starts once every leg it depends on has succeeded (or failed with
//! `ignore-failure`), at most `--parallel` at once; a leg whose dependency failed is `STOPPED`
//! without running, and with `fast-fail` a failure stops every other leg. The batch succeeds when
//! every leg without `ignore-failure` does.

use super::args::RunBuildspec;
use super::error::RunError;
use super::report::{BatchReport, LegReport, LegStatus};
use super::secrets::{self, Resolved};
use super::{LegRun, build, read, variables};
use crate::buildspec::{Batch, Buildspec, Leg};
use crate::cli::Context;
use crate::error::Error;
use crate::exit::Code;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// A leg ready to run: its buildspec read and its secrets resolved (once per buildspec file, however
/// many legs run it), and the legs it depends on.
struct Prepared {
    leg: Leg,
    /// The buildspec file it runs, as named.
    buildspec: PathBuf,
    spec: Arc<Buildspec>,
    secrets: Arc<Resolved>,
    /// The indices of the legs of `depend_on`.
    deps: Vec<usize>,
}

impl Prepared {
    /// The report of this leg if it does not run, for `reason`.
    fn not_run(&self, reason: String) -> LegReport {
        LegReport::not_run(&self.leg, self.buildspec.display().to_string(), reason)
    }
}

/// Runs the batch and reports it.
pub(super) async fn run(
    args: RunBuildspec,
    ctx: Context,
    spec: Buildspec,
    batch: Batch,
) -> Result<Code, Error> {
    let src = super::source_dir(&args, &ctx)?;
    crate::output_path::check_directory("--out", &args.out, ctx.env.cwd())?;
    // Every leg's buildspec is read, and its secrets resolved, before any leg runs: each file once.
    let mut read_files: HashMap<PathBuf, (Arc<Buildspec>, Arc<Resolved>)> = HashMap::new();
    let top = Arc::new(spec);
    let mut prepared = Vec::new();
    for leg in &batch.legs {
        let buildspec = leg
            .buildspec
            .as_ref()
            .map_or_else(|| args.buildspec.clone(), PathBuf::from);
        let (spec, secrets) = if let Some(known) = read_files.get(&buildspec) {
            known.clone()
        } else {
            let spec = match &leg.buildspec {
                Some(file) => Arc::new(read(&src.join(file), &buildspec)?),
                None => Arc::clone(&top),
            };
            let secrets = secrets::resolve(&spec, &args.env, args.region.as_deref()).await?;
            let known = (spec, Arc::new(secrets));
            read_files.insert(buildspec.clone(), known.clone());
            known
        };
        let deps = leg
            .depend_on
            .iter()
            .filter_map(|d| batch.legs.iter().position(|l| &l.identifier == d))
            .collect();
        prepared.push(Prepared {
            leg: leg.clone(),
            buildspec,
            spec,
            secrets,
            deps,
        });
    }
    let out = ctx.out.clone();
    let report = tokio::task::spawn_blocking(move || {
        let batch_run = BatchRun::new(&args, &ctx, &src, &batch)?;
        Ok::<_, Error>(batch_run.run(&prepared))
    })
    .await
    .map_err(|e| crate::error::TaskFailed(e.to_string()))??;
    out.info(report.table().trim_end());
    out.emit(&report)?;
    Ok(if report.succeeded {
        Code::Ok
    } else {
        Code::Verdict
    })
}

/// A batch being run.
struct BatchRun<'a> {
    args: &'a RunBuildspec,
    ctx: &'a Context,
    src: &'a Path,
    batch: &'a Batch,
    /// `project:uuid`.
    id: String,
    /// `arn:aws:codebuild:REGION:ACCOUNT:build-batch/ID`.
    arn: String,
    /// Where the legs' copies of the source live; removed when the batch ends.
    work: tempfile::TempDir,
    /// The legs' output directory.
    out: PathBuf,
    parallel: usize,
    /// Set on fast-fail: every running leg stops.
    stop: Arc<AtomicBool>,
    started: Instant,
}

/// Where each leg is.
#[derive(Debug, Clone)]
enum State {
    Pending,
    Running,
    Done(Box<LegReport>),
}

impl<'a> BatchRun<'a> {
    fn new(
        args: &'a RunBuildspec,
        ctx: &'a Context,
        src: &'a Path,
        batch: &'a Batch,
    ) -> Result<BatchRun<'a>, RunError> {
        let id = format!(
            "{}:{}",
            variables::project_name(args.project.as_deref(), src),
            variables::uuid()
        );
        // run-buildspec asks no AWS API for the account: AWS_ACCOUNT_ID when set.
        let account = ctx
            .env
            .var("AWS_ACCOUNT_ID")
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or("000000000000");
        let region = variables::region(args, &ctx.env);
        let arn = format!("arn:aws:codebuild:{region}:{account}:build-batch/{id}");
        let work = tempfile::Builder::new()
            .prefix("run-buildspec-batch.")
            .tempdir()
            .map_err(|source| RunError::Workspace {
                path: std::env::temp_dir(),
                source,
            })?;
        let parallel = args.parallel.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            usize::from,
        );
        Ok(BatchRun {
            args,
            ctx,
            src,
            batch,
            id,
            arn,
            work,
            out: ctx.env.resolve(&args.out),
            parallel,
            stop: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
        })
    }

    /// Runs every leg and reports the batch.
    fn run(&self, prepared: &[Prepared]) -> BatchReport {
        let log = &self.ctx.out;
        if self.batch.combine_artifacts && !self.args.combine_artifacts {
            log.info(
                "[Container] batch.combine-artifacts: CodeBuild takes this from the project's batch \
                 configuration (combineArtifacts), not the buildspec; set it there too",
            );
        }
        log.info(&format!(
            "[Container] Running batch {} ({}, {} legs, up to {} at once{})",
            self.id,
            self.batch.kind.as_str(),
            prepared.len(),
            self.parallel,
            if self.batch.fast_fail {
                ", fast-fail"
            } else {
                ""
            }
        ));
        let states = Mutex::new(vec![State::Pending; prepared.len()]);
        let changed = Condvar::new();
        std::thread::scope(|scope| {
            let mut guard = states
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            loop {
                self.settle(prepared, &mut guard);
                let running = guard.iter().filter(|s| matches!(s, State::Running)).count();
                let mut free = self.parallel.saturating_sub(running);
                for i in 0..prepared.len() {
                    if free == 0 {
                        break;
                    }
                    if matches!(guard[i], State::Pending) && ready(prepared, &guard, i) {
                        guard[i] = State::Running;
                        free -= 1;
                        let (states, changed) = (&states, &changed);
                        scope.spawn(move || {
                            let report = self.leg(&prepared[i]);
                            let mut s = states
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            s[i] = State::Done(Box::new(report));
                            changed.notify_all();
                        });
                    }
                }
                if guard.iter().all(|s| matches!(s, State::Done(_))) {
                    break;
                }
                guard = changed
                    .wait(guard)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        });
        let legs: Vec<LegReport> = states
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .into_iter()
            .filter_map(|s| match s {
                State::Done(r) => Some(*r),
                _ => None,
            })
            .collect();
        let succeeded = legs
            .iter()
            .all(|l| l.ignore_failure || l.status == LegStatus::Succeeded);
        BatchReport {
            batch_id: self.id.clone(),
            batch_arn: self.arn.clone(),
            kind: self.batch.kind,
            fast_fail: self.batch.fast_fail,
            parallel: self.parallel,
            succeeded,
            combined_artifact: (self.args.combine_artifacts || self.batch.combine_artifacts)
                .then(|| self.out.display().to_string()),
            legs,
            duration_ms: super::elapsed_ms(self.started),
        }
    }

    /// Marks the legs that will never run: those whose dependency failed (without
    /// `ignore-failure`), and with fast-fail every pending leg once one failed.
    fn settle(&self, prepared: &[Prepared], states: &mut [State]) {
        loop {
            let failed = |s: &State| matches!(s, State::Done(r) if r.status != LegStatus::Succeeded && !r.ignore_failure);
            if self.batch.fast_fail && states.iter().any(failed) {
                self.stop.store(true, Ordering::SeqCst);
            }
            let mut changed = false;
            for i in 0..prepared.len() {
                if !matches!(states[i], State::Pending) {
                    continue;
                }
                let reason = if self.stop.load(Ordering::SeqCst) {
                    Some("not started: a leg failed and the batch has fast-fail".to_string())
                } else {
                    prepared[i].deps.iter().find_map(|&j| {
                        failed(&states[j]).then(|| {
                            format!(
                                "not started: `{}` did not succeed",
                                prepared[j].leg.identifier
                            )
                        })
                    })
                };
                if let Some(reason) = reason {
                    self.ctx
                        .out
                        .prefixed(&format!("[{}] ", prepared[i].leg.identifier))
                        .info(&format!("[Container] Build STOPPED: {reason}"));
                    states[i] = State::Done(Box::new(prepared[i].not_run(reason)));
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// Runs one leg in its own copy of the source.
    fn leg(&self, p: &Prepared) -> LegReport {
        let leg = &p.leg;
        let out = self.ctx.out.prefixed(&format!("[{}] ", leg.identifier));
        let started_ms = super::elapsed_ms(self.started);
        let clock = Instant::now();
        let mut report = p.not_run(String::new());
        report.started_ms = Some(started_ms);
        let src = self.work.path().join(&leg.identifier).join("src");
        let result = super::workspace::copy(self.src, &src, &self.out)
            .map_err(Error::from)
            .and_then(|()| {
                let mut args = self.args.clone();
                args.src.clone_from(&src);
                // The leg's build ID names the project, not the copy's directory.
                args.project = Some(variables::project_name(
                    self.args.project.as_deref(),
                    self.src,
                ));
                args.out = self.out.join(&leg.identifier);
                args.buildspec.clone_from(&p.buildspec);
                let ctx = Context {
                    env: self.ctx.env.clone(),
                    out: out.clone(),
                };
                let run = LegRun {
                    identifier: &leg.identifier,
                    batch_arn: &self.arn,
                    image: leg.image.as_deref(),
                    variables: &leg.variables,
                    stop: Arc::clone(&self.stop),
                };
                build(&args, &ctx, &p.spec, &p.secrets, Some(&run))
            });
        report.duration_ms = super::elapsed_ms(clock);
        match result {
            Ok(build) => {
                report.status = if build.stopped {
                    report.reason = Some("stopped: another leg failed (fast-fail)".into());
                    LegStatus::Stopped
                } else if build.succeeded {
                    LegStatus::Succeeded
                } else {
                    LegStatus::Failed
                };
                report.out = (!build.artifacts.is_empty())
                    .then(|| self.out.join(&leg.identifier).display().to_string());
                report.build = Some(build);
            }
            Err(e) => {
                let text = e.chain().join(": ");
                out.info(&format!("[Container] Build FAILED: {text}"));
                report.status = LegStatus::Failed;
                report.reason = Some(text);
            }
        }
        out.info(&format!(
            "[Container] Build {} in {:.2}s",
            report.status,
            report.duration_ms as f64 / 1000.0
        ));
        report
    }
}

/// Whether leg `i`'s dependencies have all ended as it needs them to.
fn ready(prepared: &[Prepared], states: &[State], i: usize) -> bool {
    prepared[i].deps.iter().all(|&j| {
        matches!(&states[j], State::Done(r) if r.status == LegStatus::Succeeded || r.ignore_failure)
    })
}
