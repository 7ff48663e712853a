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
