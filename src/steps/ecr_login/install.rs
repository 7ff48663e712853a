//! `ecr-login install-helper`: `credHelpers` entries that send docker to this binary for each
//! registry, and the `docker-credential-ecr-login` link to it (never replacing another program
//! without `--force`).

use super::args::InstallArgs;
use super::error::LoginError;
use super::fetch::{fetch, load_aws};
use super::report::{Action, LoginReport, RegistryLogin, StoredIn};
use super::targets::{self, Plan, Target};
use super::{HELPER_NAME, config_dir, default_region, known_regions, parse_targets};
use crate::adapters::credstore;
use crate::cli::Context;
use crate::docker_config;
use crate::ecr_host::{EcrHost, EcrRegistry};
use crate::error::Error;
use crate::exit::Code;
use crate::output_path::OutputPaths;
use std::path::{Path, PathBuf};

pub(crate) async fn install_helper(args: &InstallArgs, ctx: &Context) -> Result<Code, Error> {
    let targets = parse_targets(&args.registries)?;
    known_regions(
        &args.regions,
        targets::named_regions(&targets).chain(args.region.as_deref()),
    )?;
    // The config file is checked before anything is asked or linked, so a bad one leaves no link.
    let dir = config_dir(&args.config, ctx)?;
    let path = dir.join(docker_config::FILE_NAME);
    let (flag, given) = match &args.config.config {
        Some(d) => ("--config", d.join(docker_config::FILE_NAME)),
        None => ("docker's config", path.clone()),
    };
    OutputPaths::new(ctx.env.cwd())
        .output_creating_dirs(flag, &given)
        .check()?;
    let hosts = hosts(args, ctx, &targets).await?;
    // The default region's too: a credHelpers entry for a host that cannot exist helps nobody.
    let private: Vec<_> = hosts
        .iter()
        .filter_map(|h| EcrRegistry::private(h))
        .collect();
    known_regions(&args.regions, private.iter().map(EcrHost::region))?;
    let link = link_helper(args, ctx)?;
    docker_config::update(&dir, |doc| {
        for h in &hosts {
            doc.set_cred_helper(h, HELPER_NAME);
        }
        (true, ())
    })?;
    warn_unless_on_path(ctx, &link);
    let registries = hosts
        .iter()
        .map(|h| RegistryLogin::new(h, StoredIn::CredHelper(HELPER_NAME.to_string()), None))
        .collect();
    let report = LoginReport::new(Action::InstallHelper, registries, &path, false);
    ctx.out.emit(&report)?;
    Ok(Code::Ok)
}

/// The hosts docker should ask this binary for. Where that includes the caller's own registry (no
/// target, or a bare account without a region), AWS names it.
async fn hosts(
    args: &InstallArgs,
    ctx: &Context,
    targets: &[Target],
) -> Result<Vec<String>, Error> {
    let region = default_region(args.region.as_deref(), ctx);
    match targets::plan(targets, region.as_deref(), args.all_host_forms) {
        Ok(plan) if !plan.regions.values().any(|r| r.default) => Ok(plan.hosts()),
        _ => Ok(named_by_aws(args, targets).await?.hosts()),
    }
}

/// The plan with the caller's own registry as the token answer names it: one token call.
async fn named_by_aws(args: &InstallArgs, targets: &[Target]) -> Result<Plan, Error> {
    let aws = load_aws(args.region.as_deref(), targets, None).await?;
    aws.identity().await?;
    let plan = targets::plan(targets, Some(&aws.region()), args.all_host_forms)?;
    let tokens = fetch(&aws, &plan, args.all_host_forms).await?;
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
    Ok(resolved)
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

/// docker finds the helper only on `PATH`: say so when the link is elsewhere.
fn warn_unless_on_path(ctx: &Context, link: &Path) {
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
}
