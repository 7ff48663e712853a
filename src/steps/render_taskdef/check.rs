//! `check`: a task definition validated, and its AppSpec against it when one is named; nothing is
//! written.

use super::args::CheckArgs;
use super::input::{self, read_input, read_task_definition};
use super::report::{CommandName, RenderReport, conclude};
use crate::cli::Context;
use crate::error::Error;
use crate::exit::Code;
use crate::taskdef::{Finding, appspec, validate};
use serde_json::Value;
use std::path::Path;

/// Validates; exit 1 on findings.
pub(crate) fn run(args: &CheckArgs, ctx: &Context) -> Result<Code, Error> {
    let td = read_task_definition(ctx, &args.input)?;
    let mut findings = validate::task_definition(
        &td.value,
        &validate::Options {
            codedeploy: args.codedeploy,
            literal: td.expanded.literal,
        },
    );
    if let Some(path) = &args.appspec {
        findings.extend(appspec_findings(ctx, path, &td.value)?);
    }
    let mut report = RenderReport {
        variables: td.expanded.used,
        normalized: td.normalized,
        ..RenderReport::new(CommandName::Check, &td.path)
    };
    report.tally(findings, args.strict);
    conclude(ctx, &report)
}

/// The AppSpec's findings against the task definition, each path prefixed with the AppSpec's file.
fn appspec_findings(ctx: &Context, path: &Path, td: &Value) -> Result<Vec<Finding>, Error> {
    let mut spec = read_input(ctx, path)?;
    input::substitute(ctx, path, &mut spec.value)?;
    Ok(appspec::validate(&spec.value, Some(td), true)
        .into_iter()
        .map(|mut f| {
            f.path = format!("{}: {}", path.display(), f.path);
            f
        })
        .collect())
}
