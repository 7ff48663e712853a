//! The AWS APIs the steps call: ECR and ECR Public (aws-sdk-ecr, aws-sdk-ecrpublic), STS, and for
//! run-buildspec's `parameter-store` / `secrets-manager` variables SSM and Secrets Manager.
//!
//! Credentials, region and endpoint come from the SDK's standard chain: environment, profile (incl. SSO
//! and `credential_process`), web identity, container credentials (CodeBuild, ECS), instance metadata.
//! `AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL` override the endpoint — how the local rig points us at
//! moto, through the SDK's own mechanism. `HTTPS_PROXY` / `NO_PROXY` are honoured by the SDK's client.
//!
//! Bounded everywhere: instance-metadata probes give up after one second, connections after three, and
//! each call is retried (standard mode: throttling and transient errors, jittered exponential backoff)
//! at most five times.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::Digest;
use crate::scan::reports::{EcrAttribute, EcrBasic, EcrEnhanced, EcrPackage, EcrPackageDetails};
use crate::secret::Secret;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_types::SdkConfig;
use base64::Engine as _;
use std::time::{Duration, SystemTime};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_ATTEMPTS: u32 = 5;
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(4);

/// The credential sources the SDK's default chain tries, in order (for error messages).
pub const CREDENTIAL_SOURCES: &str = "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), \
    shared config and credentials files (AWS_PROFILE, SSO, credential_process), \
    web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), \
    container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI, as in CodeBuild), \
    EC2 instance metadata";

/// A role to assume with an OpenID Connect token (GitHub Actions OIDC).
#[derive(Debug, Clone)]
pub struct WebIdentity {
    /// The role's ARN.
    pub role_arn: String,
    /// The JWT.
    pub token: Secret,
    /// The session name the role session gets.
    pub session_name: String,
}

/// A loaded AWS configuration: region and credentials resolved once, shared by every client.
#[derive(Debug, Clone)]
pub struct Aws {
    sdk: SdkConfig,
}

/// Who we are, as far as the caches need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// A fingerprint of the access key ID (never the ID itself).
    pub fingerprint: String,
}

/// An AWS call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsError {
    /// No credentials anywhere in the chain.
    #[error(
        "find AWS credentials for region {region}{}; tried {CREDENTIAL_SOURCES}",
        endpoint.as_ref().map(|e| format!(" (ECR endpoint {e})")).unwrap_or_default()
    )]
    NoCredentials {
        /// The region.
        region: String,
        /// The ECR endpoint that would have been called, when it is an override (the default one
        /// says nothing the region does not).
        endpoint: Option<String>,
        /// What the chain said.
        #[source]
        reason: Reason,
    },
    /// No region anywhere (an empty one counts as none).
    #[error(
        "determine the AWS region: none of --region, AWS_REGION, AWS_DEFAULT_REGION, the profile or instance metadata names one (an empty value names none)"
    )]
    NoRegion,
    /// A region that is not a region name (from the SDK's chain, or a registry host).
    #[error("use `{region}` as the AWS region: it is not a region name like us-east-1")]
    BadRegion {
        /// What was found.
        region: String,
    },
    /// An endpoint override that is not an http(s) URL: the SDK would fail (or panic, for an empty
    /// one) deep inside the call.
    #[error(
        "use `{url}` as the {service} endpoint (from {variable}, AWS_ENDPOINT_URL or the profile's endpoint_url): {reason}"
    )]
    BadEndpoint {
        /// `ECR`, `ECR Public`, `STS`, `SSM`, `Secrets Manager`.
        service: &'static str,
        /// The service's own variable, `AWS_ENDPOINT_URL_ECR`.
        variable: String,
        /// The value.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR` are set and name no certificate: the only trust store the
    /// SDK's HTTPS client would read is empty (and it panics on that).
    #[error("use the trust store {named}: {reason}")]
    NoTrustStore {
        /// `SSL_CERT_FILE=…, SSL_CERT_DIR=…`, as set.
        named: String,
        /// What was found there.
        reason: String,
    },
    /// The service (or the SDK on its behalf) refused or failed the call.
    #[error("call {service} {operation} in {region} at {endpoint}: {message}")]
    Call {
        /// `ECR`, `ECR Public` or `STS`.
        service: &'static str,
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
    #[error("read the {service} {operation} answer from {endpoint}: {reason}")]
    Answer {
        /// The service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// The endpoint called.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
}

/// A message from a library, kept as the `caused by` of our error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Reason(String);

const AUTH_CODES: [&str; 8] = [
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "InvalidIdentityToken",
];

impl Diagnostic for AwsError {
    fn exit_code(&self) -> Code {
        match self {
            AwsError::NoCredentials { .. } => Code::Auth,
            AwsError::NoRegion
            | AwsError::BadRegion { .. }
            | AwsError::BadEndpoint { .. }
            | AwsError::NoTrustStore { .. } => Code::Usage,
            AwsError::Call { code: Some(c), .. } if AUTH_CODES.contains(&c.as_str()) => Code::Auth,
            AwsError::Call { .. } | AwsError::Answer { .. } => Code::Remote,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            AwsError::NoCredentials { .. } => Some(
                "set AWS_PROFILE (after `aws sso login` if it is an SSO profile) or \
                 AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; in GitHub Actions pass --role-arn with \
                 `permissions: id-token: write`"
                    .into(),
            ),
            AwsError::NoRegion => Some("pass --region or set AWS_REGION".into()),
            AwsError::NoTrustStore { .. } => Some(
                "point SSL_CERT_FILE at a CA bundle (such as /etc/ssl/certs/ca-certificates.crt) or \
                 SSL_CERT_DIR at a directory of CA certificates, or unset both to use the system's"
                    .into(),
            ),
            AwsError::BadRegion { .. } => Some(
                "pass --region or set AWS_REGION to a region such as us-east-1 (an empty AWS_REGION \
                 counts as unset)"
                    .into(),
            ),
            AwsError::BadEndpoint { variable, .. } => Some(format!(
                "set {variable} to an http(s) URL (a local one such as http://127.0.0.1:5055), or \
                 unset it to call AWS's own endpoint"
            )),
            AwsError::Call { .. } if self.exit_code() == Code::Auth => Some(
                "check the credentials in use (aws sts get-caller-identity) and that their policy \
                 allows the action"
                    .into(),
            ),
            AwsError::Call { message, .. } if message.contains("dispatch failure") => Some(
                "check the network path to the endpoint (proxy: HTTPS_PROXY/NO_PROXY; endpoint \
                 override: AWS_ENDPOINT_URL_ECR)"
                    .into(),
            ),
            _ => None,
        }
    }
}

fn fast_imds() -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(1))
        .max_attempts(1)
        .build()
}

impl Aws {
    /// Resolves the region (`region`, else the SDK chain) and builds the credentials chain (or assumes
    /// `web_identity`'s role through STS).
    pub async fn load(
        region: Option<&str>,
        web_identity: Option<WebIdentity>,
    ) -> Result<Aws, AwsError> {
        check_trust_store(
            std::env::var("SSL_CERT_FILE").ok().as_deref(),
            std::env::var("SSL_CERT_DIR").ok().as_deref(),
        )?;
        let region = match region {
            Some(r) => aws_config::Region::new(r.to_string()),
            None => aws_config::meta::region::RegionProviderChain::first_try(
                aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
            )
            .or_else(aws_config::profile::region::ProfileFileRegionProvider::new())
            .or_else(
                aws_config::imds::region::ImdsRegionProvider::builder()
                    .imds_client(fast_imds())
                    .build(),
            )
            .region()
            .await
            .ok_or(AwsError::NoRegion)?,
        };
        check_region(region.as_ref())?;
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
            .region(region)
            .imds_client(fast_imds())
            .build()
            .await;
        let sdk = loader.credentials_provider(chain).load().await;
        let Some(identity) = web_identity else {
            return Ok(Aws { sdk });
        };
        let creds = Aws::assume_role(&sdk, &identity).await?;
        Ok(Aws {
            sdk: sdk
                .into_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(creds),
                )
                .build(),
        })
    }

    async fn assume_role(
        sdk: &SdkConfig,
        identity: &WebIdentity,
    ) -> Result<aws_credential_types::Credentials, AwsError> {
        const OP: &str = "AssumeRoleWithWebIdentity";
        check_endpoint(sdk, "STS", "STS")?;
        let endpoint = endpoint_of(sdk, "STS");
        let region = sdk.region().map_or_else(String::new, ToString::to_string);
        let sts = aws_sdk_sts::Client::new(sdk);
        let out = sts
            .assume_role_with_web_identity()
            .role_arn(&identity.role_arn)
            .role_session_name(&identity.session_name)
            .web_identity_token(identity.token.expose())
            .send()
            .await
            .map_err(|e| AwsError::Call {
                service: "STS",
                operation: OP,
                region: region.clone(),
                endpoint: endpoint.clone(),
                code: e.code().map(str::to_string),
                message: crate::error::chain_text(&e),
            })?;
        let c = out.credentials().ok_or_else(|| AwsError::Answer {
            service: "STS",
            operation: OP,
            endpoint: endpoint.clone(),
            reason: "no credentials in the answer".into(),
        })?;
        Ok(aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            SystemTime::try_from(*c.expiration()).ok(),
            "web-identity",
        ))
    }

    /// The region in force.
    pub fn region(&self) -> String {
        self.sdk
            .region()
            .map_or_else(String::new, ToString::to_string)
    }

    /// Resolves credentials once, so a missing chain fails fast with every source named.
    pub async fn identity(&self) -> Result<Identity, AwsError> {
        let no_creds = |reason: String| AwsError::NoCredentials {
            region: self.region(),
            endpoint: endpoint_override(&self.sdk, "ECR"),
            reason: Reason(reason),
        };
        let provider = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| no_creds("no credentials provider is configured".into()))?;
        let creds = tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials())
            .await
            .map_err(|_| {
                no_creds(format!(
                    "no source answered within {}s",
                    CREDENTIALS_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| no_creds(crate::error::chain_text(&e)))?;
        let digest = Digest::sha256_of(format!("buildsteps:{}", creds.access_key_id()).as_bytes());
        Ok(Identity {
            fingerprint: digest.hex()[..16].to_string(),
        })
    }

    /// An ECR client for `region`. A region or endpoint override the SDK cannot use makes every
    /// call fail with a usage error before anything is sent.
    pub fn ecr(&self, region: &str) -> Ecr {
        let config = aws_sdk_ecr::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Ecr {
            client: aws_sdk_ecr::Client::from_conf(config),
            region: region.to_string(),
            endpoint: endpoint_of(&self.sdk, "ECR"),
            unusable: check_region(region)
                .and_then(|()| check_endpoint(&self.sdk, "ECR", "ECR"))
                .err(),
        }
    }

    /// `GetParameter` with decryption: an SSM parameter's value (name or ARN).
    pub async fn parameter(&self, name: &str) -> Result<String, AwsError> {
        check_endpoint(&self.sdk, "SSM", "SSM")?;
        let config = aws_sdk_ssm::config::Builder::from(&self.sdk).build();
        let endpoint = endpoint_of(&self.sdk, "SSM");
        let out = aws_sdk_ssm::Client::from_conf(config)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| AwsError::Call {
                service: "SSM",
                operation: "GetParameter",
                region: self.region(),
                endpoint: endpoint.clone(),
                code: e.code().map(str::to_string),
                message: crate::error::chain_text(&e),
            })?;
        out.parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| AwsError::Answer {
                service: "SSM",
                operation: "GetParameter",
                endpoint,
                reason: format!("parameter {name} has no value"),
            })
    }

    /// `GetSecretValue`: a secret's string at a version stage or ID (default: `AWSCURRENT`).
    pub async fn secret(
        &self,
        id: &str,
        version_stage: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<String, AwsError> {
        check_endpoint(&self.sdk, "Secrets Manager", "Secrets Manager")?;
        let config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk).build();
        let endpoint = endpoint_of(&self.sdk, "Secrets Manager");
        let out = aws_sdk_secretsmanager::Client::from_conf(config)
            .get_secret_value()
            .secret_id(id)
            .set_version_stage(version_stage.map(str::to_string))
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::Call {
                service: "Secrets Manager",
                operation: "GetSecretValue",
                region: self.region(),
                endpoint: endpoint.clone(),
                code: e.code().map(str::to_string),
                message: crate::error::chain_text(&e),
            })?;
        out.secret_string()
            .map(str::to_string)
            .ok_or_else(|| AwsError::Answer {
                service: "Secrets Manager",
                operation: "GetSecretValue",
                endpoint,
                reason: format!(
                    "secret {id} has no string value (binary secrets cannot be variables)"
                ),
            })
    }

    /// `GetAuthorizationToken` of ECR Public (always us-east-1).
    pub async fn public_authorization_token(&self) -> Result<AuthToken, AwsError> {
        const OP: &str = "GetAuthorizationToken";
        check_endpoint(&self.sdk, "ECR Public", "ECR PUBLIC")?;
        let endpoint = endpoint_of(&self.sdk, "ECR PUBLIC");
        let config = aws_sdk_ecrpublic::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let out = aws_sdk_ecrpublic::Client::from_conf(config)
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| AwsError::Call {
                service: "ECR Public",
                operation: OP,
                region: "us-east-1".into(),
                endpoint: endpoint.clone(),
                code: e.code().map(str::to_string),
                message: crate::error::chain_text(&e),
            })?;
        let data = out.authorization_data().ok_or_else(|| AwsError::Answer {
            service: "ECR Public",
            operation: OP,
            endpoint: endpoint.clone(),
            reason: "authorizationData is missing".into(),
        })?;
        decode_token(
            "ECR Public",
            &endpoint,
            data.authorization_token(),
            Some("https://public.ecr.aws"),
            data.expires_at()
                .and_then(|t| SystemTime::try_from(*t).ok()),
        )
    }
}

/// The endpoint override the SDK will use for a service, with the SDK's precedence: the service's own
/// (`AWS_ENDPOINT_URL_<SERVICE>` or the profile's), then `AWS_ENDPOINT_URL`.
fn endpoint_override(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    aws_types::service_config::ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()
        .and_then(|key| sdk.service_config().and_then(|c| c.load_config(key)))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// Whether an endpoint override is one the SDK can call: an http or https URL with a host.
fn endpoint_problem(url: &str) -> Option<String> {
    if url.trim().is_empty() {
        return Some("it is empty".into());
    }
    let parsed = match reqwest::Url::parse(url.trim()) {
        Ok(u) => u,
        Err(e) => return Some(format!("it is not a URL ({e})")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some(format!(
            "its scheme is `{}`; the SDK calls http or https endpoints",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("it names no host".into());
    }
    None
}

/// A usage error when the override for `service_id` (`ECR`, `ECR PUBLIC`…) is not a usable URL.
fn check_endpoint(
    sdk: &SdkConfig,
    service: &'static str,
    service_id: &str,
) -> Result<(), AwsError> {
    let Some(url) = endpoint_override(sdk, service_id) else {
        return Ok(());
    };
    match endpoint_problem(&url) {
        None => Ok(()),
        Some(reason) => Err(AwsError::BadEndpoint {
            service,
            variable: format!(
                "AWS_ENDPOINT_URL_{}",
                service_id.to_ascii_uppercase().replace(' ', "_")
            ),
            url,
            reason,
        }),
    }
}

/// The trust store the SDK reads, as rustls-native-certs finds it: when `SSL_CERT_FILE` or
/// `SSL_CERT_DIR` (directories separated by `:`) is set, only those are read, so at least one
/// must name a file or a directory that holds one.
fn check_trust_store(file: Option<&str>, dir: Option<&str>) -> Result<(), AwsError> {
    let (file, dir) = (
        file.filter(|f| !f.is_empty()),
        dir.filter(|d| !d.is_empty()),
    );
    if file.is_none() && dir.is_none() {
        return Ok(());
    }
    let file_ok =
        file.is_some_and(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.len() > 0));
    let dir_ok = dir.is_some_and(|d| {
        d.split(':')
            .any(|d| std::fs::read_dir(d).is_ok_and(|mut entries| entries.next().is_some()))
    });
    if file_ok || dir_ok {
        return Ok(());
    }
    let named = [("SSL_CERT_FILE", file), ("SSL_CERT_DIR", dir)]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(", ");
    Err(AwsError::NoTrustStore {
        named,
        reason: "no CA certificate is there (a missing or empty file, an empty or missing \
                 directory), and only these are read when they are set"
            .into(),
    })
}

/// A usage error for an empty region (as none) or one that is not a region name.
fn check_region(region: &str) -> Result<(), AwsError> {
    if region.trim().is_empty() {
        Err(AwsError::NoRegion)
    } else if crate::ecr_host::is_region_name(region) {
        Ok(())
    } else {
        Err(AwsError::BadRegion {
            region: region.to_string(),
        })
    }
}

/// The endpoint the SDK will call for a service, as an error names it: its override, else "its
/// default endpoint" (the SDK's own, from the region the message names beside it).
fn endpoint_of(sdk: &SdkConfig, service_id: &str) -> String {
    endpoint_override(sdk, service_id).unwrap_or_else(|| "its default endpoint".to_string())
}

/// A client bound to one region.
#[derive(Debug, Clone)]
pub struct Ecr {
    client: aws_sdk_ecr::Client,
    region: String,
    endpoint: String,
    /// Why no call can be made (a bad region or endpoint override), found when the client was made.
    unusable: Option<AwsError>,
}

/// A registry login from `GetAuthorizationToken`.
#[derive(Debug, Clone)]
pub struct AuthToken {
    /// Always `AWS` for ECR.
    pub username: String,
    /// The registry password (for private ECR, itself a base64 JSON document carrying its expiry).
    pub password: Secret,
    /// `https://ACCOUNT.dkr.ecr.REGION.amazonaws.com`.
    pub proxy_endpoint: String,
    /// When the token expires, as the service says.
    pub expires_at: Option<SystemTime>,
}

fn decode_token(
    service: &'static str,
    endpoint: &str,
    token: Option<&str>,
    proxy_endpoint: Option<&str>,
    expires_at: Option<SystemTime>,
) -> Result<AuthToken, AwsError> {
    let answer = |reason: &str| AwsError::Answer {
        service,
        operation: "GetAuthorizationToken",
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let token = token.ok_or_else(|| answer("authorizationToken is missing"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| answer("authorizationToken is not base64"))?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| answer("authorizationToken is not text"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| answer("authorizationToken is not USER:PASSWORD"))?;
    Ok(AuthToken {
        username: user.to_string(),
        password: Secret::new(password),
        proxy_endpoint: proxy_endpoint
            .ok_or_else(|| answer("proxyEndpoint is missing"))?
            .to_string(),
        expires_at,
    })
}

/// An image as `BatchGetImage` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrImage {
    /// The manifest, verbatim.
    pub manifest: String,
    /// Its media type, when ECR says.
    pub media_type: Option<String>,
    /// Its digest.
    pub digest: String,
}

/// What `StartImageScan` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStart {
    /// A scan started; its status.
    Started(Option<String>),
    /// The image was scanned today already (`LimitExceededException`): read that scan.
    AlreadyScanned,
    /// ECR cannot scan this image type.
    Unsupported(String),
    /// Throttled or a transient failure: ask again on the next poll.
    NotYet,
}

/// One page of `DescribeImageScanFindings`.
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    /// `COMPLETE`, `ACTIVE`, `IN_PROGRESS`, `FAILED`… (as ECR spells it, unknown ones included).
    pub status: Option<String>,
    /// ECR's description of the status.
    pub description: Option<String>,
    /// Basic-scanning findings.
    pub basic: Vec<EcrBasic>,
    /// Enhanced-scanning findings.
    pub enhanced: Vec<EcrEnhanced>,
    /// Whether the answer has the enhanced shape.
    pub enhanced_shape: bool,
    /// `findingSeverityCounts`.
    pub counts: std::collections::BTreeMap<String, i64>,
    /// The next page's token.
    pub next_token: Option<String>,
}

fn by_digest(digest: &str) -> aws_sdk_ecr::types::ImageIdentifier {
    aws_sdk_ecr::types::ImageIdentifier::builder()
        .image_digest(digest)
        .build()
}

fn enhanced(e: &aws_sdk_ecr::types::EnhancedImageScanFinding) -> EcrEnhanced {
    let details = e.package_vulnerability_details();
    EcrEnhanced {
        finding_arn: e.finding_arn().map(str::to_string),
        title: e.title().map(str::to_string),
        status: e.status().map(str::to_string),
        severity: e.severity().map(str::to_string),
        fix_available: e.fix_available().map(str::to_string),
        score: (e.score() > 0.0).then_some(e.score()),
        package_vulnerability_details: details.map(|d| EcrPackageDetails {
            vulnerability_id: d.vulnerability_id().map(str::to_string),
            source_url: d.source_url().map(str::to_string),
            vulnerable_packages: d
                .vulnerable_packages()
                .iter()
                .map(|p| EcrPackage {
                    name: p.name().map(str::to_string),
                    version: p.version().map(str::to_string),
                    fixed_in_version: p.fixed_in_version().map(str::to_string),
                })
                .collect(),
        }),
    }
}

/// What ECR says about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION`, `MUTABLE_WITH_EXCLUSION`.
    pub tag_mutability: String,
    /// The repository URI.
    pub uri: String,
}

impl Repository {
    /// Whether an existing tag can be moved (exclusion filters are not evaluated: conservative).
    pub fn immutable(&self) -> bool {
        self.tag_mutability.starts_with("IMMUTABLE")
    }
}

impl Ecr {
    /// The usage error that stops every call of this client, if there is one.
    fn ready(&self) -> Result<(), AwsError> {
        self.unusable.clone().map_or(Ok(()), Err)
    }

    /// `DescribeRepositories` for one name in `registry_id`: `None` when it does not exist.
    pub async fn repository(
        &self,
        registry_id: &str,
        name: &str,
    ) -> Result<Option<Repository>, AwsError> {
        self.ready()?;
        let result = self
            .client
            .describe_repositories()
            .registry_id(registry_id)
            .repository_names(name)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.code() == Some("RepositoryNotFoundException") => return Ok(None),
            Err(e) => {
                return Err(AwsError::Call {
                    service: "ECR",
                    operation: "DescribeRepositories",
                    region: self.region.clone(),
                    endpoint: self.endpoint.clone(),
                    code: e.code().map(str::to_string),
                    message: crate::error::chain_text(&e),
                });
            }
        };
        Ok(out.repositories().first().map(|r| Repository {
            tag_mutability: r
                .image_tag_mutability()
                .map_or_else(|| "MUTABLE".to_string(), |m| m.as_str().to_string()),
            uri: r.repository_uri().unwrap_or_default().to_string(),
        }))
    }

    /// The region this client calls.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn call_error<E>(
        &self,
        operation: &'static str,
        e: &aws_sdk_ecr::error::SdkError<E>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        AwsError::Call {
            service: "ECR",
            operation,
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            code: e.code().map(str::to_string),
            message: crate::error::chain_text(e),
        }
    }

    /// `BatchGetImage` for one tag or digest: the manifest exactly as stored, its media type and digest.
    pub async fn image(
        &self,
        registry_id: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Option<EcrImage>, AwsError> {
        self.image_in(Some(registry_id), repository, reference)
            .await
    }

    /// [`Ecr::image`] in `registry_id`, or the caller's own registry when `None`.
    pub async fn image_in(
        &self,
        registry_id: Option<&str>,
        repository: &str,
        reference: &str,
    ) -> Result<Option<EcrImage>, AwsError> {
        self.ready()?;
        let id = if reference.starts_with("sha256:") {
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(reference)
                .build()
        } else {
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(reference)
                .build()
        };
        let mut req = self
            .client
            .batch_get_image()
            .set_registry_id(registry_id.map(str::to_string))
            .repository_name(repository)
            .image_ids(id);
        for media_type in crate::adapters::registry::MANIFEST_ACCEPT.split(", ") {
            req = req.accepted_media_types(media_type.trim());
        }
        let out = req
            .send()
            .await
            .map_err(|e| self.call_error("BatchGetImage", &e))?;
        Ok(out.images().first().and_then(|i| {
            Some(EcrImage {
                manifest: i.image_manifest()?.to_string(),
                media_type: i.image_manifest_media_type().map(str::to_string),
                digest: i.image_id()?.image_digest()?.to_string(),
            })
        }))
    }

    /// Whether ECR scans `repository`'s images by itself (`SCAN_ON_PUSH` or `CONTINUOUS_SCAN`, from
    /// `BatchGetRepositoryScanningConfiguration`). `None` when ECR did not say (no permission, say).
    /// The API reads the caller's own registry only, so for another account's repository the answer
    /// is about the caller's repository of that name: a hint for how long to wait, never a reason to
    /// fail (either way the gate ends up reading or starting the scan).
    pub async fn scans_by_itself(&self, repository: &str) -> Option<bool> {
        self.ready().ok()?;
        let out = self
            .client
            .batch_get_repository_scanning_configuration()
            .repository_names(repository)
            .send()
            .await
            .ok()?;
        let config = out.scanning_configurations().first()?;
        let frequency = config
            .scan_frequency()
            .map(aws_sdk_ecr::types::ScanFrequency::as_str);
        Some(config.scan_on_push() || matches!(frequency, Some("SCAN_ON_PUSH" | "CONTINUOUS_SCAN")))
    }

    /// `StartImageScan` for a digest (basic scanning).
    pub async fn start_image_scan(
        &self,
        registry_id: Option<&str>,
        repository: &str,
        digest: &str,
    ) -> Result<ScanStart, AwsError> {
        self.ready()?;
        let result = self
            .client
            .start_image_scan()
            .set_registry_id(registry_id.map(str::to_string))
            .repository_name(repository)
            .image_id(by_digest(digest))
            // ECR answers the daily scan limit with LimitExceededException, which the SDK would
            // retry as throttling; it is an answer here. The caller's poll loop retries the rest.
            .customize()
            .config_override(
                aws_sdk_ecr::config::Builder::default()
                    .retry_config(RetryConfig::standard().with_max_attempts(1)),
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(ScanStart::Started(
                out.image_scan_status()
                    .and_then(|s| s.status())
                    .map(|s| s.as_str().to_string()),
            )),
            // One scan per image per day, and a scan-on-push counts: read the existing one.
            Err(e) if e.code() == Some("LimitExceededException") => Ok(ScanStart::AlreadyScanned),
            Err(e) if e.code() == Some("UnsupportedImageTypeException") => {
                Ok(ScanStart::Unsupported(
                    e.message()
                        .unwrap_or("the image type cannot be scanned")
                        .to_string(),
                ))
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some("ThrottlingException" | "ServerException" | "TooManyRequestsException")
                ) || matches!(e, aws_sdk_ecr::error::SdkError::TimeoutError(_)) =>
            {
                Ok(ScanStart::NotYet)
            }
            Err(e) => Err(self.call_error("StartImageScan", &e)),
        }
    }

    /// One page of `DescribeImageScanFindings` for a digest; `None` when ECR has no scan for it
    /// (`ScanNotFoundException`).
    pub async fn image_scan_findings(
        &self,
        registry_id: Option<&str>,
        repository: &str,
        digest: &str,
        next_token: Option<&str>,
    ) -> Result<Option<ScanPage>, AwsError> {
        self.ready()?;
        let result = self
            .client
            .describe_image_scan_findings()
            .set_registry_id(registry_id.map(str::to_string))
            .repository_name(repository)
            .image_id(by_digest(digest))
            .max_results(1000)
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.code() == Some("ScanNotFoundException") => return Ok(None),
            Err(e) => return Err(self.call_error("DescribeImageScanFindings", &e)),
        };
        let status = out.image_scan_status();
        let findings = out.image_scan_findings();
        let basic = findings
            .map(|f| {
                f.findings()
                    .iter()
                    .map(|b| EcrBasic {
                        name: b.name().unwrap_or_default().to_string(),
                        severity: b.severity().map(|s| s.as_str().to_string()),
                        uri: b.uri().map(str::to_string),
                        description: b.description().map(str::to_string),
                        attributes: b
                            .attributes()
                            .iter()
                            .map(|a| EcrAttribute {
                                key: a.key().to_string(),
                                value: a.value().map(str::to_string),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let enhanced: Vec<EcrEnhanced> = findings
            .map(|f| f.enhanced_findings().iter().map(enhanced).collect())
            .unwrap_or_default();
        Ok(Some(ScanPage {
            status: status
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_string()),
            description: status.and_then(|s| s.description()).map(str::to_string),
            enhanced_shape: findings.is_some_and(|f| !f.enhanced_findings().is_empty()),
            basic,
            enhanced,
            counts: findings
                .and_then(|f| f.finding_severity_counts())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.as_str().to_string(), i64::from(*v)))
                        .collect()
                })
                .unwrap_or_default(),
            next_token: out.next_token().map(str::to_string),
        }))
    }

    /// `PutImage` with the manifest verbatim and its digest, so ECR verifies it. `Ok(false)` when ECR
    /// says the image (and tag) already exist.
    pub async fn put_image(
        &self,
        registry_id: &str,
        repository: &str,
        image: &EcrImage,
        tag: &str,
    ) -> Result<bool, AwsError> {
        self.ready()?;
        let mut req = self
            .client
            .put_image()
            .registry_id(registry_id)
            .repository_name(repository)
            .image_manifest(&image.manifest)
            .image_digest(&image.digest)
            .image_tag(tag);
        if let Some(m) = &image.media_type {
            req = req.image_manifest_media_type(m);
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ImageAlreadyExistsException") => Ok(false),
            Err(e) => Err(self.call_error("PutImage", &e)),
        }
    }

    /// The endpoint this client calls (the override, or a description of the default).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `GetAuthorizationToken`'s one token (it covers every registry the caller can reach in this
    /// region); an answer without one is an error naming the endpoint.
    pub async fn authorization_token(&self) -> Result<AuthToken, AwsError> {
        self.authorization_tokens()
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AwsError::Answer {
                service: "ECR",
                operation: "GetAuthorizationToken",
                endpoint: self.endpoint.clone(),
                reason: "authorizationData is empty".into(),
            })
    }

    /// `GetAuthorizationToken`: one token for every registry the caller can reach in this region.
    pub async fn authorization_tokens(&self) -> Result<Vec<AuthToken>, AwsError> {
        self.ready()?;
        let out = self
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| AwsError::Call {
                service: "ECR",
                operation: "GetAuthorizationToken",
                region: self.region.clone(),
                endpoint: self.endpoint.clone(),
                code: e.code().map(str::to_string),
                message: crate::error::chain_text(&e),
            })?;
        out.authorization_data()
            .iter()
            .map(|data| {
                decode_token(
                    "ECR",
                    &self.endpoint,
                    data.authorization_token(),
                    data.proxy_endpoint(),
                    data.expires_at()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_store_that_names_no_certificate_is_refused_before_the_sdk_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle.crt");
        std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let (bundle, empty) = (bundle.to_str().unwrap(), empty.to_str().unwrap());
        let missing = "/nonexistent/ca.crt";
        let tmp = dir.path().to_str().unwrap();
        for (file, d) in [
            (None, None),
            (Some(""), Some("")),
            (Some(bundle), None),
            (None, Some(tmp)),
            (Some(missing), Some(tmp)),
            (None, Some(&format!("{empty}:{tmp}") as &str)),
        ] {
            assert!(check_trust_store(file, d).is_ok(), "{file:?} {d:?}");
        }
        for (file, d, named) in [
            (Some(missing), None, "SSL_CERT_FILE=/nonexistent/ca.crt"),
            (None, Some(empty), "SSL_CERT_DIR="),
            (
                Some(missing),
                Some("/nonexistent"),
                "SSL_CERT_FILE=/nonexistent/ca.crt, SSL_CERT_DIR=/nonexistent",
            ),
            (Some(tmp), None, "SSL_CERT_FILE="),
        ] {
            let e = check_trust_store(file, d).unwrap_err();
            assert_eq!(e.exit_code(), Code::Usage);
            assert!(e.to_string().contains(named), "{e}");
            assert!(e.help().unwrap().contains("unset both"), "{e}");
        }
    }

    #[test]
    fn endpoint_overrides_must_be_http_urls_with_a_host() {
        for good in [
            "http://127.0.0.1:5055",
            "https://api.ecr.us-east-1.amazonaws.com",
            "http://[::1]:5055/prefix/",
            " http://localhost:5055 ",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("junk", "not a URL"),
            ("http://", "not a URL"),
            ("http://exa mple.com", "not a URL"),
            ("http://127.0.0.1:99999", "not a URL"),
            ("ftp://127.0.0.1:5055", "scheme is `ftp`"),
            ("unix:/var/run/x.sock", "scheme is `unix`"),
        ] {
            let problem = endpoint_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(problem.contains(why), "{bad:?}: {problem}");
        }
    }

    #[test]
    fn regions_the_sdk_cannot_use_are_usage_errors() {
        assert!(check_region("us-east-1").is_ok());
        assert!(matches!(check_region(""), Err(AwsError::NoRegion)));
        assert!(matches!(check_region("  "), Err(AwsError::NoRegion)));
        for bad in ["us east 1", "moon", "US-EAST-1", "us_east_1"] {
            let err = check_region(bad).unwrap_err();
            assert!(matches!(err, AwsError::BadRegion { .. }), "{bad}");
            assert_eq!(err.exit_code(), Code::Usage, "{bad}");
            assert!(err.to_string().contains("not a region name"), "{err}");
        }
        let endpoint = AwsError::BadEndpoint {
            service: "ECR",
            variable: "AWS_ENDPOINT_URL_ECR".into(),
            url: "junk".into(),
            reason: "it is not a URL".into(),
        };
        assert_eq!(endpoint.exit_code(), Code::Usage);
        assert!(endpoint.help().unwrap().contains("AWS_ENDPOINT_URL_ECR"));
    }

    #[test]
    fn missing_credentials_name_an_endpoint_only_when_it_is_an_override() {
        let missing = |endpoint: Option<&str>| {
            AwsError::NoCredentials {
                region: "us-east-1".into(),
                endpoint: endpoint.map(str::to_string),
                reason: Reason("none".into()),
            }
            .to_string()
        };
        assert!(
            missing(None)
                .starts_with("find AWS credentials for region us-east-1; tried environment"),
            "{}",
            missing(None)
        );
        assert!(
            missing(Some("http://127.0.0.1:5055")).starts_with(
                "find AWS credentials for region us-east-1 (ECR endpoint http://127.0.0.1:5055); tried"
            ),
            "{}",
            missing(Some("http://127.0.0.1:5055"))
        );
    }
}
