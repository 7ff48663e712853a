//! The deploy artifacts: `imageDetail.json` (what CodePipeline's ECR source action writes, in its
//! `minimal` or `full` form) and, with `--container`, `imagedefinitions.json` (the ECS rolling-deploy
//! action's input). Both name the image by digest; each is written atomically. A leg pushed by
//! digest (`--push-by-digest`) writes `platform-image.json` instead: the descriptor `tag-commit
//! index` merges.

use super::BuildPush;
use super::args::DetailFormat;
use super::error::BuildPushError;
use super::push::Pushed;
use crate::destination::Destination;
use crate::environment::Environment;
use crate::layers;
use crate::output_path::{OutputPathError, OutputPaths};
use crate::platform_image::PlatformImage;
use std::path::{Path, PathBuf};

/// Checks the artifacts' paths as given (regular files in existing, writable directories, neither
/// the Dockerfile nor the context's `.dockerignore`, no path twice) before anything is built or sent.
pub(super) fn check(args: &BuildPush, env: &Environment) -> Result<(), OutputPathError> {
    let dockerfile = args
        .dockerfile
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    let mut paths = OutputPaths::new(env.cwd());
    paths.input("--file", &dockerfile).input(
        "the context's .dockerignore",
        &args.context.join(".dockerignore"),
    );
    if args.push_by_digest {
        paths.output("--platform-image", &args.platform_image);
    } else {
        paths.output("--image-detail", &args.image_detail);
        if args.container.is_some() {
            paths.output("--image-definitions", &args.image_definitions);
        }
    }
    paths.check()
}

/// The artifacts a run writes, and where.
#[derive(Debug)]
pub(super) struct Artifacts {
    /// Where imageDetail.json goes.
    image_detail: PathBuf,
    /// Its form.
    format: DetailFormat,
    /// The container named in imagedefinitions.json, and where that goes.
    definitions: Option<(String, PathBuf)>,
    /// With `--push-by-digest`: where platform-image.json goes (the only artifact then).
    platform_image: Option<PathBuf>,
}

impl Artifacts {
    /// The artifacts the flags ask for, with paths resolved against the working directory. The
    /// `--container` name must be one ECS takes (1 to 255 letters, digits, `_` and `-`): the deploy
    /// action would refuse imagedefinitions.json otherwise.
    pub(super) fn planned(
        args: &BuildPush,
        env: &Environment,
    ) -> Result<Artifacts, BuildPushError> {
        if let Some(name) = &args.container {
            if args.push_by_digest {
                return Err(BuildPushError::Conflict {
                    flags: "--push-by-digest and --container".into(),
                    reason: "a platform leg writes platform-image.json, not imagedefinitions.json"
                        .into(),
                    help: "pass --container to `tag-commit index`, which writes the deploy \
                           artifacts for the merged image"
                        .into(),
                });
            }
            check_container_name(name)?;
        }
        Ok(Artifacts {
            image_detail: env.resolve(&args.image_detail),
            format: args.image_detail_format,
            definitions: args
                .container
                .as_ref()
                .map(|name| (name.clone(), env.resolve(&args.image_definitions))),
            platform_image: args
                .push_by_digest
                .then(|| env.resolve(&args.platform_image)),
        })
    }

    /// imageDetail.json's path.
    pub(super) fn image_detail(&self) -> &Path {
        &self.image_detail
    }

    /// Whether the run writes platform-image.json (a leg pushed by digest).
    pub(super) fn platform_image(&self) -> Option<&Path> {
        self.platform_image.as_deref()
    }

    /// Every path, in the order they are written.
    pub(super) fn paths(&self) -> Vec<String> {
        if let Some(path) = &self.platform_image {
            return vec![path.display().to_string()];
        }
        std::iter::once(&self.image_detail)
            .chain(self.definitions.as_ref().map(|(_, path)| path))
            .map(|p| p.display().to_string())
            .collect()
    }

    /// Writes each artifact for the image `pushed` to `dest` under `tags`; returns their paths.
    pub(super) fn write(
        &self,
        dest: &Destination,
        pushed: &Pushed,
        tags: &[String],
    ) -> Result<Vec<String>, BuildPushError> {
        let image_uri = format!("{}/{}@{}", dest.registry, dest.repository, pushed.digest);
        if let Some(path) = &self.platform_image {
            let descriptor = PlatformImage {
                repository: dest.name(),
                media_type: layers::MANIFEST_MEDIA_TYPE.into(),
                digest: pushed.digest.clone(),
                size: pushed.manifest.len() as u64,
                platform: pushed.platform.clone().ok_or(BuildPushError::NoPlatform)?,
                tag: tags.first().cloned(),
            };
            crate::atomic::write(path, &descriptor.to_bytes(), 0o644)?;
            return Ok(self.paths());
        }
        let detail = match self.format {
            DetailFormat::Minimal => serde_json::json!({ "ImageURI": image_uri }),
            DetailFormat::Full => serde_json::json!({
                "ImageSizeInBytes": pushed.size.to_string(),
                "ImageDigest": pushed.digest.to_string(),
                "Version": "1.0",
                "ImagePushedAt": java_date(std::time::SystemTime::now()),
                "RegistryId": dest.ecr.as_ref().map(|e| e.account().to_string()).unwrap_or_default(),
                "RepositoryName": dest.repository,
                "ImageURI": image_uri,
                "ImageTags": tags,
            }),
        };
        write_json(&self.image_detail, &detail)?;
        if let Some((name, path)) = &self.definitions {
            crate::atomic::write(
                path,
                &crate::image_detail::definitions(name, &image_uri),
                0o644,
            )?;
        }
        Ok(self.paths())
    }
}

/// An ECS container name: 1 to 255 letters, digits, `_` and `-`.
fn check_container_name(name: &str) -> Result<(), BuildPushError> {
    let Some(reason) = crate::image_detail::container_name_problem(name) else {
        return Ok(());
    };
    Err(BuildPushError::Flag {
        flag: "--container",
        value: name.to_string(),
        reason: reason.into(),
        help: "pass the container's name as the task definition's containerDefinitions name it"
            .into(),
    })
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), BuildPushError> {
    crate::atomic::write(path, crate::document::to_json(value).as_bytes(), 0o644)?;
    Ok(())
}

/// `Mon Nov 21 14:03:00 UTC 2026`: Java's `Date.toString()`, as the ECR source action writes it.
fn java_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let rfc = crate::time::rfc3339(t);
    let (y, m, d) = (&rfc[0..4], &rfc[5..7], &rfc[8..10]);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][m.parse::<usize>().unwrap_or(1) - 1];
    format!(
        "{weekday} {month} {d} {:02}:{:02}:{:02} UTC {y}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_are_what_ecs_takes() {
        for ok in ["web", "Web_1-a", &"a".repeat(255)] {
            check_container_name(ok).unwrap();
        }
        for (bad, reason) in [
            ("", "empty"),
            ("a b", "only letters"),
            ("web.1", "only letters"),
            ("w\u{e9}b", "only letters"),
            (&"a".repeat(256), "longer than 255"),
        ] {
            let e = check_container_name(bad).unwrap_err();
            assert!(
                e.to_string().contains("as --container") && e.to_string().contains(reason),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn java_dates_match_the_ecr_source_action() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_420_070_400);
        assert_eq!(java_date(t), "Thu Jan 01 00:00:00 UTC 2015");
    }
}
