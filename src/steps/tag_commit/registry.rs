//! The registry path (`--via registry`, the default): the source manifest fetched once, with what
//! each new tag names now; for a promotion (`--to`) its blobs (and an index's child manifests)
//! mounted into the destination, unless every tag names the digest there already; then the
//! identical bytes `PUT` under each tag that does not name the digest yet.

use super::Tagged;
use super::error::TagError;
use super::report::{AddedTag, TagStatus};
use crate::adapters::registry::{Manifest, Registry};
use crate::cli::Context;
use crate::destination::Destination;
use crate::error::Error;
use crate::reference::{Digest, ImageRef};

/// Fetches the source once, mounts for a promotion, and `PUT`s the same bytes under each tag.
pub(super) async fn tag(
    source_repo: &str,
    reference: &str,
    dest: &mut Destination,
    tags: &[String],
    ctx: &Context,
    promote: bool,
) -> Result<Tagged, Error> {
    let registry = Registry::new(&dest.registry, dest.creds.clone())?;
    let source_path = source_path(source_repo, dest, promote);
    // The source's manifest and what each new tag names now, in one round trip.
    let (fetched, existing) = futures_util::future::join(
        registry.get_manifest(&source_path, reference),
        registry.tag_digests(&dest.repository, tags),
    )
    .await;
    let manifest = source_manifest(fetched?, reference, &source_path, dest, ctx).await?;
    // Every tag is checked before anything is written: an immutable one naming another image stops
    // them all, before a promotion mounts a blob.
    let repository = dest.name();
    let sorted = dest
        .sort_tags(ctx, tags, existing, &manifest.digest, |tag, existing| {
            TagError::Immutable {
                repository,
                tag,
                existing: existing.to_string(),
                source_digest: manifest.digest.clone(),
            }
            .into()
        })
        .await?;
    let mut mounted = 0;
    // A promotion done before (every tag names the digest there already; there is always a tag)
    // has its blobs there too: nothing to mount, nothing to put.
    let done_before = sorted.to_put.is_empty();
    if promote && source_path != dest.repository && !done_before {
        mounted = mount_all(&registry, &source_path, &dest.repository, &manifest).await?;
        ctx.out
            .info(&format!("mounted {mounted} blobs into {}", dest.name()));
    }
    registry
        .put_tags(
            &dest.repository,
            &sorted.to_put,
            &manifest.bytes,
            &manifest.media_type,
        )
        .await?;
    let results = sorted
        .statuses(tags, TagStatus::Present, TagStatus::Created)
        .map(|(tag, status)| AddedTag { tag, status })
        .collect();
    Ok(Tagged {
        digest: manifest.digest,
        media_type: manifest.media_type,
        tags: results,
        mounted,
    })
}

/// The source's repository path in the registry: `source_repo`'s for a promotion, else the
/// destination's (they are the same repository).
fn source_path(source_repo: &str, dest: &Destination, promote: bool) -> String {
    if promote {
        ImageRef::parse(&format!("{source_repo}:x"))
            .map_or_else(|_| source_repo.to_string(), |r| r.repository().to_string())
    } else {
        dest.repository.clone()
    }
}

/// The fetched source manifest. None, or for a digest reference another digest, is
/// [`TagError::NoSource`] — unless the repository itself is missing, which ECR says.
async fn source_manifest(
    fetched: Option<Manifest>,
    reference: &str,
    source_path: &str,
    dest: &mut Destination,
    ctx: &Context,
) -> Result<Manifest, Error> {
    let no_source = |dest: &Destination| TagError::NoSource {
        repository: format!("{}/{source_path}", dest.registry),
        reference: reference.to_string(),
    };
    let Some(manifest) = fetched else {
        // Say so if the repository itself is missing (ECR knows); else the tag or digest is.
        dest.settings(ctx).await?;
        return Err(no_source(dest).into());
    };
    if reference.starts_with("sha256:") && manifest.digest.to_string() != reference {
        return Err(no_source(dest).into());
    }
    Ok(manifest)
}

/// Mounts what a manifest refers to from `from` into `to` (an index's children first, each then
/// `PUT` by digest); returns how many blobs and child manifests.
async fn mount_all(
    registry: &Registry,
    from: &str,
    to: &str,
    manifest: &Manifest,
) -> Result<usize, Error> {
    let doc: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|_| TagError::Manifest(manifest.digest.clone()))?;
    if let Some(children) = doc.get("manifests").and_then(|m| m.as_array()) {
        return mount_children(registry, from, to, children).await;
    }
    let blobs = blobs_of(&doc).into_iter().map(|d| (from, d)).collect();
    mount_blobs(registry, to, blobs).await
}

/// An index's child manifests: fetched together, then put with their blobs
/// ([`mount_manifests`]).
async fn mount_children(
    registry: &Registry,
    from: &str,
    to: &str,
    children: &[serde_json::Value],
) -> Result<usize, Error> {
    let digests: Vec<&str> = children
        .iter()
        .filter_map(|child| child.get("digest")?.as_str())
        .collect();
    let fetched = futures_util::future::try_join_all(digests.iter().map(|&digest| async move {
        let manifest =
            registry
                .get_manifest(from, digest)
                .await?
                .ok_or_else(|| TagError::NoSource {
                    repository: from.to_string(),
                    reference: digest.to_string(),
                })?;
        let doc: serde_json::Value = serde_json::from_slice(&manifest.bytes)
            .map_err(|_| TagError::Manifest(manifest.digest.clone()))?;
        Ok::<_, Error>((manifest, doc))
    }))
    .await?;
    let mut count = 0;
    let mut manifests = Vec::new();
    for ((manifest, doc), digest) in fetched.iter().zip(&digests) {
        let blobs = if doc.get("manifests").is_some() {
            // An index inside the index (rare): its own children first.
            count += Box::pin(mount_all(registry, from, to, manifest)).await?;
            Vec::new()
        } else {
            blobs_of(doc)
        };
        manifests.push(ToMount {
            from,
            digest,
            bytes: &manifest.bytes,
            media_type: &manifest.media_type,
            blobs,
        });
    }
    Ok(count + mount_manifests(registry, to, &manifests).await? + manifests.len())
}

/// A manifest to put into another repository by digest, with the blobs it refers to and the
/// repository they are mounted from.
pub(super) struct ToMount<'a> {
    pub(super) from: &'a str,
    pub(super) digest: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) media_type: &'a str,
    pub(super) blobs: Vec<Digest>,
}

/// Puts `manifests` into `to`: the blobs they refer to mounted first, each once (platforms often
/// share a layer, and two mounts of one blob at once can race in a registry), then the manifests
/// by digest, together. Returns how many blobs were mounted.
pub(super) async fn mount_manifests(
    registry: &Registry,
    to: &str,
    manifests: &[ToMount<'_>],
) -> Result<usize, Error> {
    let blobs = manifests
        .iter()
        .flat_map(|m| m.blobs.iter().map(|d| (m.from, d.clone())))
        .collect();
    let mounted = mount_blobs(registry, to, blobs).await?;
    futures_util::future::try_join_all(
        manifests
            .iter()
            .map(|m| registry.put_manifest(to, m.digest, m.bytes, m.media_type)),
    )
    .await?;
    Ok(mounted)
}

/// Blobs checked and mounted at once (`docker push` uploads up to 5 layers at a time).
const MOUNTS_AT_ONCE: usize = 8;

/// The blobs an image manifest refers to: its config and its layers.
pub(super) fn blobs_of(doc: &serde_json::Value) -> Vec<Digest> {
    doc.get("config")
        .into_iter()
        .chain(
            doc.get("layers")
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten(),
        )
        .filter_map(|blob| blob.get("digest")?.as_str()?.parse::<Digest>().ok())
        .collect()
}

/// Mounts each blob (with the repository it is mounted from) into `to` unless `to` has it already;
/// each digest once, however many manifests name it, and up to [`MOUNTS_AT_ONCE`] at a time.
/// Returns how many were mounted.
async fn mount_blobs(
    registry: &Registry,
    to: &str,
    blobs: Vec<(&str, Digest)>,
) -> Result<usize, Error> {
    use futures_util::{StreamExt as _, TryStreamExt as _};
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<(String, Digest)> = blobs
        .into_iter()
        .filter(|(_, d)| seen.insert(d.clone()))
        .map(|(from, d)| (from.to_string(), d))
        .collect();
    let mounted: Vec<bool> = futures_util::stream::iter(distinct)
        .map(|(from, digest)| async move {
            if registry.blob_exists(to, &digest).await? {
                return Ok::<bool, Error>(false);
            }
            if !registry.mount(to, &digest, &from).await? {
                return Err(TagError::Mount {
                    digest: digest.to_string(),
                    from,
                    to: to.to_string(),
                }
                .into());
            }
            Ok(true)
        })
        .buffer_unordered(MOUNTS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(mounted.into_iter().filter(|m| *m).count())
}
