//! `tag-commit`'s flags: the clap struct (its doc comments are `--help`) and [`Via`], the tagging
//! path (also reported in `--json`).

use crate::commit::CommitTag;
use crate::output::OutputArgs;
use serde::Serialize;
use std::path::PathBuf;

/// Add tags to an image already in the registry: the same manifest bytes, no pull, no blob moved.
///
///   tag-commit -r app --source latest                 # tag it with the current commit
///   tag-commit --from imageDetail.json --tag latest --commit-tag none   # promote after the gate
///   tag-commit -r dev/app --source v1.2 --to prod/app --tag v1.2     # promote across repositories
///   tag-commit -r app --source latest --via ecr-api   # BatchGetImage + PutImage only
///   tag-commit index --from 'out/**/platform-image.json' --require linux/amd64,linux/arm64
///
/// Exit codes: 0 tagged (or already tagged) · 2 bad flag, unknown source or repository, immutable tag
/// conflict · 3 credentials refused · 4 registry or ECR failed after retries.
#[derive(Debug, clap::Parser)]
#[command(
    name = "tag-commit",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    verbatim_doc_comment
)]
pub struct TagCommit {
    #[command(subcommand)]
    pub(super) command: Option<Command>,

    /// The repository holding the source image: a name (your ECR registry) or a full URI.
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "TAG_COMMIT_REPOSITORY",
        required_unless_present = "from"
    )]
    pub(super) repository: Option<String>,

    /// The source: a tag or a digest (sha256:…) in --repository.
    #[arg(
        short = 's',
        long,
        value_name = "TAG|DIGEST",
        env = "TAG_COMMIT_SOURCE",
        conflicts_with = "from"
    )]
    pub(super) source: Option<String>,

    /// Take the source from an imageDetail.json (what build-push wrote).
    #[arg(long, value_name = "PATH", env = "TAG_COMMIT_FROM")]
    pub(super) from: Option<PathBuf>,

    #[command(flatten)]
    pub(super) tagging: Tagging,

    /// Tag in another repository of the same registry (promotion): blobs are mounted, not copied.
    #[arg(long, value_name = "REPOSITORY", env = "TAG_COMMIT_TO")]
    pub(super) to: Option<String>,

    /// How to write tags: `registry` (the distribution API) or `ecr-api` (BatchGetImage + PutImage).
    #[arg(
        long,
        value_name = "PATH",
        env = "TAG_COMMIT_VIA",
        default_value = "registry"
    )]
    pub(super) via: Via,

    /// The region of your ECR registry, for a bare repository name [default: the SDK chain].
    #[arg(long, value_name = "REGION", env = "TAG_COMMIT_REGION", value_parser = crate::ecr_host::parse_region)]
    pub(super) region: Option<String>,

    /// Write an imageDetail.json naming the tagged image (digest-pinned) here.
    #[arg(long, value_name = "PATH", env = "TAG_COMMIT_IMAGE_DETAIL")]
    pub(super) image_detail: Option<PathBuf>,

    #[command(flatten)]
    pub(super) output: OutputArgs,
}

// The subcommands besides tagging one image.
#[derive(Debug, clap::Subcommand)]
pub(super) enum Command {
    /// Merge platform images into one multi-platform image index, and tag it with `latest` and the
    /// commit tags.
    ///
    ///   tag-commit index --from 'out/**/platform-image.json' --require linux/amd64,linux/arm64
    ///   tag-commit index -r app --source "$COMMIT-amd64" --source "$COMMIT-arm64" --tag v1.2.0
    ///   tag-commit index --from amd64/platform-image.json --from arm64/platform-image.json \
    ///                    --latest false --container web     # move latest after the scan gate
    ///
    /// Each platform image is read back from the registry: its manifest must be the descriptor's bytes
    /// and its config the platform the descriptor claims. The index lists them sorted by platform, so
    /// the same images give the same index digest on every run; it is a Docker manifest list when every
    /// image is a Docker v2 manifest (what build-push pushes), else an OCI image index. The images are
    /// put into the repository by digest first (mounted from another repository of the registry when a
    /// descriptor names one), then the index under each tag that does not name it yet: a re-run is a
    /// no-op that reports `present`, and an IMMUTABLE repository accepts the same index again. Missing
    /// or repeated platforms fail before anything is pushed. Writes imageDetail.json (the index by
    /// digest) and, with --container, imagedefinitions.json.
    ///
    /// Exit codes: 0 merged (or already merged) · 2 bad flag or descriptor, missing or repeated
    /// platform, an image that is not what its descriptor says, immutable tag conflict · 3 credentials
    /// refused · 4 registry or ECR failed after retries.
    #[command(verbatim_doc_comment)]
    Index(IndexArgs),
}

// `tag-commit index`'s flags (the `Index` variant's doc comment is its `--help`).
#[derive(Debug, clap::Args)]
pub(crate) struct IndexArgs {
    /// A platform-image.json that build-push --push-by-digest wrote, or a glob of them
    /// (`out/**/platform-image.json`; repeatable, comma-separated).
    #[arg(
        long = "from",
        value_name = "FILE|GLOB",
        env = "TAG_COMMIT_INDEX_FROM",
        value_delimiter = ','
    )]
    pub(super) from: Vec<String>,

    /// A platform image in --repository by tag or digest (repeatable, comma-separated); its
    /// platform is what its config says.
    #[arg(
        short = 's',
        long = "source",
        value_name = "TAG|DIGEST",
        env = "TAG_COMMIT_INDEX_SOURCES",
        value_delimiter = ','
    )]
    pub(super) sources: Vec<String>,

    /// The repository of the index: a name (your ECR registry) or a full URI [default: the one
    /// the descriptors name].
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "TAG_COMMIT_REPOSITORY"
    )]
    pub(super) repository: Option<String>,

    /// Platforms that must be there, one image each (comma-separated: linux/amd64,linux/arm64).
    #[arg(
        long,
        value_name = "PLATFORMS",
        env = "TAG_COMMIT_REQUIRE",
        value_delimiter = ','
    )]
    pub(super) require: Vec<String>,

    /// Also tag the index `latest`.
    #[arg(long, value_name = "BOOL", env = "TAG_COMMIT_LATEST", default_value_t = true, action = clap::ArgAction::Set)]
    pub(super) latest: bool,

    #[command(flatten)]
    pub(super) tagging: Tagging,

    /// The region of your ECR registry, for a bare repository name [default: the SDK chain].
    #[arg(long, value_name = "REGION", env = "TAG_COMMIT_REGION", value_parser = crate::ecr_host::parse_region)]
    pub(super) region: Option<String>,

    /// Where to write imageDetail.json (the index, by digest).
    #[arg(
        long,
        value_name = "PATH",
        env = "TAG_COMMIT_IMAGE_DETAIL",
        default_value = "imageDetail.json"
    )]
    pub(super) image_detail: PathBuf,

    /// Write imagedefinitions.json for this container (the ECS rolling-deploy action).
    #[arg(long, value_name = "NAME", env = "TAG_COMMIT_CONTAINER")]
    pub(super) container: Option<String>,

    /// Where to write imagedefinitions.json.
    #[arg(
        long,
        value_name = "PATH",
        env = "TAG_COMMIT_IMAGE_DEFINITIONS",
        default_value = "imagedefinitions.json"
    )]
    pub(super) image_definitions: PathBuf,

    /// Also write each platform image's descriptor, as read back from the registry, to
    /// DIR/ARCH/platform-image.json (for render-taskdef --platform-images, in a merge leg that
    /// has no files of the other legs).
    #[arg(long, value_name = "DIR", env = "TAG_COMMIT_WRITE_PLATFORM_IMAGES")]
    pub(super) write_platform_images: Option<PathBuf>,

    /// Check every image and print the index that would be pushed; change nothing.
    #[arg(long)]
    pub(super) dry_run: bool,

    #[command(flatten)]
    pub(super) output: OutputArgs,
}

/// The tags both commands add besides `latest`: `--tag`, the commit tag and the commit it is for.
#[derive(Debug, clap::Args)]
pub(crate) struct Tagging {
    /// More tags (repeatable, comma-separated).
    #[arg(
        short = 't',
        long = "tag",
        value_name = "TAG",
        env = "TAG_COMMIT_TAGS",
        value_delimiter = ','
    )]
    pub(super) tags: Vec<String>,

    /// The commit tag's form: `full`, `short`, `sha-short`, `sha-full`, or `none`.
    #[arg(
        long,
        value_name = "FORM",
        env = "TAG_COMMIT_COMMIT_TAG",
        default_value = "full"
    )]
    pub(super) commit_tag: CommitTag,

    /// The commit ID [default: from CI variables or git].
    #[arg(long, value_name = "SHA", env = "BUILDSTEPS_COMMIT")]
    pub(super) commit: Option<String>,
}

/// How tags are written (`--via`; reported as `via`, with the same spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Via {
    // (Plain comments: doc comments here would become `--help` text.)
    // The distribution API: the manifest's bytes `PUT` under each tag.
    Registry,
    // ECR's API: `BatchGetImage`, then `PutImage` with the digest for each tag.
    EcrApi,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn via_is_reported_as_it_is_spelled() {
        for via in Via::value_variants() {
            let flag = via.to_possible_value().unwrap();
            assert_eq!(
                serde_json::to_value(via).unwrap(),
                serde_json::json!(flag.get_name())
            );
        }
        assert_eq!(
            serde_json::to_value(Via::EcrApi).unwrap(),
            serde_json::json!("ecr-api")
        );
    }
}
