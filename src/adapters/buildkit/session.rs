//! The BuildKit session a build hands the engine: the engine's builder calls back into it, over the
//! connection `POST /session` upgrades to HTTP/2, for what only the client has — a secret's value
//! (`RUN --mount=type=secret`), the SSH agent (`RUN --mount=type=ssh`) and registry credentials (for
//! `--cache-from` and base images). It serves exactly those and nothing else: the context travels
//! in `/build`'s body, so no file of the machine is reachable through the session.

use super::Dial;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
    health_check_response::ServingStatus,
};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage, CheckAgentRequest, CheckAgentResponse,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// A secret's bytes; shown as `<redacted>`.
#[derive(Clone)]
pub struct SecretValue(pub Vec<u8>);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// What the session offers the builder.
#[derive(Debug, Clone, Default)]
pub struct SessionData {
    /// `--secret` values by ID.
    pub secrets: HashMap<String, SecretValue>,
    /// `--ssh default`: the agent socket.
    pub ssh_agent: Option<PathBuf>,
    /// Registry credentials by host: username and password.
    pub registries: HashMap<String, (String, SecretValue)>,
}

/// The methods the session answers, announced in `X-Docker-Expose-Session-Grpc-Method` (BuildKit
/// only calls what is announced: without `FetchToken` it asks for `Credentials`).
fn methods(data: &SessionData) -> Vec<&'static str> {
    let mut methods = vec![
        "/grpc.health.v1.Health/Check",
        "/moby.filesync.v1.Auth/Credentials",
        "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    ];
    if data.ssh_agent.is_some() {
        methods.extend([
            "/moby.sshforward.v1.SSH/CheckAgent",
            "/moby.sshforward.v1.SSH/ForwardAgent",
        ]);
    }
    methods
}

/// Opens the session `id` on the engine and serves it until the engine closes it (the build ended)
/// or the returned task is aborted.
pub(super) async fn open(
    dial: &Dial,
    id: &str,
    data: SessionData,
) -> Result<tokio::task::JoinHandle<()>, std::io::Error> {
    let mut request = http::Request::post(dial.path("/session"))
        .header(http::header::HOST, "docker")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "h2c")
        .header("X-Docker-Expose-Session-Uuid", id)
        .header("X-Docker-Expose-Session-Name", "build-push")
        .header("X-Docker-Expose-Session-Sharedkey", "");
    for method in methods(&data) {
        request = request.header("X-Docker-Expose-Session-Grpc-Method", method);
    }
    let request = request
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(std::io::Error::other)?;
    // The connection's task lives as long as the upgraded stream.
    let (response, _connection) = dial.send(request).await?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(std::io::Error::other(format!(
            "the engine refused the build session: HTTP {}",
            response.status()
        )));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(std::io::Error::other)?;
    let io = Upgraded(hyper_util::rt::TokioIo::new(upgraded));
    let data = Arc::new(data);
    let ssh = data.ssh_agent.clone();
    let router = tonic::transport::Server::builder()
        .add_service(HealthServer::new(Healthy))
        .add_service(AuthServer::new(Credentials(data.clone())))
        .add_service(SecretsServer::new(SecretStore(data)))
        .add_service(SshServer::new(Agent(ssh)));
    Ok(tokio::spawn(async move {
        let incoming = futures_util::stream::iter([Ok::<_, std::io::Error>(io)]);
        let _ = router.serve_with_incoming(incoming).await;
    }))
}

/// The upgraded connection, as tonic's server takes it.
struct Upgraded(hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>);

impl tonic::transport::server::Connected for Upgraded {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        }))
    }

    async fn list(
        &self,
        _: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream = futures_util::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

struct SecretStore(Arc<SessionData>);

#[tonic::async_trait]
impl Secrets for SecretStore {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        match self.0.secrets.get(id) {
            Some(value) => Ok(Response::new(GetSecretResponse {
                data: value.0.clone(),
            })),
            // BuildKit words this as "secret ID not found" (or skips an optional mount).
            None => Err(Status::not_found(format!(
                "secret {id} not found: pass it with --secret id={id},src=FILE or id={id},env=VAR"
            ))),
        }
    }
}

struct Credentials(Arc<SessionData>);

#[tonic::async_trait]
impl Auth for Credentials {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = &request.get_ref().host;
        // Anonymous when the host is not ours to log in to: BuildKit then pulls without credentials.
        let response = match self.0.registries.get(host) {
            Some((username, secret)) => CredentialsResponse {
                username: username.clone(),
                secret: String::from_utf8_lossy(&secret.0).into_owned(),
            },
            None => CredentialsResponse::default(),
        };
        Ok(Response::new(response))
    }

    async fn fetch_token(
        &self,
        _: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("fetch_token"))
    }

    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("get_token_authority"))
    }

    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("verify_token_authority"))
    }
}

/// The SSH agent, forwarded byte for byte: each `ForwardAgent` call is one connection to the
/// agent's socket.
struct Agent(Option<PathBuf>);

type ByteStream = Pin<Box<dyn futures_util::Stream<Item = Result<BytesMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Ssh for Agent {
    async fn check_agent(
        &self,
        request: Request<CheckAgentRequest>,
    ) -> Result<Response<CheckAgentResponse>, Status> {
        let id = &request.get_ref().id;
        if self.0.is_some() && (id.is_empty() || id == "default") {
            Ok(Response::new(CheckAgentResponse {}))
        } else {
            Err(Status::not_found(format!(
                "no SSH agent {id:?}: pass --ssh default with SSH_AUTH_SOCK set"
            )))
        }
    }

    type ForwardAgentStream = ByteStream;

    async fn forward_agent(
        &self,
        request: Request<tonic::Streaming<BytesMessage>>,
    ) -> Result<Response<Self::ForwardAgentStream>, Status> {
        use futures_util::StreamExt as _;
        use tokio::io::AsyncWriteExt as _;
        let Some(path) = &self.0 else {
            return Err(Status::not_found("no SSH agent: pass --ssh default"));
        };
        let socket = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| Status::unavailable(format!("reach the SSH agent: {e}")))?;
        let (read, mut write) = socket.into_split();
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            while let Some(Ok(message)) = inbound.next().await {
                if write.write_all(&message.data).await.is_err() {
                    break;
                }
            }
            let _ = write.shutdown().await;
        });
        let outbound = tokio_util::io::ReaderStream::new(read).map(|chunk| {
            chunk
                .map(|data| BytesMessage {
                    data: data.to_vec(),
                })
                .map_err(|e| Status::unavailable(e.to_string()))
        });
        Ok(Response::new(Box::pin(outbound)))
    }
}
