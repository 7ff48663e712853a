//! `tag-commit`: add tags to an image already in the registry — the manifest's exact bytes under new
//! tags, no pull, no blob moved (O(1) in image size).
//!
//! The source (a tag, a digest, or `--from imageDetail.json`) is resolved once to a digest; everything
//! after uses those bytes. Through the registry (default): `GET` the raw manifest (every manifest media
//! type accepted, indexes included) and `PUT` the identical bytes with the stored media type under each
//! new tag, checking the digest. `--to` promotes into another repository of the same registry: blobs
//! (and an index's child manifests) are mounted, not copied. `--via ecr-api` uses `BatchGetImage` and
//! `PutImage` with the digest, so ECR verifies it server-side.

use crate::adapters::ecr::EcrImage;
use crate::adapters::registry::{Manifest, Registry};
use crate::cli::{Context, Step};
use crate::commit::{self, CommitTag};
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::output::{OutputArgs, Report};
use crate::reference::{Digest, ImageRef};
use crate::target::{self, Target};
use serde::Serialize;
use std::path::PathBuf;

/// Add tags to an image already in the registry: the same manifest bytes, no pull, no blob moved.
///
///   tag-commit -r app --source latest                 # tag it with the current commit
///   tag-commit --from imageDetail.json --tag latest --commit-tag none   # promote after the gate
///   tag-commit -r dev/app --source v1.2 --to prod/app --tag v1.2     # promote across repositories
///   tag-commit -r app --source latest --via ecr-api   # BatchGetImage + PutImage only
///
/// Exit codes: 0 tagged (or already tagged) · 2 bad flag, unknown source or repository, immutable tag
/// conflict · 3 credentials refused · 4 registry or ECR failed after retries.
#[derive(Debug, clap::Parser)]
#[command(name = "tag-commit", version, verbatim_doc_comment)]
pub struct TagCommit {
    /// The repository holding the source image: a name (your ECR registry) or a full URI.
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "TAG_COMMIT_REPOSITORY",
        required_unless_present = "from"
    )]
    repository: Option<String>,

    /// The source: a tag or a digest (sha256:…) in --repository.
    #[arg(
        short = 's',
        long,
        value_name = "TAG|DIGEST",
        env = "TAG_COMMIT_SOURCE",
        conflicts_with = "from"
    )]
    source: Option<String>,

    /// Take the source from an imageDetail.json (what build-push wrote).
    #[arg(long, value_name = "PATH", env = "TAG_COMMIT_FROM")]
    from: Option<PathBuf>,

    /// More tags (repeatable, comma-separated).
    #[arg(
        short = 't',
        long = "tag",
        value_name = "TAG",
        env = "TAG_COMMIT_TAGS",
        value_delimiter = ','
    )]
    tags: Vec<String>,

    /// The commit tag's form: `full`, `short`, `sha-short`, `sha-full`, or `none`.
    #[arg(
        long,
        value_name = "FORM",
        env = "TAG_COMMIT_COMMIT_TAG",
        default_value = "full"
    )]
    commit_tag: CommitTag,

    /// The commit ID [default: from CI variables or git].
    #[arg(long, value_name = "SHA", env = "BUILDSTEPS_COMMIT")]
    commit: Option<String>,

    /// Tag in another repository of the same registry (promotion): blobs are mounted, not copied.
    #[arg(long, value_name = "REPOSITORY", env = "TAG_COMMIT_TO")]
    to: Option<String>,

    /// How to write tags: `registry` (the distribution API) or `ecr-api` (BatchGetImage + PutImage).
    #[arg(
        long,
        value_name = "PATH",
        env = "TAG_COMMIT_VIA",
        default_value = "registry"
    )]
    via: Via,

    /// The region of your ECR registry, for a bare repository name [default: the SDK chain].
    #[arg(long, value_name = "REGION", env = "TAG_COMMIT_REGION", value_parser = crate::ecr_host::parse_region)]
    region: Option<String>,

    /// Write an imageDetail.json naming the tagged image (digest-pinned) here.
    #[arg(long, value_name = "PATH", env = "TAG_COMMIT_IMAGE_DETAIL")]
    image_detail: Option<PathBuf>,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Via {
    Registry,
    EcrApi,
}

/// What can go wrong besides the adapters.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The source is not in the repository.
    #[error("find `{reference}` in `{repository}`: no such tag or digest")]
    NoSource {
        /// The repository.
        repository: String,
        /// The tag or digest.
        reference: String,
    },
    /// `--from` could not be used.
    #[error("read the source image from `{}`: {reason}", path.display())]
    From {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A tag names another image in an immutable repository.
    #[error(
        "tag `{tag}` in immutable `{repository}`: it already names {existing}, the source is {source_digest}"
    )]
    Immutable {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// What the tag names now.
        existing: String,
        /// The source's digest.
        source_digest: Digest,
    },
    /// The registry would not mount a blob.
    #[error(
        "mount {digest} from `{from}` into `{to}`: the registry declined (it mounts only within one registry, with pull access to the source)"
    )]
    Mount {
        /// The blob.
        digest: String,
        /// The source repository.
        from: String,
        /// The destination repository.
        to: String,
    },
    /// `--to` names another registry, or `--via ecr-api` a registry that is not ECR.
    #[error("{0}")]
    Unsupported(String),
    /// The manifest is not JSON we can read (for `--to`).
    #[error("read the manifest {0}: it is not a JSON image manifest or index")]
    Manifest(Digest),
    /// No tags.
    #[error("add tags: none given (--commit-tag none and no --tag)")]
    NoTags,
    /// A bad tag or digest.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// Writing imageDetail.json failed.
    #[error(transparent)]
    Artifact(#[from] crate::atomic::WriteError),
}

impl Diagnostic for TagError {
    fn exit_code(&self) -> Code {
        match self {
            TagError::Mount { .. } => Code::Remote,
            TagError::Artifact(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            TagError::NoSource { .. } => {
                Some("check the tag or digest (skopeo list-tags, aws ecr list-images)".into())
            }
            TagError::Immutable { .. } => {
                Some("use a new tag, or an exclusion filter that keeps this tag mutable".into())
            }
            TagError::From { .. } => Some(
                "pass the imageDetail.json build-push wrote ({\"ImageURI\": \"repo@sha256:…\"})"
                    .into(),
            ),
            TagError::NoTags => Some("pass --tag TAG, or leave --commit-tag at its default".into()),
            TagError::Reference(e) => e.help(),
            _ => None,
        }
    }
}

/// One tag's fate.
#[derive(Debug, Clone, Serialize)]
pub struct TagResult {
    /// The tag.
    pub tag: String,
    /// `created`, or `present` (it already named the digest).
    pub status: &'static str,
}

/// The result of `tag-commit` (schema version 1).
#[derive(Debug, Serialize)]
pub struct TagReport {
    /// The source, as resolved: `registry/repository@digest`.
    pub source: String,
    /// The digest every tag now names.
    pub digest: Digest,
    /// The manifest media type.
    pub media_type: String,
    /// `registry/repository` the tags are in.
    pub repository: String,
    /// The tags.
    pub tags: Vec<TagResult>,
    /// `registry` or `ecr-api`.
    pub via: &'static str,
    /// The commit the commit tag came from, if one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<commit::Commit>,
    /// Blobs (and child manifests) mounted into `repository` for a promotion.
    pub mounted: usize,
}

impl Report for TagReport {
    const STEP: &'static str = "tag-commit";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = format!(
            "tagged {}@{} ({})\n",
            self.repository, self.digest, self.media_type
        );
        for t in &self.tags {
            s.push_str(&format!("  tag {:<44} {}\n", t.tag, t.status));
        }
        if self.mounted > 0 {
            s.push_str(&format!(
                "  mounted {} blobs from {}\n",
                self.mounted, self.source
            ));
        }
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        vec![
            (
                "IMAGE_URI".into(),
                format!("{}@{}", self.repository, self.digest),
            ),
            ("IMAGE_DIGEST".into(), self.digest.to_string()),
            ("IMAGE_TAGS".into(), tags.join(",")),
        ]
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        let tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| format!("{}:{}", self.repository, t.tag))
            .collect();
        vec![
            ("digest".into(), self.digest.to_string()),
            (
                "image-uri".into(),
                format!("{}@{}", self.repository, self.digest),
            ),
            ("tags".into(), tags.join("\n")),
        ]
    }
}

/// What one tagging path did.
struct Tagged {
    digest: Digest,
    media_type: String,
    tags: Vec<TagResult>,
    mounted: usize,
}

/// Where the source lives and what it is called there.
fn source_of(args: &TagCommit, ctx: &Context) -> Result<(String, String), TagError> {
    if let Some(path) = &args.from {
        let path = ctx.env.resolve(path);
        let err = |reason: String| TagError::From {
            path: path.clone(),
            reason,
        };
        let (_, image) = crate::image_detail::read(&path).map_err(err)?;
        let reference = match (image.digest(), image.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => return Err(err("the ImageURI has neither tag nor digest".into())),
        };
        return Ok((image.name(), reference));
    }
    let repository = args.repository.clone().unwrap_or_default();
    let reference = args.source.clone().ok_or_else(|| TagError::From {
        path: PathBuf::from("--source"),
        reason: "pass --source TAG|DIGEST (or --from imageDetail.json)".into(),
    })?;
    if reference.contains(':') {
        reference.parse::<Digest>()?;
    }
    Ok((repository, reference))
}

impl Step for TagCommit {
    const NAME: &'static str = "tag-commit";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let (source_repo, reference) = source_of(&self, &ctx)?;
        // Tags first: a bad tag fails before any network call.
        let commit = match self.commit_tag {
            CommitTag::None => None,
            _ => Some(commit::resolve(
                self.commit.as_deref(),
                &ctx.env,
                ctx.env.cwd(),
            )?),
        };
        let mut tags: Vec<String> = commit
            .as_ref()
            .and_then(|c| self.commit_tag.tag(c))
            .into_iter()
            .collect();
        tags.extend(
            self.tags
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
        let tags = crate::reference::tag_list(tags).map_err(TagError::from)?;
        if tags.is_empty() {
            return Err(TagError::NoTags.into());
        }

        let source = target::locate(&source_repo, self.region.as_deref())
            .await?
            .credentials(&ctx)
            .await?;
        let source_name = source.name();
        let mut dest = match &self.to {
            Some(to) => promotion_target(to, &source, self.region.as_deref(), &ctx).await?,
            None => source,
        };
        let tagged = match self.via {
            Via::Registry => {
                via_registry(
                    &source_repo,
                    &reference,
                    &mut dest,
                    &tags,
                    &ctx,
                    self.to.is_some(),
                )
                .await?
            }
            Via::EcrApi => via_ecr_api(&reference, &mut dest, &tags, &ctx).await?,
        };
        let report = TagReport {
            source: format!("{source_name}@{}", tagged.digest),
            digest: tagged.digest,
            media_type: tagged.media_type,
            repository: dest.name(),
            tags: tagged.tags,
            via: match self.via {
                Via::Registry => "registry",
                Via::EcrApi => "ecr-api",
            },
            commit,
            mounted: tagged.mounted,
        };
        if let Some(path) = &self.image_detail {
            let uri = format!("{}@{}", report.repository, report.digest);
            crate::atomic::write(
                &ctx.env.resolve(path),
                &crate::image_detail::minimal(&uri),
                0o644,
            )
            .map_err(TagError::from)?;
        }
        ctx.out.emit(&report)?;
        Ok(Code::Ok)
    }
}

/// The `--to` repository, which must be in the source's registry.
async fn promotion_target(
    to: &str,
    source: &Target,
    region: Option<&str>,
    ctx: &Context,
) -> Result<Target, Error> {
    let has_registry = to.contains('/')
        && to
            .split('/')
            .next()
            .is_some_and(|f| f.contains('.') || f.contains(':'));
    let full = if has_registry {
        to.to_string()
    } else {
        format!("{}/{to}", source.registry)
    };
    let dest = target::locate(&full, region)
        .await?
        .credentials(ctx)
        .await?;
    if dest.registry != source.registry {
        return Err(TagError::Unsupported(format!(
            "promote to `{}`: --to must be in the source's registry {} (blobs are mounted, not copied)",
            dest.name(),
            source.registry
        ))
        .into());
    }
    Ok(dest)
}

/// The registry path: fetch once, mount for a promotion, PUT the same bytes under each tag.
async fn via_registry(
    source_repo: &str,
    reference: &str,
    dest: &mut Target,
    tags: &[String],
    ctx: &Context,
    promote: bool,
) -> Result<Tagged, Error> {
    let registry = Registry::new(&dest.registry, dest.creds.clone());
    let source_path = if promote {
        ImageRef::parse(&format!("{source_repo}:x"))
            .map_or_else(|_| source_repo.to_string(), |r| r.repository().to_string())
    } else {
        dest.repository.clone()
    };
    // The source's manifest and what each new tag names now, in one round trip.
    let lookups = futures_util::future::join_all(
        tags.iter()
            .map(|t| registry.manifest_digest(&dest.repository, t)),
    );
    let (fetched, existing) =
        futures_util::future::join(registry.get_manifest(&source_path, reference), lookups).await;
    let Some(manifest) = fetched? else {
        // Say so if the repository itself is missing (ECR knows); else the tag or digest is.
        dest.settings(ctx).await?;
        return Err(TagError::NoSource {
            repository: format!("{}/{source_path}", dest.registry),
            reference: reference.to_string(),
        }
        .into());
    };
    if reference.starts_with("sha256:") && manifest.digest.to_string() != reference {
        return Err(TagError::NoSource {
            repository: format!("{}/{source_path}", dest.registry),
            reference: reference.to_string(),
        }
        .into());
    }
    let mut mounted = 0;
    if promote && source_path != dest.repository {
        mounted = mount_all(&registry, &source_path, &dest.repository, &manifest).await?;
        ctx.out
            .info(&format!("mounted {mounted} blobs into {}", dest.name()));
    }
    let mut results = Vec::new();
    for (tag, now) in tags.iter().zip(existing) {
        match now? {
            Some(d) if d == manifest.digest => results.push(TagResult {
                tag: tag.clone(),
                status: "present",
            }),
            Some(d) if dest.settings(ctx).await?.is_some() && dest.immutable() => {
                return Err(TagError::Immutable {
                    repository: dest.name(),
                    tag: tag.clone(),
                    existing: d.to_string(),
                    source_digest: manifest.digest.clone(),
                }
                .into());
            }
            _ => {
                registry
                    .put_manifest(&dest.repository, tag, &manifest.bytes, &manifest.media_type)
                    .await?;
                results.push(TagResult {
                    tag: tag.clone(),
                    status: "created",
                });
            }
        }
    }
    Ok(Tagged {
        digest: manifest.digest,
        media_type: manifest.media_type,
        tags: results,
        mounted,
    })
}

/// Mounts what a manifest refers to (an index's children first, each then PUT by digest).
async fn mount_all(
    registry: &Registry,
    from: &str,
    to: &str,
    manifest: &Manifest,
) -> Result<usize, Error> {
    let doc: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|_| TagError::Manifest(manifest.digest.clone()))?;
    let mut count = 0;
    if let Some(children) = doc.get("manifests").and_then(|m| m.as_array()) {
        for child in children {
            let Some(digest) = child.get("digest").and_then(|d| d.as_str()) else {
                continue;
            };
            let child_manifest =
                registry
                    .get_manifest(from, digest)
                    .await?
                    .ok_or_else(|| TagError::NoSource {
                        repository: from.to_string(),
                        reference: digest.to_string(),
                    })?;
            count += Box::pin(mount_all(registry, from, to, &child_manifest)).await?;
            registry
                .put_manifest(
                    to,
                    digest,
                    &child_manifest.bytes,
                    &child_manifest.media_type,
                )
                .await?;
            count += 1;
        }
        return Ok(count);
    }
    let blobs = doc.get("config").into_iter().chain(
        doc.get("layers")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten(),
    );
    for blob in blobs {
        let Some(digest) = blob
            .get("digest")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse::<Digest>().ok())
        else {
            continue;
        };
        if registry.blob_exists(to, &digest).await? {
            continue;
        }
        if !registry.mount(to, &digest, from).await? {
            return Err(TagError::Mount {
                digest: digest.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            }
            .into());
        }
        count += 1;
    }
    Ok(count)
}

/// The ECR API path: `BatchGetImage` once, `PutImage` with the digest for each tag.
async fn via_ecr_api(
    reference: &str,
    dest: &mut Target,
    tags: &[String],
    ctx: &Context,
) -> Result<Tagged, Error> {
    dest.settings(ctx).await?;
    let (Some(ecr), Some(aws)) = (&dest.ecr, &dest.aws) else {
        return Err(TagError::Unsupported(format!(
            "use --via ecr-api with `{}`: it is not an ECR registry (or AWS is not reachable)",
            dest.registry
        ))
        .into());
    };
    let client = aws.ecr(ecr.region());
    let image: EcrImage = client
        .image(ecr.account(), &dest.repository, reference)
        .await?
        .ok_or_else(|| TagError::NoSource {
            repository: dest.name(),
            reference: reference.to_string(),
        })?;
    let digest: Digest = image.digest.parse().map_err(TagError::from)?;
    let mut results = Vec::new();
    for tag in tags {
        let created = client
            .put_image(ecr.account(), &dest.repository, &image, tag)
            .await?;
        let status = if created {
            "created"
        } else {
            // ECR says the image exists: the tag names this digest, or (immutable) another one.
            match client.image(ecr.account(), &dest.repository, tag).await? {
                Some(existing) if existing.digest == image.digest => "present",
                Some(existing) => {
                    return Err(TagError::Immutable {
                        repository: dest.name(),
                        tag: tag.clone(),
                        existing: existing.digest,
                        source_digest: digest,
                    }
                    .into());
                }
                None => "present",
            }
        };
        results.push(TagResult {
            tag: tag.clone(),
            status,
        });
    }
    Ok(Tagged {
        digest,
        media_type: image.media_type.unwrap_or_default(),
        tags: results,
        mounted: 0,
    })
}
