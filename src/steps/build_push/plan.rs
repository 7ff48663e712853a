//! The plan: everything decided from the flags, the environment and the checkout before any service
//! is called — the Dockerfile, the commit, the tags, the scanned context, labels and build args, and
//! the artifacts to write (their paths checked). A bad flag, Dockerfile, tag, context or artifact path
//! fails here, before anything runs.

use super::BuildPush;
use super::artifacts::{self, Artifacts};
use super::build::{self, Build};
use super::builder;
use super::error::BuildPushError;
use super::{labels, tags};
use crate::build_context;
use crate::cli::Context;
use crate::commit::{self, Commit};
use crate::error::Error;
use crate::platform::Platform;
use std::path::{Path, PathBuf};

/// What a run will do.
#[derive(Debug)]
pub(super) struct Plan {
    /// The commit the image is for.
    pub(super) commit: Commit,
    /// The tags, in order; never empty, but for `--push-by-digest --platform-tag none`.
    pub(super) tags: Vec<String>,
    /// The tag the engine names the built image with, in the repository's name.
    pub(super) local_tag: String,
    /// The commit time in RFC 3339, which the image config's `created` is set to.
    pub(super) created: Option<String>,
    /// What the engine is asked to build.
    pub(super) build: Build,
    /// The artifacts to write.
    pub(super) artifacts: Artifacts,
    /// `--platform`, which the built image is checked against before it is pushed.
    pub(super) platform: Option<Platform>,
}

impl Plan {
    /// The plan for `args` (warns when there is no commit time to label the image with).
    pub(super) fn new(args: &BuildPush, ctx: &Context) -> Result<Plan, Error> {
        let context_dir = ctx.env.resolve(&args.context);
        let dockerfile = dockerfile(args, ctx, &context_dir)?;
        artifacts::check(args, &ctx.env)?;
        let commit = commit::resolve(args.commit.as_deref(), &ctx.env, &context_dir)?;
        // A leg pushed by digest takes no ref tag (`tags::choose` says why).
        let ref_tag = if args.ref_tag && !args.push_by_digest {
            Some(tags::ref_tag(&commit, &ctx.env, &context_dir)?)
        } else {
            None
        };
        let platform = args
            .platform
            .as_deref()
            .map(|p| Platform::parse("--platform", p))
            .transpose()?
            .flatten();
        let tags = tags::choose(args, &commit, ref_tag, &ctx.env, platform.as_ref())?;
        // What the engine names the image: the first tag, else (a leg pushed by digest alone) the
        // commit and the platform.
        let local_tag = tags.first().cloned().unwrap_or_else(|| {
            let suffix = platform.as_ref().and_then(Platform::named);
            format!(
                "{}-{}",
                commit.id,
                suffix.map(|p| p.tag_suffix()).unwrap_or_default()
            )
        });
        let (build_args, args_from_env) = build::build_args(&args.build_args, &ctx.env)?;
        let (builder, kit) = builder::choose(args, &ctx.env)?;
        let artifacts = Artifacts::planned(args, &ctx.env)?;
        // The Dockerfile's name inside the context (outside the context, it is sent under a fixed name).
        let dockerfile_in_context = dockerfile
            .strip_prefix(&context_dir)
            .ok()
            .map(|p| p.to_string_lossy().replace('\\', "/"));
        let context =
            build_context::BuildContext::scan(&context_dir, dockerfile_in_context.as_deref())?;
        let created = labels::created(&ctx.env, &context_dir, &commit)?;
        let labels = labels::labels(
            &commit,
            created.as_deref(),
            &args.labels,
            &ctx.env,
            &context_dir,
            &ctx.out,
        )?;
        let build = Build {
            args: build_args,
            args_from_env,
            labels,
            context,
            context_dir,
            dockerfile,
            dockerfile_in_context,
            target: args.target.clone(),
            platform: platform.as_ref().map(|p| p.given().to_string()),
            no_cache: args.no_cache,
            pull: args.pull,
            builder,
            kit,
        };
        Ok(Plan {
            commit,
            tags,
            local_tag,
            created,
            build,
            artifacts,
            platform,
        })
    }
}

/// `-f PATH` (against the working directory), else `CONTEXT/Dockerfile`; it must be a file.
fn dockerfile(
    args: &BuildPush,
    ctx: &Context,
    context_dir: &Path,
) -> Result<PathBuf, BuildPushError> {
    let dockerfile = args
        .dockerfile
        .as_ref()
        .map_or_else(|| context_dir.join("Dockerfile"), |f| ctx.env.resolve(f));
    std::fs::metadata(&dockerfile)
        .and_then(|m| {
            if m.is_file() {
                Ok(())
            } else {
                Err(std::io::Error::other("not a file"))
            }
        })
        .map_err(|source| BuildPushError::Dockerfile {
            path: dockerfile.clone(),
            source,
        })?;
    Ok(dockerfile)
}
