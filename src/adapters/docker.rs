//! The Docker Engine API (bollard). Connects where the docker CLI would (the caller passes `DOCKER_HOST`),
//! and negotiates the API version down to what the engine speaks (Debian 12's engine speaks 1.41).

use crate::error::Diagnostic;
use crate::exit::Code;

/// Where the engine listens when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Builds and pushes can take long; the engine streams progress, so only a silent hour is a failure.
const REQUEST_TIMEOUT_SECS: u64 = 3600;

/// A connected engine.
#[derive(Debug, Clone)]
pub struct Engine {
    client: bollard::Docker,
    endpoint: String,
}

/// The engine could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("reach the Docker engine at `{endpoint}`")]
pub struct EngineError {
    endpoint: String,
    #[source]
    source: bollard::errors::Error,
}

impl Diagnostic for EngineError {
    fn exit_code(&self) -> Code {
        Code::Remote
    }

    fn help(&self) -> Option<String> {
        Some("start the Docker engine (or set DOCKER_HOST to where it listens)".into())
    }
}

/// What `/version` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    /// The engine's version, e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// The API version in use after negotiation, e.g. `1.41`.
    pub api_version: String,
}

impl Engine {
    /// Connects to `host` (a `DOCKER_HOST` value: `unix:///path` or `tcp://host:port`; `None` for the
    /// local socket) and negotiates the API version with a `/_ping` round trip.
    pub async fn connect(host: Option<&str>) -> Result<Engine, EngineError> {
        let endpoint = host.unwrap_or(DEFAULT_HOST).to_string();
        let err = |source| EngineError {
            endpoint: endpoint.clone(),
            source,
        };
        let client = if let Some(path) = endpoint.strip_prefix("unix://") {
            bollard::Docker::connect_with_unix(
                path,
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
        } else {
            bollard::Docker::connect_with_http(
                &endpoint,
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
        }
        .map_err(err)?;
        let client = client.negotiate_version().await.map_err(err)?;
        Ok(Engine { client, endpoint })
    }

    /// `GET /_ping`: `OK` when the engine answers.
    pub async fn ping(&self) -> Result<String, EngineError> {
        self.client.ping().await.map_err(|source| EngineError {
            endpoint: self.endpoint.clone(),
            source,
        })
    }

    /// The engine's version and the negotiated API version.
    pub async fn version(&self) -> Result<EngineVersion, EngineError> {
        let v = self.client.version().await.map_err(|source| EngineError {
            endpoint: self.endpoint.clone(),
            source,
        })?;
        Ok(EngineVersion {
            version: v.version.unwrap_or_default(),
            api_version: self.client.client_version().to_string(),
        })
    }
}

/// A build's settings, as the Engine API takes them.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's path inside the context tar.
    pub dockerfile: String,
    /// The Dockerfile as the user named it, for messages (it may be sent under another name).
    pub dockerfile_shown: String,
    /// The local tag given to the result.
    pub tag: String,
    /// `--build-arg`s.
    pub build_args: std::collections::HashMap<String, String>,
    /// Labels.
    pub labels: std::collections::HashMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`.
    pub pull: bool,
    /// Which builder runs the build.
    pub builder: Builder,
    /// `--network` for `RUN` steps (`None`: the engine's default).
    pub network: Option<String>,
    /// `--cache-from` images (BuildKit).
    pub cache_from: Vec<String>,
    /// What the BuildKit session offers: secrets, the SSH agent, registry credentials.
    pub session: crate::adapters::buildkit::session::SessionData,
    /// Values hidden from every line of build output (the secrets' values).
    pub redact: crate::secret::Masks,
}

/// The engine's builder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Builder {
    /// BuildKit (`/build?version=2` with a session), as `docker build` uses.
    #[default]
    BuildKit,
    /// The engine's classic builder (`/build`), deprecated by Docker.
    Classic,
}

/// A build that failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile failed (a RUN step, a missing file…).
    #[error("build the image: {message}")]
    Failed {
        /// The engine's error.
        message: String,
        /// The last lines of output before it.
        output: Vec<String>,
    },
    /// The engine refused the build before it started (HTTP 400 from `/build`): a Dockerfile it
    /// cannot parse, a `--target` stage that does not exist, a build option it does not accept.
    #[error("build the image: {}", refusal(dockerfile, message))]
    Refused {
        /// The Dockerfile as the user named it.
        dockerfile: String,
        /// The engine's message.
        message: String,
    },
    /// The engine could not be talked to.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The line and the reason of the engine's `dockerfile parse error line 3: unknown instruction: ECHO`.
pub fn parse_error(message: &str) -> Option<(u32, &str)> {
    let (line, reason) = message
        .strip_prefix("dockerfile parse error line ")?
        .split_once(": ")?;
    Some((line.parse().ok()?, reason))
}

/// `Dockerfile:3: unknown instruction: ECHO` from the engine's `dockerfile parse error line 3:
/// unknown instruction: ECHO`; other refusals as the engine words them.
fn refusal(dockerfile: &str, message: &str) -> String {
    match parse_error(message) {
        Some((line, reason)) => format!("{dockerfile}:{line}: {reason}"),
        None if message.contains("Dockerfile") || message.starts_with("target stage ") => {
            format!("{dockerfile}: {message}")
        }
        None => format!("the engine refused the build: {message}"),
    }
}

impl Diagnostic for BuildError {
    fn exit_code(&self) -> Code {
        match self {
            BuildError::Failed { .. } => Code::Verdict,
            BuildError::Refused { .. } => Code::Usage,
            BuildError::Engine(e) => e.exit_code(),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            BuildError::Failed { output, .. } if !output.is_empty() => Some(format!(
                "the failing step's output ends with:\n    {}",
                output.join("\n    ")
            )),
            BuildError::Failed { .. } => None,
            BuildError::Refused { message, .. } if message.contains("heredoc") => Some(
                "put the heredoc's commands on one `RUN` line (joined with &&) or in a script the \
                 Dockerfile copies, or build on Docker Engine 23 or later"
                    .into(),
            ),
            BuildError::Refused { message, .. } if message.starts_with("secret ") => Some(
                "pass the secret the Dockerfile mounts: --secret id=ID,src=PATH or id=ID,env=VAR"
                    .into(),
            ),
            BuildError::Refused { message, .. } if message.contains("unknown instruction") => Some(
                "fix that line of the Dockerfile; a heredoc (`RUN <<EOF`, `COPY <<EOF`) is not \
                 understood by this engine's Dockerfile frontend: put the commands on one `RUN` line \
                 or in a script the Dockerfile copies"
                    .into(),
            ),
            BuildError::Refused { message, .. }
                if message.contains("build target") || message.contains("target stage") =>
            {
                Some("name a stage the Dockerfile defines (`FROM … AS NAME`) with --target".into())
            }
            BuildError::Refused { .. } => {
                Some("check the build flags (--platform, --build-arg, --target)".into())
            }
            BuildError::Engine(e) => e.help(),
        }
    }
}

/// What `/images/{name}/json` says that a push needs.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The image ID (sha256 of the config).
    pub id: String,
    /// The layers' diff IDs, in order.
    pub diff_ids: Vec<String>,
}

impl Engine {
    fn err(&self, source: bollard::errors::Error) -> EngineError {
        EngineError {
            endpoint: self.endpoint.clone(),
            source,
        }
    }

    /// Builds from a streamed context tar with the builder `options` name; each output line goes to
    /// `on_line`. Returns the image ID.
    pub async fn build(
        &self,
        options: &BuildOptions,
        context: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
        mut on_line: impl FnMut(&str) + Send,
    ) -> Result<String, BuildError> {
        if options.builder == Builder::Classic {
            return self.build_classic(options, context, on_line).await;
        }
        let dial = crate::adapters::buildkit::Dial {
            endpoint: self.endpoint.clone(),
            api_version: self.client.client_version().to_string(),
        };
        crate::adapters::buildkit::build(&dial, options, context, &mut on_line)
            .await
            .map_err(|e| self.err(bollard::errors::Error::from(e)))?
    }

    /// [`Engine::build`] with the classic builder.
    async fn build_classic(
        &self,
        options: &BuildOptions,
        context: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
        mut on_line: impl FnMut(&str),
    ) -> Result<String, BuildError> {
        use futures_util::StreamExt as _;
        let opts = bollard::query_parameters::BuildImageOptions {
            dockerfile: options.dockerfile.clone(),
            t: Some(options.tag.clone()),
            buildargs: Some(options.build_args.clone()),
            labels: Some(options.labels.clone()),
            target: options.target.clone().unwrap_or_default(),
            platform: options.platform.clone().unwrap_or_default(),
            nocache: options.no_cache,
            pull: options.pull.then(|| "1".to_string()),
            networkmode: options.network.clone(),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut stream =
            self.client
                .build_image(opts, None, Some(bollard::body_try_stream(context)));
        let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        let mut id = None;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(BuildError::Failed {
                        message: error,
                        output: tail.into(),
                    });
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 400,
                    message,
                }) => {
                    return Err(BuildError::Refused {
                        dockerfile: options.dockerfile_shown.clone(),
                        message,
                    });
                }
                Err(e) => return Err(self.err(e).into()),
            };
            if let Some(text) = info.stream.as_deref() {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    on_line(line);
                    tail.push_back(line.to_string());
                    if tail.len() > 20 {
                        tail.pop_front();
                    }
                }
            }
            if let Some(detail) = info.error_detail {
                return Err(BuildError::Failed {
                    message: detail
                        .message
                        .unwrap_or_else(|| "the engine reported an error".into()),
                    output: tail.into(),
                });
            }
            if let Some(aux) = info.aux.and_then(|a| a.id) {
                id = Some(aux);
            }
        }
        match id {
            Some(id) => Ok(id),
            None => Ok(self.inspect(&options.tag).await?.id),
        }
    }

    /// The image's ID and layer diff IDs.
    pub async fn inspect(&self, image: &str) -> Result<ImageInfo, EngineError> {
        let info = self
            .client
            .inspect_image(image)
            .await
            .map_err(|e| self.err(e))?;
        Ok(ImageInfo {
            id: info.id.unwrap_or_default(),
            diff_ids: info.root_fs.and_then(|r| r.layers).unwrap_or_default(),
        })
    }

    /// The engine's export of an image (`docker save`), as a byte stream.
    pub fn export(
        &self,
        image: &str,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + use<> {
        use futures_util::StreamExt as _;
        self.client
            .export_image(image)
            .map(|r| r.map_err(std::io::Error::other))
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn a_parse_error_names_the_dockerfile_and_line() {
        assert_eq!(
            refusal(
                "app/Dockerfile",
                "dockerfile parse error line 3: unknown instruction: ECHO"
            ),
            "app/Dockerfile:3: unknown instruction: ECHO"
        );
        assert_eq!(
            refusal(
                "Dockerfile",
                "failed to reach build target nope in Dockerfile"
            ),
            "Dockerfile: failed to reach build target nope in Dockerfile"
        );
    }
}
