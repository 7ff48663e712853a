//! `build-push`: build an image through the Docker Engine API, push it with `latest` and the commit
//! tags, and write the deploy artifacts (`imageDetail.json`, `imagedefinitions.json`).
//!
//! The push does not ask the engine to push: the image is exported, each layer compressed and hashed in
//! one streaming pass (gzip level 0 for incompressible layers, 1 otherwise), and uploaded concurrently
//! while the next layer compresses. The manifest digest is computed from the bytes we send and checked
//! against the registry's `Docker-Content-Digest`. A local cache maps diff IDs to blobs, so an unchanged
//! image is re-pushed without an export: only `HEAD` requests.
//!
//! A run is a plan (`plan`: the Dockerfile, the commit, the `tags`, the scanned context, the `labels`,
//! the artifacts — every flag checked before a service is called), then the `build`, the `push` of
//! the blobs, the tags moved once every one is checked, and the `artifacts`; `report` is what it
//! prints. `--print-equivalent` stops after the plan (`equivalent`), `--dry-run` after locating the
//! repository.

mod args;
mod artifacts;
mod build;
mod builder;
mod equivalent;
mod error;
mod labels;
mod plan;
mod push;
mod report;
mod reuse;
mod tags;

pub use args::BuildPush;
pub use error::BuildPushError;
pub use report::{BuildPushReport, LayerResult, LayerStatus, PushedTag, TagStatus, Timings};
pub use tags::sanitise_ref;

use crate::adapters::buildkit::session::SecretValue;
use crate::adapters::docker::Engine;
use crate::adapters::registry::Registry;
use crate::cli::{Context, Step};
use crate::commit::Commit;
use crate::destination::{Destination, Located};
use crate::error::Error;
use crate::exit::Code;
use crate::output::OutputArgs;
use build::Built;
use plan::Plan;
use push::Pushed;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

impl Step for BuildPush {
    const NAME: &'static str = "build-push";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let plan = Plan::new(&self, &ctx)?;
        if self.print_equivalent {
            let (registry, path) = crate::destination::parse(&self.repository)?;
            let commands = equivalent::commands(registry.as_deref(), &path, &plan);
            ctx.out.stdout_text(&commands)?;
            return Ok(Code::Ok);
        }
        let dest = crate::destination::locate(&self.repository, self.region.as_deref()).await?;
        if self.dry_run {
            ctx.out.emit(&dry_run(dest, plan))?;
            return Ok(Code::Ok);
        }
        let dest = dest.connect(&ctx).await?;
        let reused = if self.reuse_existing {
            reuse_existing(&self, &dest, &plan, &ctx).await?
        } else {
            None
        };
        let (built, published, written) = if let Some((published, written)) = reused {
            let built = Built {
                image_id: String::new(),
                context_bytes: plan.build.context.bytes,
                build_ms: 0,
            };
            (built, published, written)
        } else {
            let engine = Engine::connect(ctx.env.var("DOCKER_HOST")).await?;
            let local_tag = format!("{}:{}", dest.name(), plan.local_tag);
            let registries = cache_credentials(&dest, &plan.build.kit.cache_from, &ctx)?;
            let cache_from = plan.build.kit.cache_from.clone();
            let built = plan
                .build
                .run(&engine, local_tag, registries, &ctx.out)
                .await?;
            let image = push::Image {
                id: &built.image_id,
                created: plan.created.as_deref(),
                platform: plan.platform.as_ref(),
                cache_from: &cache_from,
            };
            let published = push_and_tag(&engine, &dest, &image, &plan.tags, &ctx).await?;
            let written = plan.artifacts.write(&dest, &published.pushed, &plan.tags)?;
            (built, published, written)
        };
        ctx.out.emit(&report(
            dest,
            self.push_by_digest,
            plan.commit,
            &built,
            published,
            written,
        ))?;
        Ok(Code::Ok)
    }
}

/// `--reuse-existing`: publishes the image the commit tag names, when it may be reused, and writes
/// the artifacts; `None` when the build must run.
async fn reuse_existing(
    args: &BuildPush,
    dest: &Destination,
    plan: &Plan,
    ctx: &Context,
) -> Result<Option<(Published, Vec<String>)>, Error> {
    let registry = Registry::new(&dest.registry, dest.creds.clone())?;
    // A leg pushed by digest is found by its platform tag.
    let commit_tag = if args.push_by_digest {
        plan.tags.first().cloned()
    } else {
        args.commit_tag.tag(&plan.commit)
    };
    let Some(pushed) =
        reuse::existing(&registry, dest, plan, commit_tag.as_deref(), &ctx.out).await?
    else {
        return Ok(None);
    };
    let started = Instant::now();
    let tags = tags::publish(
        &registry,
        dest,
        &plan.tags,
        &pushed.manifest,
        &pushed.digest,
    )
    .await?;
    let written = plan.artifacts.write(dest, &pushed, &plan.tags)?;
    let published = Published {
        pushed,
        tags,
        push_ms: elapsed_ms(started),
    };
    Ok(Some((published, written)))
}

/// Credentials for the `--cache-from` images' registries: the push's for its own registry, docker's
/// config for the others (none: BuildKit pulls anonymously).
fn cache_credentials(
    dest: &Destination,
    cache_from: &[String],
    ctx: &Context,
) -> Result<HashMap<String, (String, SecretValue)>, Error> {
    let mut out = HashMap::new();
    let hosts: std::collections::BTreeSet<String> =
        cache_from.iter().map(|i| builder::registry_of(i)).collect();
    if hosts.is_empty() {
        return Ok(out);
    }
    let config_dir = crate::docker_config::config_dir(&ctx.env)?;
    let doc =
        crate::docker_config::Document::read(&config_dir.join(crate::docker_config::FILE_NAME))?;
    for host in hosts {
        let creds = if host == dest.registry {
            dest.creds.clone()
        } else {
            doc.credentials_for(&host)?
        };
        if let Some((user, password)) = creds {
            out.insert(
                host,
                (user, SecretValue(password.expose().as_bytes().to_vec())),
            );
        }
    }
    Ok(out)
}

/// The image in the registry under every tag.
#[derive(Debug)]
struct Published {
    /// The blobs and the manifest.
    pushed: Pushed,
    /// Each tag's fate, in the plan's order.
    tags: Vec<PushedTag>,
    /// Milliseconds spent pushing and tagging.
    push_ms: u64,
}

/// Pushes the engine's `image` (its blobs, the config normalised to its `created`, once it is known
/// to be its platform), then puts its manifest under `tags` once every tag is checked.
async fn push_and_tag(
    engine: &Engine,
    dest: &Destination,
    image: &push::Image<'_>,
    tags: &[String],
    ctx: &Context,
) -> Result<Published, Error> {
    let started = Instant::now();
    let registry = Arc::new(Registry::for_uploads(&dest.registry, dest.creds.clone())?);
    let pushed = push::image(engine, &registry, &dest.repository, image, ctx).await?;
    let results = tags::publish(&registry, dest, tags, &pushed.manifest, &pushed.digest).await?;
    Ok(Published {
        pushed,
        tags: results,
        push_ms: elapsed_ms(started),
    })
}

/// The report of a dry run: the tags `planned`, the artifacts that would be written.
fn dry_run(dest: Located, plan: Plan) -> BuildPushReport {
    BuildPushReport {
        registry: dest.registry,
        repository: dest.repository,
        image_uri: None,
        digest: None,
        platform: plan
            .platform
            .as_ref()
            .and_then(crate::platform::Platform::named),
        push_by_digest: plan.artifacts.platform_image().is_some(),
        tags: tags::planned(&plan.tags),
        layers: Vec::new(),
        size: 0,
        commit: plan.commit,
        context_bytes: plan.build.context.bytes,
        artifacts: plan.artifacts.paths(),
        timings: Timings::default(),
        dry_run: true,
    }
}

/// The report of a push.
fn report(
    dest: Destination,
    push_by_digest: bool,
    commit: Commit,
    built: &Built,
    published: Published,
    artifacts: Vec<String>,
) -> BuildPushReport {
    let Published {
        pushed,
        tags,
        push_ms,
    } = published;
    BuildPushReport {
        image_uri: Some(format!("{}@{}", dest.name(), pushed.digest)),
        registry: dest.registry,
        repository: dest.repository,
        digest: Some(pushed.digest),
        platform: pushed.platform,
        push_by_digest,
        tags,
        layers: pushed.layers,
        size: pushed.size,
        commit,
        context_bytes: built.context_bytes,
        artifacts,
        timings: Timings {
            build_ms: built.build_ms,
            push_ms,
        },
        dry_run: false,
    }
}

/// Milliseconds since `t`.
fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
