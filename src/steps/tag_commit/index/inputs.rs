//! The platform images to merge: descriptors (`--from`, files or globs) and `--source` tags or
//! digests, each read back from the registry — its manifest must be the bytes the descriptor names
//! and its config the platform it claims — then checked as a set (one image per platform,
//! `--require`d ones present) before anything is pushed.

use super::error::IndexError;
use crate::adapters::registry::Registry;
use crate::error::Error;
use crate::platform::{ImagePlatform, Platform};
use crate::platform_image::PlatformImage;
use crate::reference::Digest;
use std::path::{Path, PathBuf};

/// A platform image, read back from the registry.
#[derive(Debug, Clone)]
pub(super) struct Child {
    /// What it is, as an index names it (the platform its config names; the repository it was
    /// found in).
    pub(super) image: PlatformImage,
    /// The repository's path in the registry.
    pub(super) path: String,
    /// Its manifest's bytes.
    pub(super) bytes: Vec<u8>,
    /// The blobs its manifest refers to (config and layers).
    pub(super) blobs: Vec<Digest>,
    /// Where it was named: a descriptor file, or `--source TAG`.
    pub(super) from: String,
}

/// A platform image as named, before the registry is asked.
#[derive(Debug)]
pub(super) struct Named {
    /// The repository path in the registry.
    pub(super) repository: String,
    /// A tag or digest there.
    pub(super) reference: String,
    /// The descriptor's claim, when it came from one.
    pub(super) claim: Option<PlatformImage>,
    /// Where it was named: a descriptor file, or `--source TAG`.
    pub(super) from: String,
}

/// The descriptor files `--from` names (globs expanded against `cwd`, sorted; each file once).
pub(super) fn descriptor_files(
    patterns: &[String],
    cwd: &Path,
) -> Result<Vec<PathBuf>, IndexError> {
    crate::platform_image::files(patterns, cwd).map_err(|(pattern, reason)| match reason {
        None => IndexError::NoMatch(pattern),
        Some(reason) => IndexError::Descriptor {
            path: pattern.into(),
            reason: reason.into(),
        },
    })
}

/// The descriptors in `files`, each read and checked.
pub(super) fn descriptors(files: &[PathBuf]) -> Result<Vec<(PathBuf, PlatformImage)>, IndexError> {
    files
        .iter()
        .map(|path| {
            PlatformImage::read(path)
                .map(|image| (path.clone(), image))
                .map_err(|reason| IndexError::Descriptor {
                    path: path.clone(),
                    reason,
                })
        })
        .collect()
}

/// Fetches `named` from the registry and checks it: an image manifest (not an index) that is, for
/// a descriptor, the digest, size and media type it names, with a config of the platform it claims.
pub(super) async fn fetch(registry: &Registry, named: &Named) -> Result<Child, Error> {
    let bad = |reason: String| IndexError::Child {
        from: named.from.clone(),
        reason,
    };
    let where_ = format!("{}/{}", registry.host(), named.repository);
    let manifest = registry
        .get_manifest(&named.repository, &named.reference)
        .await?
        .ok_or_else(|| bad(format!("`{}` is not in {where_}", named.reference)))?;
    if named.reference.starts_with("sha256:") && manifest.digest.to_string() != named.reference {
        return Err(bad(format!(
            "{where_} answered {} for {}",
            manifest.digest, named.reference
        ))
        .into());
    }
    let media_type = manifest
        .media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if let Some(claim) = &named.claim
        && (claim.size != manifest.bytes.len() as u64 || claim.media_type != media_type)
    {
        return Err(bad(format!(
            "the manifest in {where_} is {} bytes of {media_type}, the descriptor says {} \
                 bytes of {}",
            manifest.bytes.len(),
            claim.size,
            claim.media_type
        ))
        .into());
    }
    let doc: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|_| bad(format!("{} is not a JSON manifest", manifest.digest)))?;
    let config_digest: Option<Digest> = doc["config"]["digest"]
        .as_str()
        .and_then(|d| d.parse().ok());
    let (Some(config_digest), true) = (
        config_digest,
        matches!(
            media_type.as_str(),
            crate::platform_image::DOCKER_MANIFEST | crate::platform_image::OCI_MANIFEST
        ),
    ) else {
        return Err(bad(format!(
            "{} is a {media_type}, not one platform's image manifest (merge the platform images \
             themselves)",
            manifest.digest
        ))
        .into());
    };
    let config = registry
        .get_blob(
            &named.repository,
            &config_digest,
            crate::input::DOCUMENT_LIMIT,
        )
        .await?
        .ok_or_else(|| bad(format!("its config {config_digest} is not in {where_}")))?;
    let platform = ImagePlatform::from_config(&config).ok_or_else(|| {
        bad(format!(
            "its config {config_digest} names no OS or architecture"
        ))
    })?;
    if let Some(claim) = &named.claim
        && claim.platform != platform
    {
        return Err(bad(format!(
            "the descriptor says {}, the image's config says {platform}",
            claim.platform
        ))
        .into());
    }
    Ok(Child {
        image: PlatformImage {
            repository: where_,
            media_type,
            digest: manifest.digest,
            size: manifest.bytes.len() as u64,
            platform,
            tag: None,
        },
        path: named.repository.clone(),
        blobs: super::super::registry::blobs_of(&doc),
        bytes: manifest.bytes,
        from: named.from.clone(),
    })
}

/// The children as a set: the same image named twice counts once; two images of one platform, or
/// a `--require`d platform without an image, is an error. Returns the children sorted by platform.
pub(super) fn check_set(
    children: Vec<Child>,
    required: &[Platform],
) -> Result<Vec<Child>, IndexError> {
    let mut set: Vec<Child> = Vec::new();
    for child in children {
        match set
            .iter()
            .find(|c| c.image.platform == child.image.platform)
        {
            Some(c) if c.image.digest == child.image.digest => {}
            Some(c) => {
                return Err(IndexError::Platforms(format!(
                    "two images for {}: {} ({}) and {} ({})",
                    child.image.platform, c.image.digest, c.from, child.image.digest, child.from
                )));
            }
            None => set.push(child),
        }
    }
    set.sort_by(|a, b| a.image.platform.cmp(&b.image.platform));
    let present = || {
        set.iter()
            .map(|c| c.image.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for want in required {
        let matching: Vec<&Child> = set
            .iter()
            .filter(|c| want.matches(&c.image.platform))
            .collect();
        match matching.as_slice() {
            [_] => {}
            [] => {
                return Err(IndexError::Platforms(format!(
                    "no image for {} (--require); the images are for {}",
                    want.given(),
                    present()
                )));
            }
            many => {
                return Err(IndexError::Platforms(format!(
                    "{} images match {} (--require): {}",
                    many.len(),
                    want.given(),
                    many.iter()
                        .map(|c| c.image.platform.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(arch: &str, n: u8) -> Child {
        Child {
            image: PlatformImage {
                repository: "r.example/app".into(),
                media_type: crate::platform_image::DOCKER_MANIFEST.into(),
                digest: Digest::sha256_of(&[n]),
                size: 1,
                platform: ImagePlatform::new("linux", arch, "").unwrap(),
                tag: None,
            },
            path: "app".into(),
            bytes: Vec::new(),
            blobs: Vec::new(),
            from: format!("leg {n}"),
        }
    }

    fn require(list: &[&str]) -> Vec<Platform> {
        list.iter()
            .map(|p| Platform::parse("--require", p).unwrap().unwrap())
            .collect()
    }

    #[test]
    fn one_image_per_platform_and_every_required_one() {
        let both = require(&["linux/amd64", "linux/arm64"]);
        let set = check_set(vec![child("arm64", 1), child("amd64", 2)], &both).unwrap();
        assert_eq!(set[0].image.platform.architecture, "amd64");
        // The same image twice is one.
        let set = check_set(vec![child("arm64", 1), child("arm64", 1)], &[]).unwrap();
        assert_eq!(set.len(), 1);
        let e = check_set(vec![child("arm64", 1), child("arm64", 3)], &[]).unwrap_err();
        assert!(
            e.to_string().contains("two images for linux/arm64") && e.to_string().contains("leg 3"),
            "{e}"
        );
        let e = check_set(vec![child("amd64", 2)], &both).unwrap_err();
        assert!(
            e.to_string()
                .contains("no image for linux/arm64 (--require); the images are for linux/amd64"),
            "{e}"
        );
        let e = check_set(
            vec![child("amd64", 2), child("arm64", 1)],
            &require(&["linux"]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("2 images match linux"), "{e}");
    }

    #[test]
    fn globs_expand_sorted_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for leg in ["arm64", "amd64"] {
            let d = dir.path().join("out").join(leg);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("platform-image.json"), "{}").unwrap();
        }
        let files = descriptor_files(
            &[
                "out/**/platform-image.json".into(),
                "out/amd64/platform-image.json".into(),
            ],
            dir.path(),
        )
        .unwrap();
        let rel: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            rel,
            [
                "out/amd64/platform-image.json",
                "out/arm64/platform-image.json"
            ]
        );
        let e = descriptor_files(&["none/**/platform-image.json".into()], dir.path()).unwrap_err();
        assert!(e.to_string().contains("no file matches"), "{e}");
        let e = descriptor_files(&["../**/x.json".into()], dir.path()).unwrap_err();
        assert!(e.to_string().contains("`..`"), "{e}");
    }
}
