//! Tokens from AWS: the SDK loaded for the targets (the region from the flag, the SDK chain, else the
//! first target naming one; a GitHub Actions OIDC role with `--role-arn`), then one
//! `GetAuthorizationToken` per region, concurrently, and one for ECR Public.

use super::args::LoginArgs;
use super::error::LoginError;
use super::targets::{Plan, Target};
use crate::adapters::aws::{AuthToken, Aws, AwsError, WebIdentity};
use crate::adapters::github_oidc;
use crate::cli::Context;
use crate::docker_config;
use crate::ecr_host::EcrRegistry;
use crate::error::Error;
use crate::secret::Secret;

/// The region of the first target that names one.
fn first_target_region(targets: &[Target]) -> Option<String> {
    targets.iter().find_map(|t| match t {
        Target::Host(EcrRegistry::Private(h)) => Some(h.region().to_string()),
        Target::Account { region, .. } => region.clone(),
        Target::Host(EcrRegistry::Public { .. }) => None,
    })
}

/// The SDK for `region`; without one (and none in the SDK's chain), the first target's region, or
/// `us-east-1` when every target is ECR Public.
pub(crate) async fn load_aws(
    region: Option<&str>,
    targets: &[Target],
    web_identity: Option<WebIdentity>,
) -> Result<Aws, Error> {
    match Aws::load(region, web_identity.clone()).await {
        Err(AwsError::NoRegion) => match first_target_region(targets) {
            Some(r) => Ok(Aws::load(Some(&r), web_identity).await?),
            None if targets
                .iter()
                .all(|t| matches!(t, Target::Host(EcrRegistry::Public { .. })))
                && !targets.is_empty() =>
            {
                Ok(Aws::load(Some("us-east-1"), web_identity).await?)
            }
            None => Err(AwsError::NoRegion.into()),
        },
        other => Ok(other?),
    }
}

/// With `--role-arn`: the job's OIDC token from the GitHub Actions runner, to assume the role with.
/// Both secrets are masked before anything else is printed.
pub(crate) async fn web_identity(
    args: &LoginArgs,
    ctx: &Context,
) -> Result<Option<WebIdentity>, Error> {
    let Some(role_arn) = &args.role_arn else {
        return Ok(None);
    };
    let (Some(url), Some(token)) = (
        ctx.env.var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        ctx.env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Err(LoginError::NoOidc(role_arn.clone()).into());
    };
    let request_token = Secret::new(token);
    ctx.out.mask(request_token.expose());
    let jwt = github_oidc::id_token(url, &request_token, "sts.amazonaws.com").await?;
    ctx.out.mask(jwt.expose());
    Ok(Some(WebIdentity {
        role_arn: role_arn.clone(),
        token: jwt,
        session_name: args.role_session_name.clone(),
    }))
}

/// Tokens for a plan: host → token, in the plan's order. One call per region (concurrently) and
/// one for ECR Public.
pub(crate) async fn fetch(
    aws: &Aws,
    plan: &Plan,
    all_forms: bool,
) -> Result<Vec<(String, AuthToken)>, Error> {
    let mut calls = tokio::task::JoinSet::new();
    for (region, rp) in &plan.regions {
        let ecr = aws.ecr(region);
        let rp = rp.clone();
        calls.spawn(async move {
            let token = ecr.authorization_token().await.map_err(Error::from)?;
            let mut hosts: Vec<String> = rp.hosts.iter().cloned().collect();
            if rp.default {
                hosts.extend(default_hosts(&token, all_forms));
            }
            Ok::<_, Error>(
                hosts
                    .into_iter()
                    .map(|h| (h, token.clone()))
                    .collect::<Vec<_>>(),
            )
        });
    }
    let mut out = Vec::new();
    if !plan.public.is_empty() {
        let token = aws.public_authorization_token().await?;
        out.extend(plan.public.iter().map(|h| (h.clone(), token.clone())));
    }
    while let Some(joined) = calls.join_next().await {
        let pairs = joined.map_err(|e| Error::from(crate::error::TaskFailed(e.to_string())))??;
        out.extend(pairs);
    }
    out.sort_by(|a, b| {
        plan.rank(&a.0)
            .cmp(&plan.rank(&b.0))
            .then_with(|| a.0.cmp(&b.0))
    });
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// The caller's own registry, which only the token names: its host, or every standard form.
fn default_hosts(token: &AuthToken, all_forms: bool) -> Vec<String> {
    match EcrRegistry::parse(&token.proxy_endpoint) {
        Ok(EcrRegistry::Private(h)) if all_forms => h.standard_forms(),
        Ok(EcrRegistry::Private(h)) => vec![h.host().to_string()],
        _ => vec![docker_config::bare(&token.proxy_endpoint).to_string()],
    }
}
