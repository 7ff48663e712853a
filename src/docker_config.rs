//! docker's `config.json`: where it is, which store serves a host, and locked, atomic updates that keep
//! every key we do not understand.
//!
//! docker picks a host's credentials from `credHelpers[host]`, else `credsStore`, else `auths[host]`.
//! Anything written to `auths` is ignored while a store is configured, so [`Document::store_for`] tells
//! the caller where a credential must go.
//!
//! Updates take an exclusive lock on `config.json.lock` beside the file, read, change, and write
//! atomically with mode 0600, so concurrent runs never lose or tear entries.

use crate::atomic;
use crate::environment::Environment;
use crate::error::Diagnostic;
use crate::exit::Code;
use crate::secret::Secret;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The config file's name inside the config directory.
pub(crate) const FILE_NAME: &str = "config.json";

/// Where a host's credentials are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Store {
    /// `credHelpers[host]`: `docker-credential-NAME` serves this host.
    Helper(String),
    /// `credsStore`: `docker-credential-NAME` keeps every host's credentials.
    #[expect(
        clippy::enum_variant_names,
        reason = "named as docker's config.json key, `credsStore`"
    )]
    CredsStore(String),
    /// `auths[host].auth` in the file itself.
    File,
}

/// The config file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// Neither `DOCKER_CONFIG` nor `HOME` is set.
    #[error("locate docker's config.json: neither DOCKER_CONFIG nor HOME is set")]
    NoLocation,
    /// Reading or locking failed.
    #[error("read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a JSON object.
    #[error("parse `{}`: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        reason: String,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] atomic::WriteError),
}

impl Diagnostic for ConfigError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        match self {
            ConfigError::NoLocation => {
                Some("set DOCKER_CONFIG to the directory that holds config.json".into())
            }
            ConfigError::Malformed { path, .. } => Some(format!(
                "fix or remove `{}`; it was left as it is",
                path.display()
            )),
            ConfigError::Read { .. } => Some("check the file's permissions".into()),
            ConfigError::Write(e) => e.help(),
        }
    }
}

/// The directory docker reads: `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub(crate) fn config_dir(env: &Environment) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = env.var("DOCKER_CONFIG") {
        return Ok(env.resolve(Path::new(dir)));
    }
    env.var("HOME")
        .map(|home| Path::new(home).join(".docker"))
        .ok_or(ConfigError::NoLocation)
}

/// A parsed `config.json`, keys in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Document {
    root: Map<String, Value>,
}

/// One `auths` entry that holds a username and password.
#[derive(Debug, Clone)]
pub(crate) struct AuthEntry {
    /// The username.
    pub(crate) username: String,
    /// The password.
    pub(crate) password: Secret,
}

impl Document {
    /// Parses the text of a config file.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Document, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Document::default());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(root)) => Ok(Document { root }),
            Ok(_) => Err(ConfigError::Malformed {
                path: path.to_path_buf(),
                reason: "the top level is not a JSON object".into(),
            }),
            Err(e) => Err(ConfigError::Malformed {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        }
    }

    /// Reads `path` (a missing file is an empty document).
    pub(crate) fn read(path: &Path) -> Result<Document, ConfigError> {
        match crate::input::read_to_string(path, crate::input::DOCUMENT_LIMIT) {
            Ok(text) => Document::parse(path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Document::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The text docker itself would write: tab-indented JSON and a final newline.
    pub(crate) fn to_text(&self) -> String {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(&self.root, &mut ser).expect("a JSON map serialises");
        let mut text = String::from_utf8(buf).expect("serde_json writes UTF-8");
        text.push('\n');
        text
    }

    /// Where docker looks for `host`'s credentials.
    pub(crate) fn store_for(&self, host: &str) -> Store {
        let helper = self
            .root
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|h| h.get(host))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        if let Some(h) = helper {
            return Store::Helper(h.to_string());
        }
        match self.root.get("credsStore").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Store::CredsStore(s.to_string()),
            _ => Store::File,
        }
    }

    fn object_mut(&mut self, key: &str) -> &mut Map<String, Value> {
        let slot = self
            .root
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        slot.as_object_mut().expect("just made an object")
    }

    /// Writes `auths[host] = {"auth": base64(user:password)}`, replacing scheme-prefixed keys for the
    /// same host so no stale copy shadows it.
    pub(crate) fn set_auth(&mut self, host: &str, username: &str, password: &Secret) {
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{username}:{}", password.expose()));
        let auths = self.object_mut("auths");
        for scheme in ["https://", "http://"] {
            auths.shift_remove(&format!("{scheme}{host}"));
        }
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(auth));
        auths.insert(host.to_string(), Value::Object(entry));
    }

    /// Records `host` in `auths` with no secret (what `docker login` does when a store keeps it).
    pub(crate) fn mark_host(&mut self, host: &str) {
        let auths = self.object_mut("auths");
        for scheme in ["https://", "http://"] {
            auths.shift_remove(&format!("{scheme}{host}"));
        }
        auths.insert(host.to_string(), Value::Object(Map::new()));
    }

    /// Removes `host` (in any scheme form) from `auths`; says whether anything was removed.
    pub(crate) fn remove_auth(&mut self, host: &str) -> bool {
        let Some(auths) = self.root.get_mut("auths").and_then(Value::as_object_mut) else {
            return false;
        };
        let before = auths.len();
        auths.retain(|k, _| bare(k) != host);
        auths.len() != before
    }

    /// Sets `credHelpers[host] = helper`.
    pub(crate) fn set_cred_helper(&mut self, host: &str, helper: &str) {
        self.object_mut("credHelpers")
            .insert(host.to_string(), Value::String(helper.to_string()));
    }

    /// Removes `credHelpers[host]` if it names `helper`; says whether it did.
    pub(crate) fn remove_cred_helper(&mut self, host: &str, helper: &str) -> bool {
        let Some(helpers) = self
            .root
            .get_mut("credHelpers")
            .and_then(Value::as_object_mut)
        else {
            return false;
        };
        if helpers.get(host).and_then(Value::as_str) == Some(helper) {
            helpers.shift_remove(host);
            return true;
        }
        false
    }

    /// The hosts `credHelpers` maps to `helper`.
    pub(crate) fn hosts_with_helper(&self, helper: &str) -> Vec<String> {
        self.root
            .get("credHelpers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter(|(_, v)| v.as_str() == Some(helper))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every key in `auths` (as written).
    pub(crate) fn auth_keys(&self) -> Vec<String> {
        self.root
            .get("auths")
            .and_then(Value::as_object)
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The username and password stored for `key` in `auths`, if the entry has a decodable `auth`.
    pub(crate) fn auth(&self, key: &str) -> Option<AuthEntry> {
        let auth = self.root.get("auths")?.get(key)?.get("auth")?.as_str()?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some(AuthEntry {
            username: username.to_string(),
            password: Secret::new(password),
        })
    }
}

impl Document {
    /// The username and password docker would use for `host`: from its credential helper, its
    /// credentials store, or `auths` (also under `https://host`).
    pub(crate) fn credentials_for(
        &self,
        host: &str,
    ) -> Result<Option<(String, Secret)>, crate::adapters::credstore::HelperError> {
        match self.store_for(host) {
            Store::Helper(name) | Store::CredsStore(name) => {
                crate::adapters::credstore::get(&name, host)
            }
            Store::File => Ok(self
                .auth_keys()
                .into_iter()
                .find(|k| bare(k) == host)
                .and_then(|k| self.auth(&k))
                .map(|e| (e.username, e.password))),
        }
    }
}

/// A host key without scheme or trailing path: `https://h/v1/` → `h`.
pub(crate) fn bare(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// Reads, changes and writes the config file under an exclusive lock. `change` returns whether it
/// changed anything; the file is written only then. The directory is created (0700) if missing.
pub(crate) fn update<T>(
    dir: &Path,
    change: impl FnOnce(&mut Document) -> (bool, T),
) -> Result<T, ConfigError> {
    try_update(dir, |doc| Ok::<_, ConfigError>(change(doc)))
}

/// [`update`] for a change that can fail: when `change` returns an error (a credential store that
/// refused the secret, say), nothing is written and the file stays exactly as it was. The lock is
/// held while `change` runs.
pub(crate) fn try_update<T, E: From<ConfigError>>(
    dir: &Path,
    change: impl FnOnce(&mut Document) -> Result<(bool, T), E>,
) -> Result<T, E> {
    let path = dir.join(FILE_NAME);
    let read_err = |source| ConfigError::Read {
        path: path.clone(),
        source,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(read_err)?;
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(format!("{FILE_NAME}.lock")))
        .map_err(read_err)?;
    lock.lock().map_err(read_err)?;
    let mut doc = Document::read(&path)?;
    let (changed, value) = change(&mut doc)?;
    if changed {
        atomic::write(&path, doc.to_text().as_bytes(), 0o600).map_err(ConfigError::from)?;
    }
    // Dropping the file releases the lock.
    drop(lock);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn locates_the_config_like_docker() {
        let env = Environment::new([("HOME", "/home/ci"), ("DOCKER_CONFIG", "cfg")], "/build");
        assert_eq!(config_dir(&env).unwrap(), Path::new("/build/cfg"));
        let env = Environment::new([("HOME", "/home/ci")], "/build");
        assert_eq!(config_dir(&env).unwrap(), Path::new("/home/ci/.docker"));
        let env = Environment::new(Vec::<(String, String)>::new(), "/");
        assert!(matches!(config_dir(&env), Err(ConfigError::NoLocation)));
        // Empty counts as unset, as for docker (not the working directory).
        let env = Environment::new([("HOME", "/home/ci"), ("DOCKER_CONFIG", "")], "/build");
        assert_eq!(config_dir(&env).unwrap(), Path::new("/home/ci/.docker"));
        let env = Environment::new([("HOME", "")], "/build");
        assert!(matches!(config_dir(&env), Err(ConfigError::NoLocation)));
    }

    #[test]
    fn a_change_that_fails_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let before = "{\"auths\":{\"h\":{\"auth\":\"QVdTOm9sZA==\"}},\"credsStore\":\"x\"}";
        fs::write(&path, before).unwrap();
        let err = try_update(dir.path(), |doc| {
            doc.mark_host("h");
            Err::<(bool, ()), ConfigError>(ConfigError::NoLocation)
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::NoLocation));
        assert_eq!(fs::read_to_string(&path).unwrap(), before, "byte for byte");
        try_update(dir.path(), |doc| {
            doc.mark_host("h");
            Ok::<_, ConfigError>((true, ()))
        })
        .unwrap();
        assert_eq!(Document::read(&path).unwrap().auth_keys(), ["h"]);
        assert!(Document::read(&path).unwrap().auth("h").is_none());
    }

    #[test]
    fn store_precedence_is_cred_helper_then_creds_store_then_file() {
        let p = Path::new("config.json");
        let doc = Document::parse(
            p,
            r#"{"credsStore":"desktop","credHelpers":{"a.example":"ecr-login","b.example":""}}"#,
        )
        .unwrap();
        assert_eq!(
            doc.store_for("a.example"),
            Store::Helper("ecr-login".into())
        );
        assert_eq!(
            doc.store_for("b.example"),
            Store::CredsStore("desktop".into())
        );
        assert_eq!(Document::default().store_for("x"), Store::File);
        let doc = Document::parse(p, r#"{"credsStore":""}"#).unwrap();
        assert_eq!(doc.store_for("x"), Store::File);
    }

    #[test]
    fn set_auth_keeps_unknown_keys_and_order_and_replaces_scheme_forms() {
        let p = Path::new("config.json");
        let text = r#"{"proxies":{"default":{"httpProxy":"http://p:3128"}},"auths":{"https://h.example":{"auth":"b2xkOm9sZA=="},"other.example":{"auth":"eDp5","email":"a@b"}},"experimental":"enabled"}"#;
        let mut doc = Document::parse(p, text).unwrap();
        doc.set_auth("h.example", "AWS", &Secret::new("pw"));
        let out = doc.to_text();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["proxies"]["default"]["httpProxy"], "http://p:3128");
        assert_eq!(v["experimental"], "enabled");
        assert_eq!(v["auths"]["other.example"]["email"], "a@b");
        assert!(v["auths"].get("https://h.example").is_none());
        assert_eq!(v["auths"]["h.example"]["auth"], "QVdTOnB3");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["proxies", "auths", "experimental"]);
        assert!(
            out.starts_with("{\n\t\"proxies\""),
            "tab-indented like docker: {out}"
        );
        let e = doc.auth("h.example").unwrap();
        assert_eq!((e.username.as_str(), e.password.expose()), ("AWS", "pw"));
        assert_eq!(doc.auth_keys(), ["other.example", "h.example"]);
        assert!(doc.remove_auth("h.example"));
        assert!(!doc.remove_auth("h.example"));
    }

    #[test]
    fn malformed_files_are_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, "{\"auths\": {").unwrap();
        let err = update(dir.path(), |doc| {
            doc.set_auth("h", "AWS", &Secret::new("pw"));
            (true, ())
        })
        .unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert_eq!(err.exit_code(), Code::Usage);
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"auths\": {");
        fs::write(&path, "[]").unwrap();
        assert!(
            Document::read(&path)
                .unwrap_err()
                .to_string()
                .contains("not a JSON object")
        );
    }

    #[test]
    fn cred_helpers_are_set_listed_and_removed() {
        let mut doc = Document::default();
        doc.set_cred_helper("a", "ecr-login");
        doc.set_cred_helper("b", "other");
        assert_eq!(doc.hosts_with_helper("ecr-login"), ["a"]);
        assert!(!doc.remove_cred_helper("b", "ecr-login"));
        assert!(doc.remove_cred_helper("a", "ecr-login"));
        assert_eq!(doc.store_for("b"), Store::Helper("other".into()));
        doc.mark_host("c");
        assert_eq!(doc.auth_keys(), ["c"]);
        assert!(doc.auth("c").is_none());
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    update(&dir, |doc| {
                        doc.set_auth(
                            &format!("host{i}.example"),
                            "AWS",
                            &Secret::new(format!("pw{i}")),
                        );
                        (true, ())
                    })
                    .unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let doc = Document::read(&dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(doc.auth_keys().len(), 16);
        let mode = fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
