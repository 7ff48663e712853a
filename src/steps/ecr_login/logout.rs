//! `ecr-login logout`: removes ECR entries from docker's config (`auths`, and this binary's
//! `credHelpers` entries) and erases them from the credential store that holds them — the store
//! first, so a store that fails leaves `config.json` as it was.

use super::args::LogoutArgs;
use super::report::{Action, LoginReport, RegistryLogin, StoredIn};
use super::targets;
use super::{HELPER_NAME, config_dir, parse_targets};
use crate::adapters::credstore::{Helper, HelperError};
use crate::cli::Context;
use crate::docker_config::{self, Document, Store};
use crate::ecr_host::EcrRegistry;
use crate::error::Error;
use crate::exit::Code;

pub(crate) fn logout(args: &LogoutArgs, ctx: &Context) -> Result<Code, Error> {
    let targets = parse_targets(&args.registries)?;
    let wanted = if targets.is_empty() {
        None
    } else {
        Some(targets::plan(&targets, None, false)?.hosts())
    };
    let dir = config_dir(&args.config, ctx)?;
    let path = dir.join(docker_config::FILE_NAME);
    let registries = docker_config::try_update(&dir, |doc| {
        remove(doc, wanted.as_deref(), &|store, host| {
            Helper::new(store, args.helper_timeout).erase(host)
        })
    })?;
    ctx.out
        .emit(&LoginReport::new(Action::Logout, registries, &path, false))?;
    Ok(Code::Ok)
}

/// Removes the ECR entries (only `wanted`'s, when given) under the config lock, erasing each from
/// the credential store that holds it first (`erase(store, host)`). Returns whether the config
/// changed and the registries removed; an erase that fails stops it with nothing written.
fn remove(
    doc: &mut Document,
    wanted: Option<&[String]>,
    erase: &dyn Fn(&str, &str) -> Result<(), HelperError>,
) -> Result<(bool, Vec<RegistryLogin>), Error> {
    let mut registries = Vec::new();
    let mut changed = false;
    for host in ecr_hosts(doc, wanted) {
        let stored_in = match doc.store_for(&host) {
            Store::CredsStore(n) => {
                erase(&n, &host)?;
                StoredIn::CredsStore(n)
            }
            Store::Helper(n) => StoredIn::CredHelper(n),
            Store::File => StoredIn::Auths,
        };
        changed |= doc.remove_auth(&host);
        changed |= doc.remove_cred_helper(&host, HELPER_NAME);
        registries.push(RegistryLogin::new(&host, stored_in, None));
    }
    Ok((changed, registries))
}

/// The ECR hosts the config has an entry for (only `wanted`, when given), sorted.
fn ecr_hosts(doc: &Document, wanted: Option<&[String]>) -> Vec<String> {
    let mut hosts: Vec<String> = doc
        .auth_keys()
        .iter()
        .map(|k| docker_config::bare(k).to_string())
        .collect();
    hosts.extend(doc.hosts_with_helper(HELPER_NAME));
    hosts.retain(|h| EcrRegistry::parse(h).is_ok() && wanted.is_none_or(|w| w.contains(h)));
    hosts.sort();
    hosts.dedup();
    hosts
}
