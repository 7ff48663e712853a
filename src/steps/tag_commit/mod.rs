//! `tag-commit`: add tags to an image already in the registry — the manifest's exact bytes under new
//! tags, no pull, no blob moved (O(1) in image size).
//!
//! The source (a tag, a digest, or `--from imageDetail.json`) is resolved once to a digest; everything
//! after uses those bytes. Through the registry (default): `GET` the raw manifest (every manifest media
//! type accepted, indexes included) and `PUT` the identical bytes with the stored media type under each
//! new tag, checking the digest. `--to` promotes into another repository of the same registry: blobs
//! (and an index's child manifests) are mounted, not copied. `--via ecr-api` uses `BatchGetImage` and
//! `PutImage` with the digest, so ECR verifies it server-side.
//!
//! - `args`: the flags; `plan`: the source, the tags and the destination, decided first.
//! - `registry`: the registry path (and the mounts of a promotion); `ecr_api`: the ECR API path.
//! - `index`: `tag-commit index`, the merge of platform images into one image index.
//! - `report`: the result (`--json`, the summary, `--format env`, GitHub outputs); `error`: what can
//!   go wrong.

mod args;
mod ecr_api;
mod error;
mod index;
mod plan;
mod registry;
mod report;

pub use args::TagCommit;

use crate::cli::{Context, Step};
use crate::error::Error;
use crate::exit::Code;
use crate::output::OutputArgs;
use crate::reference::Digest;
use args::{Command, Via};
use error::TagError;
use report::{AddedTag, TagReport};
use std::path::Path;

impl Step for TagCommit {
    const NAME: &'static str = "tag-commit";

    fn output_args(&self) -> &OutputArgs {
        match &self.command {
            Some(Command::Index(a)) => &a.output,
            None => &self.output,
        }
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        if let Some(Command::Index(args)) = self.command {
            return Box::pin(index::run(args, &ctx)).await;
        }
        plan::combination(&self)?;
        plan::outputs(&self, &ctx)?;
        let (source_repo, reference) = plan::source(&self, &ctx)?;
        // Tags first: a bad tag fails before any network call.
        let (commit, tags) = plan::tags(&self, &ctx)?;
        let (source_name, mut dest) = plan::repositories(&self, &source_repo, &ctx).await?;
        let tagged = match self.via {
            Via::Registry => {
                let promote = self.to.is_some();
                registry::tag(&source_repo, &reference, &mut dest, &tags, &ctx, promote).await?
            }
            Via::EcrApi => ecr_api::tag(&reference, &mut dest, &tags, &ctx).await?,
        };
        let report = TagReport {
            source: format!("{source_name}@{}", tagged.digest),
            digest: tagged.digest,
            media_type: tagged.media_type,
            repository: dest.name(),
            tags: tagged.tags,
            via: self.via,
            commit,
            mounted: tagged.mounted,
        };
        if let Some(path) = &self.image_detail {
            write_image_detail(&ctx.env.resolve(path), &report)?;
        }
        ctx.out.emit(&report)?;
        Ok(Code::Ok)
    }
}

/// What one tagging path did.
struct Tagged {
    digest: Digest,
    media_type: String,
    tags: Vec<AddedTag>,
    mounted: usize,
}

/// `--image-detail`: an imageDetail.json naming the tagged image, pinned to its digest.
fn write_image_detail(path: &Path, report: &TagReport) -> Result<(), TagError> {
    let detail = crate::image_detail::minimal(&report.image_uri());
    crate::atomic::write(path, &detail, 0o644)?;
    Ok(())
}
