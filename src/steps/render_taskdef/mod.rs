//! `render-taskdef`: register-ready ECS task definitions and CodeDeploy AppSpecs, validated offline.
//!
//! Render (the default command): read a task definition (JSON or YAML, `describe-task-definition`
//! output included), substitute `${VAR}`s from the environment, apply the edits the flags ask for,
//! validate, and write the result deterministically (keys in input order, 2-space JSON, trailing
//! newline) with atomic writes — or, with `--check`, only say whether the files on disk would change.
//! `check` validates only; `appspec` validates an AppSpec against its task definition and fills in
//! `<TASK_DEFINITION>`; `new-appspec` writes one from flags. No network I/O anywhere.
//!
//! - `args`: the flags and their value parsers.
//! - `render`, `check`, `appspec`, `new_appspec`: one command each; `edits` turns the
//!   render flags into task definition edits.
//! - `input`: documents read from files or stdin, normalised and substituted.
//! - `files`: every output computed before any is written; `--check` compares instead.
//! - `report`: the result (`--json` fields in `docs/json.md`, render-taskdef) and its exit code.
//! - `error`: what stops a command besides findings.

mod appspec;
mod args;
mod check;
mod edits;
mod error;
mod files;
mod input;
mod new_appspec;
mod render;
mod report;

pub use args::RenderTaskdef;

use crate::cli::{Context, Step};
use crate::error::Error;
use crate::exit::Code;
use crate::output::OutputArgs;
use args::Command;
use files::stdout_free;

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
            Some(Command::Check(args)) => check::run(&args, &ctx),
            Some(Command::Appspec(args)) => {
                stdout_free(&args.output, format, args.common.check)?;
                appspec::run(&args, &ctx)
            }
            Some(Command::NewAppspec(args)) => {
                stdout_free(&args.output, format, args.common.check)?;
                new_appspec::run(&args, &ctx)
            }
            None => {
                stdout_free(&self.render.output, format, self.render.common.check)?;
                render::run(&self.render, &ctx)
            }
        }
    }
}
