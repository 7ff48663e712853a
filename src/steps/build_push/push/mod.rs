//! The push: the image's blobs into the repository, and the manifest bytes that name them.
//!
//! Three paths. When the local [`layers::LayerCache`] knows the image's config and every layer's blob, and
//! the registry has (or can mount) each blob, nothing is exported ([`cached`]). When the
//! `--cache-from` images in the registry hold every layer (a rebuild from the registry cache on a
//! fresh host), only the config is read from the export ([`seeded`]). Otherwise the image is
//! exported from the engine and each layer compressed and uploaded as it streams ([`upload`]), then
//! the config is uploaded. Each way the cache learns where the blobs now are, so that a push to
//! another repository of the same registry can mount them.
//!
//! With `--platform`, the image's config is checked against it before any blob is sent: on the
//! fast path the cached config is; otherwise the layers are spooled during the export rather than
//! streamed, and uploaded once the exported config is known to be that platform.

mod cached;
mod seeded;
mod upload;

use super::report::{LayerResult, LayerStatus};
use crate::adapters::docker::Engine;
use crate::adapters::registry::Registry;
use crate::cli::Context;
use crate::environment::Environment;
use crate::error::Error;
use crate::layers::{self, Blob};
use crate::platform::{ImagePlatform, Platform};
use crate::reference::Digest;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the push produced.
#[derive(Debug)]
pub(super) struct Pushed {
    /// The config blob's digest.
    pub(super) config_digest: Digest,
    /// The manifest, byte for byte as it is put under each tag.
    pub(super) manifest: Vec<u8>,
    /// The manifest's digest.
    pub(super) digest: Digest,
    /// Each layer and how it got there.
    pub(super) layers: Vec<LayerResult>,
    /// Compressed bytes of the layers and the config.
    pub(super) size: u64,
    /// The platform the config names.
    pub(super) platform: Option<ImagePlatform>,
}

impl Pushed {
    /// The manifest for `config` and `blobs`, and its digest and size.
    fn new(
        config_digest: Digest,
        config: &[u8],
        blobs: &[Blob],
        layers: Vec<LayerResult>,
    ) -> Pushed {
        let manifest = layers::manifest(config, blobs);
        Pushed {
            config_digest,
            digest: Digest::sha256_of(&manifest),
            manifest,
            layers,
            size: blobs.iter().map(|b| b.size).sum::<u64>() + config.len() as u64,
            platform: ImagePlatform::from_config(config),
        }
    }

    /// A push that exported no layer: each blob, and how it came to be in the repository.
    fn without_export(
        config_digest: Digest,
        config: &[u8],
        blobs: &[Blob],
        statuses: Vec<LayerStatus>,
    ) -> Pushed {
        let layers = blobs
            .iter()
            .zip(statuses)
            .map(|(b, status)| LayerResult {
                digest: b.digest.clone(),
                size: b.size,
                uncompressed: None,
                status,
            })
            .collect();
        Pushed::new(config_digest, config, blobs, layers)
    }
}

/// The image in the engine that is pushed.
#[derive(Debug)]
pub(super) struct Image<'a> {
    /// The engine's image ID (or a name of it).
    pub(super) id: &'a str,
    /// The time the config is normalised to.
    pub(super) created: Option<&'a str>,
    /// The platform the config must name, if one was asked for.
    pub(super) platform: Option<&'a Platform>,
    /// The `--cache-from` images, whose layers may already be in the registry.
    pub(super) cache_from: &'a [String],
}

impl Image<'_> {
    /// Whether the `raw` config names the platform asked for (any, when none was).
    fn check_platform(&self, raw: &[u8]) -> Result<(), Error> {
        if let Some(platform) = self.platform {
            platform
                .check(raw)
                .map_err(|built| super::error::BuildPushError::mismatch(platform, built))?;
        }
        Ok(())
    }
}

/// The `raw` config normalised to the image's `created` time and its digest, uploaded to `repo`
/// unless it is there already or `mount` puts it there (configs are small: uploading one never
/// gives up a path).
async fn put_config(
    registry: &Registry,
    repo: &str,
    raw: &[u8],
    image: &Image<'_>,
    mount: impl AsyncFnOnce(&Digest) -> Result<bool, Error>,
) -> Result<(Vec<u8>, Digest), Error> {
    let config = layers::normalise_config(raw, image.created);
    let digest = Digest::sha256_of(&config);
    if !registry.blob_exists(repo, &digest).await? && !mount(&digest).await? {
        registry.upload_bytes(repo, &digest, &config).await?;
    }
    Ok((config, digest))
}

/// For [`put_config`] where no other repository is known to hold the config.
async fn no_mount(_: &Digest) -> Result<bool, Error> {
    Ok(false)
}

/// Pushes the engine's `image` to `repo` (every blob, not yet the manifest); nothing is sent when
/// it is not the platform asked for.
pub(super) async fn image(
    engine: &Engine,
    registry: &Arc<Registry>,
    repo: &str,
    image: &Image<'_>,
    ctx: &Context,
) -> Result<Pushed, Error> {
    let image_id = image.id;
    let cache = cache_dir(&ctx.env).map(layers::LayerCache::new);
    let info = engine.inspect(image_id).await?;
    let id: Option<Digest> = info.id.parse().ok();

    if let (Some(cache), Some(id)) = (&cache, &id)
        && let Some(pushed) = cached::push(cache, id, &info.diff_ids, registry, repo, image).await?
    {
        ctx.out.info(&format!(
            "every blob of {image_id} is already in {}/{repo}",
            registry.host()
        ));
        remember_locations(cache, registry, repo, &pushed);
        return Ok(pushed);
    }
    if !image.cache_from.is_empty() {
        let known = seeded::known_layers(registry, image.cache_from).await;
        if let Some(pushed) =
            seeded::push(engine, registry, repo, image, &info.diff_ids, &known).await?
        {
            ctx.out.info(&format!(
                "every layer of {image_id} is in the --cache-from images: none uploaded"
            ));
            if let Some(cache) = &cache {
                remember_locations(cache, registry, repo, &pushed);
            }
            return Ok(pushed);
        }
    }

    let pushed = from_export(engine, registry, repo, image, cache.as_ref(), ctx).await?;
    if let Some(cache) = &cache {
        remember_locations(cache, registry, repo, &pushed);
    }
    Ok(pushed)
}

/// The full path: export and upload the layers, upload the config, and let the cache learn the
/// blobs each layer compressed to.
async fn from_export(
    engine: &Engine,
    registry: &Arc<Registry>,
    repo: &str,
    image: &Image<'_>,
    cache: Option<&layers::LayerCache>,
    ctx: &Context,
) -> Result<Pushed, Error> {
    // Streaming sends layers before the config is read: not when the platform is to be checked.
    let stream = image.platform.is_none();
    let mut streamed =
        upload::export_and_upload(engine, registry, repo, image.id, stream, ctx).await?;
    image.check_platform(&streamed.exported.config)?;
    upload::remaining(registry, repo, &streamed.exported, &mut streamed.statuses).await?;
    let exported = &streamed.exported;
    let (config, config_digest) =
        put_config(registry, repo, &exported.config, image, no_mount).await?;
    let blobs: Vec<Blob> = exported.layers.iter().map(|l| l.blob.clone()).collect();
    if let Some(cache) = cache {
        cache.remember(&exported.config, &blobs);
    }
    let layers = blobs
        .iter()
        .map(|b| LayerResult {
            digest: b.digest.clone(),
            size: b.size,
            uncompressed: Some(b.uncompressed),
            status: streamed
                .statuses
                .get(&b.digest)
                .copied()
                .unwrap_or(LayerStatus::Present),
        })
        .collect();
    let pushed = Pushed::new(config_digest, &config, &blobs, layers);
    drop(streamed);
    Ok(pushed)
}

/// Where the layer cache lives: `$BUILDSTEPS_CACHE_DIR/layers`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/buildsteps/layers`; `None` without any of them.
fn cache_dir(env: &Environment) -> Option<PathBuf> {
    if let Some(d) = env.var("BUILDSTEPS_CACHE_DIR") {
        return Some(env.resolve(Path::new(d)).join("layers"));
    }
    let base = env
        .var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(h).join(".cache")))?;
    Some(base.join("buildsteps").join("layers"))
}

/// Notes where this push put each blob, so a later push to another repository can mount them.
fn remember_locations(
    cache: &layers::LayerCache,
    registry: &Registry,
    repo: &str,
    pushed: &Pushed,
) {
    let digests: Vec<Digest> = pushed
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .chain(std::iter::once(pushed.config_digest.clone()))
        .collect();
    cache.remember_location(&format!("{}/{repo}", registry.host()), &digests);
}
