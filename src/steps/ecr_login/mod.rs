//! `ecr-login`: log in to ECR for docker and every client that reads docker's `config.json`.
//!
//! - `ecr-login [-r TARGET]…` fetches one token per region (`GetAuthorizationToken`; ECR Public through
//!   its own API) and stores it for every host named, where docker will look for it: `auths` in
//!   `config.json`, or — when a `credsStore`/`credHelpers` entry serves the host — through that
//!   credential helper (`docker-credential-NAME store`, secret on stdin). A host already served on
//!   demand by this binary's helper mode (`credHelpers: ecr-login`) needs nothing written.
//! - `ecr-login status` reads the config and says when each stored ECR token expires (no AWS call).
//! - `ecr-login logout` removes ECR entries.
//! - `ecr-login install-helper` points docker's `credHelpers` at this binary's helper mode, which it
//!   serves when invoked as `docker-credential-ecr-login` (see [`helper`]).
//!
//! Modules: `args` (the flags), `error` ([`LoginError`]), `report` ([`LoginReport`], the result),
//! `login`, `status`, `logout` and `install` (one per subcommand), `fetch` (the SDK and the token
//! calls), [`targets`] (target parsing and the per-region [`targets::Plan`]), [`token`] (expiry inside ECR
//! passwords), [`cache`] (the helper's token cache), [`helper`] (`CredentialHelper`).

mod args;
pub mod cache;
mod error;
mod fetch;
pub mod helper;
mod install;
mod login;
mod logout;
mod report;
mod status;
pub mod targets;
pub mod token;

pub use args::EcrLogin;
pub use error::LoginError;
pub use report::{Action, LoginReport, RegistryLogin, StoredIn, github_name};

use crate::cli::{Context, Step};
use crate::docker_config;
use crate::error::Error;
use crate::exit::Code;
use crate::output::OutputArgs;
use args::{Command, ConfigArgs, RegionCheck};
use std::path::PathBuf;
use targets::Target;

/// The `credHelpers` value that names this binary's helper mode.
pub const HELPER_NAME: &str = "ecr-login";

impl Step for EcrLogin {
    const NAME: &'static str = "ecr-login";

    fn output_args(&self) -> &OutputArgs {
        match &self.command {
            Some(Command::Status(a)) => &a.output,
            Some(Command::Logout(a)) => &a.output,
            Some(Command::InstallHelper(a)) => &a.output,
            None => &self.output,
        }
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        match &self.command {
            None => login::login(&self.login, &ctx).await,
            Some(Command::Status(a)) => status::status(a, &ctx),
            Some(Command::Logout(a)) => logout::logout(a, &ctx),
            Some(Command::InstallHelper(a)) => install::install_helper(a, &ctx).await,
        }
    }
}

/// `--config`, else docker's own rule (`DOCKER_CONFIG`, then `~/.docker`).
fn config_dir(args: &ConfigArgs, ctx: &Context) -> Result<PathBuf, Error> {
    match &args.config {
        Some(dir) => Ok(ctx.env.resolve(dir)),
        None => Ok(docker_config::config_dir(&ctx.env)?),
    }
}

/// `-r` values as targets. An empty one is an error: it would otherwise silently mean "your own
/// registry" (login) or "every registry" (logout).
fn parse_targets(inputs: &[String]) -> Result<Vec<Target>, Error> {
    inputs
        .iter()
        .map(|s| targets::parse(s).map_err(Error::from))
        .collect()
}

/// Refuses the first of `regions` that no AWS partition claims, unless `--allow-unknown-region`.
fn known_regions<'a>(
    check: &RegionCheck,
    regions: impl IntoIterator<Item = &'a str>,
) -> Result<(), LoginError> {
    if check.allow_unknown_region {
        return Ok(());
    }
    match regions
        .into_iter()
        .find(|r| crate::ecr_host::partition(r).is_none())
    {
        Some(r) => Err(LoginError::UnknownRegion(r.to_string())),
        None => Ok(()),
    }
}

/// `--region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION` (for decisions made before the SDK is
/// loaded; a blank variable counts as unset).
fn default_region(flag: Option<&str>, ctx: &Context) -> Option<String> {
    let var = |name| ctx.env.var(name).filter(|v| !v.trim().is_empty());
    flag.or_else(|| var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")))
        .map(str::to_string)
}
