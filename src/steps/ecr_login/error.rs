//! `ecr-login`'s errors besides the adapters': one password asked for several, `--role-arn` without
//! the GitHub Actions OIDC variables, a helper link that cannot be made.

use crate::error::Diagnostic;
use crate::exit::Code;
use std::path::PathBuf;

/// Errors of this step that are not an adapter's.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// `--password-stdout` with targets needing different passwords.
    #[error(
        "print one password: the targets span {0} regions or services, each with its own password"
    )]
    ManyPasswords(usize),
    /// `--role-arn` outside GitHub Actions OIDC.
    #[error(
        "assume role `{0}`: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"
    )]
    NoOidc(String),
    /// The helper link could not be made.
    #[error("link `{}` to this binary: {reason}", path.display())]
    Link {
        /// The link path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Diagnostic for LoginError {
    fn exit_code(&self) -> Code {
        match self {
            LoginError::NoOidc(_) => Code::Auth,
            LoginError::ManyPasswords(_) | LoginError::Link { .. } => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            LoginError::ManyPasswords(_) => {
                Some("run once per region with --password-stdout".into())
            }
            LoginError::NoOidc(_) => Some(
                "in GitHub Actions give the job `permissions: id-token: write`; elsewhere use a \
                 profile with role_arn (AWS_PROFILE) instead of --role-arn"
                    .into(),
            ),
            LoginError::Link { .. } => {
                Some("pass --bin-dir DIR (a directory on PATH), or --force".into())
            }
        }
    }
}
