//! `build-push`'s errors that are not an adapter's, with their exit codes and help lines.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::Digest;
use std::path::PathBuf;

/// Errors of this step that are not an adapter's.
#[derive(Debug, thiserror::Error)]
pub enum BuildPushError {
    /// No Dockerfile.
    #[error("read the Dockerfile `{}`", path.display())]
    Dockerfile {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--latest false`, `--commit-tag none` and no `--tag`.
    #[error("choose tags for `{0}`: none left (--latest false, --commit-tag none and no --tag)")]
    NoTags(String),
    /// A tag names another image in an immutable repository.
    #[error(
        "push tag `{tag}` to immutable `{repository}`: it already names {existing}, this build is {built}"
    )]
    Immutable {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// What the tag names now.
        existing: Digest,
        /// What we built.
        built: Digest,
    },
    /// A tag is not valid.
    #[error(transparent)]
    Tag(#[from] crate::reference::ReferenceError),
    /// An export or compression failed.
    #[error("export the image from the engine and compress its layers")]
    Export(#[source] std::io::Error),
    /// Writing an artifact failed.
    #[error(transparent)]
    Artifact(#[from] crate::atomic::WriteError),
}

impl Diagnostic for BuildPushError {
    fn exit_code(&self) -> Code {
        match self {
            BuildPushError::Export(_) => Code::Remote,
            BuildPushError::Artifact(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            BuildPushError::Dockerfile { .. } => Some("pass -f PATH, or add a Dockerfile to the context".into()),
            BuildPushError::NoTags(_) => Some("pass --tag TAG, or leave --latest or --commit-tag on".into()),
            BuildPushError::Immutable { .. } => Some(
                "push a new tag (the commit tag changes with every commit), or make the tag mutable \
                 with an exclusion filter"
                    .into(),
            ),
            BuildPushError::Tag(e) => e.help(),
            BuildPushError::Artifact(e) => e.help(),
            BuildPushError::Export(_) => None,
        }
    }
}
