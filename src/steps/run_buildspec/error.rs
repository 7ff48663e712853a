//! What can go wrong before or around a build (a failing command is a result, not an error):
//! [`RunError`], and [`FetchError`] for reading a parameter or secret.

use crate::adapters::aws::AwsError;
use crate::buildspec;
use crate::error::Diagnostic;
use crate::exit::Code;
use std::path::PathBuf;

/// What can go wrong before or around the build (a failing command is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// The buildspec cannot be read.
    #[error("read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The buildspec is invalid.
    #[error("read the buildspec `{}`: {error}", path.display())]
    Spec {
        /// The file.
        path: PathBuf,
        /// What and where.
        error: buildspec::SpecError,
    },
    /// Secret variables without values and no AWS credentials to fetch them.
    #[error("resolve {}: no value given and no AWS credentials to read it", names.join(", "))]
    Unresolved {
        /// The variables.
        names: Vec<String>,
    },
    /// Fetching a parameter or secret failed.
    #[error("resolve {name} from {source_ref}")]
    Fetch {
        /// The variable.
        name: String,
        /// `SSM parameter …` or `Secrets Manager secret …`.
        source_ref: String,
        /// What AWS said.
        #[source]
        reason: FetchError,
    },
    /// The shell could not be started.
    #[error("start the build shell `{shell}`")]
    Shell {
        /// The shell.
        shell: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing an artifact failed.
    #[error(transparent)]
    Write(#[from] crate::atomic::WriteError),
    /// An absolute artifact or report pattern (or base directory) outside the source and temporary
    /// directories.
    #[error(
        "collect artifact files `{pattern}`: the path is outside the source directory and the temporary directory"
    )]
    Outside {
        /// The pattern.
        pattern: String,
    },
    /// A matched artifact or report file is a link to a file outside the source directory.
    #[error(
        "collect artifact file `{}`: it leads to `{}`, outside the source directory",
        path.display(),
        target.display()
    )]
    LinkOutside {
        /// The file as matched.
        path: PathBuf,
        /// Where its links lead.
        target: PathBuf,
    },
    /// A batch leg's copy of the source could not be made.
    #[error("copy the source for a batch leg: `{}`", path.display())]
    Workspace {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The source directory is not a directory.
    #[error("use `{}` as the source directory (--src): it is not a directory", path.display())]
    NotADirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// The output directory cannot take the artifacts.
    #[error(transparent)]
    Out(#[from] crate::output_path::OutputPathError),
    /// Collecting artifacts failed.
    #[error("collect artifact file `{}`", path.display())]
    Artifact {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for RunError {
    fn exit_code(&self) -> Code {
        match self {
            RunError::Fetch { reason, .. } => reason.exit_code(),
            RunError::Write(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            RunError::Write(e) => e.help(),
            RunError::Out(e) => e.help(),
            RunError::Outside { .. } => Some(
                "artifacts come from the source directory (or, by an absolute path, the temporary directory): copy the file there in a build command".into(),
            ),
            RunError::LinkOutside { .. } => Some(
                "artifacts are files inside the source directory: copy the file there in a build command, or leave the link out with exclude-paths".into(),
            ),
            RunError::Shell { .. } => Some(
                "install the shell, or set env.shell to one that is installed (sh or bash)".into(),
            ),
            RunError::Fetch { reason, .. } => reason.help(),
            RunError::Unresolved { names } => Some(format!(
                "set AWS credentials to read them from SSM Parameter Store / Secrets Manager, or pass them with {}",
                names.iter().map(|n| format!("--env {n}=…")).collect::<Vec<_>>().join(" ")
            )),
            RunError::Spec { error, .. } if error.message.starts_with("`batch") => Some(
                "the batch buildspec reference: https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html".into(),
            ),
            RunError::Spec { .. } => Some(
                "the buildspec reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html".into(),
            ),
            _ => None,
        }
    }
}

/// Reading a secret failed: AWS refused or failed, or the JSON key is not there.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The secret is not JSON with that key.
    #[error("{0}")]
    Key(String),
}

impl Diagnostic for FetchError {
    fn exit_code(&self) -> Code {
        match self {
            FetchError::Aws(e) => e.exit_code(),
            FetchError::Key(_) => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            FetchError::Aws(e) => e.help(),
            FetchError::Key(_) => None,
        }
    }
}
