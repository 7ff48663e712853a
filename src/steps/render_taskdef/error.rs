//! What can stop `render-taskdef` besides findings (those are in the report): unreadable or malformed
//! files, missing variables, bad env files and imageDetail.json, flags that do not fit together, edits
//! that cannot be made, failed writes.

use crate::atomic;
use crate::document::{ParseError, Syntax};
use crate::error::Diagnostic;
use crate::exit::Code;
use crate::taskdef::{edit, template};
use std::path::PathBuf;

/// What can go wrong besides findings.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
    /// A file could not be read.
    #[error("read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON or YAML.
    #[error("parse {syntax} `{}` at {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Its syntax.
        syntax: Syntax,
        /// Where and what.
        error: ParseError,
    },
    /// `${VAR}`s with no value.
    #[error("substitute variables in `{}`: {} not set: {}", path.display(), if missing.len() == 1 { "this variable is" } else { "these variables are" }, missing.iter().map(|m| format!("{} (at {})", m.name, m.path)).collect::<Vec<_>>().join(", "))]
    MissingVariables {
        /// The file.
        path: PathBuf,
        /// The variables.
        missing: Vec<template::Missing>,
    },
    /// An env file line is not `NAME=VALUE`.
    #[error("read `{}` line {line}: {reason}", path.display())]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An imageDetail.json without a usable ImageURI.
    #[error("read the image from `{}`: {reason}", path.display())]
    ImageDetail {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `--platform-images` descriptor that cannot be used.
    #[error("read the platform images from `{}`: {reason}", path.display())]
    PlatformImages {
        /// The file (or the glob that matched nothing).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Flags that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// An edit that cannot be made.
    #[error(transparent)]
    Edit(#[from] edit::EditError),
    /// Writing a file failed.
    #[error(transparent)]
    Write(#[from] atomic::WriteError),
}

impl Diagnostic for RenderError {
    fn exit_code(&self) -> Code {
        match self {
            RenderError::Edit(e) => e.exit_code(),
            RenderError::Write(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            RenderError::MissingVariables { missing, .. } => Some(format!(
                "export {} (or write ${{VAR:-default}} in the template)",
                missing.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(" ")
            )),
            RenderError::EnvFile { .. } => Some("write one NAME=VALUE per line; `#` starts a comment".into()),
            RenderError::ImageDetail { .. } => Some(
                "pass the imageDetail.json build-push wrote ({\"ImageURI\": \"…@sha256:…\"}), or the URI itself".into(),
            ),
            RenderError::PlatformImages { .. } => Some(
                "pass the platform-image.json files the build's legs wrote (build-push --push-by-digest)".into(),
            ),
            RenderError::Edit(e) => e.help(),
            RenderError::Write(e) => e.help(),
            _ => None,
        }
    }
}
