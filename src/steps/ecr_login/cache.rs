//! The credential helper's token cache: one file (mode 0600, in a 0700 directory), keyed by a
//! fingerprint of the credentials (never the raw access-key ID) and the region. A token is reused until
//! half its lifetime has passed; expired entries are pruned on every write.

use super::token;
use crate::adapters::aws::AuthToken;
use crate::atomic;
use crate::environment::Environment;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where the cache lives: `$AWS_ECR_CACHE_DIR`, else `$XDG_CACHE_HOME/buildsteps/ecr-login`, else
/// `$HOME/.cache/buildsteps/ecr-login`. `None` when `AWS_ECR_DISABLE_CACHE` is set (or no home).
pub fn location(env: &Environment) -> Option<PathBuf> {
    if env.var("AWS_ECR_DISABLE_CACHE").is_some() {
        return None;
    }
    if let Some(dir) = env.var("AWS_ECR_CACHE_DIR") {
        return Some(env.resolve(Path::new(dir)));
    }
    let base = env
        .var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(h).join(".cache")))?;
    Some(base.join("buildsteps").join("ecr-login"))
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    username: String,
    password: String,
    proxy_endpoint: String,
    fetched_at: u64,
    expires_at: u64,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Entry {
    fn fresh(&self, now: u64) -> bool {
        now < self
            .fetched_at
            .saturating_add(self.expires_at.saturating_sub(self.fetched_at) / 2)
    }

    fn token(&self) -> AuthToken {
        AuthToken {
            username: self.username.clone(),
            password: Secret::new(self.password.clone()),
            proxy_endpoint: self.proxy_endpoint.clone(),
            expires_at: SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(self.expires_at)),
        }
    }
}

/// The cache in one directory.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> TokenCache {
        TokenCache { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("cache.json")
    }

    fn load(&self) -> File {
        // An unreadable or corrupt cache is only a cache: start again.
        fs::read(self.path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// A token for `key` that is still within its first half-life.
    pub fn get(&self, key: &str, now: SystemTime) -> Option<AuthToken> {
        self.load()
            .entries
            .get(key)
            .filter(|e| e.fresh(secs(now)))
            .map(Entry::token)
    }

    /// The unexpired entries' proxy endpoints.
    pub fn endpoints(&self, now: SystemTime) -> Vec<String> {
        let now = secs(now);
        self.load()
            .entries
            .values()
            .filter(|e| e.expires_at > now)
            .map(|e| e.proxy_endpoint.clone())
            .collect()
    }

    /// Stores a token fetched at `now` and prunes expired entries, under a lock.
    pub fn put(&self, key: &str, token: &AuthToken, now: SystemTime) -> std::io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join("cache.json.lock"))?;
        lock.lock()?;
        let mut file = self.load();
        file.version = 1;
        let fetched_at = secs(now);
        file.entries.retain(|_, e| e.expires_at > fetched_at);
        let lifetime = token::lifetime(now, token.expires_at);
        file.entries.insert(
            key.to_string(),
            Entry {
                username: token.username.clone(),
                password: token.password.expose().to_string(),
                proxy_endpoint: token.proxy_endpoint.clone(),
                fetched_at,
                expires_at: fetched_at + lifetime.as_secs(),
            },
        );
        let text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        atomic::write(&self.path(), &text, 0o600).map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn token(expires: Option<SystemTime>) -> AuthToken {
        AuthToken {
            username: "AWS".into(),
            password: Secret::new("pw"),
            proxy_endpoint: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
            expires_at: expires,
        }
    }

    #[test]
    fn reused_until_half_life_then_refetched_and_pruned_when_expired() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("c"));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let hour = Duration::from_secs(3600);
        cache
            .put("fp:us-east-1", &token(Some(t0 + 12 * hour)), t0)
            .unwrap();
        assert!(cache.get("fp:us-east-1", t0 + 5 * hour).is_some());
        assert!(
            cache.get("fp:us-east-1", t0 + 6 * hour).is_none(),
            "past half-life"
        );
        assert!(cache.get("other:us-east-1", t0).is_none());
        assert_eq!(cache.endpoints(t0 + 11 * hour).len(), 1);
        // A later write prunes the expired entry.
        cache
            .put("fp:eu-west-1", &token(Some(t0 + 25 * hour)), t0 + 13 * hour)
            .unwrap();
        let text = fs::read_to_string(dir.path().join("c/cache.json")).unwrap();
        assert!(!text.contains("fp:us-east-1"), "{text}");
        assert!(text.contains("fp:eu-west-1"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("c/cache.json")), 0o600);
        assert_eq!(mode(&dir.path().join("c")), 0o700);
    }

    #[test]
    fn a_token_expiring_before_it_arrived_gets_the_documented_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().to_path_buf());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        cache
            .put(
                "k",
                &token(Some(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(1_420_070_400),
                )),
                now,
            )
            .unwrap();
        assert!(
            cache
                .get("k", now + Duration::from_secs(5 * 3600))
                .is_some()
        );
    }

    #[test]
    fn location_follows_the_helper_conventions() {
        let env = Environment::new([("HOME", "/h"), ("AWS_ECR_CACHE_DIR", "/c")], "/");
        assert_eq!(location(&env).unwrap(), Path::new("/c"));
        let env = Environment::new([("HOME", "/h")], "/");
        assert_eq!(
            location(&env).unwrap(),
            Path::new("/h/.cache/buildsteps/ecr-login")
        );
        let env = Environment::new([("HOME", "/h"), ("AWS_ECR_DISABLE_CACHE", "1")], "/");
        assert_eq!(location(&env), None);
    }
}
