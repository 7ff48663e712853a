//! The credential-helper mode: when this binary runs as `docker-credential-ecr-login`, it speaks the
//! docker credential-helper protocol, so docker, BuildKit and every helper-aware client fetch ECR
//! tokens on demand:
//!
//! - `get`: the server URL on stdin → `{"ServerURL","Username","Secret"}` on stdout. A token is fetched
//!   for the host's region (or ECR Public) and cached (see [`super::cache`]) until half its lifetime.
//!   A host that is not ECR answers `credentials not found in native keychain` (docker then goes
//!   anonymous); any other failure prints its real reason on stdout, where docker shows it, and exits 1.
//! - `list`: the cached registries, `{"https://HOST":"AWS"}`.
//! - `store`, `erase`: accepted and ignored (so `docker login`/`logout` against a host served by this
//!   helper do not fail with "not implemented").

use super::cache::{self, TokenCache};
use crate::adapters::aws::{AuthToken, Aws};
use crate::cli::{Context, Step};
use crate::ecr_host::EcrRegistry;
use crate::error::Error;
use crate::exit::Code;
use crate::output::OutputArgs;
use std::time::SystemTime;

/// The message docker recognises as "no credentials for this host".
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// docker-credential-ecr-login: the docker credential-helper protocol for Amazon ECR.
///
/// docker runs it with one of get, list, store, erase and the request on stdin.
#[derive(Debug, clap::Parser)]
#[command(name = "docker-credential-ecr-login", version)]
pub struct CredentialHelper {
    /// The protocol action.
    #[arg(value_enum)]
    action: Action,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Action {
    Get,
    List,
    Store,
    Erase,
}

impl Step for CredentialHelper {
    const NAME: &'static str = "docker-credential-ecr-login";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let mut input = String::new();
        if matches!(self.action, Action::Get | Action::Store | Action::Erase) {
            // The request is small (a host name, or a credential); a read error or an oversized
            // request is the same as an empty one.
            input = crate::input::read_all(std::io::stdin().lock(), 1 << 20).unwrap_or_default();
        }
        match self.action {
            Action::Store | Action::Erase => Ok(Code::Ok),
            Action::List => {
                let now = SystemTime::now();
                let map: serde_json::Map<String, serde_json::Value> = cache::location(&ctx.env)
                    .map(|dir| TokenCache::new(dir).endpoints(now))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| (e, serde_json::Value::String("AWS".into())))
                    .collect();
                ctx.out
                    .stdout_text(&format!("{}\n", serde_json::Value::Object(map)))?;
                Ok(Code::Ok)
            }
            Action::Get => {
                let server = input.trim().to_string();
                let Ok(registry) = EcrRegistry::parse(&server) else {
                    ctx.out.stdout_text(&format!("{NOT_FOUND}\n"))?;
                    return Ok(Code::Verdict);
                };
                match get(&registry, &ctx).await {
                    Ok(token) => {
                        let answer = serde_json::json!({
                            "ServerURL": server,
                            "Username": token.username,
                            "Secret": token.password.expose(),
                        });
                        ctx.out.stdout_text(&format!("{answer}\n"))?;
                        Ok(Code::Ok)
                    }
                    Err(err) => {
                        // docker shows the helper's stdout in its error; say the real reason there.
                        let chain = err.chain();
                        // Already failing (exit 1, the error on stderr): a failed write adds nothing.
                        let _ = ctx
                            .out
                            .stdout_text(&format!("ecr-login: failed to {}\n", chain.join(": ")));
                        ctx.out.failure(Self::NAME, &chain, err.help().as_deref());
                        Ok(Code::Verdict)
                    }
                }
            }
        }
    }
}

async fn get(registry: &EcrRegistry, ctx: &Context) -> Result<AuthToken, Error> {
    let region = match registry {
        EcrRegistry::Private(h) => h.region().to_string(),
        EcrRegistry::Public { .. } => "us-east-1".to_string(),
    };
    let aws = Aws::load(Some(&region), None).await?;
    let identity = aws.identity().await?;
    let key = match registry {
        EcrRegistry::Private(_) => format!("{}:{region}", identity.fingerprint),
        EcrRegistry::Public { .. } => format!("{}:public", identity.fingerprint),
    };
    let cache = cache::location(&ctx.env).map(TokenCache::new);
    let now = SystemTime::now();
    if let Some(token) = cache.as_ref().and_then(|c| c.get(&key, now)) {
        return Ok(token);
    }
    let token = match registry {
        EcrRegistry::Private(_) => aws.ecr(&region).authorization_token().await?,
        EcrRegistry::Public { .. } => aws.public_authorization_token().await?,
    };
    if let Some(c) = &cache
        && let Err(e) = c.put(&key, &token, now)
    {
        ctx.out
            .warn(&format!("could not write the token cache: {e}"));
    }
    Ok(token)
}
