//! What can go wrong in `tag-commit index` besides the adapters: [`IndexError`].

use crate::error::Diagnostic;
use crate::exit::Code;
use std::path::PathBuf;

/// What can go wrong in a merge besides the adapters.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IndexError {
    /// A descriptor could not be used.
    #[error("read the platform image descriptor `{}`: {reason}", path.display())]
    Descriptor {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A `--from` glob matched nothing.
    #[error("find `--from {0}`: no file matches")]
    NoMatch(String),
    /// Nothing to merge.
    #[error("merge platform images: none given")]
    Empty,
    /// The repository of the index is not known, or descriptors disagree.
    #[error("choose the index's repository: {0}")]
    Repository(String),
    /// A platform image is not in the registry, or not what it claims.
    #[error("use {from}: {reason}")]
    Child {
        /// Where it was named (`out/arm64/platform-image.json`, `--source abc-arm64`).
        from: String,
        /// What is wrong.
        reason: String,
    },
    /// Missing or repeated platforms.
    #[error("merge the platform images: {0}")]
    Platforms(String),
    /// A tag names another index in an immutable repository.
    #[error(
        "tag `{tag}` in immutable `{repository}`: it already names {existing}, this index is {index}"
    )]
    Immutable {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// What the tag names now.
        existing: String,
        /// The index's digest.
        index: String,
    },
}

impl Diagnostic for IndexError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            IndexError::Descriptor { .. } | IndexError::NoMatch(_) => {
                "pass the platform-image.json files that `build-push --push-by-digest` wrote (each \
                 leg's artifacts; with CodeBuild batch builds, under the leg's identifier)"
                    .into()
            }
            IndexError::Empty => {
                "pass --from platform-image.json (repeatable, globs) or -r REPO --source TAG".into()
            }
            IndexError::Repository(_) => "pass -r REPOSITORY".into(),
            IndexError::Child { .. } => {
                "push the leg again (build-push --push-by-digest), and merge the descriptor it \
                 writes"
                    .into()
            }
            IndexError::Platforms(_) => {
                "merge one image per platform: check which legs ran and which descriptors the \
                 --from globs match"
                    .into()
            }
            IndexError::Immutable { .. } => {
                "an IMMUTABLE repository keeps a tag's first index: merge the same platform images \
                 (their digests are in the descriptors), or use a new tag"
                    .into()
            }
        })
    }
}
