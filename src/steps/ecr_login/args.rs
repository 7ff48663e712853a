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
/// Exit codes: 0 logged in · 2 bad target, flag or config file, a credential helper that
/// is not installed · 3 no or refused credentials · 4 ECR failed after retries, a
/// credential helper failed or did not answer within --helper-timeout (config.json is
/// then left as it was).
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
    /// China, public.ecr.aws), ACCOUNT or ACCOUNT@REGION. Repeatable and comma-separated; an empty
    /// one is an error (give none for your own registry).
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
    /// and other clients). The only mode that ever prints the secret. Its targets must share one
    /// password (one region, or ECR Public alone); not with --json or --format.
    #[arg(long)]
    pub(crate) password_stdout: bool,

    /// In GitHub Actions: assume this role with the job's OIDC token (needs `id-token: write`).
    #[arg(long, value_name = "ARN", env = "ECR_LOGIN_ROLE_ARN", value_parser = role_arn)]
    pub(crate) role_arn: Option<String>,

    /// The session name for --role-arn.
    #[arg(
        long,
        value_name = "NAME",
        env = "ECR_LOGIN_ROLE_SESSION_NAME",
        default_value = "ecr-login",
        value_parser = session_name
    )]
    pub(crate) role_session_name: String,

    /// How long a credential store or helper named in docker's config may take to answer before it
    /// is stopped (exit 4, config.json left as it was).
    #[arg(
        long,
        value_name = "DURATION",
        env = "ECR_LOGIN_HELPER_TIMEOUT",
        default_value = "60s",
        value_parser = helper_timeout
    )]
    pub(crate) helper_timeout: Duration,

    #[command(flatten)]
    pub(crate) regions: RegionCheck,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,
}

/// Which regions are accepted.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RegionCheck {
    /// Accept a region no AWS partition claims (`mars-1`); without it such a region is refused, since
    /// a registry host there cannot exist. For a region newer than this version's partition table.
    #[arg(long, env = "ECR_LOGIN_ALLOW_UNKNOWN_REGION")]
    pub(crate) allow_unknown_region: bool,
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
    /// How long the credential store may take to erase an entry (as for login).
    #[arg(
        long,
        value_name = "DURATION",
        env = "ECR_LOGIN_HELPER_TIMEOUT",
        default_value = "60s",
        value_parser = helper_timeout
    )]
    pub(crate) helper_timeout: Duration,
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
    pub(crate) regions: RegionCheck,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// The partitions an IAM role ARN can name.
const ARN_PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// `--role-arn`: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, as STS's `RoleArn` takes it.
fn role_arn(s: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{s}` is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME: {why}"
        ))
    };
    let fields: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = fields.as_slice() else {
        return bad("it needs six `:`-separated fields");
    };
    if *arn != "arn" {
        return bad("it does not start with `arn:`");
    }
    if !ARN_PARTITIONS.contains(partition) {
        return bad(&format!("`{partition}` is not an AWS partition"));
    }
    if *service != "iam" || !region.is_empty() {
        return bad("it is not an IAM ARN (`arn:PARTITION:iam::`)");
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return bad(&format!("`{account}` is not a 12-digit account ID"));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return bad("the resource is not `role/NAME`");
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b);
    if name.is_empty() || name.len() > 64 || !name.bytes().all(allowed) {
        return bad("a role name is 1 to 64 of A-Z a-z 0-9 + = , . @ _ -");
    }
    if s.len() > 2048 || !path_and_name.bytes().all(|b| allowed(b) || b == b'/') {
        return bad("a role path is letters, digits and + = , . @ _ - /");
    }
    Ok(s.to_string())
}

/// `--role-session-name`: 2 to 64 of `A-Z a-z 0-9 + = , . @ _ -`, as STS takes it.
fn session_name(s: &str) -> Result<String, String> {
    let ok = (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a role session name: 2 to 64 of A-Z a-z 0-9 + = , . @ _ -"
        ))
    }
}

/// `--helper-timeout`: a duration above zero, at most a day.
fn helper_timeout(s: &str) -> Result<Duration, String> {
    let d = time::parse_duration(s)?;
    if d.is_zero() {
        Err("a credential helper needs some time: give more than 0s".into())
    } else if d > Duration::from_secs(86_400) {
        Err(format!("`{s}` is more than a day (24h)"))
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked_before_anything_is_asked() {
        for good in [
            "arn:aws:iam::123456789012:role/ci-push",
            "arn:aws:iam::123456789012:role/team/deploy/ci+push=x,y.z@w_v-u",
            "arn:aws-cn:iam::123456789012:role/r",
            "arn:aws-us-gov:iam::123456789012:role/r",
        ] {
            assert_eq!(role_arn(good).as_deref(), Ok(good));
        }
        for (bad, why) in [
            ("", "six"),
            ("junk", "six"),
            ("arn:aws:iam::123456789012:user/bob", "not `role/NAME`"),
            ("arn:aws:iam::12345:role/r", "12-digit"),
            ("arn:aws:s3:::bucket/role/x", "not an IAM ARN"),
            (
                "arn:aws:iam:us-east-1:123456789012:role/r",
                "not an IAM ARN",
            ),
            ("arn:mars:iam::123456789012:role/r", "not an AWS partition"),
            ("ARN:aws:iam::123456789012:role/r", "start with `arn:`"),
            ("arn:aws:iam::123456789012:role/", "role name"),
            ("arn:aws:iam::123456789012:role/a b", "role name"),
            ("arn:aws:iam::123456789012:role/p a/r", "role path"),
        ] {
            let err = role_arn(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(
            role_arn(&format!(
                "arn:aws:iam::123456789012:role/{}",
                "r".repeat(65)
            ))
            .is_err()
        );
    }

    #[test]
    fn session_names_and_helper_timeouts() {
        assert!(session_name("ecr-login").is_ok());
        for bad in ["", "a", "a b", &"x".repeat(65), "ci/push"] {
            assert!(session_name(bad).is_err(), "{bad}");
        }
        assert_eq!(helper_timeout("90s"), Ok(Duration::from_secs(90)));
        assert!(helper_timeout("0s").unwrap_err().contains("more than 0s"));
        assert!(
            helper_timeout("2d")
                .unwrap_err()
                .contains("more than a day")
        );
        assert!(helper_timeout("soon").is_err());
    }
}
