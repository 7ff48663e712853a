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
///
/// Exit codes: 0 tagged (or already tagged) · 2 bad flag, unknown source or repository, immutable tag
/// conflict · 3 credentials refused · 4 registry or ECR failed after retries.
#[derive(Debug, clap::Parser)]
#[command(name = "tag-commit", version, verbatim_doc_comment)]
pub struct TagCommit {
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
