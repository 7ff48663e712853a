//! `ecr-login status`: the ECR registries in docker's config, where each credential is, and when each
//! token stored in `auths` expires (read from the password itself; no AWS call).

use super::args::StatusArgs;
use super::report::{Action, LoginReport, RegistryLogin, StoredIn};
use super::{HELPER_NAME, config_dir, token};
use crate::cli::Context;
use crate::docker_config::{self, Document, Store};
use crate::ecr_host::EcrRegistry;
use crate::error::Error;
use crate::exit::Code;

pub(crate) fn status(args: &StatusArgs, ctx: &Context) -> Result<Code, Error> {
    let dir = config_dir(&args.config, ctx)?;
    let path = dir.join(docker_config::FILE_NAME);
    let doc = Document::read(&path)?;
    let mut registries: Vec<RegistryLogin> = doc
        .auth_keys()
        .iter()
        .filter(|key| EcrRegistry::parse(docker_config::bare(key)).is_ok())
        .map(|key| stored(&doc, key))
        .collect();
    for host in doc.hosts_with_helper(HELPER_NAME) {
        if !registries.iter().any(|r| r.host == host) {
            let helper = StoredIn::CredHelper(HELPER_NAME.to_string());
            registries.push(RegistryLogin::new(&host, helper, None));
        }
    }
    ctx.out
        .emit(&LoginReport::new(Action::Status, registries, &path, false))?;
    Ok(Code::Ok)
}

/// The `auths` entry `key` as a registry: where docker reads it from, and when a token stored in
/// the file expires.
fn stored(doc: &Document, key: &str) -> RegistryLogin {
    let host = docker_config::bare(key);
    match doc.store_for(host) {
        Store::File => {
            let expiry = doc
                .auth(key)
                .and_then(|e| token::password_expiry(e.password.expose()));
            RegistryLogin::new(host, StoredIn::Auths, expiry)
        }
        Store::Helper(n) => RegistryLogin::new(host, StoredIn::CredHelper(n), None),
        Store::CredsStore(n) => RegistryLogin::new(host, StoredIn::CredsStore(n), None),
    }
}
