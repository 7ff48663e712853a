//! What can go wrong in `tag-commit` besides the adapters: [`TagError`].

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::Digest;
use std::path::PathBuf;

/// What can go wrong besides the adapters.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TagError {
    /// The source is not in the repository.
    #[error("find `{reference}` in `{repository}`: no such tag or digest")]
    NoSource {
        /// The repository.
        repository: String,
        /// The tag or digest.
        reference: String,
    },
    /// `--from` could not be used.
    #[error("read the source image from `{}`: {reason}", path.display())]
    From {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A tag names another image in an immutable repository.
    #[error(
        "tag `{tag}` in immutable `{repository}`: it already names {existing}, the source is {source_digest}"
    )]
    Immutable {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// What the tag names now.
        existing: String,
        /// The source's digest.
        source_digest: Digest,
    },
    /// The registry would not mount a blob.
    #[error(
        "mount {digest} from `{from}` into `{to}`: the registry declined (it mounts only within one registry, with pull access to the source)"
    )]
    Mount {
        /// The blob.
        digest: String,
        /// The source repository.
        from: String,
        /// The destination repository.
        to: String,
    },
    /// `--to` names another registry, or `--via ecr-api` a registry that is not ECR.
    #[error("{what}")]
    Unsupported {
        /// What cannot be done, and why.
        what: String,
        /// What to do instead.
        help: String,
    },
    /// The manifest is not JSON we can read (for `--to`).
    #[error("read the manifest {0}: it is not a JSON image manifest or index")]
    Manifest(Digest),
    /// No tags.
    #[error("add tags: none given (--commit-tag none and no --tag)")]
    NoTags,
    /// A flag's value is unusable, or flags that do not go together.
    #[error("use `{value}` as {flag}: {reason}")]
    Flag {
        /// The flag (`--tag`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// Why it is unusable.
        reason: String,
        /// What to pass instead.
        help: String,
    },
    /// A bad tag or digest.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// Writing imageDetail.json failed.
    #[error(transparent)]
    Artifact(#[from] crate::atomic::WriteError),
}

impl Diagnostic for TagError {
    fn exit_code(&self) -> Code {
        match self {
            TagError::Mount { .. } => Code::Remote,
            TagError::Artifact(e) => e.exit_code(),
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            TagError::NoSource { .. } => {
                Some("check the tag or digest (skopeo list-tags, aws ecr list-images)".into())
            }
            TagError::Immutable { .. } => {
                Some("use a new tag, or an exclusion filter that keeps this tag mutable".into())
            }
            TagError::From { .. } => Some(
                "pass the imageDetail.json build-push wrote ({\"ImageURI\": \"repo@sha256:…\"})"
                    .into(),
            ),
            TagError::NoTags => Some("pass --tag TAG, or leave --commit-tag at its default".into()),
            TagError::Flag { help, .. } | TagError::Unsupported { help, .. } => Some(help.clone()),
            TagError::Reference(e) => e.help(),
            _ => None,
        }
    }
}
