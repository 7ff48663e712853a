//! `scan-gate`: gate the build on image-scan findings — ECR basic and enhanced scans, trivy and grype
//! reports — with one policy and CI-native reports.
//!
//! ECR: the image (a digest, or a tag resolved once to a digest; an index resolved to its platform
//! images) is gated on its digest. The scan is started when none exists (`LimitExceededException`:
//! read the existing one) — at once where the repository does not scan by itself
//! (`BatchGetRepositoryScanningConfiguration`), else after `ScanNotFoundException` was retried
//! briefly (a scan-on-push race); the wait has one deadline and jittered backoff, looking again
//! a second after starting a scan; every status is handled explicitly and an
//! unknown one fails closed; every page is read and a repeated `nextToken` stops the loop; findings
//! short of the answer's own `findingSeverityCounts` fail closed (exit 4 from ECR, exit 2 for a
//! `--report` file, which also may not end with a page token); enhanced scans (`ACTIVE`) are read
//! until the findings settle.
//!
//! Modules: `args` (the flags), `error` ([`GateError`]), `report` ([`GateReport`], the result),
//! `rules` (the policy from the flags), `inputs` (the `--report` files), `image` (which ECR image,
//! and its platform digests), `ecr` and `wait` (each digest's scan, waited for and read), `status`
//! (what each scan status does to the gate), `artifacts` (the SARIF, JUnit and Markdown files).

mod args;
mod artifacts;
mod ecr;
mod error;
mod image;
mod inputs;
mod report;
mod rules;
mod status;
mod wait;

pub use args::{ScanGate, SeverityName, Threshold};
pub use error::GateError;
pub use report::{AllowlistReport, GateReport, SourceKind, SourceReport};
pub use status::ScanStatus;

use crate::cli::{Context, Step};
use crate::environment::Ci;
use crate::error::Error;
use crate::exit::Code;
use crate::output::{OutputArgs, github};
use crate::scan::policy::{self, Verdict};
use status::Problem;

impl Step for ScanGate {
    const NAME: &'static str = "scan-gate";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        // Everything local is checked before any network call.
        artifacts::check(&self, &ctx)?;
        let rules = rules::rules(&self, &ctx)?;
        let mut gathered = inputs::read_reports(&self, &ctx)?;
        match image::target(&self, &ctx)? {
            Some(target) => gathered.extend(ecr::gate(&self, &ctx, &target).await?),
            None if self.reports.is_empty() => {
                return Err(GateError::Usage(
                    "gate: nothing to read; pass --from imageDetail.json, --image URI, -r REPO --digest/--tag, or --report FILE".into(),
                )
                .into());
            }
            None => {}
        }

        let verdict = policy::evaluate(&rules.policy, gathered.findings);
        let mut report = GateReport::new(
            &self,
            &rules,
            &verdict,
            gathered.sources,
            &gathered.problems,
        );
        warn_about(&ctx, &verdict, &gathered.problems);
        report.artifacts = artifacts::write(&self, &ctx, &verdict, &report)?;
        annotate_failure(&ctx, &verdict, &report, &gathered.problems);
        ctx.out.emit(&report)?;
        Ok(if report.passed {
            Code::Ok
        } else {
            Code::Verdict
        })
    }
}

/// Warnings on stderr (annotations in GitHub Actions): scan problems that do not fail the gate, and
/// allowlist entries about to expire or matching nothing.
fn warn_about(ctx: &Context, verdict: &Verdict, problems: &[Problem]) {
    for p in problems {
        if !p.fatal {
            ctx.out.warn(&p.message);
        }
    }
    for e in &verdict.expiring {
        ctx.out.warn(&format!(
            "allowlist entry {} expires on {} ({} day(s) left): {}",
            e.entry.id, e.entry.expires, e.days_left, e.entry.reason
        ));
    }
    for e in &verdict.stale {
        ctx.out.warn(&format!(
            "allowlist entry {} matched no finding; remove it",
            e.entry.id
        ));
    }
}

/// In GitHub Actions, a failed gate is an `::error` annotation saying how many findings failed it.
fn annotate_failure(ctx: &Context, verdict: &Verdict, report: &GateReport, problems: &[Problem]) {
    if ctx.out.ci() != Ci::GithubActions || report.passed {
        return;
    }
    let incomplete = if Problem::any_fatal(problems) {
        "; the scan did not complete"
    } else {
        ""
    };
    ctx.out.line(&github::command(
        "error",
        &[("title", "scan-gate failed")],
        &format!(
            "{} finding(s) {}{incomplete}",
            verdict.failing().count(),
            report.gate
        ),
    ));
}
