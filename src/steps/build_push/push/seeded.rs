//! The `--cache-from` path. On a fresh host the layer cache is empty, but a build from a registry
//! cache reuses layers that are already in the registry: the cache image's config lists their diff
//! IDs and its manifest their blobs, in the same order. When every layer of the built image is one
//! of those, nothing is compressed or uploaded: each blob is found in (`HEAD`) or mounted into the
//! repository, and the export is read for the config alone. A layer the cache images do not have
//! (a changed step) leaves the push to the full path.

use super::{Image, Pushed, no_mount, put_config};
use crate::adapters::docker::Engine;
use crate::adapters::registry::Registry;
use crate::error::{Error, TaskFailed};
use crate::layers::{self, Blob};
use crate::platform_image::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::reference::{Digest, ImageRef};
use crate::steps::build_push::error::BuildPushError;
use crate::steps::build_push::report::LayerStatus;
use std::collections::HashMap;

/// Layer media types whose blobs a Docker v2 manifest may name as gzip layers.
const GZIP_LAYERS: [&str; 2] = [
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip",
];

/// The platform images an index may list that are read for their layers.
const MAX_CHILDREN: usize = 8;

/// A blob the registry holds for a diff ID, and the repository it was seen in.
#[derive(Debug, Clone)]
pub(super) struct Known {
    digest: Digest,
    size: u64,
    repository: String,
}

/// Diff ID → a blob in the registry with that content.
pub(super) type KnownLayers = HashMap<Digest, Known>;

/// The layers the `cache_from` images in `registry` hold (images elsewhere are BuildKit's
/// business only). A cache image that cannot be read adds nothing: this is a shortcut, never a
/// reason to fail the push.
pub(super) async fn known_layers(registry: &Registry, cache_from: &[String]) -> KnownLayers {
    let mut known = KnownLayers::new();
    for source in cache_from {
        let Ok(r) = ImageRef::parse(source) else {
            continue;
        };
        if r.registry() != registry.host() {
            continue;
        }
        let reference = r
            .digest()
            .map(ToString::to_string)
            .or_else(|| r.tag().map(str::to_string))
            .unwrap_or_else(|| "latest".into());
        add_image(registry, r.repository(), &reference, &mut known).await;
    }
    known
}

/// Adds the layers of `repo:reference` (each platform's, for an index) to `known`.
async fn add_image(registry: &Registry, repo: &str, reference: &str, known: &mut KnownLayers) {
    let Ok(Some(top)) = registry.get_manifest(repo, reference).await else {
        return;
    };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&top.bytes) else {
        return;
    };
    let media_type = doc["mediaType"].as_str().unwrap_or(&top.media_type);
    if media_type.starts_with(DOCKER_LIST) || media_type.starts_with(OCI_INDEX) {
        let children: Vec<String> = doc["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["digest"].as_str().map(str::to_string))
            .take(MAX_CHILDREN)
            .collect();
        for child in children {
            if let Ok(Some(m)) = registry.get_manifest(repo, &child).await
                && let Ok(doc) = serde_json::from_slice(&m.bytes)
            {
                add_manifest(registry, repo, &doc, known).await;
            }
        }
    } else if media_type.starts_with(DOCKER_MANIFEST) || media_type.starts_with(OCI_MANIFEST) {
        add_manifest(registry, repo, &doc, known).await;
    }
}

/// Pairs one image manifest's gzip layers with its config's diff IDs.
async fn add_manifest(
    registry: &Registry,
    repo: &str,
    manifest: &serde_json::Value,
    known: &mut KnownLayers,
) {
    let Some(config) = manifest["config"]["digest"]
        .as_str()
        .and_then(|d| d.parse::<Digest>().ok())
    else {
        return;
    };
    let Ok(Some(config)) = registry
        .get_blob(repo, &config, crate::input::DOCUMENT_LIMIT)
        .await
    else {
        return;
    };
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(&config) else {
        return;
    };
    let (Some(diff_ids), Some(layers)) = (
        config["rootfs"]["diff_ids"].as_array(),
        manifest["layers"].as_array(),
    ) else {
        return;
    };
    if diff_ids.len() != layers.len() {
        return;
    }
    for (diff_id, layer) in diff_ids.iter().zip(layers) {
        let gzip = layer["mediaType"]
            .as_str()
            .is_some_and(|t| GZIP_LAYERS.contains(&t));
        if let (true, Some(diff_id), Some(digest), Some(size)) = (
            gzip,
            diff_id.as_str().and_then(|d| d.parse().ok()),
            layer["digest"].as_str().and_then(|d| d.parse().ok()),
            layer["size"].as_u64(),
        ) {
            known.entry(diff_id).or_insert(Known {
                digest,
                size,
                repository: repo.to_string(),
            });
        }
    }
}

/// The push when every one of `diff_ids` is a known layer that `repo` has or can mount; `None`
/// otherwise (nothing has been sent then but mounts of blobs the image uses). As on the other
/// paths, the config is checked against the platform asked for before anything is sent.
pub(super) async fn push(
    engine: &Engine,
    registry: &Registry,
    repo: &str,
    image: &Image<'_>,
    diff_ids: &[String],
    known: &KnownLayers,
) -> Result<Option<Pushed>, Error> {
    let found: Option<Vec<(Digest, &Known)>> = diff_ids
        .iter()
        .map(|d| {
            let d: Digest = d.parse().ok()?;
            known.get(&d).map(|k| (d, k))
        })
        .collect();
    let Some(found) = found.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    // Which blobs the repository has; the others must be mounted from the cache image's.
    let mut present = Vec::with_capacity(found.len());
    for (_, k) in &found {
        let here = registry.blob_exists(repo, &k.digest).await?;
        if !here && k.repository == repo {
            return Ok(None);
        }
        present.push(here);
    }
    let raw = export_config(engine, image.id).await?;
    image.check_platform(&raw)?;
    // The export's config must be the image inspected (its layers are the ones found).
    let config_doc: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_default();
    let listed: Vec<&str> = config_doc["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .collect();
    if listed != diff_ids {
        return Ok(None);
    }
    let mut statuses = Vec::with_capacity(found.len());
    for ((_, k), here) in found.iter().zip(present) {
        if here {
            statuses.push(LayerStatus::Present);
        } else if registry.mount(repo, &k.digest, &k.repository).await? {
            statuses.push(LayerStatus::Mounted);
        } else {
            return Ok(None);
        }
    }
    let (config, config_digest) = put_config(registry, repo, &raw, image, no_mount).await?;
    let blobs: Vec<Blob> = found
        .iter()
        .map(|(diff_id, k)| Blob {
            digest: k.digest.clone(),
            size: k.size,
            diff_id: diff_id.clone(),
            uncompressed: 0,
            level: 0,
        })
        .collect();
    Ok(Some(Pushed::without_export(
        config_digest,
        &config,
        &blobs,
        statuses,
    )))
}

/// The image's config, from the engine's export with every layer skipped.
async fn export_config(engine: &Engine, image_id: &str) -> Result<Vec<u8>, Error> {
    let export = engine.export(image_id);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(export));
    let config = tokio::task::spawn_blocking(move || layers::read_config(reader))
        .await
        .map_err(|e| TaskFailed(e.to_string()))?
        .map_err(BuildPushError::Export)?;
    Ok(config)
}
