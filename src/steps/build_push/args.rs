//! `build-push`'s flags: the clap struct whose doc comments are `--help`, and the value types only
//! flags use.

use crate::commit::CommitTag;
use crate::output::OutputArgs;
use std::path::PathBuf;

/// Build a container image and push it with `latest` and the commit tags; write imageDetail.json.
///
///   build-push --repository app                  # your ECR registry, current region
///   build-push --repository 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app \
///              --tag v1.2.0 --build-arg VERSION=1.2.0 --container web
///   build-push --repository app --latest false   # commit tag only (promote after the scan gate)
///   build-push --repository app --platform linux/arm64 --push-by-digest   # one leg of a
///              multi-platform image: tag <commit>-arm64, platform-image.json for `tag-commit index`
///
/// The commit comes from --commit, CodeBuild, GitHub (the PR head on pull requests), GitLab, or
/// git HEAD, in that order, and is reported with its source. Credentials come from docker's config
/// (ecr-login, docker login, credential helpers); for ECR, the AWS SDK chain is used when none are
/// stored.
///
/// Exit codes: 0 pushed · 1 the Dockerfile failed · 2 bad flag, context, Dockerfile, repository or
/// tag conflict · 3 credentials refused · 4 registry, ECR or engine failed after retries.
#[derive(Debug, clap::Parser)]
#[command(name = "build-push", version, verbatim_doc_comment)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each bool is an independent on/off flag of the command line"
)]
pub struct BuildPush {
    /// The build context directory.
    #[arg(
        value_name = "CONTEXT",
        env = "BUILD_PUSH_CONTEXT",
        default_value = "."
    )]
    pub(super) context: PathBuf,

    /// The Dockerfile [default: CONTEXT/Dockerfile].
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        env = "BUILD_PUSH_DOCKERFILE"
    )]
    pub(super) dockerfile: Option<PathBuf>,

    /// Where to push: a repository name (your ECR registry in the current region) or a full
    /// repository URI (any registry).
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "BUILD_PUSH_REPOSITORY"
    )]
    pub(super) repository: String,

    /// More tags (repeatable, comma-separated).
    #[arg(
        short = 't',
        long = "tag",
        value_name = "TAG",
        env = "BUILD_PUSH_TAGS",
        value_delimiter = ','
    )]
    pub(super) tags: Vec<String>,

    /// Also tag `latest`.
    #[arg(long, value_name = "BOOL", env = "BUILD_PUSH_LATEST", default_value_t = true, action = clap::ArgAction::Set)]
    pub(super) latest: bool,

    /// The commit tag's form: `full` SHA, `short` (7), `sha-short` (`sha-` + 7, metadata-action's
    /// default), `sha-full`, or `none`.
    #[arg(
        long,
        value_name = "FORM",
        env = "BUILD_PUSH_COMMIT_TAG",
        default_value = "full"
    )]
    pub(super) commit_tag: CommitTag,

    /// Also tag the sanitised branch name (`feature/x` → `feature-x`), or `pr-N` for pull requests.
    /// With --commit, the branch is the environment's when it names that commit; no branch is an
    /// error.
    #[arg(long, env = "BUILD_PUSH_REF_TAG")]
    pub(super) ref_tag: bool,

    /// The commit ID [default: from CI variables or git].
    #[arg(long, value_name = "SHA", env = "BUILDSTEPS_COMMIT")]
    pub(super) commit: Option<String>,

    /// A build argument, `NAME=VALUE`, or `NAME` to take the value from the environment (repeatable).
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    pub(super) build_args: Vec<String>,

    /// A label, `KEY=VALUE` (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(super) labels: Vec<String>,

    /// The build stage to stop at.
    #[arg(long, env = "BUILD_PUSH_TARGET")]
    pub(super) target: Option<String>,

    /// The platform to build for, OS/ARCH[/VARIANT] (linux/amd64, linux/arm64, linux/arm/v7); the
    /// built image must be that platform, checked before anything is pushed.
    #[arg(long, env = "BUILD_PUSH_PLATFORM")]
    pub(super) platform: Option<String>,

    /// Build without the engine's cache.
    #[arg(long, env = "BUILD_PUSH_NO_CACHE")]
    pub(super) no_cache: bool,

    /// Always pull newer base images.
    #[arg(long, env = "BUILD_PUSH_PULL")]
    pub(super) pull: bool,

    /// The builder: `buildkit` (as `docker build` uses; secrets, cache mounts, registry cache) or
    /// the engine's deprecated `classic` builder [default: buildkit; classic when `DOCKER_BUILDKIT=0`].
    #[arg(long, value_enum, value_name = "BUILDER", env = "BUILD_PUSH_BUILDER")]
    pub(super) builder: Option<BuilderArg>,

    /// A secret for `RUN --mount=type=secret,id=ID`: `id=ID,src=PATH` or `id=ID,env=VAR`, as docker
    /// takes it (repeatable; `;`-separated in the variable). Its value is never in the image or the
    /// output.
    #[arg(
        long = "secret",
        value_name = "id=ID,src=PATH|env=VAR",
        env = "BUILD_PUSH_SECRETS",
        value_delimiter = ';'
    )]
    pub(super) secrets: Vec<String>,

    /// Forward the SSH agent for `RUN --mount=type=ssh`: `default` (the agent at `$SSH_AUTH_SOCK`) or
    /// `default=SOCKET`.
    #[arg(long, value_name = "default[=SOCKET]", env = "BUILD_PUSH_SSH")]
    pub(super) ssh: Option<String>,

    /// Reuse layers from an image in a registry, e.g. the repository's `latest` or the previous
    /// commit's tag (repeatable, comma-separated; `type=registry,ref=IMAGE` is also taken). The
    /// push's credentials are used for its registry; others come from docker's config.
    #[arg(
        long = "cache-from",
        value_name = "IMAGE",
        env = "BUILD_PUSH_CACHE_FROM",
        value_delimiter = ','
    )]
    pub(super) cache_from: Vec<String>,

    /// Cache metadata to export: `inline` (in the pushed image's config, for a later --cache-from)
    /// or `none` [default: inline with --cache-from, else none].
    #[arg(long, value_enum, value_name = "CACHE", env = "BUILD_PUSH_CACHE_TO")]
    pub(super) cache_to: Option<CacheTo>,

    /// The network for `RUN` steps: `default`, `host` or `none`.
    #[arg(long, value_name = "MODE", env = "BUILD_PUSH_NETWORK")]
    pub(super) network: Option<String>,

    /// When the commit tag already names an image and the work tree is clean, do not build: publish
    /// that image again (move the other tags to it, write every artifact). For a retried CI build of
    /// the same commit, whose rebuild would be new bytes that an IMMUTABLE repository refuses.
    #[arg(long, env = "BUILD_PUSH_REUSE_EXISTING")]
    pub(super) reuse_existing: bool,

    /// Push one platform's image of a multi-platform build: move no shared tag (not `latest`, the
    /// commit tag or --tag), tag it `<commit>-<arch>` only (see --platform-tag), and write
    /// platform-image.json (digest, size, media type, platform) instead of imageDetail.json, for
    /// `tag-commit index` to merge. Needs --platform OS/ARCH.
    #[arg(long, env = "BUILD_PUSH_PUSH_BY_DIGEST", requires = "platform")]
    pub(super) push_by_digest: bool,

    /// With --push-by-digest: `commit` tags the image `<commit tag>-<arch>[-<variant>]`
    /// (`<sha>-arm64`, `<sha>-arm-v7`), `none` pushes it by digest alone.
    #[arg(
        long,
        value_enum,
        value_name = "FORM",
        env = "BUILD_PUSH_PLATFORM_TAG",
        default_value = "commit"
    )]
    pub(super) platform_tag: PlatformTag,

    /// Where --push-by-digest writes the platform image's descriptor.
    #[arg(
        long,
        value_name = "PATH",
        env = "BUILD_PUSH_PLATFORM_IMAGE",
        default_value = "platform-image.json"
    )]
    pub(super) platform_image: PathBuf,

    /// The region of your ECR registry, for a bare repository name [default: the SDK chain].
    #[arg(long, value_name = "REGION", env = "BUILD_PUSH_REGION", value_parser = crate::ecr_host::parse_region)]
    pub(super) region: Option<String>,

    /// Where to write imageDetail.json.
    #[arg(
        long,
        value_name = "PATH",
        env = "BUILD_PUSH_IMAGE_DETAIL",
        default_value = "imageDetail.json"
    )]
    pub(super) image_detail: PathBuf,

    /// imageDetail.json's form: `minimal` ({"ImageURI": "repo@sha256:…"}) or `full` (the ECR source
    /// action's fields).
    #[arg(
        long,
        value_name = "FORM",
        env = "BUILD_PUSH_IMAGE_DETAIL_FORMAT",
        default_value = "minimal"
    )]
    pub(super) image_detail_format: DetailFormat,

    /// Write imagedefinitions.json for this container (the ECS rolling-deploy action).
    #[arg(long, value_name = "NAME", env = "BUILD_PUSH_CONTAINER")]
    pub(super) container: Option<String>,

    /// Where to write imagedefinitions.json.
    #[arg(
        long,
        value_name = "PATH",
        env = "BUILD_PUSH_IMAGE_DEFINITIONS",
        default_value = "imagedefinitions.json"
    )]
    pub(super) image_definitions: PathBuf,

    /// Print the plan (context size, tags, artifacts) and change nothing.
    #[arg(long)]
    pub(super) dry_run: bool,

    /// Print the docker commands that reproduce this build, and do nothing else.
    #[arg(long)]
    pub(super) print_equivalent: bool,

    #[command(flatten)]
    pub(super) output: OutputArgs,
}

/// `--builder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum BuilderArg {
    Buildkit,
    Classic,
}

/// `--platform-tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum PlatformTag {
    Commit,
    None,
}

/// `--cache-to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum CacheTo {
    Inline,
    None,
}

/// imageDetail.json's form, `--image-detail-format` (the flag's doc says what each holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum DetailFormat {
    Minimal,
    Full,
}
