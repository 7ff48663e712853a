//! The fast path: an image exported before needs no export again. The cache knows its config and the
//! blob each layer compressed to; the registry is asked (`HEAD`) for each blob, and a blob it lacks is
//! mounted from another repository this machine pushed it to. No layer bytes move.

use super::{Image, Pushed, put_config};
use crate::adapters::registry::Registry;
use crate::error::Error;
use crate::layers::{self, Blob};
use crate::reference::Digest;
use crate::steps::build_push::report::LayerStatus;

/// The push from the cache, or `None` when the cache does not know the image or a layer can be
/// neither found nor mounted in `repo` (then the image must be exported). The cached config is
/// checked against the platform asked for before anything is sent.
pub(super) async fn push(
    cache: &layers::LayerCache,
    id: &Digest,
    diff_ids: &[String],
    registry: &Registry,
    repo: &str,
    image: &Image<'_>,
) -> Result<Option<Pushed>, Error> {
    let known: Option<Vec<Blob>> = diff_ids
        .iter()
        .map(|d| d.parse().ok().and_then(|d| cache.layer(&d)))
        .collect();
    let (Some(raw), Some(blobs)) = (cache.config(id), known) else {
        return Ok(None);
    };
    image.check_platform(&raw)?;
    let (config, config_digest) = put_config(registry, repo, &raw, image, async |d: &Digest| {
        mount_from_known(cache, registry, repo, d).await
    })
    .await?;
    let Some(statuses) = layer_statuses(cache, registry, repo, &blobs).await? else {
        return Ok(None);
    };
    Ok(Some(Pushed::without_export(
        config_digest,
        &config,
        &blobs,
        statuses,
    )))
}

/// Each blob `present` in `repo` or `mounted` into it; `None` at the first that is neither.
async fn layer_statuses(
    cache: &layers::LayerCache,
    registry: &Registry,
    repo: &str,
    blobs: &[Blob],
) -> Result<Option<Vec<LayerStatus>>, Error> {
    let mut statuses = Vec::with_capacity(blobs.len());
    for b in blobs {
        if registry.blob_exists(repo, &b.digest).await? {
            statuses.push(LayerStatus::Present);
        } else if mount_from_known(cache, registry, repo, &b.digest).await? {
            statuses.push(LayerStatus::Mounted);
        } else {
            return Ok(None);
        }
    }
    Ok(Some(statuses))
}

/// Mounts `digest` from another repository of this registry that this machine pushed it to; `false`
/// when there is none or the registry declines (no bytes move either way).
async fn mount_from_known(
    cache: &layers::LayerCache,
    registry: &Registry,
    repo: &str,
    digest: &Digest,
) -> Result<bool, Error> {
    let prefix = format!("{}/", registry.host());
    for from in cache.locations(digest) {
        if let Some(other) = from.strip_prefix(&prefix)
            && other != repo
            && registry.mount(repo, digest, other).await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}
