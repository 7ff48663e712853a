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
}

impl Diagnostic for OidcError {
    fn exit_code(&self) -> Code {
        Code::Auth
    }

    fn help(&self) -> Option<String> {
        Some("give the job `permissions: id-token: write`".into())
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
    let err = |reason: String| OidcError {
        url: shown.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let response = client
        .get(&url)
        .header(
            "Authorization",
            format!("bearer {}", request_token.expose()),
        )
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| err(e.without_url().to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| err(e.without_url().to_string()))?;
    if !status.is_success() {
        return Err(err(format!("HTTP {status}")));
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| err(format!("the answer is not JSON: {e}")))?;
    doc.get("value")
        .and_then(serde_json::Value::as_str)
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| err("the answer has no `value`".into()))
}
