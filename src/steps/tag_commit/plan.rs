//! What `tag-commit` will do, decided before any tag is written: the `--image-detail` path it will
//! write, the source (repository and tag or digest, from the flags or `--from imageDetail.json`),
//! the tags (the commit tag first), and the repository they go in (the source's, or `--to` in the
//! same registry).

use super::args::{TagCommit, Tagging, Via};
use super::error::TagError;
use crate::cli::Context;
use crate::commit::{self, Commit, CommitTag};
use crate::destination::{self, Destination};
use crate::error::Error;
use crate::output_path::{OutputPathError, OutputPaths};
use crate::reference::Digest;
use std::path::PathBuf;

/// `--image-detail`'s path, checked (a regular file in an existing, writable directory, not
/// `--from`) before anything is tagged.
pub(super) fn outputs(args: &TagCommit, ctx: &Context) -> Result<(), OutputPathError> {
    let mut paths = OutputPaths::new(ctx.env.cwd());
    if let Some(from) = &args.from {
        paths.input("--from", from);
    }
    if let Some(path) = &args.image_detail {
        paths.output("--image-detail", path);
    }
    paths.check()
}

/// Where the source lives and what it is called there: (repository, tag or digest).
pub(super) fn source(args: &TagCommit, ctx: &Context) -> Result<(String, String), TagError> {
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
    Ok((repository, source_reference(&reference)?))
}

/// What `--source` may be, for the help line of a bad one.
const SOURCE_HELP: &str = "pass a tag (letters, digits, `_`, `.`, `-`; up to 128) or a digest \
     (sha256:…) of an image in --repository";

/// What a tag may be, for the help line of a bad `--tag`.
const TAG_HELP: &str = "a tag is 1 to 128 letters, digits, `_`, `.` and `-`, not starting with `.` \
     or `-` (leave --tag out for no extra tags)";

/// `--source`'s value: a digest, or a tag checked as [`check_tag`] checks it.
pub(super) fn source_reference(value: &str) -> Result<String, TagError> {
    if value.contains(':') {
        value.parse::<Digest>()?;
        Ok(value.to_string())
    } else {
        check_tag("--source", value, SOURCE_HELP)
    }
}

/// `value` as a tag (distribution's `[\w][\w.-]{0,127}`), trimmed; an empty one is an error as in
/// docker, never dropped.
fn check_tag(flag: &'static str, value: &str, help: &str) -> Result<String, TagError> {
    let tag = value.trim();
    let reason = if tag.is_empty() {
        Some("a tag cannot be empty".to_string())
    } else {
        crate::reference::tag_list([tag.to_string()])
            .err()
            .map(|e| e.reason().to_string())
    };
    match reason {
        None => Ok(tag.to_string()),
        Some(reason) => Err(TagError::Flag {
            flag,
            value: value.to_string(),
            reason,
            help: help.into(),
        }),
    }
}

/// Flags that do not go together, refused before anything is called.
pub(super) fn combination(args: &TagCommit) -> Result<(), TagError> {
    if let (Some(to), Via::EcrApi) = (&args.to, args.via) {
        return Err(TagError::Flag {
            flag: "--to",
            value: to.clone(),
            reason: "a promotion mounts the blobs through the registry, and --via ecr-api cannot \
                     (ECR's PutImage needs every layer in the destination already)"
                .into(),
            help:
                "leave --via at `registry` to promote with --to, or tag within --repository with \
                   --via ecr-api"
                    .into(),
        });
    }
    Ok(())
}

/// The tags to add, checked and deduplicated (the commit tag first), and the commit it came from.
/// No tag at all is [`TagError::NoTags`].
pub(super) fn tags(
    args: &TagCommit,
    ctx: &Context,
) -> Result<(Option<Commit>, Vec<String>), Error> {
    tag_list(&args.tagging, false, ctx)
}

/// The tags (`latest` when asked, the commit tag, the `--tag`s), checked and deduplicated, and the
/// commit the commit tag came from. No tag at all is [`TagError::NoTags`].
pub(super) fn tag_list(
    tagging: &Tagging,
    latest: bool,
    ctx: &Context,
) -> Result<(Option<Commit>, Vec<String>), Error> {
    let (commit_tag, flags) = (tagging.commit_tag, &tagging.tags);
    let commit = match commit_tag {
        CommitTag::None => None,
        _ => Some(commit::resolve(
            tagging.commit.as_deref(),
            &ctx.env,
            ctx.env.cwd(),
        )?),
    };
    let mut tags: Vec<String> = latest.then(|| "latest".to_string()).into_iter().collect();
    tags.extend(commit.as_ref().and_then(|c| commit_tag.tag(c)));
    // An empty TAG_COMMIT_TAGS counts as unset (CI systems export empty variables); `--tag ''` on
    // the command line is an error.
    let from_empty_variable = flags.iter().all(String::is_empty)
        && ctx
            .env
            .vars()
            .any(|(k, v)| k == "TAG_COMMIT_TAGS" && v.is_empty());
    if !from_empty_variable {
        for t in flags {
            tags.push(check_tag("--tag", t, TAG_HELP)?);
        }
    }
    let tags = crate::reference::tag_list(tags).map_err(TagError::from)?;
    if tags.is_empty() {
        return Err(TagError::NoTags.into());
    }
    Ok((commit, tags))
}

/// The source repository's name (`registry/repository`) and the repository the tags go in, with
/// credentials.
pub(super) async fn repositories(
    args: &TagCommit,
    source_repo: &str,
    ctx: &Context,
) -> Result<(String, Destination), Error> {
    let region = args.region.as_deref();
    let source = destination::locate(source_repo, region)
        .await?
        .credentials(ctx)
        .await?;
    let source_name = source.name();
    let dest = match &args.to {
        Some(to) => {
            let mut dest = promotion_target(to, &source, region, ctx).await?;
            // Nothing is mounted or tagged in a repository ECR does not know.
            dest.settings(ctx).await?;
            dest
        }
        None => source,
    };
    Ok((source_name, dest))
}

/// The `--to` repository, which must be in the source's registry.
async fn promotion_target(
    to: &str,
    source: &Destination,
    region: Option<&str>,
    ctx: &Context,
) -> Result<Destination, Error> {
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
    let dest = destination::locate(&full, region)
        .await?
        .credentials(ctx)
        .await?;
    if dest.registry != source.registry {
        return Err(TagError::Unsupported {
            what: format!(
                "promote to `{}`: --to must be in the source's registry {} (blobs are mounted, not \
                 copied)",
                dest.name(),
                source.registry
            ),
            help: "pass --to as a repository of the source's registry; copy an image to another \
                   registry with skopeo copy (or docker pull, tag and push)"
                .into(),
        }
        .into());
    }
    Ok(dest)
}
