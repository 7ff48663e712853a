//! What an ECR registry password says about itself, and how long a token is worth reusing.
//!
//! A private ECR password is base64 of a JSON document with an `expiration` field (Unix seconds), so the
//! expiry of a stored login can be read without calling AWS.

use base64::Engine as _;
use std::time::{Duration, SystemTime};

/// ECR's documented token lifetime, used when the answer's own expiry is unusable (already past when
/// it arrived — a clock problem on one side).
pub const DOCUMENTED_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The expiry encoded in an ECR registry password, if it is one.
pub fn password_expiry(password: &str) -> Option<SystemTime> {
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine
        .decode(password)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(password))
        .ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let secs = doc.get("expiration")?.as_u64()?;
    // A hostile or corrupt password could claim any number: one past what a time holds is no expiry.
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// The lifetime to assume for a token fetched at `fetched` that the service says expires at
/// `expires`: the stated one, or [`DOCUMENTED_LIFETIME`] when the statement is missing or already past.
pub fn lifetime(fetched: SystemTime, expires: Option<SystemTime>) -> Duration {
    expires
        .and_then(|e| e.duration_since(fetched).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DOCUMENTED_LIFETIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ecr_like_password(expiration: u64) -> String {
        let doc = format!(
            r#"{{"payload":"cGF5bG9hZA==","datakey":"ZGF0YWtleQ==","version":"2","type":"DATA_KEY","expiration":{expiration}}}"#
        );
        base64::engine::general_purpose::STANDARD.encode(doc)
    }

    #[test]
    fn reads_the_expiration_of_an_ecr_password() {
        let p = ecr_like_password(1_800_000_000);
        assert_eq!(
            password_expiry(&p),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        );
        assert_eq!(password_expiry("123456789012-auth-token"), None);
        assert_eq!(password_expiry(""), None);
        // A claim past what a time can hold is no expiry, not a panic.
        assert_eq!(password_expiry(&ecr_like_password(u64::MAX)), None);
    }

    #[test]
    fn lifetime_falls_back_to_the_documented_twelve_hours() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        assert_eq!(
            lifetime(now, Some(now + Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
        assert_eq!(
            lifetime(now, Some(now - Duration::from_secs(10))),
            DOCUMENTED_LIFETIME
        );
        assert_eq!(lifetime(now, None), DOCUMENTED_LIFETIME);
    }
}
