//! `appspec`: an AppSpec validated (against the task definition it deploys, when named), with
//! `<TASK_DEFINITION>` replaced by an ARN if asked, and written in its own syntax — its own text
//! (comments, quoting) kept where only the placeholder changed.

use super::args::AppspecArgs;
use super::error::RenderError;
use super::files::Plan;
use super::input::{self, Input, read_input};
use super::report::{CommandName, RenderReport, conclude, display};
use crate::cli::Context;
use crate::document;
use crate::error::Error;
use crate::exit::Code;
use crate::taskdef::appspec;
use serde_json::Value;

/// Validates and writes the AppSpec; writes nothing when it has errors.
pub(crate) fn run(args: &AppspecArgs, ctx: &Context) -> Result<Code, Error> {
    let input = read_input(ctx, &args.input)?;
    let mut doc = input.value.clone();
    let expanded = input::substitute(ctx, &input.path, &mut doc)?;
    let td = input::read_deployed(ctx, args.taskdef.as_ref())?;
    if let Some(arn) = &args.task_definition_arn {
        set_task_definition(&input, &mut doc, arn)?;
    }
    let mut report = RenderReport {
        output: Some(display(&args.output)),
        variables: expanded.used,
        check: args.common.check,
        ..RenderReport::new(CommandName::Appspec, &input.path)
    };
    let findings = appspec::validate(&doc, td.as_ref(), args.task_definition_arn.is_none());
    report.tally(findings, args.common.strict);
    if report.errors > 0 {
        return conclude(ctx, &report);
    }
    let text = output_text(&input, &doc, args.task_definition_arn.as_deref());
    Plan::new(&args.output, text.into_bytes())
        .reading(args.inputs())
        .finish(ctx, args.common.check, &mut report)?;
    conclude(ctx, &report)
}

/// Puts `arn` where the AppSpec names its task definition.
fn set_task_definition(input: &Input, doc: &mut Value, arn: &str) -> Result<(), RenderError> {
    if appspec::set_task_definition(doc, arn) {
        return Ok(());
    }
    Err(RenderError::Usage(format!(
        "set the task definition in `{}`: it has no Resources[0].<name>.Properties to hold it",
        input.path.display()
    )))
}

/// The file's own text when nothing changed, or when only the ARN did (patched in place); else the
/// document written afresh in the input's syntax.
fn output_text(input: &Input, doc: &Value, arn: Option<&str>) -> String {
    if *doc == input.value {
        return input.text.clone();
    }
    let patched = arn.and_then(|arn| {
        let mut only_arn = input.value.clone();
        appspec::set_task_definition(&mut only_arn, arn);
        (only_arn == *doc).then(|| appspec::patch_text(&input.text, input.syntax, arn, doc))?
    });
    patched.unwrap_or_else(|| document::to_text(doc, input.syntax))
}
