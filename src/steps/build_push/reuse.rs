//! `--reuse-existing`: a retried build of the same commit publishes the image the commit tag already
//! names instead of building new bytes (a `RUN` step's files get the time of the build, so a rebuild
//! on a fresh engine is a new digest, which an IMMUTABLE repository refuses under the commit tag).
//! Only when the work tree is known to be clean: the image is then the commit's.

use super::plan::Plan;
use super::push::Pushed;
use super::report::{LayerResult, LayerStatus};
use crate::adapters::registry::Registry;
use crate::destination::Destination;
use crate::error::Error;
use crate::layers;
use crate::output::Output;
use crate::platform::ImagePlatform;

/// The image the commit tag names, as a push result, when it may be reused; `None` (after saying
/// why) when the build must run.
pub(super) async fn existing(
    registry: &Registry,
    dest: &Destination,
    plan: &Plan,
    commit_tag: Option<&str>,
    out: &Output,
) -> Result<Option<Pushed>, Error> {
    let Some(tag) = commit_tag else {
        out.warn(
            "--reuse-existing: no commit tag (--commit-tag none), so nothing to reuse: building",
        );
        return Ok(None);
    };
    if !clean(plan) {
        out.warn(&format!(
            "--reuse-existing: the work tree of commit {} is not known to be clean: building",
            plan.commit.short
        ));
        return Ok(None);
    }
    let Some(manifest) = registry.get_manifest(&dest.repository, tag).await? else {
        return Ok(None);
    };
    let doc: serde_json::Value = match serde_json::from_slice(&manifest.bytes) {
        Ok(doc) if manifest.media_type.starts_with(layers::MANIFEST_MEDIA_TYPE) => doc,
        _ => {
            out.warn(&format!(
                "--reuse-existing: `{tag}` is a {}, not an image manifest this step pushes: building",
                manifest.media_type
            ));
            return Ok(None);
        }
    };
    let blob = |v: &serde_json::Value| {
        Some((
            v["digest"].as_str()?.parse().ok()?,
            v["size"].as_u64().unwrap_or(0),
        ))
    };
    let Some((config_digest, config_size)) = blob(&doc["config"]) else {
        return Ok(None);
    };
    let layers: Option<Vec<LayerResult>> = doc["layers"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    blob(l).map(|(digest, size)| LayerResult {
                        digest,
                        size,
                        uncompressed: None,
                        status: LayerStatus::Present,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(layers) = layers else {
        return Ok(None);
    };
    let size = config_size + layers.iter().map(|l| l.size).sum::<u64>();
    let config = registry
        .get_blob(
            &dest.repository,
            &config_digest,
            crate::input::DOCUMENT_LIMIT,
        )
        .await?
        .unwrap_or_default();
    let platform = ImagePlatform::from_config(&config);
    if let Some(asked) = &plan.platform
        && let Err(built) = asked.check(&config)
    {
        out.warn(&format!(
            "--reuse-existing: `{tag}` names {built}, not --platform {}: building",
            asked.given()
        ));
        return Ok(None);
    }
    out.info(&format!(
        "reusing {}@{}: the commit tag `{tag}` already names it and the work tree is clean \
         (--reuse-existing); not building",
        dest.name(),
        manifest.digest
    ));
    Ok(Some(Pushed {
        config_digest,
        manifest: manifest.bytes,
        digest: manifest.digest,
        layers,
        size,
        platform,
    }))
}

/// Whether the checkout is the commit, unmodified: as resolved, or (when the commit came from CI
/// variables) read from git in the context when HEAD is that commit.
fn clean(plan: &Plan) -> bool {
    match plan.commit.dirty {
        Some(dirty) => !dirty,
        None => matches!(
            crate::adapters::git::head(&plan.build.context_dir),
            Ok(Some(head)) if head.commit == plan.commit.id && !head.dirty
        ),
    }
}
