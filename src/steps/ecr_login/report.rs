//! The result of `ecr-login` and its subcommands: [`LoginReport`], the [`RegistryLogin`] entries it lists,
//! and its [`Report`] impl (the `--json` object, the human summary, `--format env` variables, the
//! GitHub outputs the AWS action writes, the Markdown summary). Every field is listed in
//! `docs/json.md`, ecr-login.

use crate::ecr_host::EcrRegistry;
use crate::output::Report;
use crate::secret::Secret;
use crate::time;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;
use std::time::SystemTime;

/// What the run did: the subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `ecr-login`: tokens fetched and stored (or found fresh with `--min-validity`).
    Login,
    /// `ecr-login status`: the config read, nothing changed.
    Status,
    /// `ecr-login logout`: ECR entries removed.
    Logout,
    /// `ecr-login install-helper`: `credHelpers` entries written.
    InstallHelper,
}

impl Action {
    /// The name, as `--json` emits it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Status => "status",
            Action::Logout => "logout",
            Action::InstallHelper => "install-helper",
        }
    }
}

/// Where docker finds a registry's credential. Emitted as `auths`, `credsStore:NAME` or
/// `credHelper:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredIn {
    /// `auths` in `config.json`.
    Auths,
    /// The credential store `docker-credential-NAME` (`credsStore`); `auths` holds an empty marker.
    CredsStore(String),
    /// The credential helper `docker-credential-NAME` (`credHelpers`); `ecr-login` is this binary,
    /// which fetches tokens on demand.
    CredHelper(String),
}

impl fmt::Display for StoredIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredIn::Auths => f.write_str("auths"),
            StoredIn::CredsStore(name) => write!(f, "credsStore:{name}"),
            StoredIn::CredHelper(name) => write!(f, "credHelper:{name}"),
        }
    }
}

impl Serialize for StoredIn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One registry in a result.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryLogin {
    /// The host docker keys credentials by.
    pub host: String,
    /// The account (private registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region (private registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the credential is.
    pub stored_in: StoredIn,
    /// When the token expires (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl RegistryLogin {
    /// The entry for `host`; account and region are read from it.
    pub(crate) fn new(
        host: &str,
        stored_in: StoredIn,
        expires_at: Option<SystemTime>,
    ) -> RegistryLogin {
        let (account, region) = match EcrRegistry::parse(host) {
            Ok(EcrRegistry::Private(h)) => {
                (Some(h.account().to_string()), Some(h.region().to_string()))
            }
            _ => (None, None),
        };
        RegistryLogin {
            host: host.to_string(),
            account,
            region,
            stored_in,
            expires_at: expires_at.map(time::rfc3339),
        }
    }
}

/// The result of `ecr-login` (schema version 1), one shape for every subcommand.
///
/// `{"schema_version":1,"step":"ecr-login","action":"login","registries":[{"host":…,"account":…,
/// "region":…,"stored_in":"auths","expires_at":"…"}],"docker_config":"…/config.json","api_called":true}`
#[derive(Debug, Serialize)]
pub struct LoginReport {
    /// What the run did.
    pub action: Action,
    /// The registries handled.
    pub registries: Vec<RegistryLogin>,
    /// The config file read or written.
    pub docker_config: String,
    /// Whether AWS was called (false when `--min-validity` found the stored tokens fresh, and for
    /// every subcommand).
    pub api_called: bool,
    /// Host → password, for the GitHub outputs only.
    #[serde(skip)]
    pub(crate) passwords: BTreeMap<String, Secret>,
}

impl LoginReport {
    /// A result without passwords.
    pub(crate) fn new(
        action: Action,
        registries: Vec<RegistryLogin>,
        docker_config: &Path,
        api_called: bool,
    ) -> LoginReport {
        LoginReport {
            action,
            registries,
            docker_config: docker_config.display().to_string(),
            api_called,
            passwords: BTreeMap::new(),
        }
    }
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
            Action::Login if self.api_called => format!("logged in to {count} ({path})\n"),
            Action::Login => format!("still logged in to {count}, no AWS call needed ({path})\n"),
            Action::Status => format!("{count} in {path}\n"),
            Action::Logout => format!("logged out of {count} ({path})\n"),
            Action::InstallHelper => {
                format!("docker now fetches tokens on demand for {count} ({path})\n")
            }
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
            self.action.name()
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
    fn enumerated_fields_emit_the_documented_strings() {
        for action in [
            Action::Login,
            Action::Status,
            Action::Logout,
            Action::InstallHelper,
        ] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.name());
        }
        let stored = [
            (StoredIn::Auths, "auths"),
            (
                StoredIn::CredsStore("osxkeychain".into()),
                "credsStore:osxkeychain",
            ),
            (
                StoredIn::CredHelper("ecr-login".into()),
                "credHelper:ecr-login",
            ),
        ];
        for (s, text) in stored {
            assert_eq!(serde_json::to_value(&s).unwrap(), text);
        }
    }
}
