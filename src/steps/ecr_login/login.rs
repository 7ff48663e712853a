//! `ecr-login` itself: skip the AWS call when `--min-validity` finds the stored tokens fresh, else
//! fetch one token per region and store each where docker will look for it (`auths`, or the
//! credential store or helper that serves the host), or print the one password with
//! `--password-stdout`.
//!
//! Everything the flags and targets can be wrong about is refused before the first AWS call: an
//! empty target, a region no partition has, `--password-stdout` with a result format or with
//! targets that need more than one password. A credential store that fails leaves `config.json`
//! as it was.

use super::args::LoginArgs;
use super::error::LoginError;
use super::fetch::{fetch, load_aws, web_identity};
use super::report::{Action, LoginReport, RegistryLogin, StoredIn};
use super::targets::{self, Plan, Target};
use super::{HELPER_NAME, config_dir, default_region, known_regions, parse_targets, token};
use crate::adapters::aws::AuthToken;
use crate::adapters::credstore::Helper;
use crate::cli::Context;
use crate::docker_config::{self, Document, Store};
use crate::ecr_host::EcrRegistry;
use crate::error::Error;
use crate::exit::Code;
use crate::output::Format;
use crate::time;
use std::path::Path;
use std::time::{Duration, SystemTime};

pub(crate) async fn login(args: &LoginArgs, ctx: &Context) -> Result<Code, Error> {
    if args.password_stdout {
        match ctx.out.format() {
            Format::Human => {}
            Format::Json => return Err(LoginError::PasswordInResult("json").into()),
            Format::Env => return Err(LoginError::PasswordInResult("env").into()),
        }
    }
    let targets = parse_targets(&args.registries)?;
    known_regions(
        &args.regions,
        targets::named_regions(&targets).chain(args.region.as_deref()),
    )?;
    // What can be planned without AWS is checked before any call; the rest once AWS names the
    // default region.
    let region = default_region(args.region.as_deref(), ctx);
    if let Ok(plan) = targets::plan(&targets, region.as_deref(), args.all_host_forms) {
        check_plan(args, &plan)?;
    }
    let dir = config_dir(&args.config, ctx)?;
    let config_path = dir.join(docker_config::FILE_NAME);
    if let Some(registries) = still_valid(args, ctx, &config_path, &targets)? {
        let report = LoginReport::new(Action::Login, registries, &config_path, false);
        ctx.out.emit(&report)?;
        return Ok(Code::Ok);
    }

    let tokens = tokens(args, ctx, &targets).await?;
    if args.password_stdout {
        return print_password(ctx, &tokens);
    }
    warn_about_clock(ctx, &tokens);
    let registries = store(&dir, &tokens, args.helper_timeout)?;
    let mut report = LoginReport::new(Action::Login, registries, &config_path, true);
    report.passwords = tokens
        .iter()
        .map(|(h, t)| (h.clone(), t.password.clone()))
        .collect();
    ctx.out.emit(&report)?;
    Ok(Code::Ok)
}

/// With `--min-validity` (and without `--password-stdout`): the stored tokens, when every target's
/// is valid long enough.
fn still_valid(
    args: &LoginArgs,
    ctx: &Context,
    config_path: &Path,
    targets: &[Target],
) -> Result<Option<Vec<RegistryLogin>>, Error> {
    let Some(min) = args.min_validity.filter(|_| !args.password_stdout) else {
        return Ok(None);
    };
    let doc = Document::read(config_path)?;
    let region = default_region(args.region.as_deref(), ctx);
    Ok(fresh_enough(&doc, targets, region.as_deref(), min))
}

/// The stored tokens when every target host has one valid for at least `min`. With no target, the
/// private registries of `region` in the config count.
fn fresh_enough(
    doc: &Document,
    targets: &[Target],
    region: Option<&str>,
    min: Duration,
) -> Option<Vec<RegistryLogin>> {
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
        plan.hosts()
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
                .then(|| RegistryLogin::new(host, StoredIn::Auths, Some(expiry)))
        })
        .collect()
}

/// Every target's token, each password masked before anything else is printed.
async fn tokens(
    args: &LoginArgs,
    ctx: &Context,
    targets: &[Target],
) -> Result<Vec<(String, AuthToken)>, Error> {
    let identity = web_identity(args, ctx).await?;
    let aws = load_aws(args.region.as_deref(), targets, identity).await?;
    aws.identity().await?;
    let plan = targets::plan(targets, Some(&aws.region()), args.all_host_forms)?;
    check_plan(args, &plan)?;
    let tokens = fetch(&aws, &plan, args.all_host_forms).await?;
    for (_, t) in &tokens {
        ctx.out.mask(t.password.expose());
    }
    Ok(tokens)
}

/// A plan's regions must be known (unless `--allow-unknown-region`), and with `--password-stdout`
/// every target must share one password: one region, or ECR Public alone.
fn check_plan(args: &LoginArgs, plan: &Plan) -> Result<(), LoginError> {
    known_regions(&args.regions, plan.region_names())?;
    let sources = plan.password_sources();
    if args.password_stdout && sources.len() > 1 {
        return Err(LoginError::ManyPasswords(sources));
    }
    Ok(())
}

/// `--password-stdout`: the one password every target shares, on stdout; nothing is written.
fn print_password(ctx: &Context, tokens: &[(String, AuthToken)]) -> Result<Code, Error> {
    let mut distinct: Vec<&str> = tokens.iter().map(|(_, t)| t.password.expose()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != 1 {
        let hosts = tokens.iter().map(|(h, _)| h.clone()).collect();
        return Err(LoginError::ManyPasswords(hosts).into());
    }
    ctx.out.stdout_text(&format!("{}\n", distinct[0]))?;
    Ok(Code::Ok)
}

/// A token that says it expired before it arrived points at this machine's clock.
fn warn_about_clock(ctx: &Context, tokens: &[(String, AuthToken)]) {
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
}

/// Writes each token where docker will look for it, under the config lock: `auths` entries in the
/// file, the others through the credential store or helper that serves the host (each call bounded
/// by `timeout`). The file is written only once every store has taken its secret: a store that fails
/// or does not answer leaves `config.json` exactly as it was.
fn store(
    dir: &Path,
    tokens: &[(String, AuthToken)],
    timeout: Duration,
) -> Result<Vec<RegistryLogin>, Error> {
    docker_config::try_update(dir, |doc| {
        let mut registries = Vec::new();
        let mut changed = false;
        for (host, t) in tokens {
            let expiry = token::password_expiry(t.password.expose()).or(t.expires_at);
            let stored_in = store_one(doc, host, t, timeout, &mut changed)?;
            registries.push(RegistryLogin::new(host, stored_in, expiry));
        }
        Ok((changed, registries))
    })
}

/// Where `host`'s token goes: written to `auths`, left to this binary's helper, or handed to another
/// store or helper (a credential store also gets docker login's empty `auths` marker, once it has
/// the secret).
fn store_one(
    doc: &mut Document,
    host: &str,
    t: &AuthToken,
    timeout: Duration,
    changed: &mut bool,
) -> Result<StoredIn, Error> {
    Ok(match doc.store_for(host) {
        Store::File => {
            doc.set_auth(host, &t.username, &t.password);
            *changed = true;
            StoredIn::Auths
        }
        Store::Helper(name) if name == HELPER_NAME => StoredIn::CredHelper(name),
        Store::Helper(name) => {
            Helper::new(&name, timeout).store(host, &t.username, &t.password)?;
            StoredIn::CredHelper(name)
        }
        Store::CredsStore(name) => {
            Helper::new(&name, timeout).store(host, &t.username, &t.password)?;
            doc.mark_host(host);
            *changed = true;
            StoredIn::CredsStore(name)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

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
