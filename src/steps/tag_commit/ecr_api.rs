//! The ECR API path (`--via ecr-api`): `BatchGetImage` once, then `PutImage` with the manifest and
//! its digest for each tag, so ECR verifies the digest (`ImageAlreadyExistsException` means done).

use super::Tagged;
use super::error::TagError;
use super::report::{AddedTag, TagStatus};
use crate::adapters::aws::{Ecr, EcrImage};
use crate::cli::Context;
use crate::destination::Destination;
use crate::error::Error;
use crate::reference::Digest;

/// `BatchGetImage` for `reference` in `dest`, then `PutImage` for each tag.
pub(super) async fn tag(
    reference: &str,
    dest: &mut Destination,
    tags: &[String],
    ctx: &Context,
) -> Result<Tagged, Error> {
    dest.settings(ctx).await?;
    let (Some(ecr), Some(aws)) = (&dest.ecr, &dest.aws) else {
        return Err(TagError::Unsupported {
            what: format!(
                "use --via ecr-api with `{}`: it is not an ECR registry (or AWS is not reachable)",
                dest.registry
            ),
            help: "leave --via at `registry` (the distribution API every registry speaks), or \
                   check the AWS credentials and region"
                .into(),
        }
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
        let status = put_tag(&client, ecr.account(), dest, &image, &digest, tag).await?;
        results.push(AddedTag {
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

/// `PutImage` under `tag`. When ECR says the image exists, the tag names this digest (present) or,
/// in an immutable repository, another one ([`TagError::Immutable`]).
async fn put_tag(
    client: &Ecr,
    account: &str,
    dest: &Destination,
    image: &EcrImage,
    digest: &Digest,
    tag: &str,
) -> Result<TagStatus, Error> {
    if client
        .put_image(account, &dest.repository, image, tag)
        .await?
    {
        return Ok(TagStatus::Created);
    }
    match client.image(account, &dest.repository, tag).await? {
        Some(existing) if existing.digest != image.digest => Err(TagError::Immutable {
            repository: dest.name(),
            tag: tag.to_string(),
            existing: existing.digest,
            source_digest: digest.clone(),
        }
        .into()),
        Some(_) | None => Ok(TagStatus::Present),
    }
}
