//! `build-push`: build an image through the Docker Engine API, push it with `latest` and the commit
//! tags, and write the deploy artifacts (`imageDetail.json`, `imagedefinitions.json`).
//!
//! The push does not ask the engine to push: the image is exported, each layer compressed and hashed in
//! one streaming pass (gzip level 0 for incompressible layers, 1 otherwise), and uploaded concurrently
//! while the next layer compresses. The manifest digest is computed from the bytes we send and checked
//! against the registry's `Docker-Content-Digest`. A local cache maps diff IDs to blobs, so an unchanged
//! image is re-pushed without an export: only `HEAD` requests.

use crate::adapters::docker::{BuildOptions, Engine};
use crate::adapters::git;
use crate::adapters::registry::Registry;
use crate::cli::{Context, Step};
use crate::commit::{self, Commit, CommitTag};
use crate::context;
use crate::error::{Diagnostic, Error};
use crate::exit::Code;
use crate::layers::{self, Blob};
use crate::output::progress::human_bytes;
use crate::output::{OutputArgs, Report};
use crate::reference::Digest;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Build a container image and push it with `latest` and the commit tags; write imageDetail.json.
///
///   build-push --repository app                  # your ECR registry, current region
///   build-push --repository 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app \
///              --tag v1.2.0 --build-arg VERSION=1.2.0 --container web
///   build-push --repository app --latest false   # commit tag only (promote after the scan gate)
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
#[allow(clippy::struct_excessive_bools)]
pub struct BuildPush {
    /// The build context directory.
    #[arg(
        value_name = "CONTEXT",
        env = "BUILD_PUSH_CONTEXT",
        default_value = "."
    )]
    context: PathBuf,

    /// The Dockerfile [default: CONTEXT/Dockerfile].
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        env = "BUILD_PUSH_DOCKERFILE"
    )]
    dockerfile: Option<PathBuf>,

    /// Where to push: a repository name (your ECR registry in the current region) or a full
    /// repository URI (any registry).
    #[arg(
        short = 'r',
        long,
        value_name = "REPOSITORY",
        env = "BUILD_PUSH_REPOSITORY"
    )]
    repository: String,

    /// More tags (repeatable, comma-separated).
    #[arg(
        short = 't',
        long = "tag",
        value_name = "TAG",
        env = "BUILD_PUSH_TAGS",
        value_delimiter = ','
    )]
    tags: Vec<String>,

    /// Also tag `latest`.
    #[arg(long, value_name = "BOOL", env = "BUILD_PUSH_LATEST", default_value_t = true, action = clap::ArgAction::Set)]
    latest: bool,

    /// The commit tag's form: `full` SHA, `short` (7), `sha-short` (`sha-` + 7, metadata-action's
    /// default), `sha-full`, or `none`.
    #[arg(
        long,
        value_name = "FORM",
        env = "BUILD_PUSH_COMMIT_TAG",
        default_value = "full"
    )]
    commit_tag: CommitTag,

    /// Also tag the sanitised branch name (`feature/x` → `feature-x`), or `pr-N` for pull requests.
    #[arg(long, env = "BUILD_PUSH_REF_TAG")]
    ref_tag: bool,

    /// The commit ID [default: from CI variables or git].
    #[arg(long, value_name = "SHA", env = "BUILDSTEPS_COMMIT")]
    commit: Option<String>,

    /// A build argument, `NAME=VALUE`, or `NAME` to take the value from the environment (repeatable).
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    build_args: Vec<String>,

    /// A label, `KEY=VALUE` (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,

    /// The build stage to stop at.
    #[arg(long, env = "BUILD_PUSH_TARGET")]
    target: Option<String>,

    /// The platform to build for, e.g. linux/amd64.
    #[arg(long, env = "BUILD_PUSH_PLATFORM")]
    platform: Option<String>,

    /// Build without the engine's cache.
    #[arg(long, env = "BUILD_PUSH_NO_CACHE")]
    no_cache: bool,

    /// Always pull newer base images.
    #[arg(long, env = "BUILD_PUSH_PULL")]
    pull: bool,

    /// The region of your ECR registry, for a bare repository name [default: the SDK chain].
    #[arg(long, value_name = "REGION", env = "BUILD_PUSH_REGION", value_parser = crate::ecr_host::parse_region)]
    region: Option<String>,

    /// Where to write imageDetail.json.
    #[arg(
        long,
        value_name = "PATH",
        env = "BUILD_PUSH_IMAGE_DETAIL",
        default_value = "imageDetail.json"
    )]
    image_detail: PathBuf,

    /// imageDetail.json's form: `minimal` ({"ImageURI": "repo@sha256:…"}) or `full` (the ECR source
    /// action's fields).
    #[arg(
        long,
        value_name = "FORM",
        env = "BUILD_PUSH_IMAGE_DETAIL_FORMAT",
        default_value = "minimal"
    )]
    image_detail_format: DetailFormat,

    /// Write imagedefinitions.json for this container (the ECS rolling-deploy action).
    #[arg(long, value_name = "NAME", env = "BUILD_PUSH_CONTAINER")]
    container: Option<String>,

    /// Where to write imagedefinitions.json.
    #[arg(
        long,
        value_name = "PATH",
        env = "BUILD_PUSH_IMAGE_DEFINITIONS",
        default_value = "imagedefinitions.json"
    )]
    image_definitions: PathBuf,

    /// Print the plan (context size, tags, artifacts) and change nothing.
    #[arg(long)]
    dry_run: bool,

    /// Print the docker commands that reproduce this build, and do nothing else.
    #[arg(long)]
    print_equivalent: bool,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DetailFormat {
    Minimal,
    Full,
}

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
                 with an exclusion filter"
                    .into(),
            ),
            BuildPushError::Tag(e) => e.help(),
            BuildPushError::Artifact(e) => e.help(),
            BuildPushError::Export(_) => None,
        }
    }
}

/// One tag's fate.
#[derive(Debug, Clone, Serialize)]
pub struct TagResult {
    /// The tag.
    pub tag: String,
    /// `pushed`, `present` (already named this digest), or `planned` (dry run).
    pub status: &'static str,
}

/// One layer's fate.
#[derive(Debug, Clone, Serialize)]
pub struct LayerResult {
    /// The blob digest.
    pub digest: Digest,
    /// Compressed size.
    pub size: u64,
    /// Uncompressed size (when the layer was compressed in this run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed: Option<u64>,
    /// `uploaded` or `present`.
    pub status: &'static str,
}

/// The result of `build-push` (schema version 1).
#[derive(Debug, Serialize)]
pub struct BuildPushReport {
    /// The registry host.
    pub registry: String,
    /// The repository path.
    pub repository: String,
    /// `registry/repository@digest` (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    /// The manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The tags.
    pub tags: Vec<TagResult>,
    /// Layers and config.
    pub layers: Vec<LayerResult>,
    /// Total compressed bytes (layers + config), as ECR's `imageSizeInBytes` counts.
    pub size: u64,
    /// The commit and where it came from.
    pub commit: Commit,
    /// Context bytes sent to the engine.
    pub context_bytes: u64,
    /// Artifacts written.
    pub artifacts: Vec<String>,
    /// Milliseconds spent building and pushing.
    pub timings: Timings,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// Where the time went.
#[derive(Debug, Default, Serialize)]
pub struct Timings {
    /// Building.
    pub build_ms: u64,
    /// Exporting, compressing and uploading.
    pub push_ms: u64,
}

impl Report for BuildPushReport {
    const STEP: &'static str = "build-push";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if self.dry_run {
            let _ = writeln!(
                s,
                "dry run: would build {} of context and push {}/{}",
                human_bytes(self.context_bytes as f64),
                self.registry,
                self.repository
            );
        } else if let Some(uri) = &self.image_uri {
            let _ = writeln!(s, "pushed {uri} ({})", human_bytes(self.size as f64));
        }
        for t in &self.tags {
            let _ = writeln!(s, "  tag {:<44} {}", t.tag, t.status);
        }
        let _ = writeln!(
            s,
            "  commit {} (from {})",
            self.commit.id,
            self.commit.source.describe()
        );
        for a in &self.artifacts {
            let _ = writeln!(s, "  wrote {a}");
        }
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        vec![
            (
                "IMAGE_URI".into(),
                self.image_uri.clone().unwrap_or_default(),
            ),
            (
                "IMAGE_DIGEST".into(),
                self.digest
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            (
                "IMAGE_REPOSITORY".into(),
                format!("{}/{}", self.registry, self.repository),
            ),
            ("IMAGE_TAGS".into(), tags.join(",")),
        ]
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        let tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| format!("{}/{}:{}", self.registry, self.repository, t.tag))
            .collect();
        vec![
            (
                "digest".into(),
                self.digest
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            (
                "image-uri".into(),
                self.image_uri.clone().unwrap_or_default(),
            ),
            ("tags".into(), tags.join("\n")),
        ]
    }

    fn markdown(&self) -> Option<String> {
        let mut md = format!(
            "### build-push\n\n`{}`\n\n| tag | status |\n|---|---|\n",
            self.image_uri.as_deref().unwrap_or("(dry run)")
        );
        for t in &self.tags {
            md.push_str(&format!("| `{}` | {} |\n", t.tag, t.status));
        }
        Some(md)
    }
}

/// `[^a-zA-Z0-9._-]+` → `-`, trimmed of `-` and `.` at the ends, at most 128 characters.
pub fn sanitise_ref(r: &str) -> String {
    let r = r
        .strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/tags/"))
        .unwrap_or(r);
    let mut out = String::new();
    for c in r.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches(|c| c == '-' || c == '.');
    t.chars().take(128).collect()
}

fn ref_tag(commit: &Commit) -> Option<String> {
    if let Some(n) = commit.pull_request {
        return Some(format!("pr-{n}"));
    }
    commit
        .reference
        .as_deref()
        .map(sanitise_ref)
        .filter(|s| !s.is_empty())
}

fn split_kv(s: &str) -> (String, Option<String>) {
    match s.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (s.to_string(), None),
    }
}

impl Step for BuildPush {
    const NAME: &'static str = "build-push";

    fn output_args(&self) -> &OutputArgs {
        &self.output
    }

    #[allow(clippy::too_many_lines)]
    async fn run(self, ctx: Context) -> Result<Code, Error> {
        let context_dir = ctx.env.resolve(&self.context);
        let dockerfile = self
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
        let commit = commit::resolve(self.commit.as_deref(), &ctx.env, &context_dir)?;

        // Tags, validated before anything runs.
        let mut tags: Vec<String> = Vec::new();
        if self.latest {
            tags.push("latest".into());
        }
        tags.extend(self.commit_tag.tag(&commit));
        if self.ref_tag {
            tags.extend(ref_tag(&commit));
        }
        tags.extend(
            self.tags
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
        let tags = crate::reference::tag_list(tags).map_err(BuildPushError::from)?;
        if tags.is_empty() {
            return Err(BuildPushError::NoTags(self.repository.clone()).into());
        }

        // The Dockerfile's name inside the context (outside the context, it is sent under a fixed name).
        let df_in_context = dockerfile
            .strip_prefix(&context_dir)
            .ok()
            .map(|p| p.to_string_lossy().replace('\\', "/"));
        let scan = context::Context::scan(&context_dir, df_in_context.as_deref())?;

        // Labels: the user's, plus OCI labels from the commit (never the wall clock).
        let mut labels: HashMap<String, String> = HashMap::new();
        labels.insert(
            "org.opencontainers.image.revision".into(),
            commit.id.clone(),
        );
        let source = ctx
            .env
            .var("CODEBUILD_SOURCE_REPO_URL")
            .map(git::strip_userinfo)
            .or_else(|| {
                Some(format!(
                    "{}/{}",
                    ctx.env.var("GITHUB_SERVER_URL")?,
                    ctx.env.var("GITHUB_REPOSITORY")?
                ))
            })
            .or_else(|| ctx.env.var("CI_PROJECT_URL").map(str::to_string))
            .or_else(|| git::origin_url(&context_dir));
        if let Some(s) = source {
            labels.insert("org.opencontainers.image.source".into(), s);
        }
        let created_secs = ctx
            .env
            .var("SOURCE_DATE_EPOCH")
            .and_then(|s| s.parse::<i64>().ok())
            .or_else(|| git::commit_time(&context_dir, &commit.id));
        let created = created_secs.and_then(|t| u64::try_from(t).ok()).map(|t| {
            crate::time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))
        });
        match &created {
            Some(t) => {
                labels.insert("org.opencontainers.image.created".into(), t.clone());
            }
            None => ctx.out.warn(
                "no commit time (no git history, no SOURCE_DATE_EPOCH): the org.opencontainers.image.created \
                 label is left out and the image keeps the engine's build time",
            ),
        }
        for l in &self.labels {
            let (k, v) = split_kv(l);
            labels.insert(k, v.unwrap_or_default());
        }
        let mut build_args = HashMap::new();
        for a in &self.build_args {
            match split_kv(a) {
                (k, Some(v)) => {
                    build_args.insert(k, v);
                }
                (k, None) => {
                    // Like docker: take it from the environment, or leave it out when unset.
                    if let Some(v) = ctx.env.var(&k) {
                        build_args.insert(k, v.to_string());
                    }
                }
            }
        }

        let artifacts_planned: Vec<PathBuf> = std::iter::once(ctx.env.resolve(&self.image_detail))
            .chain(
                self.container
                    .as_ref()
                    .map(|_| ctx.env.resolve(&self.image_definitions)),
            )
            .collect();

        if self.print_equivalent {
            let repo = if self.repository.contains('/')
                && self
                    .repository
                    .split('/')
                    .next()
                    .is_some_and(|f| f.contains('.'))
            {
                self.repository.clone()
            } else {
                format!("\"$ECR_REGISTRY\"/{}", self.repository)
            };
            let mut cmd = format!(
                "docker build -f {}",
                crate::output::shell_quote(&dockerfile.display().to_string())
            );
            for (k, v) in &build_args {
                cmd.push_str(&format!(
                    " --build-arg {}",
                    crate::output::shell_quote(&format!("{k}={v}"))
                ));
            }
            let mut sorted: Vec<_> = labels.iter().collect();
            sorted.sort();
            for (k, v) in sorted {
                cmd.push_str(&format!(
                    " --label {}",
                    crate::output::shell_quote(&format!("{k}={v}"))
                ));
            }
            if let Some(t) = &self.target {
                cmd.push_str(&format!(" --target {t}"));
            }
            for t in &tags {
                cmd.push_str(&format!(" -t {repo}:{t}"));
            }
            cmd.push_str(&format!(
                " {}\n",
                crate::output::shell_quote(&context_dir.display().to_string())
            ));
            for t in &tags {
                cmd.push_str(&format!("docker push {repo}:{t}\n"));
            }
            cmd.push_str(&format!(
                "printf '{{\"ImageURI\":\"%s\"}}' \"$(docker inspect --format '{{{{index .RepoDigests 0}}}}' {repo}:{})\" > {}\n",
                tags[0],
                crate::output::shell_quote(&artifacts_planned[0].display().to_string())
            ));
            ctx.out.stdout_text(&cmd);
            return Ok(Code::Ok);
        }

        let dest = crate::target::locate(&self.repository, self.region.as_deref()).await?;

        if self.dry_run {
            ctx.out.emit(&BuildPushReport {
                registry: dest.registry.clone(),
                repository: dest.repository.clone(),
                image_uri: None,
                digest: None,
                tags: tags
                    .iter()
                    .map(|t| TagResult {
                        tag: t.clone(),
                        status: "planned",
                    })
                    .collect(),
                layers: Vec::new(),
                size: 0,
                commit,
                context_bytes: scan.bytes,
                artifacts: artifacts_planned
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                timings: Timings::default(),
                dry_run: true,
            })?;
            return Ok(Code::Ok);
        }

        let dest = dest.connect(&ctx).await?;

        // Build.
        let engine = Engine::connect(ctx.env.var("DOCKER_HOST")).await?;
        let local_tag = format!("{}/{}:{}", dest.registry, dest.repository, tags[0]);
        let dockerfile_name = df_in_context
            .clone()
            .unwrap_or_else(|| ".buildsteps.Dockerfile".to_string());
        let options = BuildOptions {
            dockerfile: dockerfile_name,
            tag: local_tag.clone(),
            build_args,
            labels,
            target: self.target.clone(),
            platform: self.platform.clone(),
            no_cache: self.no_cache,
            pull: self.pull,
        };
        let context_bytes = scan.bytes;
        let build_started = Instant::now();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
        let outside_dockerfile = if df_in_context.is_none() {
            Some(dockerfile.clone())
        } else {
            None
        };
        let writer = tokio::task::spawn_blocking(move || {
            let sink = ChannelWriter { tx };
            scan.write_tar_with(sink, outside_dockerfile.as_deref())
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let out = ctx.out.clone();
        let image_id = engine
            .build(&options, stream, |line| out.info(line))
            .await?;
        writer
            .await
            .map_err(|e| crate::error::TaskFailed(e.to_string()))??;
        let build_ms = elapsed_ms(build_started);

        // Push.
        let push_started = Instant::now();
        let registry = std::sync::Arc::new(Registry::new(&dest.registry, dest.creds.clone()));
        let cache_dir = layers_cache_dir(&ctx.env);
        let pushed = push_image(
            &engine,
            &registry,
            &dest.repository,
            &image_id,
            created.as_deref(),
            cache_dir,
            &ctx,
        )
        .await?;
        let digest = Digest::sha256_of(&pushed.manifest);

        // Tags: check all before moving any.
        let mut results = Vec::new();
        let mut to_put = Vec::new();
        for t in &tags {
            match registry.manifest_digest(&dest.repository, t).await? {
                Some(d) if d == digest => results.push(TagResult {
                    tag: t.clone(),
                    status: "present",
                }),
                Some(d) if dest.immutable() => {
                    return Err(BuildPushError::Immutable {
                        repository: format!("{}/{}", dest.registry, dest.repository),
                        tag: t.clone(),
                        existing: d,
                        built: digest,
                    }
                    .into());
                }
                _ => to_put.push(t.clone()),
            }
        }
        for t in to_put {
            let d = registry
                .put_manifest(
                    &dest.repository,
                    &t,
                    &pushed.manifest,
                    layers::MANIFEST_MEDIA_TYPE,
                )
                .await?;
            debug_assert_eq!(d, digest);
            results.push(TagResult {
                tag: t,
                status: "pushed",
            });
        }
        results.sort_by_key(|r| tags.iter().position(|t| *t == r.tag));
        let push_ms = elapsed_ms(push_started);

        // Artifacts.
        let image_uri = format!("{}/{}@{digest}", dest.registry, dest.repository);
        let mut written = Vec::new();
        let detail_path = ctx.env.resolve(&self.image_detail);
        let detail = match self.image_detail_format {
            DetailFormat::Minimal => serde_json::json!({ "ImageURI": image_uri }),
            DetailFormat::Full => serde_json::json!({
                "ImageSizeInBytes": pushed.size.to_string(),
                "ImageDigest": digest.to_string(),
                "Version": "1.0",
                "ImagePushedAt": java_date(std::time::SystemTime::now()),
                "RegistryId": dest.ecr.as_ref().map(|e| e.account().to_string()).unwrap_or_default(),
                "RepositoryName": dest.repository,
                "ImageURI": image_uri,
                "ImageTags": tags,
            }),
        };
        write_json(&detail_path, &detail)?;
        written.push(detail_path.display().to_string());
        if let Some(name) = &self.container {
            let path = ctx.env.resolve(&self.image_definitions);
            write_json(
                &path,
                &serde_json::json!([{ "name": name, "imageUri": image_uri }]),
            )?;
            written.push(path.display().to_string());
        }

        ctx.out.emit(&BuildPushReport {
            registry: dest.registry,
            repository: dest.repository,
            image_uri: Some(image_uri),
            digest: Some(digest),
            tags: results,
            layers: pushed.layers,
            size: pushed.size,
            commit,
            context_bytes,
            artifacts: written,
            timings: Timings { build_ms, push_ms },
            dry_run: false,
        })?;
        Ok(Code::Ok)
    }
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
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

fn layers_cache_dir(env: &crate::environment::Environment) -> Option<PathBuf> {
    if let Some(d) = env.var("BUILDSTEPS_CACHE_DIR") {
        return Some(env.resolve(Path::new(d)).join("layers"));
    }
    let base = env
        .var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(h).join(".cache")))?;
    Some(base.join("buildsteps").join("layers"))
}

/// A `Write` that sends its bytes to the build request's body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the engine stopped reading the context",
                )
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Compressed bytes travel to the upload in chunks of this size.
const CHUNK: usize = 1 << 20;

/// Told the layer's blob and spool file once it is compressed.
type Finished = tokio::sync::oneshot::Receiver<(Blob, PathBuf)>;

/// The receiving end of a layer's compressed bytes.
struct StreamBody(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl StreamBody {
    /// The bytes as a request body, counted on `meter` as they go.
    fn into_stream(
        self,
        meter: crate::output::progress::Meter,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static
    {
        futures_util::stream::unfold((self.0, meter), |(mut rx, meter)| async move {
            let item = rx.recv().await?;
            if let Ok(chunk) = &item {
                meter.add(chunk.len() as u64);
            }
            Some((item, (rx, meter)))
        })
    }
}

/// Buffers compressed bytes into [`CHUNK`]s for the upload; fails once the upload has gone away.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

/// What the push produced.
struct Pushed {
    config_digest: Digest,
    manifest: Vec<u8>,
    layers: Vec<LayerResult>,
    size: u64,
}

/// Exports the image and compresses its layers; each large layer streams to the registry while it is
/// compressed (the engine's export is the slow part) and is kept in a spool file to upload again if the
/// stream fails. Returns the export, each uploaded layer's status, and the spool directory.
async fn export_and_upload(
    engine: &Engine,
    registry: &std::sync::Arc<Registry>,
    repo: &str,
    image_id: &str,
    ctx: &Context,
) -> Result<
    (
        layers::Exported,
        HashMap<Digest, &'static str>,
        tempfile::TempDir,
    ),
    Error,
> {
    let spool = tempfile::Builder::new()
        .prefix("build-push-")
        .tempdir()
        .map_err(BuildPushError::Export)?;
    let spool_path = spool.path().to_path_buf();
    let export = engine.export(image_id);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(export));
    let (events, mut started) = tokio::sync::mpsc::unbounded_channel::<(StreamBody, Finished)>();
    let out = ctx.out.clone();
    let compressor = tokio::task::spawn_blocking(move || {
        let pending =
            std::cell::RefCell::new(None::<tokio::sync::oneshot::Sender<(Blob, PathBuf)>>);
        layers::read_export(
            reader,
            &spool_path,
            || {
                let (tx, rx) =
                    tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
                let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                *pending.borrow_mut() = Some(done_tx);
                let _ = events.send((StreamBody(rx), done_rx));
                Some(Box::new(ChunkWriter {
                    tx,
                    buf: Vec::with_capacity(CHUNK),
                }) as Box<dyn std::io::Write + Send>)
            },
            |spooled| {
                out.info(&format!(
                    "layer {}: {} → {} (gzip level {})",
                    &spooled.blob.digest.hex()[..12],
                    human_bytes(spooled.blob.uncompressed as f64),
                    human_bytes(spooled.blob.size as f64),
                    spooled.blob.level
                ));
                if let Some(done) = pending.borrow_mut().take() {
                    let _ = done.send((spooled.blob.clone(), spooled.path.clone()));
                }
            },
        )
    });
    let progress = crate::output::progress::Progress::for_output(&ctx.out);
    let mut uploads = tokio::task::JoinSet::new();
    let mut layer = 0;
    while let Some((body, done)) = started.recv().await {
        let registry = std::sync::Arc::clone(registry);
        let repo = repo.to_string();
        layer += 1;
        let meter = progress.meter(&format!("layer {layer} → {}", registry.host()));
        uploads.spawn(async move {
            let streamed = registry
                .stream_upload(&repo, body.into_stream(meter.clone()))
                .await;
            meter.done();
            let Ok((blob, path)) = done.await else {
                return Ok::<_, Error>(None);
            };
            if let Ok(location) = streamed
                && registry
                    .finish_upload(&location, &blob.digest)
                    .await
                    .is_ok()
            {
                let _ = std::fs::remove_file(&path);
                return Ok(Some((blob.digest, "uploaded")));
            }
            // The stream failed: the spool file has the bytes.
            if registry.blob_exists(&repo, &blob.digest).await? {
                return Ok(Some((blob.digest, "present")));
            }
            registry
                .upload_file(&repo, &blob.digest, &path, blob.size)
                .await?;
            let _ = std::fs::remove_file(&path);
            Ok(Some((blob.digest, "uploaded")))
        });
    }
    let exported = compressor
        .await
        .map_err(|e| crate::error::TaskFailed(e.to_string()))?
        .map_err(BuildPushError::Export)?;
    let mut statuses: HashMap<Digest, &'static str> = HashMap::new();
    while let Some(done) = uploads.join_next().await {
        if let Some((d, s)) = done.map_err(|e| crate::error::TaskFailed(e.to_string()))?? {
            statuses.insert(d, s);
        }
    }
    Ok((exported, statuses, spool))
}

/// The fast path: the image was exported before (the cache knows its config and every layer's blob)
/// and the registry has every blob, so nothing needs exporting or uploading.
async fn cached_push(
    cache: &layers::Cache,
    id: &Digest,
    diff_ids: &[String],
    registry: &Registry,
    repo: &str,
    created: Option<&str>,
) -> Result<Option<Pushed>, Error> {
    let known: Option<Vec<Blob>> = diff_ids
        .iter()
        .map(|d| d.parse().ok().and_then(|d| cache.layer(&d)))
        .collect();
    let (Some(raw), Some(blobs)) = (cache.config(id), known) else {
        return Ok(None);
    };
    let config = layers::normalise_config(&raw, created);
    let config_digest = Digest::sha256_of(&config);
    if !registry.blob_exists(repo, &config_digest).await?
        && !mount_from_known(cache, registry, repo, &config_digest).await?
    {
        // Configs are small: upload it rather than give up the fast path.
        registry.upload_bytes(repo, &config_digest, &config).await?;
    }
    let mut statuses = Vec::with_capacity(blobs.len());
    for b in &blobs {
        if registry.blob_exists(repo, &b.digest).await? {
            statuses.push("present");
        } else if mount_from_known(cache, registry, repo, &b.digest).await? {
            statuses.push("mounted");
        } else {
            return Ok(None);
        }
    }
    let size = blobs.iter().map(|b| b.size).sum::<u64>() + config.len() as u64;
    let layers = blobs
        .iter()
        .zip(statuses)
        .map(|(b, status)| LayerResult {
            digest: b.digest.clone(),
            size: b.size,
            uncompressed: None,
            status,
        })
        .collect();
    Ok(Some(Pushed {
        config_digest,
        manifest: layers::manifest(&config, &blobs),
        layers,
        size,
    }))
}

/// Mounts `digest` from another repository of this registry that this machine pushed it to; `false`
/// when there is none or the registry declines (no bytes move either way).
async fn mount_from_known(
    cache: &layers::Cache,
    registry: &Registry,
    repo: &str,
    digest: &Digest,
) -> Result<bool, Error> {
    let prefix = format!("{}/", registry.host());
    for from in cache.locations(digest) {
        if let Some(other) = from.strip_prefix(&prefix)
            && other != repo
            && registry.mount(repo, digest, other).await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn push_image(
    engine: &Engine,
    registry: &std::sync::Arc<Registry>,
    repo: &str,
    image_id: &str,
    created: Option<&str>,
    cache_dir: Option<PathBuf>,
    ctx: &Context,
) -> Result<Pushed, Error> {
    let info = engine.inspect(image_id).await?;
    let id: Option<Digest> = info.id.parse().ok();
    let cache = cache_dir.map(layers::Cache::new);

    if let (Some(cache), Some(id)) = (&cache, &id)
        && let Some(pushed) =
            cached_push(cache, id, &info.diff_ids, registry, repo, created).await?
    {
        ctx.out.info(&format!(
            "every blob of {image_id} is already in {}/{repo}",
            registry.host()
        ));
        remember_locations(cache, registry, repo, &pushed);
        return Ok(pushed);
    }

    let (exported, mut statuses, spool) =
        export_and_upload(engine, registry, repo, image_id, ctx).await?;
    // Layers seen only through the small-blob path (OCI layout) are uploaded now.
    for l in &exported.layers {
        if !statuses.contains_key(&l.blob.digest) {
            let s = if registry.blob_exists(repo, &l.blob.digest).await? {
                "present"
            } else {
                registry
                    .upload_file(repo, &l.blob.digest, &l.path, l.blob.size)
                    .await?;
                "uploaded"
            };
            statuses.insert(l.blob.digest.clone(), s);
        }
    }
    let config = layers::normalise_config(&exported.config, created);
    let config_digest = Digest::sha256_of(&config);
    if !registry.blob_exists(repo, &config_digest).await? {
        registry.upload_bytes(repo, &config_digest, &config).await?;
    }
    let blobs: Vec<Blob> = exported.layers.iter().map(|l| l.blob.clone()).collect();
    if let Some(cache) = &cache {
        cache.remember(&exported.config, &blobs);
    }
    let manifest = layers::manifest(&config, &blobs);
    let size = blobs.iter().map(|b| b.size).sum::<u64>() + config.len() as u64;
    let layers = blobs
        .iter()
        .map(|b| LayerResult {
            digest: b.digest.clone(),
            size: b.size,
            uncompressed: Some(b.uncompressed),
            status: statuses.get(&b.digest).copied().unwrap_or("present"),
        })
        .collect();
    drop(spool);
    let pushed = Pushed {
        config_digest,
        manifest,
        layers,
        size,
    };
    if let Some(cache) = &cache {
        remember_locations(cache, registry, repo, &pushed);
    }
    Ok(pushed)
}

/// Notes where this push put each blob, so a later push to another repository can mount them.
fn remember_locations(cache: &layers::Cache, registry: &Registry, repo: &str, pushed: &Pushed) {
    let digests: Vec<Digest> = pushed
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .chain(std::iter::once(pushed.config_digest.clone()))
        .collect();
    cache.remember_location(&format!("{}/{repo}", registry.host()), &digests);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_sanitised_like_metadata_action() {
        assert_eq!(sanitise_ref("refs/heads/my/branch"), "my-branch");
        assert_eq!(sanitise_ref("feature/ABC_1.2"), "feature-ABC_1.2");
        assert_eq!(sanitise_ref("--weird//name--"), "weird-name");
        assert_eq!(sanitise_ref(&"a".repeat(200)).len(), 128);
    }

    #[test]
    fn java_dates_match_the_ecr_source_action() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_420_070_400);
        assert_eq!(java_date(t), "Thu Jan 01 00:00:00 UTC 2015");
    }
}
