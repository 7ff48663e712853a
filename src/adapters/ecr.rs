//! The ECR API (aws-sdk-ecr). Credentials, region and endpoint come from the SDK's standard chain:
//! environment, profile (incl. SSO and `credential_process`), web identity, container credentials
//! (CodeBuild), instance metadata; `AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL` override the endpoint,
//! which is how the local rig points us at moto — the same mechanism, no extra code path.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::secret::Secret;
use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata};
use base64::Engine as _;
use std::time::SystemTime;

/// A client bound to one region.
#[derive(Debug, Clone)]
pub struct Ecr {
    client: aws_sdk_ecr::Client,
    region: String,
    endpoint: String,
}

/// A registry login from `GetAuthorizationToken`.
#[derive(Debug, Clone)]
pub struct AuthToken {
    /// Always `AWS` for ECR.
    pub username: String,
    /// The registry password (itself a base64 JSON document carrying its expiry).
    pub password: Secret,
    /// `https://ACCOUNT.dkr.ecr.REGION.amazonaws.com`.
    pub proxy_endpoint: String,
    /// When the token expires, as ECR says.
    pub expires_at: Option<SystemTime>,
}

/// An ECR API call failed.
#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    /// The service (or the SDK on its behalf) refused or failed the call.
    #[error("call ECR {operation} in {region} at {endpoint}: {message}")]
    Call {
        /// The API operation.
        operation: &'static str,
        /// The region.
        region: String,
        /// The endpoint called.
        endpoint: String,
        /// The service's error code, if any (`AccessDeniedException`…).
        code: Option<String>,
        /// The full message, with the SDK's context.
        message: String,
    },
    /// The answer was not what the API documents.
    #[error("read the ECR {operation} answer from {endpoint}: {reason}")]
    Answer {
        /// The API operation.
        operation: &'static str,
        /// The endpoint called.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
}

const AUTH_CODES: [&str; 6] = [
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
];

impl Diagnostic for EcrError {
    fn exit_code(&self) -> Code {
        match self {
            EcrError::Call { code: Some(c), .. } if AUTH_CODES.contains(&c.as_str()) => Code::Auth,
            EcrError::Call { message, .. } if message.contains("credentials") => Code::Auth,
            _ => Code::Remote,
        }
    }

    fn help(&self) -> Option<String> {
        match self.exit_code() {
            Code::Auth => Some(
                "check the AWS credentials in use (aws sts get-caller-identity) and that they allow \
                 the ECR action; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl Ecr {
    /// Loads the SDK configuration (standard chain) for `region`, or the chain's region when `None`.
    pub async fn connect(region: Option<&str>) -> Ecr {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map_or_else(|| "(no region)".to_string(), ToString::to_string);
        // The same precedence the SDK applies: AWS_ENDPOINT_URL_ECR (or the profile's ecr
        // endpoint_url), then AWS_ENDPOINT_URL; otherwise the regional default.
        let key = aws_types::service_config::ServiceConfigKey::builder()
            .service_id("ECR")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build();
        let endpoint = key
            .ok()
            .and_then(|key| config.service_config().and_then(|c| c.load_config(key)))
            .or_else(|| config.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| format!("the ECR API endpoint for {region}"));
        Ecr {
            client: aws_sdk_ecr::Client::new(&config),
            region,
            endpoint,
        }
    }

    /// The region this client calls.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint this client calls (the override, or a description of the default).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `GetAuthorizationToken`: one token for every registry the caller can reach in this region.
    pub async fn authorization_tokens(&self) -> Result<Vec<AuthToken>, EcrError> {
        const OP: &str = "GetAuthorizationToken";
        let out = self
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| EcrError::Call {
                operation: OP,
                region: self.region.clone(),
                endpoint: self.endpoint.clone(),
                code: e.code().map(str::to_string),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        let answer = |reason: &str| EcrError::Answer {
            operation: OP,
            endpoint: self.endpoint.clone(),
            reason: reason.to_string(),
        };
        out.authorization_data()
            .iter()
            .map(|data| {
                let token = data
                    .authorization_token()
                    .ok_or_else(|| answer("authorizationToken is missing"))?;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .map_err(|_| answer("authorizationToken is not base64"))?;
                let decoded = String::from_utf8(decoded)
                    .map_err(|_| answer("authorizationToken is not text"))?;
                let (user, password) = decoded
                    .split_once(':')
                    .ok_or_else(|| answer("authorizationToken is not USER:PASSWORD"))?;
                Ok(AuthToken {
                    username: user.to_string(),
                    password: Secret::new(password),
                    proxy_endpoint: data
                        .proxy_endpoint()
                        .ok_or_else(|| answer("proxyEndpoint is missing"))?
                        .to_string(),
                    expires_at: data
                        .expires_at()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                })
            })
            .collect()
    }
}
