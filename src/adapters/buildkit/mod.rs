//! BuildKit through the Docker Engine API, as `DOCKER_BUILDKIT=1 docker build` drives it: one
//! `POST /build?version=2&session=ID` whose body is the context tar, and a session (`session`) the
//! engine's builder calls back into for secrets, the SSH agent and registry credentials. The engine
//! streams BuildKit's solve status as `moby.buildkit.trace` messages (protobuf `StatusResponse`,
//! base64 in JSON), which `progress` renders as `--progress=plain` does, and names the built image in
//! a `moby.image.id` message.
//!
//! bollard's own BuildKit support serves only registry credentials on this path (and its
//! Solve-based driver gives no progress and holds the context in memory), so the two requests are
//! made here with hyper, on the connection `DOCKER_HOST` names, with bollard's generated protocol.

pub mod progress;
pub mod session;

use super::docker::{BuildError, BuildOptions};
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use progress::Progress;
use std::collections::HashMap;

/// A byte stream to the engine.
pub(crate) trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Where the engine listens (`unix:///path` or `tcp://host:port`) and the API version in use.
#[derive(Debug, Clone)]
pub(crate) struct Dial {
    pub(crate) endpoint: String,
    pub(crate) api_version: String,
}

impl Dial {
    fn path(&self, path: &str) -> String {
        format!("/v{}{path}", self.api_version)
    }

    /// Sends `request` on a new connection; the task driving it (upgrades included) is returned.
    async fn send<B>(
        &self,
        request: http::Request<B>,
    ) -> std::io::Result<(
        http::Response<hyper::body::Incoming>,
        tokio::task::JoinHandle<()>,
    )>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let stream = self.connect().await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
        let conn = tokio::spawn(async move {
            // Its errors surface as the request's.
            let _ = conn.with_upgrades().await;
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        Ok((response, conn))
    }

    async fn connect(&self) -> std::io::Result<Box<dyn Io>> {
        if let Some(path) = self.endpoint.strip_prefix("unix://") {
            Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
        } else {
            let address = self
                .endpoint
                .strip_prefix("tcp://")
                .or_else(|| self.endpoint.strip_prefix("http://"))
                .unwrap_or(&self.endpoint)
                .trim_end_matches('/');
            Ok(Box::new(tokio::net::TcpStream::connect(address).await?))
        }
    }
}

/// One message of `/build`'s stream.
#[derive(Debug, serde::Deserialize)]
struct Message {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    aux: Option<serde_json::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
}

/// Builds with BuildKit; the rendered progress goes to `on_line`. Returns the image ID. `Err(io)`
/// only when the engine could not be talked to.
pub(crate) async fn build(
    dial: &Dial,
    options: &BuildOptions,
    context: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Result<String, BuildError>, std::io::Error> {
    let id = session_id();
    let session = session::open(dial, &id, options.session.clone()).await?;
    let result = run(dial, options, &id, context, on_line).await;
    session.abort();
    result
}

async fn run(
    dial: &Dial,
    options: &BuildOptions,
    session: &str,
    context: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Result<String, BuildError>, std::io::Error> {
    let body = http_body_util::StreamBody::new(context.map(|r| r.map(hyper::body::Frame::data)));
    let request = http::Request::post(format!(
        "{}?{}",
        dial.path("/build"),
        query(options, session)
    ))
    .header(http::header::HOST, "docker")
    .header(http::header::CONTENT_TYPE, "application/x-tar")
    .body(body)
    .map_err(std::io::Error::other)?;
    let (response, conn) = dial.send(request).await?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
        if status == http::StatusCode::BAD_REQUEST {
            return Ok(Err(BuildError::Refused {
                dockerfile: options.dockerfile_shown.clone(),
                message,
            }));
        }
        return Err(std::io::Error::other(format!("HTTP {status}: {message}")));
    }
    let mut progress = Progress::new(options.redact.clone());
    let mut pending: Vec<u8> = Vec::new();
    let mut image_id = None;
    let mut failure = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(std::io::Error::other)?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(message) = serde_json::from_slice::<Message>(line.trim_ascii()) else {
                continue;
            };
            handle(message, &mut progress, &mut image_id, &mut failure, on_line);
        }
    }
    conn.abort();
    if let Some(message) = failure {
        return Ok(Err(classify(&message, options, &progress)));
    }
    match image_id {
        Some(id) => Ok(Ok(id)),
        None => Err(std::io::Error::other(
            "the build stream ended without naming the image",
        )),
    }
}

fn handle(
    message: Message,
    progress: &mut Progress,
    image_id: &mut Option<String>,
    failure: &mut Option<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) {
    match (message.id.as_deref(), message.aux) {
        (Some("moby.buildkit.trace"), Some(serde_json::Value::String(encoded))) => {
            use base64::Engine as _;
            use prost::Message as _;
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded)
                && let Ok(status) = StatusResponse::decode(bytes.as_slice())
            {
                progress.update(&status, on_line);
            }
        }
        (Some("moby.image.id"), Some(aux)) => {
            if let Some(id) = aux["ID"].as_str() {
                *image_id = Some(id.to_string());
            }
        }
        _ => {}
    }
    if let Some(text) = message.stream.as_deref() {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            on_line(&progress.redact(line));
        }
    }
    if let Some(error) = message
        .error_detail
        .and_then(|d| d.message)
        .or(message.error)
    {
        *failure = Some(error);
    }
}

/// The build's failure, from the engine's final message: a Dockerfile it cannot parse or a target
/// it does not define is the Dockerfile's fault (exit 2); anything else is a step that failed,
/// named with its last output lines.
fn classify(message: &str, options: &BuildOptions, progress: &Progress) -> BuildError {
    let message = message
        .trim()
        .trim_start_matches("failed to solve with frontend dockerfile.v0: ")
        .trim_start_matches("failed to solve: ");
    if let Some(at) = message.find("dockerfile parse error line ") {
        return BuildError::Refused {
            dockerfile: options.dockerfile_shown.clone(),
            message: message[at..].to_string(),
        };
    }
    let llb = message.trim_start_matches("failed to create LLB definition: ");
    if llb.starts_with("target stage ") && llb.ends_with("could not be found") {
        return BuildError::Refused {
            dockerfile: options.dockerfile_shown.clone(),
            message: llb.to_string(),
        };
    }
    let message = progress.redact(message);
    if message.starts_with("secret ") && message.contains("not found") {
        // A `RUN --mount=type=secret,required` whose secret was not passed: a flag is missing.
        return BuildError::Refused {
            dockerfile: options.dockerfile_shown.clone(),
            message: format!("{message} (the Dockerfile mounts it, and no --secret gives it)"),
        };
    }
    match progress.failed() {
        Some((step, output)) => BuildError::Failed {
            message: format!("step `{step}` failed: {message}"),
            output,
        },
        None => BuildError::Failed {
            message,
            output: Vec::new(),
        },
    }
}

/// `/build`'s query for a BuildKit build.
fn query(options: &BuildOptions, session: &str) -> String {
    let json = |map: &HashMap<String, String>| serde_json::to_string(map).unwrap_or_default();
    let mut pairs: Vec<(&str, String)> = vec![
        ("version", "2".into()),
        ("session", session.into()),
        ("dockerfile", options.dockerfile.clone()),
        ("t", options.tag.clone()),
        ("buildargs", json(&options.build_args)),
        ("labels", json(&options.labels)),
        ("rm", "1".into()),
        ("forcerm", "1".into()),
    ];
    if let Some(target) = &options.target {
        pairs.push(("target", target.clone()));
    }
    if let Some(platform) = &options.platform {
        pairs.push(("platform", platform.clone()));
    }
    if let Some(network) = &options.network {
        pairs.push(("networkmode", network.clone()));
    }
    if options.no_cache {
        pairs.push(("nocache", "1".into()));
    }
    if options.pull {
        pairs.push(("pull", "1".into()));
    }
    if !options.cache_from.is_empty() {
        pairs.push((
            "cachefrom",
            serde_json::to_string(&options.cache_from).unwrap_or_default(),
        ));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A query value with everything but RFC 3986's unreserved characters escaped.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A new session ID (BuildKit takes any unique string; docker uses 25 random base-32 characters).
fn session_id() -> String {
    use sha2::Digest as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seed = format!("{}-{}-{:?}", std::process::id(), now.as_nanos(), now);
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest[..13].iter().fold(String::new(), |mut id, b| {
        use std::fmt::Write as _;
        let _ = write!(id, "{b:02x}");
        id
    })
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_encode("{\"A\":\"1\"}"), "%7B%22A%22%3A%221%22%7D");
    }
}
