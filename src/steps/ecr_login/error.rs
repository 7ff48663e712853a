//! `ecr-login`'s errors besides the adapters': one password asked for several, or in a result
//! document; `--role-arn` without the GitHub Actions OIDC variables; a region no partition has; a
//! helper link that cannot be made.

use crate::error::Diagnostic;
use crate::exit::Code;
use std::path::PathBuf;

/// Errors of this step that are not an adapter's.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// `--password-stdout` with targets needing different passwords: the regions and services.
    #[error(
        "print one password with --password-stdout: the targets span {} regions or services ({}), each with its own password",
        .0.len(),
        .0.join(", ")
    )]
    ManyPasswords(Vec<String>),
    /// `--password-stdout` with `--json` or `--format env`: the format asked for.
    #[error(
        "print the password with --password-stdout and --format {0}: stdout holds either the password alone or the result, never the password inside the result"
    )]
    PasswordInResult(&'static str),
    /// `--role-arn` outside GitHub Actions OIDC.
    #[error(
        "assume role `{0}`: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"
    )]
    NoOidc(String),
    /// A region that no AWS partition claims, so no registry host there can exist.
    #[error(
        "use `{0}` as an AWS region: no AWS partition has it (regions look like us-east-1, cn-north-1, us-gov-west-1, eusc-de-east-1)"
    )]
    UnknownRegion(String),
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
            LoginError::ManyPasswords(_)
            | LoginError::PasswordInResult(_)
            | LoginError::UnknownRegion(_)
            | LoginError::Link { .. } => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            LoginError::ManyPasswords(_) => Some(
                "run once per region (and once for public.ecr.aws) with --password-stdout".into(),
            ),
            LoginError::PasswordInResult(_) => Some(
                "give --password-stdout without --json/--format (and unset BUILDSTEPS_FORMAT), or \
                 drop --password-stdout to get the result, which never holds the password"
                    .into(),
            ),
            LoginError::NoOidc(_) => Some(
                "in GitHub Actions give the job `permissions: id-token: write`; elsewhere use a \
                 profile with role_arn (AWS_PROFILE) instead of --role-arn"
                    .into(),
            ),
            LoginError::UnknownRegion(_) => Some(
                "check the region's spelling; for a region newer than this version's partition \
                 table, pass --allow-unknown-region (ECR_LOGIN_ALLOW_UNKNOWN_REGION=true)"
                    .into(),
            ),
            LoginError::Link { .. } => {
                Some("pass --bin-dir DIR (a directory on PATH), or --force".into())
            }
        }
    }
}
