//! `tag-commit index`: the merge leg of a multi-platform build. The platform images (`--from`
//! descriptors that `build-push --push-by-digest` wrote, or `--source` tags and digests) are read
//! back and checked (`inputs`), the index is built with deterministic bytes
//! (`platform_image::index`), every tag
//! is checked before anything moves, the images are put into the repository by digest (mounted
//! when a descriptor names another repository of the registry), then the index under each tag that
//! does not name it yet, and imageDetail.json / imagedefinitions.json are written (`report` is what
//! it prints).

mod error;
mod inputs;
mod report;

use super::args::IndexArgs;
use super::registry::ToMount;
use super::report::{AddedTag, TagStatus};
use crate::adapters::registry::{Registry, TagLookup};
use crate::cli::Context;
use crate::destination::{self, Destination};
use crate::error::Error;
use crate::exit::Code;
use crate::output_path::OutputPaths;
use crate::platform::Platform;
use crate::platform_image::PlatformImage;
use crate::reference::Digest;
use error::IndexError;
use inputs::{Child, Named};
use report::{ChildStatus, IndexChild, IndexReport};
use std::path::PathBuf;

/// Runs the merge.
pub(super) async fn run(args: IndexArgs, ctx: &Context) -> Result<Code, Error> {
    let files = inputs::descriptor_files(&args.from, ctx.env.cwd())?;
    outputs(&args, &files, ctx)?;
    let required = required(&args.require)?;
    let descriptors = inputs::descriptors(&files)?;
    let sources = args
        .sources
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(super::plan::source_reference)
        .collect::<Result<Vec<_>, _>>()?;
    if descriptors.is_empty() && sources.is_empty() {
        return Err(IndexError::Empty.into());
    }
    let (commit, tags) = super::plan::tag_list(&args.tagging, args.latest, ctx)?;
    let repository = repository(args.repository.as_deref(), &descriptors)?;
    // Credentials only: the repository's settings are asked for when a tag names another image
    // (are its tags immutable?) or an image is missing (is the repository?).
    let mut dest = destination::locate(&repository, args.region.as_deref())
        .await?
        .credentials(ctx)
        .await?;
    let named = named(&dest, descriptors, &sources)?;
    let registry = Registry::new(&dest.registry, dest.creds.clone())?;
    let (children, now) = read(&registry, &mut dest, &named, &tags, &required, ctx).await?;
    let images: Vec<&PlatformImage> = children.iter().map(|c| &c.image).collect();
    let (media_type, bytes) = crate::platform_image::index(&images);
    let digest = Digest::sha256_of(&bytes);
    let repository = dest.name();
    let sorted = dest
        .sort_tags(ctx, &tags, now, &digest, |tag, existing| {
            IndexError::Immutable {
                repository,
                tag,
                existing: existing.to_string(),
                index: digest.to_string(),
            }
            .into()
        })
        .await?;
    let image_uri = format!("{}@{digest}", dest.name());
    let artifacts = artifact_paths(&args, ctx);
    let mut report = IndexReport {
        command: "index",
        repository: dest.name(),
        digest: digest.clone(),
        media_type: media_type.into(),
        image_uri: image_uri.clone(),
        manifests: Vec::new(),
        tags: Vec::new(),
        commit,
        artifacts: artifacts
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect(),
        dry_run: args.dry_run,
    };
    let statuses = into_repository(&registry, &dest, &children, !args.dry_run).await?;
    for (child, status) in children.iter().zip(statuses) {
        report.manifests.push(child_report(child, status));
    }
    let put = if args.dry_run {
        TagStatus::Planned
    } else {
        TagStatus::Created
    };
    report.tags = sorted
        .statuses(&tags, TagStatus::Present, put)
        .map(|(tag, status)| AddedTag { tag, status })
        .collect();
    if args.dry_run {
        ctx.out.emit(&report)?;
        return Ok(Code::Ok);
    }
    // Every child is in the repository now, so the tags can be put together.
    registry
        .put_tags(&dest.repository, &sorted.to_put, &bytes, media_type)
        .await?;
    for (path, bytes) in artifacts_bytes(&artifacts, &image_uri) {
        crate::atomic::write(&path, &bytes, 0o644).map_err(super::error::TagError::from)?;
    }
    if let Some(dir) = &args.write_platform_images {
        let written = write_descriptors(&ctx.env.resolve(dir), &dest.name(), &images)?;
        report.artifacts.extend(written);
    }
    ctx.out.emit(&report)?;
    Ok(Code::Ok)
}

/// Every path the merge reads and writes, checked before anything is called: the descriptors
/// are inputs, imageDetail.json (and imagedefinitions.json) outputs.
fn outputs(args: &IndexArgs, files: &[PathBuf], ctx: &Context) -> Result<(), Error> {
    let mut paths = OutputPaths::new(ctx.env.cwd());
    for f in files {
        paths.input("--from", f);
    }
    paths.output("--image-detail", &args.image_detail);
    if let Some(name) = &args.container {
        if let Some(reason) = crate::image_detail::container_name_problem(name) {
            return Err(super::error::TagError::Flag {
                flag: "--container",
                value: name.clone(),
                reason: reason.into(),
                help: "pass the container's name as the task definition's containerDefinitions \
                       name it"
                    .into(),
            }
            .into());
        }
        paths.output("--image-definitions", &args.image_definitions);
    }
    paths.check()?;
    if let Some(dir) = &args.write_platform_images {
        crate::output_path::check_directory("--write-platform-images", dir, ctx.env.cwd())?;
    }
    Ok(())
}

/// `--require`'s platforms.
fn required(values: &[String]) -> Result<Vec<Platform>, Error> {
    let mut out = Vec::new();
    for v in values {
        out.extend(Platform::parse("--require", v)?);
    }
    Ok(out)
}

/// The index's repository: `-r`, else the one every descriptor names.
fn repository(
    flag: Option<&str>,
    descriptors: &[(PathBuf, PlatformImage)],
) -> Result<String, IndexError> {
    if let Some(r) = flag.map(str::trim).filter(|r| !r.is_empty()) {
        return Ok(r.to_string());
    }
    let Some((first_path, first)) = descriptors.first() else {
        return Err(IndexError::Repository(
            "--source names images in -r REPOSITORY, and none is given".into(),
        ));
    };
    if let Some((path, other)) = descriptors
        .iter()
        .find(|(_, d)| d.repository != first.repository)
    {
        return Err(IndexError::Repository(format!(
            "the descriptors name two repositories, `{}` ({}) and `{}` ({})",
            first.repository,
            first_path.display(),
            other.repository,
            path.display()
        )));
    }
    Ok(first.repository.clone())
}

/// The images to fetch: each descriptor's (in the repository it names, which must be in the
/// index's registry), then each `--source` in the index's repository.
fn named(
    dest: &Destination,
    descriptors: Vec<(PathBuf, PlatformImage)>,
    sources: &[String],
) -> Result<Vec<Named>, Error> {
    let mut named = Vec::new();
    for (path, d) in descriptors {
        let (registry, repository) = destination::parse(&d.repository)?;
        if registry.as_deref() != Some(dest.registry.as_str()) {
            return Err(IndexError::Descriptor {
                path,
                reason: format!(
                    "the image is in `{}`, and the index goes to the registry {} (images are \
                     mounted within one registry, not copied between registries)",
                    d.repository, dest.registry
                ),
            }
            .into());
        }
        named.push(Named {
            repository,
            reference: d.digest.to_string(),
            from: path.display().to_string(),
            claim: Some(d),
        });
    }
    named.extend(sources.iter().map(|s| Named {
        repository: dest.repository.clone(),
        reference: s.clone(),
        claim: None,
        from: format!("--source {s}"),
    }));
    Ok(named)
}

/// The images, checked as a set, and what each tag names now: one round of requests.
async fn read(
    registry: &Registry,
    dest: &mut Destination,
    named: &[Named],
    tags: &[String],
    required: &[Platform],
    ctx: &Context,
) -> Result<(Vec<Child>, Vec<TagLookup>), Error> {
    let (fetched, now) = futures_util::future::join(
        futures_util::future::join_all(named.iter().map(|n| inputs::fetch(registry, n))),
        registry.tag_digests(&dest.repository, tags),
    )
    .await;
    let fetched: Result<Vec<Child>, Error> = fetched.into_iter().collect();
    let fetched = match fetched {
        Ok(children) => children,
        Err(e) => {
            // A repository ECR does not know is said as such, not as a missing image.
            dest.settings(ctx).await?;
            return Err(e);
        }
    };
    Ok((inputs::check_set(fetched, required)?, now))
}

/// Puts the platform images into the index's repository by digest: `present` for one there already
/// (a leg pushed it there), else — unless `write`, `planned` — mounted from the repository it was
/// found in ([`super::registry::mount_manifests`]). The children's requests go together.
async fn into_repository(
    registry: &Registry,
    dest: &Destination,
    children: &[Child],
    write: bool,
) -> Result<Vec<ChildStatus>, Error> {
    let present = futures_util::future::try_join_all(children.iter().map(|child| async move {
        if child.path == dest.repository {
            return Ok::<bool, Error>(true);
        }
        let digest = child.image.digest.to_string();
        Ok(registry
            .manifest_digest(&dest.repository, &digest)
            .await?
            .is_some())
    }))
    .await?;
    let missing: Vec<&Child> = children
        .iter()
        .zip(&present)
        .filter(|(_, here)| !**here)
        .map(|(child, _)| child)
        .collect();
    if write {
        let digests: Vec<String> = missing.iter().map(|c| c.image.digest.to_string()).collect();
        let manifests: Vec<ToMount> = missing
            .iter()
            .zip(&digests)
            .map(|(child, digest)| ToMount {
                from: &child.path,
                digest,
                bytes: &child.bytes,
                media_type: &child.image.media_type,
                blobs: child.blobs.clone(),
            })
            .collect();
        super::registry::mount_manifests(registry, &dest.repository, &manifests).await?;
    }
    Ok(present
        .into_iter()
        .map(|here| match (here, write) {
            (true, _) => ChildStatus::Present,
            (false, true) => ChildStatus::Mounted,
            (false, false) => ChildStatus::Planned,
        })
        .collect())
}

/// `--write-platform-images DIR`: each image's descriptor, in `repository`, as
/// DIR/ARCH/platform-image.json; returns the paths.
fn write_descriptors(
    dir: &std::path::Path,
    repository: &str,
    descriptors: &[&PlatformImage],
) -> Result<Vec<String>, Error> {
    let mut written = Vec::new();
    for d in descriptors {
        let file = dir
            .join(d.platform.tag_suffix())
            .join("platform-image.json");
        let described = PlatformImage {
            repository: repository.to_string(),
            ..(*d).clone()
        };
        std::fs::create_dir_all(file.parent().unwrap_or(dir)).map_err(|source| {
            IndexError::Descriptor {
                path: file.clone(),
                reason: format!("cannot create its directory: {source}"),
            }
        })?;
        crate::atomic::write(&file, &described.to_bytes(), 0o644)
            .map_err(super::error::TagError::from)?;
        written.push(file.display().to_string());
    }
    Ok(written)
}

/// The report line of a platform image.
fn child_report(child: &Child, status: ChildStatus) -> IndexChild {
    IndexChild {
        platform: child.image.platform.clone(),
        digest: child.image.digest.clone(),
        media_type: child.image.media_type.clone(),
        from: child.from.clone(),
        status,
    }
}

/// The artifacts to write: imageDetail.json, and imagedefinitions.json for `--container`.
fn artifact_paths(args: &IndexArgs, ctx: &Context) -> Vec<(PathBuf, Option<String>)> {
    let mut out = vec![(ctx.env.resolve(&args.image_detail), None)];
    if let Some(name) = &args.container {
        out.push((ctx.env.resolve(&args.image_definitions), Some(name.clone())));
    }
    out
}

/// Each artifact's bytes for the index `image_uri`.
fn artifacts_bytes(
    artifacts: &[(PathBuf, Option<String>)],
    image_uri: &str,
) -> Vec<(PathBuf, Vec<u8>)> {
    artifacts
        .iter()
        .map(|(path, container)| {
            let bytes = match container {
                None => crate::image_detail::minimal(image_uri),
                Some(name) => crate::image_detail::definitions(name, image_uri),
            };
            (path.clone(), bytes)
        })
        .collect()
}
