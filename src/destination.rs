//! Where an image goes: `--repository` as a bare name (the caller's own ECR registry, found through the
//! token answer) or a full URI (any registry), the credentials to use there (docker's config first —
//! what ecr-login wrote — else an ECR token through the AWS SDK), and for ECR the repository's settings
//! (it must exist; its tag mutability decides what an existing tag may become).

use crate::adapters::aws::{Aws, Repository};
use crate::adapters::registry::TagLookup;
use crate::cli::Context;
use crate::docker_config::{self, Document};
use crate::ecr_host::{EcrHost, EcrRegistry};
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::reference::{Digest, ImageRef};
use crate::secret::Secret;

/// A repository to push to, before connecting.
#[derive(Debug)]
pub(crate) struct Located {
    /// The registry host (with port, if any).
    pub(crate) registry: String,
    /// The repository path.
    pub(crate) repository: String,
    /// The ECR registry, when it is one.
    pub(crate) ecr: Option<EcrHost>,
    token: Option<(String, Secret)>,
    aws: Option<Aws>,
}

/// A repository ready to use.
#[derive(Debug)]
pub(crate) struct Destination {
    /// The registry host (with port, if any).
    pub(crate) registry: String,
    /// The repository path.
    pub(crate) repository: String,
    /// The ECR registry, when it is one.
    pub(crate) ecr: Option<EcrHost>,
    /// Username and password for the registry.
    pub(crate) creds: Option<(String, Secret)>,
    /// The AWS configuration, when the registry is ECR and AWS is reachable.
    pub(crate) aws: Option<Aws>,
    /// ECR's settings for the repository, once read.
    settings: Option<Repository>,
    checked: bool,
}

/// `--repository` is unusable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DestinationError {
    /// Not a repository.
    #[error("use `{input}` as the repository: {reason}")]
    Repository {
        /// The value.
        input: String,
        /// Why.
        reason: String,
    },
    /// The ECR repository does not exist.
    #[error("use `{repository}`: the repository does not exist in registry {registry}")]
    NoRepository {
        /// The name.
        repository: String,
        /// The host.
        registry: String,
    },
}

impl Diagnostic for DestinationError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        match self {
            DestinationError::Repository { .. } => Some(
                "pass a repository name (team/app) or URI (123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app), \
                 and tags with --tag"
                    .into(),
            ),
            DestinationError::NoRepository { repository, .. } => {
                Some(format!("create it first: aws ecr create-repository --repository-name {repository}"))
            }
        }
    }
}

/// `--repository` read without asking anyone: the registry, when it names one, and the repository
/// path; an error for anything that is not a repository.
pub(crate) fn parse(input: &str) -> Result<(Option<String>, String), DestinationError> {
    let bad = |reason: &str| DestinationError::Repository {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let last = input.rsplit('/').next().unwrap_or("");
    if input.contains('@') || last.contains(':') {
        return Err(bad(
            "a repository has no tag or digest; pass tags with --tag",
        ));
    }
    // Docker's rule (`splitDockerDomain`) tells a registry host from a repository's first part.
    if let Some((first, _)) = input.split_once('/')
        && crate::reference::docker::names_a_registry(first)
    {
        let r = ImageRef::parse(input).map_err(|e| bad(e.reason()))?;
        return Ok((Some(r.registry().to_string()), r.repository().to_string()));
    }
    let name = ImageRef::parse(&format!("localhost/{input}")).map_err(|e| bad(e.reason()))?;
    Ok((None, name.repository().to_string()))
}

/// Parses `--repository`; a bare name asks ECR for the caller's registry (which also logs in).
pub(crate) async fn locate(input: &str, region: Option<&str>) -> Result<Located, Error> {
    let (registry, repository) = parse(input)?;
    if let Some(registry) = registry {
        return Ok(Located {
            ecr: EcrRegistry::private(&registry),
            registry,
            repository,
            token: None,
            aws: None,
        });
    }
    let aws = Aws::load(region, None).await?;
    aws.identity().await?;
    let token = aws.ecr(&aws.region()).authorization_token().await?;
    let host = docker_config::bare(&token.proxy_endpoint).to_string();
    Ok(Located {
        ecr: EcrRegistry::private(&host),
        registry: host,
        repository,
        token: Some((token.username, token.password)),
        aws: Some(aws),
    })
}

impl Located {
    /// Finds credentials and, for ECR, checks the repository exists and reads its settings. A
    /// repository that cannot be checked (no ECR API access) is used with a warning.
    pub(crate) async fn connect(self, ctx: &Context) -> Result<Destination, Error> {
        let mut target = self.credentials(ctx).await?;
        target.settings(ctx).await?;
        Ok(target)
    }

    /// Finds credentials only: docker's config, else (for ECR) a token through the AWS SDK. The
    /// repository's settings are read later, if they are needed ([`Destination::settings`]).
    pub(crate) async fn credentials(self, ctx: &Context) -> Result<Destination, Error> {
        let config_dir = docker_config::config_dir(&ctx.env)?;
        let doc = Document::read(&config_dir.join(docker_config::FILE_NAME))?;
        let mut creds = doc.credentials_for(&self.registry)?.or(self.token);
        let mut aws = self.aws;
        if creds.is_none()
            && let Some(ecr) = &self.ecr
            && aws.is_none()
        {
            aws = Aws::load(Some(ecr.region()), None).await.ok();
        }
        if creds.is_none()
            && let (Some(ecr), Some(a)) = (&self.ecr, &aws)
        {
            a.identity().await?;
            let token = a.ecr(ecr.region()).authorization_token().await?;
            creds = Some((token.username, token.password));
        }
        if let Some((_, p)) = &creds {
            ctx.out.mask(p.expose());
        }
        Ok(Destination {
            registry: self.registry,
            repository: self.repository,
            ecr: self.ecr,
            creds,
            aws,
            settings: None,
            checked: false,
        })
    }
}

impl Destination {
    /// For ECR, reads the repository's settings once: an error if it does not exist; a warning (and
    /// `None`) if ECR cannot be asked. Other registries have none.
    pub(crate) async fn settings(&mut self, ctx: &Context) -> Result<Option<&Repository>, Error> {
        if !self.checked {
            self.checked = true;
            if let Some(ecr) = &self.ecr
                && self.aws.is_none()
            {
                self.aws = Aws::load(Some(ecr.region()), None).await.ok();
            }
            if let (Some(ecr), Some(a)) = (&self.ecr, &self.aws) {
                match a.ecr(ecr.region()).repository(ecr.account(), &self.repository).await {
                    Ok(Some(r)) => self.settings = Some(r),
                    Ok(None) => {
                        return Err(DestinationError::NoRepository {
                            repository: self.repository.clone(),
                            registry: self.registry.clone(),
                        }
                        .into());
                    }
                    Err(e) => ctx.out.warn(&format!(
                        "could not read the repository's settings from ECR ({e}); going on without the \
                         tag-mutability check"
                    )),
                }
            }
        }
        Ok(self.settings.as_ref())
    }

    /// Sorts the tags of a manifest about to be put (`digest`) by what each names now (`lookups`,
    /// in the order of `tags`). A tag naming another image is `conflict(tag, that image)` when the
    /// repository is immutable, found before anything is put; the settings are read from ECR only
    /// then, so a push whose tags are new or already right asks nothing of the ECR API.
    pub(crate) async fn sort_tags(
        &mut self,
        ctx: &Context,
        tags: &[String],
        lookups: Vec<TagLookup>,
        digest: &Digest,
        conflict: impl FnOnce(String, Digest) -> Error,
    ) -> Result<SortedTags, Error> {
        let now = lookups.into_iter().collect::<Result<Vec<_>, _>>()?;
        if now.iter().flatten().any(|d| d != digest) {
            self.settings(ctx).await?;
        }
        self.sort_known(tags, now, digest, conflict)
    }

    /// [`Destination::sort_tags`] with the settings as far as they are known.
    pub(crate) fn sort_known(
        &self,
        tags: &[String],
        now: Vec<Option<Digest>>,
        digest: &Digest,
        conflict: impl FnOnce(String, Digest) -> Error,
    ) -> Result<SortedTags, Error> {
        let mut sorted = SortedTags::default();
        for (tag, now) in tags.iter().zip(now) {
            match now {
                Some(d) if d == *digest => sorted.present.push(tag.clone()),
                Some(d) if self.immutable() => return Err(conflict(tag.clone(), d)),
                _ => sorted.to_put.push(tag.clone()),
            }
        }
        Ok(sorted)
    }

    /// Whether existing tags may not be moved (an `IMMUTABLE*` ECR repository), as far as known.
    pub(crate) fn immutable(&self) -> bool {
        self.settings.as_ref().is_some_and(Repository::immutable)
    }

    /// `registry/repository`.
    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// Tags sorted by what they name now ([`Destination::sort_tags`]).
#[derive(Debug, Default)]
pub(crate) struct SortedTags {
    /// The tags that already name the manifest.
    pub(crate) present: Vec<String>,
    /// The tags to put (new, or movable).
    pub(crate) to_put: Vec<String>,
}

impl SortedTags {
    /// Each of `tags`, in its order, with `present` when it already names the manifest and `put`
    /// when it is one to put: the report's list.
    pub(crate) fn statuses<S: Copy>(
        &self,
        tags: &[String],
        present: S,
        put: S,
    ) -> impl Iterator<Item = (String, S)> {
        tags.iter().map(move |t| {
            let status = if self.present.contains(t) {
                present
            } else {
                put
            };
            (t.clone(), status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_is_recognised_as_docker_recognises_it() {
        let registry = |input: &str| parse(input).unwrap().0;
        assert_eq!(registry("app"), None);
        assert_eq!(registry("team/app"), None);
        assert_eq!(registry("localhost/app").as_deref(), Some("localhost"));
        assert_eq!(
            registry("LOCALDOMAIN/debian").as_deref(),
            Some("LOCALDOMAIN")
        );
        assert_eq!(
            registry("reg.example:5000/app").as_deref(),
            Some("reg.example:5000")
        );
        assert_eq!(
            registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app").as_deref(),
            Some("123456789012.dkr.ecr.us-east-1.amazonaws.com")
        );
        assert!(parse("app:1").is_err() && parse("app@sha256:00").is_err());
    }
}
