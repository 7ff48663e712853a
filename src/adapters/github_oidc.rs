//! GitHub Actions OIDC: the runner hands a job a URL and a bearer token from which it can request a
//! signed JWT for an audience (`sts.amazonaws.com` for AWS), to exchange for role credentials.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::secret::Secret;
use std::time::Duration;

/// Fetching the token failed.
#[derive(Debug, thiserror::Error)]
#[error("fetch the GitHub Actions OIDC token from {url}: {reason}")]
pub struct OidcError {
    url: String,
    reason: String,
    failure: Failure,
}

/// Which side failed, for the exit code and the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The runner refused the request token (401, 403): the job may not ask for one.
    Refused,
    /// No answer, or an error status other than a refusal, or an answer without a token.
    Service,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` is not a URL the client can call.
    Url,
}

impl Diagnostic for OidcError {
    fn exit_code(&self) -> Code {
        match self.failure {
            Failure::Refused => Code::Auth,
            Failure::Service => Code::Remote,
            Failure::Url => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        Some(
            match self.failure {
                Failure::Refused => "give the job `permissions: id-token: write`",
                Failure::Service => {
                    "the runner's token service failed; re-run the job (with `permissions: \
                     id-token: write`)"
                }
                Failure::Url => {
                    "ACTIONS_ID_TOKEN_REQUEST_URL is the runner's; leave it as the runner sets it"
                }
            }
            .into(),
        )
    }
}

/// Requests a JWT for `audience` from the runner (`ACTIONS_ID_TOKEN_REQUEST_URL` with the bearer
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
pub async fn id_token(
    request_url: &str,
    request_token: &Secret,
    audience: &str,
) -> Result<Secret, OidcError> {
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{sep}audience={audience}");
    // The URL carries no secret (the bearer token goes in a header), so it may appear in errors.
    let shown = request_url
        .split('?')
        .next()
        .unwrap_or(request_url)
        .to_string();
    let err = |failure: Failure, reason: String| OidcError {
        url: shown.clone(),
        reason,
        failure,
    };
    let parsed = reqwest::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    let Some(parsed) = parsed else {
        return Err(err(
            Failure::Url,
            "ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL".into(),
        ));
    };
    let transport = |e: reqwest::Error| {
        let e = e.without_url();
        let failure = if e.is_builder() {
            Failure::Url
        } else {
            Failure::Service
        };
        err(failure, crate::error::chain_text(&e))
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(transport)?;
    let response = client
        .get(parsed)
        .header(
            "Authorization",
            format!("bearer {}", request_token.expose()),
        )
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if matches!(status.as_u16(), 401 | 403) {
        return Err(err(Failure::Refused, format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(err(Failure::Service, format!("HTTP {status}")));
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| err(Failure::Service, format!("the answer is not JSON: {e}")))?;
    doc.get("value")
        .and_then(serde_json::Value::as_str)
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| err(Failure::Service, "the answer has no `value`".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_failure_has_its_own_code() {
        let token = Secret::new("t");
        let err = id_token("junk", &token, "sts.amazonaws.com")
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), Code::Usage, "{err}");
        // Nothing listens on port 9: the service failed, not the job's permissions.
        let err = id_token("http://127.0.0.1:9/token", &token, "sts.amazonaws.com")
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), Code::Remote, "{err}");
        assert!(!err.help().unwrap().starts_with("give the job"), "{err}");
        assert!(
            !err.to_string().ends_with("error sending request"),
            "the cause is named: {err}"
        );
        let refused = OidcError {
            url: "u".into(),
            reason: "HTTP 403 Forbidden".into(),
            failure: Failure::Refused,
        };
        assert_eq!(refused.exit_code(), Code::Auth);
    }
}
