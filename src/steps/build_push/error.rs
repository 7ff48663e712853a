//! `build-push`'s errors that are not an adapter's, with their exit codes and help lines.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::Digest;
use std::path::PathBuf;

/// Errors of this step that are not an adapter's.
#[derive(Debug, thiserror::Error)]
pub enum BuildPushError {
    /// No Dockerfile.
    #[error("read the Dockerfile `{}`", path.display())]
    Dockerfile {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A flag's (or a variable's) value is unusable.
    #[error("use `{value}` as {flag}: {reason}")]
    Flag {
        /// The flag (`--tag`), or the variable (`SOURCE_DATE_EPOCH`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// Why it is unusable.
        reason: String,
        /// What to pass instead.
        help: String,
    },
    /// Two flags that cannot be used together.
    #[error("use {flags} together: {reason}")]
    Conflict {
        /// The flags.
        flags: String,
        /// Why not.
        reason: String,
        /// What to do instead.
        help: String,
    },
    /// `--ref-tag`, and no branch or pull request to name the tag after.
    #[error("add the ref tag (--ref-tag): {0}")]
    RefTag(String),
    /// The engine built an image for another platform than `--platform` asks for.
    #[error("push the image built for --platform {asked}: the engine built {built}")]
    PlatformMismatch {
        /// `--platform` as given.
        asked: String,
        /// The platform the image's config names.
        built: String,
    },
    /// `--latest false`, `--commit-tag none` and no `--tag`.
    #[error("choose tags for `{0}`: none left (--latest false, --commit-tag none and no --tag)")]
    NoTags(String),
    /// A tag names another image in an immutable repository.
    #[error(
        "push tag `{tag}` to immutable `{repository}`: it already names {existing}, this build is {built}"
    )]
    Immutable {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// What the tag names now.
        existing: Digest,
        /// What we built.
        built: Digest,
    },
    /// `--platform` is not a platform.
    #[error(transparent)]
    Platform(#[from] crate::platform::PlatformError),
    /// The pushed config names no platform, and platform-image.json must.
    #[error("describe the platform image: its config names no OS or architecture")]
    NoPlatform,
    /// A tag is not valid.
    #[error(transparent)]
    Tag(#[from] crate::reference::ReferenceError),
    /// An export or compression failed.
    #[error("export the image from the engine and compress its layers")]
    Export(#[source] std::io::Error),
    /// Writing an artifact failed.
    #[error(transparent)]
    Artifact(#[from] crate::atomic::WriteError),
}

impl BuildPushError {
    /// The image's config says `built`, not the `platform` asked for.
    pub(super) fn mismatch(platform: &crate::platform::Platform, built: String) -> BuildPushError {
        BuildPushError::PlatformMismatch {
            asked: platform.given().to_string(),
            built,
        }
    }
}

impl Diagnostic for BuildPushError {
    fn exit_code(&self) -> Code {
        match self {
            BuildPushError::Export(_) => Code::Remote,
            BuildPushError::Artifact(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            BuildPushError::Dockerfile { .. } => Some("pass -f PATH, or add a Dockerfile to the context".into()),
            BuildPushError::NoTags(_) => Some("pass --tag TAG, or leave --latest or --commit-tag on".into()),
            BuildPushError::Immutable { .. } => Some(
                "push a new tag (the commit tag changes with every commit), or make the tag mutable \
                 with an exclusion filter; a retried build of the same commit: pass --reuse-existing \
                 to publish the image the commit tag already names"
                    .into(),
            ),
            BuildPushError::Flag { help, .. } | BuildPushError::Conflict { help, .. } => {
                Some(help.clone())
            }
            BuildPushError::RefTag(_) => Some(
                "pass the branch as --tag, drop --ref-tag, or leave --commit out so that the commit \
                 and its branch come from CI or git"
                    .into(),
            ),
            BuildPushError::PlatformMismatch { asked, .. } => Some(format!(
                "the engine cannot build {asked} here and built from a base image for its own \
                 platform; give the base image for {asked} (a digest or tag of that platform, \
                 --pull), or build on a {asked} machine"
            )),
            BuildPushError::Tag(e) => e.help(),
            BuildPushError::Platform(e) => e.help(),
            BuildPushError::Artifact(e) => e.help(),
            BuildPushError::Export(_) | BuildPushError::NoPlatform => None,
        }
    }
}
