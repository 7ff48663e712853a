//! `new-appspec`: a CodeDeploy AppSpec for ECS blue/green generated from flags, checked against the
//! task definition when one is named, and written as JSON for a `.json` path, else YAML.

use super::args::NewAppspecArgs;
use super::files::Plan;
use super::input;
use super::report::{CommandName, RenderReport, conclude, display};
use crate::cli::Context;
use crate::document::{self, Syntax};
use crate::error::Error;
use crate::exit::Code;
use crate::taskdef::appspec;
use std::path::Path;

/// Generates, validates and writes the AppSpec; writes nothing when it has errors.
pub(crate) fn run(args: &NewAppspecArgs, ctx: &Context) -> Result<Code, Error> {
    let doc = appspec::generate(&spec(args));
    let td = input::read_deployed(ctx, args.taskdef.as_ref())?;
    let mut report = RenderReport {
        output: Some(display(&args.output)),
        check: args.common.check,
        ..RenderReport::new(CommandName::NewAppspec, Path::new("(flags)"))
    };
    report.tally(
        appspec::validate(&doc, td.as_ref(), true),
        args.common.strict,
    );
    if report.errors > 0 {
        return conclude(ctx, &report);
    }
    let text = document::to_text(&doc, output_syntax(&args.output));
    Plan::new(&args.output, text.into_bytes())
        .reading(args.inputs())
        .finish(ctx, args.common.check, &mut report)?;
    conclude(ctx, &report)
}

/// The AppSpec the flags describe.
fn spec(args: &NewAppspecArgs) -> appspec::NewAppSpec {
    appspec::NewAppSpec {
        task_definition: args.task_definition_arn.clone(),
        container: args.container.clone(),
        port: args.port,
        platform_version: args.platform_version.clone(),
        subnets: args.subnets.clone(),
        security_groups: args.security_groups.clone(),
        assign_public_ip: args.assign_public_ip,
        capacity_providers: args.capacity_providers.clone(),
        hooks: args.hooks.clone(),
    }
}

/// JSON for a `.json` path, else YAML (stdout included).
fn output_syntax(output: &Path) -> Syntax {
    if output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        Syntax::Json
    } else {
        Syntax::Yaml
    }
}
