//! The phases, as CodeBuild runs them: in order, in one shell session; each command's exit status
//! checked; `finally` run whatever happened; `CODEBUILD_BUILD_SUCCEEDING` set before each phase; a
//! failed `build` still runs `post_build`, a failed `install` or `pre_build` ends the build (unless
//! `on-failure: CONTINUE`).

use super::Plan;
use super::error::RunError;
use super::report::{PhaseName, PhaseReport, PhaseStatus};
use super::session::Session;
use crate::buildspec::{Buildspec, OnFailure, Phase};
use crate::output::Output;
use std::collections::BTreeMap;
use std::time::Instant;

/// What the phases did.
pub(super) struct Outcome {
    /// Each phase the buildspec has.
    pub(super) phases: Vec<PhaseReport>,
    /// Whether every phase that ran succeeded.
    pub(super) succeeded: bool,
    /// Whether artifacts are collected: not after a failed `install` or `pre_build` that stopped
    /// the build.
    pub(super) uploads: bool,
    /// `env.exported-variables` that are set at the end.
    pub(super) exported: BTreeMap<String, String>,
    /// Whether the build was stopped (a batch's fast-fail) before it ended by itself.
    pub(super) stopped: bool,
}

/// Which phases still run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Every phase.
    All,
    /// `post_build` only: `build` failed.
    OnlyPostBuild,
    /// None: `install` or `pre_build` failed. Nothing is uploaded either.
    Stopped,
}

impl Flow {
    /// Whether `phase` runs.
    fn runs(self, phase: PhaseName) -> bool {
        match self {
            Flow::All => true,
            Flow::OnlyPostBuild => phase == PhaseName::PostBuild,
            Flow::Stopped => false,
        }
    }

    /// What runs after `phase` failed.
    fn after_failure(self, phase: PhaseName, on_failure: OnFailure) -> Flow {
        match (on_failure, phase) {
            (OnFailure::Continue, _) | (OnFailure::Abort, PhaseName::PostBuild) => self,
            (OnFailure::Abort, PhaseName::Build) => Flow::OnlyPostBuild,
            (OnFailure::Abort, PhaseName::Install | PhaseName::PreBuild) => Flow::Stopped,
        }
    }
}

/// Runs `spec`'s phases in `plan`'s shell session (which goes on in a new shell if a command ends
/// it), then reads the exported variables.
pub(super) fn run(
    spec: &Buildspec,
    plan: &Plan,
    masks: &[String],
    out: &Output,
) -> Result<Outcome, RunError> {
    let stop = plan.stop.as_deref();
    let mut session = Session::start(&spec.shell, &plan.src, &plan.env, out, masks, stop)?;
    let mut phases = Vec::new();
    let mut succeeded = true;
    let mut flow = Flow::All;
    for name in PhaseName::ALL {
        let Some(phase) = spec.phases.iter().find(|p| p.name == name.as_str()) else {
            continue;
        };
        if session.stopping() {
            flow = Flow::Stopped;
        }
        if !flow.runs(name) {
            phases.push(PhaseReport::skipped(name));
            out.info(&format!("[Container] Phase {} skipped", name.upper()));
            continue;
        }
        let report = run_phase(&mut session, name, phase, succeeded, out)?;
        let failed = report.status == PhaseStatus::Failed;
        phases.push(report);
        if failed {
            succeeded = false;
            flow = flow.after_failure(name, phase.on_failure);
        }
    }
    let stopped = session.stopping();
    let exported = if stopped {
        BTreeMap::new()
    } else {
        session.exported(&spec.exported)
    };
    session.finish();
    Ok(Outcome {
        phases,
        succeeded: succeeded && !stopped,
        uploads: flow != Flow::Stopped && !stopped,
        exported,
        stopped,
    })
}

/// Runs one phase's commands (until one fails) then every command of its `finally` block, which
/// runs whatever the commands did.
fn run_phase(
    session: &mut Session<'_>,
    name: PhaseName,
    phase: &Phase,
    succeeding: bool,
    out: &Output,
) -> Result<PhaseReport, RunError> {
    let started = Instant::now();
    let upper = name.upper();
    out.info(&format!("[Container] Entering phase {upper}"));
    session.export(
        "CODEBUILD_BUILD_SUCCEEDING",
        if succeeding { "1" } else { "0" },
    );
    let mut failed_command = None;
    for command in &phase.commands {
        if !session.command(command)? {
            failed_command = Some(session.mask(command));
            break;
        }
    }
    for command in &phase.finally {
        if !session.command(command)? {
            failed_command.get_or_insert_with(|| session.mask(command));
        }
    }
    let status = if failed_command.is_some() {
        PhaseStatus::Failed
    } else {
        PhaseStatus::Succeeded
    };
    out.info(&format!(
        "[Container] Phase complete: {upper} State: {status}"
    ));
    Ok(PhaseReport {
        name,
        status,
        duration_ms: super::elapsed_ms(started),
        failed_command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_decides_what_runs_next() {
        use PhaseName::{Build, Install, PostBuild, PreBuild};
        let abort = |flow: Flow, phase| flow.after_failure(phase, OnFailure::Abort);
        assert_eq!(abort(Flow::All, Install), Flow::Stopped);
        assert_eq!(abort(Flow::All, PreBuild), Flow::Stopped);
        assert_eq!(abort(Flow::All, Build), Flow::OnlyPostBuild);
        assert_eq!(abort(Flow::All, PostBuild), Flow::All);
        assert_eq!(abort(Flow::OnlyPostBuild, PostBuild), Flow::OnlyPostBuild);
        for phase in PhaseName::ALL {
            assert_eq!(
                Flow::All.after_failure(phase, OnFailure::Continue),
                Flow::All
            );
            assert!(Flow::All.runs(phase));
            assert!(!Flow::Stopped.runs(phase));
            assert_eq!(Flow::OnlyPostBuild.runs(phase), phase == PostBuild);
        }
    }
}
