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

pub mod cache;
pub mod helper;
pub mod targets;
pub mod token;

use crate::adapters::credstore;
use crate::adapters::ecr::{AuthToken, Aws, AwsError, WebIdentity};
use crate::adapters::github_oidc;
use crate::cli::{Context, Step};
use crate::docker_config::{self, Document, Store};
use crate::ecr_host::EcrRegistry;
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::output::{OutputArgs, Report};
use crate::secret::Secret;
use crate::time;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use targets::{Plan, Target};

/// The `credHelpers` value that names this binary's helper mode.
pub const HELPER_NAME: &str = "ecr-login";

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
    command: Option<Command>,

    #[command(flatten)]
    login: LoginArgs,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
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
struct ConfigArgs {
    /// The directory holding docker's config.json [default: ~/.docker].
    #[arg(long = "config", value_name = "DIR", env = "DOCKER_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
struct LoginArgs {
    /// Registries to log in to: image references, registry hosts (any ECR form, incl. dual-stack, FIPS,
    /// China, public.ecr.aws), ACCOUNT or ACCOUNT@REGION. Repeatable and comma-separated.
    #[arg(
        short = 'r',
        long = "registry",
        value_name = "TARGET",
        env = "ECR_LOGIN_REGISTRIES",
        value_delimiter = ','
    )]
    registries: Vec<String>,

    /// The region for targets without one [default: the SDK chain: `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile].
    #[arg(long, value_name = "REGION", env = "ECR_LOGIN_REGION", value_parser = crate::ecr_host::parse_region)]
    region: Option<String>,

    /// Also write the other standard host forms for each registry (dual-stack, FIPS where it exists),
    /// so pulls through any form find the login.
    #[arg(long, env = "ECR_LOGIN_ALL_HOST_FORMS")]
    all_host_forms: bool,

    /// Skip the AWS call when every target already has a stored token valid for at least this long
    /// (e.g. 1h, 30m). With no target, the ECR entries of the region in docker's config count.
    #[arg(long, value_name = "DURATION", env = "ECR_LOGIN_MIN_VALIDITY", value_parser = time::parse_duration)]
    min_validity: Option<Duration>,

    /// Print the registry password to stdout and write nothing (for `podman login --password-stdin`
    /// and other clients). The only mode that ever prints the secret.
    #[arg(long)]
    password_stdout: bool,

    /// In GitHub Actions: assume this role with the job's OIDC token (needs `id-token: write`).
    #[arg(long, value_name = "ARN", env = "ECR_LOGIN_ROLE_ARN")]
    role_arn: Option<String>,

    /// The session name for --role-arn.
    #[arg(
        long,
        value_name = "NAME",
        env = "ECR_LOGIN_ROLE_SESSION_NAME",
        default_value = "ecr-login"
    )]
    role_session_name: String,

    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct LogoutArgs {
    /// Registries to log out of (as for login) [default: every ECR registry in the config].
    #[arg(
        short = 'r',
        long = "registry",
        value_name = "TARGET",
        env = "ECR_LOGIN_REGISTRIES",
        value_delimiter = ','
    )]
    registries: Vec<String>,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct InstallArgs {
    /// Registries docker should fetch tokens for on demand (as for login) [default: your own registry
    /// in the current region].
    #[arg(
        short = 'r',
        long = "registry",
        value_name = "TARGET",
        env = "ECR_LOGIN_REGISTRIES",
        value_delimiter = ','
    )]
    registries: Vec<String>,
    /// The region for targets without one.
    #[arg(long, value_name = "REGION", env = "ECR_LOGIN_REGION", value_parser = crate::ecr_host::parse_region)]
    region: Option<String>,
    /// Also configure the other standard host forms of each registry.
    #[arg(long, env = "ECR_LOGIN_ALL_HOST_FORMS")]
    all_host_forms: bool,
    /// Where to put the `docker-credential-ecr-login` link to this binary (must be on PATH)
    /// [default: this binary's directory].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Replace an existing `docker-credential-ecr-login` that is not a link to this binary.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    output: OutputArgs,
}

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
        match self.command {
            None => login(self.login, &ctx).await,
            Some(Command::Status(a)) => status(&a, &ctx),
            Some(Command::Logout(a)) => logout(&a, &ctx),
            Some(Command::InstallHelper(a)) => install_helper(a, &ctx).await,
        }
    }
}

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

/// One registry in a result.
#[derive(Debug, Clone, Serialize)]
pub struct Registry {
    /// The host docker keys credentials by.
    pub host: String,
    /// The account (private registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region (private registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the credential is: `auths`, `credsStore:NAME`, `credHelper:NAME`.
    pub stored_in: String,
    /// When the token expires (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl Registry {
    fn new(host: &str, stored_in: String, expires_at: Option<SystemTime>) -> Registry {
        let (account, region) = match EcrRegistry::parse(host) {
            Ok(EcrRegistry::Private(h)) => {
                (Some(h.account().to_string()), Some(h.region().to_string()))
            }
            _ => (None, None),
        };
        Registry {
            host: host.to_string(),
            account,
            region,
            stored_in,
            expires_at: expires_at.map(time::rfc3339),
        }
    }
}

/// The result of `ecr-login` (schema version 1).
///
/// `{"schema_version":1,"step":"ecr-login","action":"login","registries":[{"host":…,"account":…,
/// "region":…,"stored_in":"auths","expires_at":"…"}],"docker_config":"…/config.json","api_called":true}`
#[derive(Debug, Serialize)]
pub struct LoginReport {
    /// `login`, `status`, `logout` or `install-helper`.
    pub action: &'static str,
    /// The registries handled.
    pub registries: Vec<Registry>,
    /// The config file read or written.
    pub docker_config: String,
    /// Whether AWS was called (false when `--min-validity` found the stored tokens fresh).
    pub api_called: bool,
    #[serde(skip)]
    passwords: BTreeMap<String, Secret>,
}

/// GitHub output names as the AWS action writes them: `[^a-zA-Z0-9_]+` → `_`.
pub fn github_name(prefix: &str, host: &str) -> String {
    let mut out = String::from(prefix);
    let mut last_sep = false;
    for c in host.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            last_sep = false;
        } else if !last_sep {
            out.push('_');
            last_sep = true;
        }
    }
    out
}

impl Report for LoginReport {
    const STEP: &'static str = "ecr-login";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let now = SystemTime::now();
        let n = self.registries.len();
        let count = format!("{n} ECR registr{}", if n == 1 { "y" } else { "ies" });
        let path = &self.docker_config;
        let mut text = match self.action {
            "login" if self.api_called => format!("logged in to {count} ({path})\n"),
            "login" => format!("still logged in to {count}, no AWS call needed ({path})\n"),
            "status" => format!("{count} in {path}\n"),
            "logout" => format!("logged out of {count} ({path})\n"),
            _ => format!("docker now fetches tokens on demand for {count} ({path})\n"),
        };
        for r in &self.registries {
            let expiry = r.expires_at.as_deref().map_or_else(String::new, |e| {
                let left = aws_smithy_types::DateTime::from_str(
                    e,
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .ok()
                .and_then(|t| SystemTime::try_from(t).ok())
                .map(|t| match t.duration_since(now) {
                    Ok(d) => format!("expires in {}", time::human(d)),
                    Err(_) => "expired".to_string(),
                })
                .unwrap_or_default();
                format!(", {left} ({e})")
            });
            let _ = writeln!(text, "  {} [{}{expiry}]", r.host, r.stored_in);
        }
        text
    }

    fn variables(&self) -> Vec<(String, String)> {
        let hosts: Vec<&str> = self.registries.iter().map(|r| r.host.as_str()).collect();
        let mut vars = vec![
            (
                "ECR_REGISTRY".to_string(),
                hosts.first().copied().unwrap_or_default().to_string(),
            ),
            ("ECR_REGISTRIES".to_string(), hosts.join(",")),
        ];
        if let Some(e) = self
            .registries
            .iter()
            .filter_map(|r| r.expires_at.clone())
            .min()
        {
            vars.push(("ECR_TOKEN_EXPIRES_AT".to_string(), e));
        }
        vars
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            "registry".to_string(),
            self.registries
                .first()
                .map(|r| r.host.clone())
                .unwrap_or_default(),
        )];
        for (host, password) in &self.passwords {
            out.push((github_name("docker_username_", host), "AWS".to_string()));
            out.push((
                github_name("docker_password_", host),
                password.expose().to_string(),
            ));
        }
        out
    }

    fn markdown(&self) -> Option<String> {
        let mut md = format!(
            "### ecr-login: {}\n\n| registry | stored in | expires |\n|---|---|---|\n",
            self.action
        );
        for r in &self.registries {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                r.host,
                r.stored_in,
                r.expires_at.as_deref().unwrap_or("—")
            );
        }
        Some(md)
    }
}

fn config_dir(args: &ConfigArgs, ctx: &Context) -> Result<PathBuf, Error> {
    match &args.config {
        Some(dir) => Ok(ctx.env.resolve(dir)),
        None => Ok(docker_config::config_dir(&ctx.env)?),
    }
}

fn parse_targets(inputs: &[String]) -> Result<Vec<Target>, Error> {
    inputs
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| targets::parse(s).map_err(Error::from))
        .collect()
}

/// The region of the first target that names one.
fn first_target_region(targets: &[Target]) -> Option<String> {
    targets.iter().find_map(|t| match t {
        Target::Host(EcrRegistry::Private(h)) => Some(h.region().to_string()),
        Target::Account { region, .. } => region.clone(),
        Target::Host(EcrRegistry::Public { .. }) => None,
    })
}

async fn load_aws(
    region: Option<&str>,
    targets: &[Target],
    web_identity: Option<WebIdentity>,
) -> Result<Aws, Error> {
    match Aws::load(region, web_identity.clone()).await {
        Err(AwsError::NoRegion) => match first_target_region(targets) {
            Some(r) => Ok(Aws::load(Some(&r), web_identity).await?),
            None if targets
                .iter()
                .all(|t| matches!(t, Target::Host(EcrRegistry::Public { .. })))
                && !targets.is_empty() =>
            {
                Ok(Aws::load(Some("us-east-1"), web_identity).await?)
            }
            None => Err(AwsError::NoRegion.into()),
        },
        other => Ok(other?),
    }
}

async fn web_identity(args: &LoginArgs, ctx: &Context) -> Result<Option<WebIdentity>, Error> {
    let Some(role_arn) = &args.role_arn else {
        return Ok(None);
    };
    let (Some(url), Some(token)) = (
        ctx.env.var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        ctx.env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Err(LoginError::NoOidc(role_arn.clone()).into());
    };
    let request_token = Secret::new(token);
    ctx.out.mask(request_token.expose());
    let jwt = github_oidc::id_token(url, &request_token, "sts.amazonaws.com").await?;
    ctx.out.mask(jwt.expose());
    Ok(Some(WebIdentity {
        role_arn: role_arn.clone(),
        token: jwt,
        session_name: args.role_session_name.clone(),
    }))
}

/// Tokens for a plan: host → token. One call per region (concurrently) and one for ECR Public.
async fn fetch(aws: &Aws, plan: &Plan, all_forms: bool) -> Result<Vec<(String, AuthToken)>, Error> {
    let mut calls = tokio::task::JoinSet::new();
    for (region, rp) in &plan.regions {
        let ecr = aws.ecr(region);
        let rp = rp.clone();
        calls.spawn(async move {
            let token = ecr.authorization_token().await.map_err(Error::from)?;
            let mut hosts: Vec<String> = rp.hosts.iter().cloned().collect();
            if rp.default {
                if let Ok(EcrRegistry::Private(h)) = EcrRegistry::parse(&token.proxy_endpoint) {
                    if all_forms {
                        hosts.extend(h.standard_forms());
                    } else {
                        hosts.push(h.host().to_string());
                    }
                } else {
                    hosts.push(docker_config::bare(&token.proxy_endpoint).to_string());
                }
            }
            Ok::<_, Error>(
                hosts
                    .into_iter()
                    .map(|h| (h, token.clone()))
                    .collect::<Vec<_>>(),
            )
        });
    }
    let mut out = Vec::new();
    if !plan.public.is_empty() {
        let token = aws.public_authorization_token().await?;
        out.extend(plan.public.iter().map(|h| (h.clone(), token.clone())));
    }
    while let Some(joined) = calls.join_next().await {
        let pairs = joined.map_err(|e| Error::from(crate::error::TaskFailed(e.to_string())))??;
        out.extend(pairs);
    }
    out.sort_by(|a, b| {
        plan.rank(&a.0)
            .cmp(&plan.rank(&b.0))
            .then_with(|| a.0.cmp(&b.0))
    });
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// With `--min-validity`: the stored tokens when every target host has one valid long enough.
fn fresh_enough(
    doc: &Document,
    targets: &[Target],
    region: Option<&str>,
    min: Duration,
) -> Option<Vec<Registry>> {
    let now = SystemTime::now();
    let hosts: Vec<String> = if targets.is_empty() {
        let region = region?;
        doc.auth_keys()
            .into_iter()
            .filter(|k| matches!(EcrRegistry::parse(k), Ok(EcrRegistry::Private(h)) if h.region() == region))
            .collect()
    } else {
        let plan = targets::plan(targets, region, false).ok()?;
        if plan.regions.values().any(|r| r.default) {
            return None;
        }
        plan.regions
            .values()
            .flat_map(|r| r.hosts.iter().cloned())
            .chain(plan.public.iter().cloned())
            .collect()
    };
    if hosts.is_empty() {
        return None;
    }
    hosts
        .iter()
        .map(|host| {
            let entry = doc.auth(host)?;
            let expiry = token::password_expiry(entry.password.expose())?;
            (expiry.duration_since(now).ok()? >= min)
                .then(|| Registry::new(host, "auths".into(), Some(expiry)))
        })
        .collect()
}

async fn login(args: LoginArgs, ctx: &Context) -> Result<Code, Error> {
    let targets = parse_targets(&args.registries)?;
    let dir = config_dir(&args.config, ctx)?;
    let config_path = dir.join(docker_config::FILE_NAME);

    if let Some(min) = args.min_validity
        && !args.password_stdout
    {
        let doc = Document::read(&config_path)?;
        let region = args.region.clone().or_else(|| {
            ctx.env
                .var("AWS_REGION")
                .or_else(|| ctx.env.var("AWS_DEFAULT_REGION"))
                .map(str::to_string)
        });
        if let Some(registries) = fresh_enough(&doc, &targets, region.as_deref(), min) {
            ctx.out.emit(&LoginReport {
                action: "login",
                registries,
                docker_config: config_path.display().to_string(),
                api_called: false,
                passwords: BTreeMap::new(),
            })?;
            return Ok(Code::Ok);
        }
    }

    let identity = web_identity(&args, ctx).await?;
    let aws = load_aws(args.region.as_deref(), &targets, identity).await?;
    aws.identity().await?;
    let plan = targets::plan(&targets, Some(&aws.region()), args.all_host_forms)?;
    let tokens = fetch(&aws, &plan, args.all_host_forms).await?;
    // Mask every secret before anything else is printed.
    for (_, t) in &tokens {
        ctx.out.mask(t.password.expose());
    }

    if args.password_stdout {
        let mut distinct: Vec<&str> = tokens.iter().map(|(_, t)| t.password.expose()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != 1 {
            return Err(LoginError::ManyPasswords(distinct.len()).into());
        }
        ctx.out.stdout_text(&format!("{}\n", distinct[0]));
        return Ok(Code::Ok);
    }

    let now = SystemTime::now();
    let mut stale: Vec<(&str, SystemTime)> = tokens
        .iter()
        .filter_map(|(host, t)| {
            t.expires_at
                .filter(|e| *e <= now)
                .map(|e| (host.as_str(), e))
        })
        .collect();
    stale.dedup_by_key(|(_, e)| *e);
    for (host, expiry) in stale {
        ctx.out.warn(&format!(
            "the token for {host} says it expired at {}, before it arrived; check this machine's clock \
             (it is used anyway: the registry decides)",
            time::rfc3339(expiry)
        ));
    }
    let registries = store(&dir, &tokens)?;
    let passwords = tokens
        .iter()
        .map(|(h, t)| (h.clone(), t.password.clone()))
        .collect();
    ctx.out.emit(&LoginReport {
        action: "login",
        registries,
        docker_config: config_path.display().to_string(),
        api_called: true,
        passwords,
    })?;
    Ok(Code::Ok)
}

/// Writes each token where docker will look for it. `auths` entries are written under the config lock;
/// credential-store calls happen after it is released.
fn store(dir: &Path, tokens: &[(String, AuthToken)]) -> Result<Vec<Registry>, Error> {
    let (registries, external) = docker_config::update(dir, |doc| {
        let mut registries = Vec::new();
        let mut external = Vec::new();
        let mut changed = false;
        for (host, t) in tokens {
            let expiry = token::password_expiry(t.password.expose()).or(t.expires_at);
            let stored_in = match doc.store_for(host) {
                Store::File => {
                    doc.set_auth(host, &t.username, &t.password);
                    changed = true;
                    "auths".to_string()
                }
                Store::Helper(name) if name == HELPER_NAME => format!("credHelper:{name}"),
                Store::Helper(name) => {
                    external.push((name.clone(), host.clone(), t.clone()));
                    format!("credHelper:{name}")
                }
                Store::CredsStore(name) => {
                    doc.mark_host(host);
                    changed = true;
                    external.push((name.clone(), host.clone(), t.clone()));
                    format!("credsStore:{name}")
                }
            };
            registries.push(Registry::new(host, stored_in, expiry));
        }
        (changed, (registries, external))
    })?;
    for (helper, host, t) in external {
        credstore::store(&helper, &host, &t.username, &t.password)?;
    }
    Ok(registries)
}

fn status(args: &StatusArgs, ctx: &Context) -> Result<Code, Error> {
    let dir = config_dir(&args.config, ctx)?;
    let path = dir.join(docker_config::FILE_NAME);
    let doc = Document::read(&path)?;
    let mut registries = Vec::new();
    for key in doc.auth_keys() {
        let host = docker_config::bare(&key);
        if EcrRegistry::parse(host).is_err() {
            continue;
        }
        let r = match doc.store_for(host) {
            Store::File => {
                let expiry = doc
                    .auth(&key)
                    .and_then(|e| token::password_expiry(e.password.expose()));
                Registry::new(host, "auths".into(), expiry)
            }
            Store::Helper(n) => Registry::new(host, format!("credHelper:{n}"), None),
            Store::CredsStore(n) => Registry::new(host, format!("credsStore:{n}"), None),
        };
        registries.push(r);
    }
    for host in doc.hosts_with_helper(HELPER_NAME) {
        if !registries.iter().any(|r| r.host == host) {
            registries.push(Registry::new(
                &host,
                format!("credHelper:{HELPER_NAME}"),
                None,
            ));
        }
    }
    ctx.out.emit(&LoginReport {
        action: "status",
        registries,
        docker_config: path.display().to_string(),
        api_called: false,
        passwords: BTreeMap::new(),
    })?;
    Ok(Code::Ok)
}

fn logout(args: &LogoutArgs, ctx: &Context) -> Result<Code, Error> {
    let targets = parse_targets(&args.registries)?;
    let wanted: Option<Vec<String>> = if targets.is_empty() {
        None
    } else {
        let plan = targets::plan(&targets, None, false)?;
        Some(
            plan.regions
                .values()
                .flat_map(|r| r.hosts.iter().cloned())
                .chain(plan.public.iter().cloned())
                .collect(),
        )
    };
    let dir = config_dir(&args.config, ctx)?;
    let path = dir.join(docker_config::FILE_NAME);
    let (registries, erase) = docker_config::update(&dir, |doc| {
        let mut hosts: Vec<String> = doc
            .auth_keys()
            .iter()
            .map(|k| docker_config::bare(k).to_string())
            .collect();
        hosts.extend(doc.hosts_with_helper(HELPER_NAME));
        hosts.retain(|h| {
            EcrRegistry::parse(h).is_ok() && wanted.as_ref().is_none_or(|w| w.contains(h))
        });
        hosts.sort();
        hosts.dedup();
        let mut registries = Vec::new();
        let mut erase = Vec::new();
        let mut changed = false;
        for host in hosts {
            let stored_in = match doc.store_for(&host) {
                Store::CredsStore(n) => {
                    erase.push((n.clone(), host.clone()));
                    format!("credsStore:{n}")
                }
                Store::Helper(n) => format!("credHelper:{n}"),
                Store::File => "auths".to_string(),
            };
            changed |= doc.remove_auth(&host);
            changed |= doc.remove_cred_helper(&host, HELPER_NAME);
            registries.push(Registry::new(&host, stored_in, None));
        }
        (changed, (registries, erase))
    })?;
    for (helper, host) in erase {
        credstore::erase(&helper, &host)?;
    }
    ctx.out.emit(&LoginReport {
        action: "logout",
        registries,
        docker_config: path.display().to_string(),
        api_called: false,
        passwords: BTreeMap::new(),
    })?;
    Ok(Code::Ok)
}

async fn install_helper(args: InstallArgs, ctx: &Context) -> Result<Code, Error> {
    let targets = parse_targets(&args.registries)?;
    let region = args.region.clone().or_else(|| {
        ctx.env
            .var("AWS_REGION")
            .or_else(|| ctx.env.var("AWS_DEFAULT_REGION"))
            .map(str::to_string)
    });
    let mut plan = targets::plan(&targets, region.as_deref(), args.all_host_forms);
    if plan.is_err()
        || plan
            .as_ref()
            .is_ok_and(|p| p.regions.values().any(|r| r.default))
    {
        // The caller's own registry: one token call names it.
        let aws = load_aws(args.region.as_deref(), &targets, None).await?;
        aws.identity().await?;
        let p = targets::plan(&targets, Some(&aws.region()), args.all_host_forms)?;
        let tokens = fetch(&aws, &p, args.all_host_forms).await?;
        let mut resolved = Plan::default();
        for (host, _) in tokens {
            match EcrRegistry::parse(&host) {
                Ok(EcrRegistry::Private(h)) => {
                    resolved
                        .regions
                        .entry(h.region().to_string())
                        .or_default()
                        .hosts
                        .insert(host);
                }
                _ => {
                    resolved.public.insert(host);
                }
            }
        }
        plan = Ok(resolved);
    }
    let plan = plan?;
    let hosts: Vec<String> = plan
        .regions
        .values()
        .flat_map(|r| r.hosts.iter().cloned())
        .chain(plan.public.iter().cloned())
        .collect();

    let link = link_helper(&args, ctx)?;
    let dir = config_dir(&args.config, ctx)?;
    let path = dir.join(docker_config::FILE_NAME);
    docker_config::update(&dir, |doc| {
        for h in &hosts {
            doc.set_cred_helper(h, HELPER_NAME);
        }
        (true, ())
    })?;
    let on_path = ctx
        .env
        .var("PATH")
        .is_some_and(|p| std::env::split_paths(p).any(|d| link.parent() == Some(d.as_path())));
    if !on_path {
        ctx.out.warn(&format!(
            "{} is not on PATH, so docker will not find it; add its directory to PATH or pass --bin-dir",
            link.display()
        ));
    }
    let registries = hosts
        .iter()
        .map(|h| Registry::new(h, format!("credHelper:{HELPER_NAME}"), None))
        .collect();
    ctx.out.emit(&LoginReport {
        action: "install-helper",
        registries,
        docker_config: path.display().to_string(),
        api_called: false,
        passwords: BTreeMap::new(),
    })?;
    Ok(Code::Ok)
}

/// Makes `docker-credential-ecr-login` a link to this binary in the chosen directory.
fn link_helper(args: &InstallArgs, ctx: &Context) -> Result<PathBuf, Error> {
    let exe = ctx.env.current_exe().ok_or_else(|| LoginError::Link {
        path: PathBuf::from(credstore::program(HELPER_NAME)),
        reason: "this binary's own path is unknown".into(),
    })?;
    let dir = match &args.bin_dir {
        Some(d) => ctx.env.resolve(d),
        None => exe
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let link = dir.join(credstore::program(HELPER_NAME));
    let err = |reason: String| LoginError::Link {
        path: link.clone(),
        reason,
    };
    match std::fs::symlink_metadata(&link) {
        Ok(_) if std::fs::read_link(&link).ok().as_deref() == Some(exe) => return Ok(link),
        Ok(_) if !args.force => return Err(err("something else is already there".into()).into()),
        Ok(_) => std::fs::remove_file(&link).map_err(|e| err(e.to_string()))?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(exe, &link).map_err(|e| err(e.to_string()))?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_names_match_the_aws_action() {
        assert_eq!(
            github_name(
                "docker_password_",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com"
            ),
            "docker_password_123456789012_dkr_ecr_us_east_1_amazonaws_com"
        );
        assert_eq!(
            github_name("docker_username_", "public.ecr.aws"),
            "docker_username_public_ecr_aws"
        );
    }

    #[test]
    fn fresh_enough_needs_every_host_valid_for_the_minimum() {
        use base64::Engine as _;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let pw = |exp: u64| {
            base64::engine::general_purpose::STANDARD
                .encode(format!(r#"{{"payload":"x","expiration":{exp}}}"#))
        };
        let mut doc = Document::default();
        let a = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let b = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
        doc.set_auth(a, "AWS", &Secret::new(pw(now + 10 * 3600)));
        doc.set_auth(b, "AWS", &Secret::new(pw(now + 600)));
        let hour = Duration::from_secs(3600);
        let t = |s: &str| targets::parse(s).unwrap();
        assert!(fresh_enough(&doc, &[t(a)], None, hour).is_some());
        assert!(fresh_enough(&doc, &[t(a), t(b)], None, hour).is_none());
        assert!(fresh_enough(&doc, &[], Some("us-east-1"), hour).is_some());
        assert!(fresh_enough(&doc, &[], Some("us-west-2"), hour).is_none());
        assert!(
            fresh_enough(&doc, &[], Some("eu-west-1"), hour).is_none(),
            "nothing stored"
        );
        assert!(fresh_enough(&doc, &[t("123456789012@eu-west-1")], None, hour).is_none());
    }
}
