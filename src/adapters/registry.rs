//! A registry client for the OCI distribution API (reqwest), written for what pushing to ECR needs:
//! streamed monolithic blob uploads from a file (ECR's chunked PATCH deviates from the spec), blob
//! existence checks and cross-repository mounts, manifests as raw bytes with the digest computed
//! locally and checked against `Docker-Content-Digest`, Basic and Bearer auth from the challenge, and
//! retries (408, 429, 5xx, dropped connections) with jittered backoff that honours `Retry-After` (in
//! seconds or as an HTTP date).
//!
//! Credentials go only to the registry's own origin (`https`, its host and port). A `Location` the
//! registry hands out elsewhere (an upload URL on a storage service, say) is followed without them,
//! and a challenge from such a host is not answered — as docker sends no credentials across hosts.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::Digest;
use crate::secret::Secret;
use base64::Engine as _;
use reqwest::{Method, StatusCode, header};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

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
    /// The HTTP client could not be set up (its TLS configuration, the certificate store).
    #[error("set up the HTTPS client for {host}: {message}")]
    Client {
        /// The registry host.
        host: String,
        /// Why, with its causes.
        message: String,
    },
    /// The TLS handshake failed in a way no retry mends; not retried.
    #[error("connect to {host} over TLS: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// Why, in words.
        reason: String,
        /// The server's certificate was refused (rather than the handshake).
        certificate: bool,
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
            RegistryError::Status { status: 404, .. }
            | RegistryError::Local { .. }
            | RegistryError::Client { .. } => Code::Usage,
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
            RegistryError::Client { .. } => Some(
                "check the machine's CA certificates (the system store, SSL_CERT_FILE, SSL_CERT_DIR)"
                    .into(),
            ),
            RegistryError::Tls {
                host,
                certificate: true,
                ..
            } => Some(format!(
                "{host}'s certificate must chain to a CA this machine trusts: add the CA to the \
                 system store (update-ca-certificates on Debian and Ubuntu), or point SSL_CERT_FILE \
                 or SSL_CERT_DIR at certificates that include it"
            )),
            RegistryError::Tls { host, .. } => Some(format!(
                "check that {host} serves HTTPS with TLS 1.2 or 1.3 on that port"
            )),
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

/// What a tag names now, from `HEAD`: `None` if it does not exist.
pub type TagLookup = Result<Option<Digest>, RegistryError>;

/// What the registry sees in its logs (and ECR in `CloudTrail`) as the client.
const USER_AGENT: &str = concat!("buildsteps/", env!("CARGO_PKG_VERSION"));

/// A client for one registry host.
#[derive(Debug)]
pub struct Registry {
    http: reqwest::Client,
    /// The system's root certificates the client checks the registry's certificate against.
    trust: crate::adapters::tls::TrustStore,
    host: String,
    creds: Option<(String, Secret)>,
    /// The `Authorization` header value learnt from the last challenge.
    auth: Mutex<Option<Secret>>,
    /// Held while the connection is opened ([`Registry::open`]), so that requests made at the same
    /// time then share it (HTTP/2) instead of each opening one: `true` once it is done.
    opened: tokio::sync::Mutex<bool>,
    /// How that first connection's TLS handshake failed, if it did: every request would fail the
    /// same way, so none is sent.
    refused: std::sync::OnceLock<crate::adapters::tls::HandshakeFailure>,
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
    retry_after_value(v, SystemTime::now())
}

/// How long a `Retry-After` value asks to wait at `now`: delay-seconds, or an HTTP date (a date in
/// the past is no wait); at most [`MAX_RETRY_AFTER`]. `None` for anything else.
fn retry_after_value(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a long time".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = http_date(value)?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An HTTP date (RFC 9110, section 5.6.7) in any of its three forms: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`)
/// and asctime (`Sun Nov  6 08:49:37 1994`).
fn http_date(s: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = |m: &str| {
        MONTHS
            .iter()
            .position(|x| *x == m)
            .and_then(|i| u32::try_from(i + 1).ok())
    };
    let words: Vec<&str> = s.split_ascii_whitespace().collect();
    let (year, month, day, time) = match words.as_slice() {
        // IMF-fixdate.
        [wday, day, mon, year, time, "GMT"] if wday.ends_with(',') && year.len() == 4 => {
            (year.parse().ok()?, month(mon)?, day.parse().ok()?, *time)
        }
        // RFC 850: a two-digit year is read as the nearest century's.
        [wday, date, time, "GMT"] if wday.ends_with(',') => {
            let mut parts = date.split('-');
            let (day, mon, yy) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || yy.len() != 2 {
                return None;
            }
            let yy: i64 = yy.parse().ok()?;
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            (year, month(mon)?, day.parse().ok()?, *time)
        }
        // asctime.
        [_, mon, day, time, year] if year.len() == 4 => {
            (year.parse().ok()?, month(mon)?, day.parse().ok()?, *time)
        }
        _ => return None,
    };
    let mut hms = time.split(':').map(str::parse::<u64>);
    let (h, m, sec) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + sec)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    /// A client for `host` with optional username/password (from docker's config or an ECR token),
    /// speaking HTTP/2 when the registry offers it: requests made at the same time (a merge's
    /// manifests, configs and tags) share one connection and one TLS handshake. An HTTP client that
    /// cannot be set up is an error, never a client without the timeouts.
    pub fn new(host: &str, creds: Option<(String, Secret)>) -> Result<Registry, RegistryError> {
        Registry::with_protocols(host, creds, false)
    }

    /// As [`Registry::new`], over HTTP/1.1 only, for pushing layers: each upload gets a connection
    /// of its own, as `docker push` does, rather than sharing one HTTP/2 connection whose flow
    /// control window (the server's; 1 MiB in Go's registry) would pace every layer at once.
    pub fn for_uploads(
        host: &str,
        creds: Option<(String, Secret)>,
    ) -> Result<Registry, RegistryError> {
        Registry::with_protocols(host, creds, true)
    }

    fn with_protocols(
        host: &str,
        creds: Option<(String, Secret)>,
        http1_only: bool,
    ) -> Result<Registry, RegistryError> {
        let alpn: &[&[u8]] = if http1_only {
            &[b"http/1.1"]
        } else {
            &[b"h2", b"http/1.1"]
        };
        let (tls, trust) =
            crate::adapters::tls::client_config(alpn).map_err(|e| RegistryError::Client {
                host: host.to_string(),
                message: e.to_string(),
            })?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .user_agent(USER_AGENT)
            .tls_backend_preconfigured(tls);
        if http1_only {
            builder = builder.http1_only();
        }
        Ok(Registry {
            http: client(host, builder)?,
            trust,
            host: host.to_string(),
            creds,
            auth: Mutex::new(None),
            // A connection per request anyway: no version check to open one first.
            opened: tokio::sync::Mutex::new(http1_only),
            refused: std::sync::OnceLock::new(),
        })
    }

    /// Whether `url` is on the registry's own origin — `https`, its host, its port — the only place
    /// its credentials are sent.
    fn own_origin(&self, url: &str) -> bool {
        let Ok(own) = reqwest::Url::parse(&format!("https://{}/", self.host)) else {
            return false;
        };
        reqwest::Url::parse(url).is_ok_and(|u| same_origin(&own, &u))
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
        // Credentials only for the registry itself: a Location elsewhere gets none.
        let own = self.own_origin(url);
        // With credentials at hand, offer Basic at once (ECR and most private registries take it):
        // one round trip fewer than waiting for the challenge. A Bearer registry answers 401 with
        // its challenge, handled below.
        if let (Some((user, password)), Ok(mut auth)) = (&self.creds, self.auth.lock())
            && auth.is_none()
        {
            *auth = Some(basic(user, password));
        }
        self.open().await;
        if own && let Some(failure) = self.refused.get() {
            return Err(self.handshake_error(url, own, failure.clone()));
        }
        loop {
            let mut req = self.http.request(method.clone(), url);
            for (k, v) in headers {
                req = req.header(k.clone(), v);
            }
            if own && let Some(auth) = self.auth.lock().ok().and_then(|a| a.clone()) {
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
                // A challenge is answered only from the registry itself (after any redirect).
                Ok(resp)
                    if resp.status() == StatusCode::UNAUTHORIZED
                        && !challenged
                        && own
                        && self.own_origin(resp.url().as_str()) =>
                {
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
                Err(_) if let Some(message) = self.trust.failure() => {
                    return Err(RegistryError::Client {
                        host: self.host.clone(),
                        message,
                    });
                }
                Err(e) if let Some(failure) = super::tls::handshake_failure(&e) => {
                    return Err(self.handshake_error(url, own, failure));
                }
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

    /// Opens the connection with the API version check (`GET /v2/` without credentials, which a
    /// registry answers without checking a password), as docker's client begins; requests made
    /// meanwhile wait for it, then share that connection when the registry speaks HTTP/2 instead of
    /// each opening one. Its answer, or its failure, is the requests' to find out again.
    async fn open(&self) {
        let mut opened = self.opened.lock().await;
        if !*opened {
            if let Err(e) = self.http.get(self.url("/v2/")).send().await
                && self.trust.failure().is_none()
                && let Some(failure) = super::tls::handshake_failure(&e)
            {
                let _ = self.refused.set(failure);
            }
            *opened = true;
        }
    }

    /// A TLS handshake with `url`'s host that failed for good ([`super::tls::handshake_failure`]).
    /// (A trust store that could not be read is the caller's [`RegistryError::Client`].)
    fn handshake_error(
        &self,
        url: &str,
        own: bool,
        failure: super::tls::HandshakeFailure,
    ) -> RegistryError {
        // A redirect's host (a storage endpoint) is named as itself.
        let other = || {
            reqwest::Url::parse(url)
                .ok()?
                .host_str()
                .map(str::to_string)
        };
        let host = if own { None } else { other() };
        RegistryError::Tls {
            host: host.unwrap_or_else(|| self.host.clone()),
            reason: failure.reason,
            certificate: failure.certificate,
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
        // After a redirect, the answer is the other host's: say which.
        let url = if reqwest::Url::parse(url).is_ok_and(|u| u == *resp.url()) {
            url.to_string()
        } else {
            format!("{url} (redirected to {})", resp.url())
        };
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
            url,
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

    /// A small blob's bytes (an image config), at most `limit` of them, checked against `digest`;
    /// `None` if the repository does not have it.
    pub async fn get_blob(
        &self,
        repo: &str,
        digest: &Digest,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let op = "fetch blob";
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let mut resp = self.send(op, Method::GET, &url, &[], &Body::Empty).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::error(op, &url, resp).await);
        }
        let bad = |message: String| RegistryError::Transport {
            op: op.into(),
            url: url.clone(),
            message,
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| bad(crate::error::chain_text(&e)))?
        {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(bad(format!("the blob is larger than {limit} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        let computed = Digest::sha256_of(&bytes);
        if computed != *digest {
            return Err(RegistryError::DigestMismatch {
                op: op.into(),
                url,
                reported: digest.to_string(),
                computed,
            });
        }
        Ok(Some(bytes))
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
            let location = location(&op, &resp)?;
            let sep = if location.contains('?') { '&' } else { '?' };
            let put = format!("{location}{sep}digest={digest}");
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
        let location = location(&op, &resp)?;
        let mut req = self
            .http
            .patch(&location)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body));
        if self.own_origin(&location)
            && let Some(auth) = self.auth.lock().ok().and_then(|a| a.clone())
        {
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
        if resp.headers().contains_key(header::LOCATION) {
            return self::location(&op, &resp);
        }
        Ok(location)
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

    /// What each of `tags` names now, in their order: the `HEAD`s go together.
    pub async fn tag_digests(&self, repo: &str, tags: &[String]) -> Vec<TagLookup> {
        futures_util::future::join_all(tags.iter().map(|t| self.manifest_digest(repo, t))).await
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

    /// PUTs the same manifest bytes under every tag, together.
    pub async fn put_tags(
        &self,
        repo: &str,
        tags: &[String],
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), RegistryError> {
        futures_util::future::try_join_all(
            tags.iter()
                .map(|t| self.put_manifest(repo, t, bytes, media_type)),
        )
        .await?;
        Ok(())
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

/// The URL a response's `Location` names, resolved against the URL that answered (a relative
/// reference read as RFC 3986 reads it); a missing or unusable one is an error.
fn location(op: &str, resp: &reqwest::Response) -> Result<String, RegistryError> {
    let bad = |message: String| RegistryError::Transport {
        op: op.to_string(),
        url: resp.url().to_string(),
        message,
    };
    let value = resp
        .headers()
        .get(header::LOCATION)
        .ok_or_else(|| bad("the answer has no Location header".into()))?
        .to_str()
        .map_err(|_| bad("the Location header is not text".into()))?;
    resp.url()
        .join(value)
        .map(String::from)
        .map_err(|e| bad(format!("the Location header `{value}` is not a URL: {e}")))
}

/// `builder` built, or why not.
fn client(host: &str, builder: reqwest::ClientBuilder) -> Result<reqwest::Client, RegistryError> {
    builder.build().map_err(|e| RegistryError::Client {
        host: host.to_string(),
        message: crate::error::chain_text(&e),
    })
}

/// Same scheme, host and port (the port a scheme implies counts as given).
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
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
    fn retry_after_takes_seconds_and_http_dates() {
        // 1994-11-06T08:49:37Z, the RFC's example.
        let example = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let before = |secs| example - Duration::from_secs(secs);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(http_date(form), Some(example), "{form}");
            assert_eq!(
                retry_after_value(form, before(7)),
                Some(Duration::from_secs(7)),
                "{form}"
            );
        }
        assert_eq!(
            retry_after_value(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                example + Duration::from_secs(60)
            ),
            Some(Duration::ZERO),
            "a date in the past: no wait"
        );
        assert_eq!(
            retry_after_value("Sun, 06 Nov 1994 08:49:37 GMT", before(3600)),
            Some(MAX_RETRY_AFTER),
            "capped"
        );
        assert_eq!(
            retry_after_value(" 2 ", example),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after_value("99999999999999999999999", example),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(SystemTime::UNIX_EPOCH)
        );
        assert_eq!(
            http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_835_481_599))
        );
        for bad in [
            "",
            "soon",
            "-1",
            "1.5",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
        ] {
            assert_eq!(retry_after_value(bad, example), None, "{bad:?}");
        }
    }

    #[test]
    fn a_client_that_cannot_be_built_is_an_error() {
        let e = client(
            "r.example",
            reqwest::Client::builder().max_tls_version(reqwest::tls::Version::TLS_1_1),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), Code::Usage);
        assert!(
            e.to_string()
                .starts_with("set up the HTTPS client for r.example"),
            "{e}"
        );
        assert!(e.help().is_some());
        assert!(Registry::new("r.example", None).is_ok());
    }

    #[test]
    fn credentials_go_to_the_registry_s_own_origin_only() {
        let r = Registry::new("r.example:5000", None).unwrap();
        assert!(r.own_origin("https://r.example:5000/v2/app/blobs/uploads/1"));
        assert!(r.own_origin("https://R.EXAMPLE:5000/v2/"));
        for other in [
            "http://r.example:5000/v2/",
            "https://r.example/v2/",
            "https://r.example:5001/v2/",
            "https://r.example.evil/v2/",
            "https://r.example:5000@evil.example/v2/",
            "https://evil.example/r.example:5000/v2/",
            "s3.amazonaws.com/bucket",
            "",
        ] {
            assert!(!r.own_origin(other), "{other}");
        }
        let plain = Registry::new("r.example", None).unwrap();
        assert!(plain.own_origin("https://r.example:443/v2/"));
        assert!(!plain.own_origin("https://r.example:8443/v2/"));
    }

    /// Accepts one HTTP request on a local listener, answers `201 Created`, and returns the
    /// request's head (request line and headers, lowercased).
    async fn record_one(listener: tokio::net::TcpListener) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before the request's end");
            head.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&head).to_ascii_lowercase()
    }

    #[tokio::test]
    async fn a_location_on_another_host_gets_no_credentials() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let recorder = tokio::spawn(record_one(listener));
        let creds = Some(("AWS".to_string(), Secret::new("hunter2".to_string())));
        let r = Registry::new("r.example", creds).unwrap();
        let digest = Digest::sha256_of(b"x");
        // The upload's Location, as a registry might hand it out: another host.
        let location = format!("http://127.0.0.1:{port}/upload/1?state=abc");
        r.finish_upload(&location, &digest).await.unwrap();
        let head = recorder.await.unwrap();
        assert!(
            head.starts_with(&format!("put /upload/1?state=abc&digest={digest} ")),
            "the request reached the other host: {head}"
        );
        assert!(!head.contains("authorization"), "{head}");
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
