//! Reading what the commands work on: a JSON or YAML document from a file or stdin, a task definition
//! (normalised from `describe-task-definition` output when it is one), and `${VAR}` substitution from
//! the environment.

use super::error::RenderError;
use crate::cli::Context;
use crate::document::{self, Syntax};
use crate::taskdef::{self, template};
use std::path::{Path, PathBuf};

/// A document read from a file or stdin.
#[derive(Debug)]
pub(crate) struct Input {
    /// The path as given (`-` for stdin).
    pub(crate) path: PathBuf,
    /// The text as read.
    pub(crate) text: String,
    /// JSON or YAML, from the extension or the text.
    pub(crate) syntax: Syntax,
    /// The parsed document.
    pub(crate) value: serde_json::Value,
}

/// A task definition read, normalised and substituted.
#[derive(Debug)]
pub(crate) struct TaskDefinition {
    /// The path as given (`-` for stdin).
    pub(crate) path: PathBuf,
    /// The register-ready document.
    pub(crate) value: serde_json::Value,
    /// What normalising did (unwrapped, dropped).
    pub(crate) normalized: Vec<String>,
    /// What substitution did (variables used, literal `${`s).
    pub(crate) expanded: template::Expanded,
}

/// Reads and parses `path` (`-`: stdin); the syntax comes from the extension, else the text.
pub(crate) fn read_input(ctx: &Context, path: &Path) -> Result<Input, RenderError> {
    let read_error = |source| RenderError::Read {
        path: path.to_path_buf(),
        source,
    };
    let text = if path == Path::new("-") {
        crate::input::read_all(std::io::stdin().lock(), crate::input::DOCUMENT_LIMIT)
            .map_err(read_error)?
    } else {
        crate::input::read_to_string(&ctx.env.resolve(path), crate::input::DOCUMENT_LIMIT)
            .map_err(read_error)?
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

/// Reads a task definition: parsed, normalised, `${VAR}`s substituted.
pub(crate) fn read_task_definition(
    ctx: &Context,
    path: &Path,
) -> Result<TaskDefinition, RenderError> {
    let input = read_input(ctx, path)?;
    let (mut value, normalized) = taskdef::normalize(input.value);
    let expanded = substitute(ctx, &input.path, &mut value)?;
    Ok(TaskDefinition {
        path: input.path,
        value,
        normalized,
        expanded,
    })
}

/// The task definition an AppSpec deploys, if one was named: read, normalised, substituted.
pub(crate) fn read_deployed(
    ctx: &Context,
    path: Option<&PathBuf>,
) -> Result<Option<serde_json::Value>, RenderError> {
    path.map(|p| read_task_definition(ctx, p).map(|td| td.value))
        .transpose()
}

/// Substitutes `${VAR}`s from the environment; every missing one in one error.
pub(crate) fn substitute(
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
