//! `ecr-login`'s flags: the clap structs for logging in and for each subcommand (their doc comments
//! are `--help`).

use crate::output::OutputArgs;
use crate::time;
use std::path::PathBuf;
use std::time::Duration;

/// Log in to Amazon ECR for docker, podman, skopeo, BuildKit and every client that reads
/// docker's config.json.
///
/// With no target, logs in to your own account's registry in the current region. Targets
/// may be mixed freely; one token is fetched per region and written for every host named:
///
///   ecr-login
///   ecr-login -r 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.2
///   ecr-login -r 123456789012@us-west-2,210987654321 -r public.ecr.aws
///
/// Credentials come from the AWS SDK's standard chain (environment, profile/SSO, web
/// identity, CodeBuild/ECS container credentials, instance metadata). In GitHub Actions,
/// --role-arn assumes a role with the job's OIDC token.
///
/// Output: a summary on stderr (never the password); --json or --format env on stdout.
///
/// Exit codes: 0 logged in · 2 bad target, flag or config file · 3 no or refused
/// credentials · 4 ECR or a credential helper failed after retries.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ecr-login",
    version,
    args_conflicts_with_subcommands = true,
    verbatim_doc_comment
)]
pub struct EcrLogin {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) login: LoginArgs,

    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

// The subcommands besides logging in.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Show the ECR registries in docker's config and when each stored token expires (no AWS call).
    Status(StatusArgs),
    /// Remove ECR entries from docker's config (and from its credential store).
    Logout(LogoutArgs),
    /// Make docker fetch ECR tokens on demand through this binary (credHelpers entries + the
    /// docker-credential-ecr-login link).
    InstallHelper(InstallArgs),
}

/// Where docker's config lives.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfigArgs {
    /// The directory holding docker's config.json [default: ~/.docker].
    #[arg(long = "config", value_name = "DIR", env = "DOCKER_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

// The flags of `ecr-login` itself (logging in).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LoginArgs {
    /// Registries to log in to: image references, registry hosts (any ECR form, incl. dual-stack, FIPS,
    /// China, public.ecr.aws), ACCOUNT or ACCOUNT@REGION. Repeatable and comma-separated.
    #[arg(
        short = 'r',
        long = "registry",
        value_name = "TARGET",
        env = "ECR_LOGIN_REGISTRIES",
        value_delimiter = ','
    )]
    pub(crate) registries: Vec<String>,

    /// The region for targets without one [default: the SDK chain: `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile].
    #[arg(long, value_name = "REGION", env = "ECR_LOGIN_REGION", value_parser = crate::ecr_host::parse_region)]
    pub(crate) region: Option<String>,

    /// Also write the other standard host forms for each registry (dual-stack, FIPS where it exists),
    /// so pulls through any form find the login.
    #[arg(long, env = "ECR_LOGIN_ALL_HOST_FORMS")]
    pub(crate) all_host_forms: bool,

    /// Skip the AWS call when every target already has a stored token valid for at least this long
    /// (e.g. 1h, 30m). With no target, the ECR entries of the region in docker's config count.
    #[arg(long, value_name = "DURATION", env = "ECR_LOGIN_MIN_VALIDITY", value_parser = time::parse_duration)]
    pub(crate) min_validity: Option<Duration>,

    /// Print the registry password to stdout and write nothing (for `podman login --password-stdin`
    /// and other clients). The only mode that ever prints the secret.
    #[arg(long)]
    pub(crate) password_stdout: bool,

    /// In GitHub Actions: assume this role with the job's OIDC token (needs `id-token: write`).
    #[arg(long, value_name = "ARN", env = "ECR_LOGIN_ROLE_ARN")]
    pub(crate) role_arn: Option<String>,

    /// The session name for --role-arn.
    #[arg(
        long,
        value_name = "NAME",
        env = "ECR_LOGIN_ROLE_SESSION_NAME",
        default_value = "ecr-login"
    )]
    pub(crate) role_session_name: String,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,
}

// `ecr-login status`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

// `ecr-login logout`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LogoutArgs {
    /// Registries to log out of (as for login) [default: every ECR registry in the config].
    #[arg(
        short = 'r',
        long = "registry",
        value_name = "TARGET",
        env = "ECR_LOGIN_REGISTRIES",
        value_delimiter = ','
    )]
    pub(crate) registries: Vec<String>,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

// `ecr-login install-helper`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct InstallArgs {
    /// Registries docker should fetch tokens for on demand (as for login) [default: your own registry
    /// in the current region].
    #[arg(
        short = 'r',
        long = "registry",
        value_name = "TARGET",
        env = "ECR_LOGIN_REGISTRIES",
        value_delimiter = ','
    )]
    pub(crate) registries: Vec<String>,
    /// The region for targets without one.
    #[arg(long, value_name = "REGION", env = "ECR_LOGIN_REGION", value_parser = crate::ecr_host::parse_region)]
    pub(crate) region: Option<String>,
    /// Also configure the other standard host forms of each registry.
    #[arg(long, env = "ECR_LOGIN_ALL_HOST_FORMS")]
    pub(crate) all_host_forms: bool,
    /// Where to put the `docker-credential-ecr-login` link to this binary (must be on PATH)
    /// [default: this binary's directory].
    #[arg(long, value_name = "DIR")]
    pub(crate) bin_dir: Option<PathBuf>,
    /// Replace an existing `docker-credential-ecr-login` that is not a link to this binary.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}
