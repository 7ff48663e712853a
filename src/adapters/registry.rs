//! A registry client for the OCI distribution API (reqwest), written for what pushing to ECR needs:
//! streamed monolithic blob uploads from a file (ECR's chunked PATCH deviates from the spec), blob
//! existence checks and cross-repository mounts, manifests as raw bytes with the digest computed
//! locally and checked against `Docker-Content-Digest`, Basic and Bearer auth from the challenge, and
//! retries (408, 429, 5xx, dropped connections) with jittered backoff that honours `Retry-After`.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::Digest;
use crate::secret::Secret;
use base64::Engine as _;
use reqwest::{Method, StatusCode, header};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Every manifest media type we ask for (a retag must fetch whatever is stored).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

const ATTEMPTS: u32 = 5;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an error status.
    #[error("{op} at {url}: HTTP {status}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Status {
        /// What we were doing.
        op: String,
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
        /// The registry's error code and message, if it sent one.
        detail: Option<String>,
    },
    /// The connection failed (after retries).
    #[error("{op} at {url}: {message}")]
    Transport {
        /// What we were doing.
        op: String,
        /// The URL called.
        url: String,
        /// The transport error, with its causes.
        message: String,
    },
    /// The registry stored something else than what we sent.
    #[error(
        "{op} at {url}: the registry reports digest {reported}, the bytes sent have {computed}"
    )]
    DigestMismatch {
        /// What we were doing.
        op: String,
        /// The URL called.
        url: String,
        /// `Docker-Content-Digest`.
        reported: String,
        /// Ours.
        computed: Digest,
    },
    /// Reading a local file to upload failed.
    #[error("read `{path}` to upload it")]
    Local {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for RegistryError {
    fn exit_code(&self) -> Code {
        match self {
            RegistryError::Status {
                status: 401 | 403, ..
            } => Code::Auth,
            RegistryError::Status { status: 404, .. } | RegistryError::Local { .. } => Code::Usage,
            _ => Code::Remote,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            RegistryError::Status { status: 401 | 403, .. } => Some(
                "log in first (ecr-login, or docker login); the credentials in docker's config.json \
                 were refused or are missing"
                    .into(),
            ),
            RegistryError::Status { status: 404, .. } => Some(
                "check the repository name; ECR repositories must exist before a push \
                 (aws ecr create-repository --repository-name NAME)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// A manifest as stored: its exact bytes, media type and digest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `Content-Type`.
    pub media_type: String,
    /// sha256 of the bytes.
    pub digest: Digest,
}

/// A client for one registry host.
#[derive(Debug)]
pub struct Registry {
    http: reqwest::Client,
    host: String,
    creds: Option<(String, Secret)>,
    /// The `Authorization` header value learnt from the last challenge.
    auth: Mutex<Option<Secret>>,
}

/// Jittered exponential backoff: 250 ms · 2ⁿ ± 50 %.
fn backoff(attempt: u32) -> Duration {
    let base = 250u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(base / 2 + nanos % base)
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// The body of a request, rebuilt for every attempt.
enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a Path, u64),
}

impl Registry {
    /// A client for `host` with optional username/password (from docker's config or an ECR token).
    pub fn new(host: &str, creds: Option<(String, Secret)>) -> Registry {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        Registry {
            http,
            host: host.to_string(),
            creds,
            auth: Mutex::new(None),
        }
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("https://{}{path}", self.host)
        }
    }

    /// Sends a request with auth and retries; returns the final response (any status).
    async fn send(
        &self,
        op: &str,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        body: &Body<'_>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut attempt = 0;
        let mut challenged = false;
        // With credentials at hand, offer Basic at once (ECR and most private registries take it):
        // one round trip fewer than waiting for the challenge. A Bearer registry answers 401 with
        // its challenge, handled below.
        if let (Some((user, password)), Ok(mut auth)) = (&self.creds, self.auth.lock())
            && auth.is_none()
        {
            *auth = Some(basic(user, password));
        }
        loop {
            let mut req = self.http.request(method.clone(), url);
            for (k, v) in headers {
                req = req.header(k.clone(), v);
            }
            if let Some(auth) = self.auth.lock().ok().and_then(|a| a.clone()) {
                req = req.header(header::AUTHORIZATION, auth.expose());
            }
            req = match body {
                Body::Empty => req,
                Body::Bytes(b) => req.body(b.to_vec()),
                Body::File(path, len) => {
                    let file = tokio::fs::File::open(path).await.map_err(|source| {
                        RegistryError::Local {
                            path: path.display().to_string(),
                            source,
                        }
                    })?;
                    req.header(header::CONTENT_LENGTH, len.to_string()).body(
                        reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
                            file,
                            256 * 1024,
                        )),
                    )
                }
            };
            match req.send().await {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !challenged => {
                    challenged = true;
                    let challenge = resp
                        .headers()
                        .get(header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let Some(value) = self.authorize(&challenge).await? else {
                        return Ok(resp);
                    };
                    if let Ok(mut a) = self.auth.lock() {
                        *a = Some(value);
                    }
                }
                Ok(resp) if retryable(resp.status()) && attempt + 1 < ATTEMPTS => {
                    let wait = retry_after(&resp).unwrap_or_else(|| backoff(attempt));
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
                Err(e) if attempt + 1 < ATTEMPTS && !e.is_builder() => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(RegistryError::Transport {
                        op: op.to_string(),
                        url: url.to_string(),
                        message: crate::error::chain_text(&e),
                    });
                }
            }
        }
    }

    /// Turns a `WWW-Authenticate` challenge into an `Authorization` value.
    async fn authorize(&self, challenge: &str) -> Result<Option<Secret>, RegistryError> {
        let lower = challenge.to_ascii_lowercase();
        if lower.starts_with("basic") {
            return Ok(self.creds.as_ref().map(|(u, p)| basic(u, p)));
        }
        if !lower.starts_with("bearer") {
            return Ok(None);
        }
        let params = parse_challenge(&challenge[6..]);
        let Some(realm) = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
        else {
            return Ok(None);
        };
        let mut token_url = reqwest::Url::parse(&realm).map_err(|e| RegistryError::Transport {
            op: "get a registry token".into(),
            url: realm.clone(),
            message: e.to_string(),
        })?;
        for (k, v) in params
            .iter()
            .filter(|(k, _)| k == "service" || k == "scope")
        {
            token_url.query_pairs_mut().append_pair(k, v);
        }
        let mut req = self.http.get(token_url);
        if let Some((u, p)) = &self.creds {
            req = req.header(header::AUTHORIZATION, basic(u, p).expose());
        }
        let resp = req.send().await.map_err(|e| RegistryError::Transport {
            op: "get a registry token".into(),
            url: realm.clone(),
            message: crate::error::chain_text(&e),
        })?;
        if !resp.status().is_success() {
            return Err(RegistryError::Status {
                op: "get a registry token".into(),
                url: realm,
                status: resp.status().as_u16(),
                detail: None,
            });
        }
        let body = resp.bytes().await.unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let token = doc
            .get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str());
        Ok(token.map(|t| Secret::new(format!("Bearer {t}"))))
    }

    async fn error(op: &str, url: &str, resp: reqwest::Response) -> RegistryError {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let e = v.get("errors")?.get(0)?;
                Some(format!(
                    "{}: {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or("ERROR"),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                ))
            });
        RegistryError::Status {
            op: op.to_string(),
            url: url.to_string(),
            status,
            detail,
        }
    }

    /// Whether the repository has the blob.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self
            .send("check blob", Method::HEAD, &url, &[], &Body::Empty)
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(Self::error("check blob", &url, resp).await),
        }
    }

    /// Mounts a blob from another repository of this registry; `false` when the registry wants an
    /// upload instead.
    pub async fn mount(
        &self,
        repo: &str,
        digest: &Digest,
        from: &str,
    ) -> Result<bool, RegistryError> {
        let url = self.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"
        ));
        let resp = self
            .send("mount blob", Method::POST, &url, &[], &Body::Empty)
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => Ok(false),
            _ => Err(Self::error("mount blob", &url, resp).await),
        }
    }

    /// Uploads a blob (from memory, or streamed from a file) in one PUT; a dropped connection restarts
    /// the upload.
    async fn upload(
        &self,
        repo: &str,
        digest: &Digest,
        body: Body<'_>,
    ) -> Result<(), RegistryError> {
        let op = format!("upload blob {digest} to {repo}");
        let start = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let mut restarts = 0;
        loop {
            let resp = self
                .send(&op, Method::POST, &start, &[], &Body::Empty)
                .await?;
            if resp.status() != StatusCode::ACCEPTED && resp.status() != StatusCode::CREATED {
                return Err(Self::error(&op, &start, resp).await);
            }
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let sep = if location.contains('?') { '&' } else { '?' };
            let put = self.url(&format!("{location}{sep}digest={digest}"));
            let headers = [(header::CONTENT_TYPE, "application/octet-stream".to_string())];
            match self.send(&op, Method::PUT, &put, &headers, &body).await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if retryable(r.status()) && restarts < 2 => restarts += 1,
                Ok(r) => return Err(Self::error(&op, &put, r).await),
                Err(RegistryError::Transport { .. }) if restarts < 2 => restarts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts an upload and streams `body` into it in one `PATCH` (as docker push does; ECR accepts a
    /// single streamed chunk). Returns the location to finish with [`Registry::finish_upload`] once the
    /// digest is known. Not retried: the caller keeps the bytes to upload again.
    pub async fn stream_upload(
        &self,
        repo: &str,
        body: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    ) -> Result<String, RegistryError> {
        let op = format!("stream a blob to {repo}");
        let start = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .send(&op, Method::POST, &start, &[], &Body::Empty)
            .await?;
        if resp.status() != StatusCode::ACCEPTED && resp.status() != StatusCode::CREATED {
            return Err(Self::error(&op, &start, resp).await);
        }
        let location = self.url(
            resp.headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default(),
        );
        let mut req = self
            .http
            .patch(&location)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body));
        if let Some(auth) = self.auth.lock().ok().and_then(|a| a.clone()) {
            req = req.header(header::AUTHORIZATION, auth.expose());
        }
        let resp = req.send().await.map_err(|e| RegistryError::Transport {
            op: op.clone(),
            url: location.clone(),
            message: crate::error::chain_text(&e),
        })?;
        if !resp.status().is_success() {
            return Err(Self::error(&op, &location, resp).await);
        }
        Ok(resp
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map_or(location, |l| self.url(l)))
    }

    /// Completes a streamed upload as blob `digest`.
    pub async fn finish_upload(
        &self,
        location: &str,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        let op = format!("complete the upload of {digest}");
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let resp = self.send(&op, Method::PUT, &url, &[], &Body::Empty).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Self::error(&op, &url, resp).await)
        }
    }

    /// Uploads bytes held in memory (configs).
    pub async fn upload_bytes(
        &self,
        repo: &str,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        self.upload(repo, digest, Body::Bytes(bytes)).await
    }

    /// Streams a file of `len` bytes as the blob `digest`.
    pub async fn upload_file(
        &self,
        repo: &str,
        digest: &Digest,
        path: &Path,
        len: u64,
    ) -> Result<(), RegistryError> {
        self.upload(repo, digest, Body::File(path, len)).await
    }

    /// The digest a tag (or digest) points at, from `HEAD`; `None` if it does not exist.
    pub async fn manifest_digest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let headers = [(header::ACCEPT, MANIFEST_ACCEPT.to_string())];
        let resp = self
            .send(
                "look up manifest",
                Method::HEAD,
                &url,
                &headers,
                &Body::Empty,
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(resp
                .headers()
                .get("docker-content-digest")
                .and_then(|d| d.to_str().ok())
                .and_then(|d| d.parse().ok())),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::error("look up manifest", &url, resp).await),
        }
    }

    /// The manifest's exact bytes; `None` if it does not exist.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let headers = [(header::ACCEPT, MANIFEST_ACCEPT.to_string())];
        let resp = self
            .send("fetch manifest", Method::GET, &url, &headers, &Body::Empty)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::error("fetch manifest", &url, resp).await);
        }
        let media_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = resp.bytes().await.map_err(|e| RegistryError::Transport {
            op: "fetch manifest".into(),
            url: url.clone(),
            message: crate::error::chain_text(&e),
        })?;
        Ok(Some(Manifest {
            digest: Digest::sha256_of(&bytes),
            bytes: bytes.to_vec(),
            media_type,
        }))
    }

    /// PUTs manifest bytes under `reference` and returns their digest, checked against the registry's.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let op = format!("push manifest {repo}:{reference}");
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let headers = [(header::CONTENT_TYPE, media_type.to_string())];
        let resp = self
            .send(&op, Method::PUT, &url, &headers, &Body::Bytes(bytes))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::error(&op, &url, resp).await);
        }
        let computed = Digest::sha256_of(bytes);
        let reported = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|d| d.to_str().ok())
            .map(str::to_string);
        if let Some(reported) = reported
            && reported != computed.to_string()
        {
            return Err(RegistryError::DigestMismatch {
                op,
                url,
                reported,
                computed,
            });
        }
        Ok(computed)
    }
}

fn basic(user: &str, password: &Secret) -> Secret {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.expose()));
    Secret::new(format!("Basic {encoded}"))
}

/// `realm="https://auth",service="registry",scope="repository:a:pull"` → pairs.
fn parse_challenge(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value.to_string()));
        rest = remaining.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let p = parse_challenge(
            r#" realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#,
        );
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(
            p[2],
            ("scope".into(), "repository:library/nginx:pull,push".into())
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_retry_statuses() {
        for n in 0..4 {
            let d = backoff(n).as_millis();
            let base = 250u128 << n;
            assert!(d >= base / 2 && d < base / 2 + base, "{n}: {d}");
        }
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::BAD_GATEWAY));
        assert!(retryable(StatusCode::REQUEST_TIMEOUT));
        assert!(!retryable(StatusCode::NOT_FOUND));
        assert!(!retryable(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn errors_map_to_exit_codes() {
        let e = |status| RegistryError::Status {
            op: "x".into(),
            url: "u".into(),
            status,
            detail: None,
        };
        assert_eq!(e(401).exit_code(), Code::Auth);
        assert_eq!(e(404).exit_code(), Code::Usage);
        assert!(e(404).help().unwrap().contains("create-repository"));
        assert_eq!(e(500).exit_code(), Code::Remote);
    }
}
