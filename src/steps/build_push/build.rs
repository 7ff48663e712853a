//! The build: what the engine is asked to build ([`Build`]: the scanned context, the Dockerfile,
//! build args, labels, target, platform), and the request itself, with the context tar streamed to
//! the engine as it is written.

use super::builder::BuildKit;
use super::error::BuildPushError;
use crate::adapters::buildkit::session::{SecretValue, SessionData};
use crate::adapters::docker::{BuildError, BuildOptions, Builder, Engine};
use crate::build_context;
use crate::environment::Environment;
use crate::error::Error;
use crate::output::Output;
use crate::output::progress::Progress;
use crate::secret::Masks;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

/// The name a Dockerfile from outside the context is sent under.
const OUTSIDE_DOCKERFILE: &str = ".buildsteps.Dockerfile";

/// Everything the engine is asked to build.
#[derive(Debug)]
pub(super) struct Build {
    /// The context directory.
    pub(super) context_dir: PathBuf,
    /// The Dockerfile.
    pub(super) dockerfile: PathBuf,
    /// The Dockerfile's name inside the context; `None` when it is outside (it is then sent under
    /// [`OUTSIDE_DOCKERFILE`]).
    pub(super) dockerfile_in_context: Option<String>,
    /// The files the context tar holds.
    pub(super) context: build_context::BuildContext,
    /// `--build-arg`s, with the values taken from the environment where only a name was given.
    pub(super) args: HashMap<String, String>,
    /// The `--build-arg`s given by name only, whose values came from the environment (they may be
    /// secrets: `--print-equivalent` names them and does not print their values).
    pub(super) args_from_env: BTreeSet<String>,
    /// The image's labels.
    pub(super) labels: HashMap<String, String>,
    /// `--target`.
    pub(super) target: Option<String>,
    /// `--platform`.
    pub(super) platform: Option<String>,
    /// `--no-cache`.
    pub(super) no_cache: bool,
    /// `--pull`.
    pub(super) pull: bool,
    /// The builder.
    pub(super) builder: Builder,
    /// What only BuildKit takes.
    pub(super) kit: BuildKit,
}

/// What the build produced.
#[derive(Debug)]
pub(super) struct Built {
    /// The engine's image ID.
    pub(super) image_id: String,
    /// Bytes of the regular files sent in the context.
    pub(super) context_bytes: u64,
    /// Milliseconds the build took.
    pub(super) build_ms: u64,
}

/// `--build-arg`s as docker reads them: `NAME=VALUE`, or `NAME` for the environment's value (left
/// out when unset); also the names whose values came from the environment. An empty name is
/// refused, as buildx refuses it, and so is one with white space (no `ARG` can declare it).
pub(super) fn build_args(
    flags: &[String],
    env: &Environment,
) -> Result<(HashMap<String, String>, BTreeSet<String>), BuildPushError> {
    let mut build_args = HashMap::new();
    let mut from_env = BTreeSet::new();
    for a in flags {
        let (k, v) = super::labels::split_kv(a);
        super::labels::check_key("--build-arg", a, &k)?;
        match v {
            Some(v) => {
                from_env.remove(&k);
                build_args.insert(k, v);
            }
            None => {
                if let Some(v) = env.var(&k) {
                    build_args.insert(k.clone(), v.to_string());
                    from_env.insert(k);
                }
            }
        }
    }
    Ok((build_args, from_env))
}

impl Build {
    /// Builds the image, tagged `tag` in the engine, streaming the context tar while it is written;
    /// the engine's output lines go to `out` as they come. `registries` are the credentials BuildKit
    /// may ask for (the cache sources' registries).
    pub(super) async fn run(
        mut self,
        engine: &Engine,
        tag: String,
        registries: HashMap<String, (String, SecretValue)>,
        out: &Output,
    ) -> Result<Built, Error> {
        if self.kit.inline_cache {
            self.args
                .insert("BUILDKIT_INLINE_CACHE".to_string(), "1".to_string());
        }
        let redact = self
            .kit
            .secrets
            .values()
            .filter_map(|v| std::str::from_utf8(&v.0).ok())
            .flat_map(str::lines)
            .map(|l| l.trim().to_string());
        let redact = Masks::new(redact);
        for secret in redact.values() {
            out.mask(secret);
        }
        let options = BuildOptions {
            dockerfile: self
                .dockerfile_in_context
                .clone()
                .unwrap_or_else(|| OUTSIDE_DOCKERFILE.to_string()),
            dockerfile_shown: self.dockerfile.display().to_string(),
            tag,
            build_args: self.args,
            labels: self.labels,
            target: self.target,
            platform: self.platform,
            no_cache: self.no_cache,
            pull: self.pull,
            builder: self.builder,
            network: self.kit.network,
            cache_from: self.kit.cache_from,
            session: SessionData {
                secrets: self.kit.secrets.into_iter().collect(),
                ssh_agent: self.kit.ssh_agent,
                registries,
            },
            redact,
        };
        let context_bytes = self.context.bytes;
        let started = Instant::now();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
        let outside_dockerfile = self
            .dockerfile_in_context
            .is_none()
            .then(|| self.dockerfile.clone());
        let context = self.context;
        let writer = tokio::task::spawn_blocking(move || {
            context.write_tar_with(ChannelWriter { tx }, outside_dockerfile.as_deref())
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let dockerfile = self.dockerfile.clone();
        // The log lines as they come; on a terminal also a live line naming the step that runs.
        let live = Progress::for_output(out);
        let status = live.status("build");
        let result = engine
            .build(&options, stream, |line| {
                if let Some((_, step)) = line.split_once(' ')
                    && line.starts_with('#')
                    && step.starts_with('[')
                {
                    status.say(step);
                }
                live.milestone(line);
            })
            .await;
        status.done();
        let image_id = result.map_err(|e| heredoc(e, &dockerfile))?;
        writer
            .await
            .map_err(|e| crate::error::TaskFailed(e.to_string()))??;
        Ok(Built {
            image_id,
            context_bytes,
            build_ms: super::elapsed_ms(started),
        })
    }
}

/// A parse error after a heredoc (`RUN <<EOF`) on an engine whose Dockerfile frontend predates
/// heredocs (it reads the heredoc's body as instructions): the error names the heredoc's line.
fn heredoc(error: BuildError, dockerfile: &std::path::Path) -> BuildError {
    let BuildError::Refused {
        dockerfile: shown,
        message,
    } = &error
    else {
        return error;
    };
    let Some((line, _)) = crate::adapters::docker::parse_error(message) else {
        return error;
    };
    let Ok(text) = std::fs::read_to_string(dockerfile) else {
        return error;
    };
    match heredoc_before(&text, usize::try_from(line).unwrap_or(usize::MAX)) {
        Some((at, marker)) => BuildError::Refused {
            dockerfile: shown.clone(),
            message: format!(
                "dockerfile parse error line {at}: heredoc `{marker}` is not supported by this \
                 engine's Dockerfile frontend (heredocs need Dockerfile syntax 1.4, built into \
                 Docker Engine 23 and later)"
            ),
        },
        None => error,
    }
}

/// The last line at or before `line` (1-based) whose `RUN`, `COPY` or `ADD` opens a heredoc, and
/// the marker (`<<EOF`).
fn heredoc_before(text: &str, line: usize) -> Option<(usize, String)> {
    text.lines()
        .enumerate()
        .take(line)
        .filter_map(|(i, l)| {
            let l = l.trim_start();
            let (instruction, rest) = l.split_once(char::is_whitespace)?;
            if !["RUN", "COPY", "ADD"]
                .iter()
                .any(|k| instruction.eq_ignore_ascii_case(k))
            {
                return None;
            }
            let at = rest.find("<<")?;
            let marker: String = rest[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            let word = marker.trim_start_matches("<<").trim_start_matches('-');
            let word = word.trim_matches(|c| c == '"' || c == '\'');
            (!word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then_some((i + 1, marker))
        })
        .last()
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

#[cfg(test)]
mod tests {
    use super::heredoc_before;

    #[test]
    fn a_heredoc_is_found_before_the_line_the_engine_blames() {
        let text = "FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<-'END' /a\nx\nEND\n";
        assert_eq!(heredoc_before(text, 3), Some((2, "<<EOF".into())));
        assert_eq!(heredoc_before(text, 6), Some((5, "<<-'END'".into())));
        assert_eq!(heredoc_before("FROM x\nRUN echo a << b\n", 2), None);
        assert_eq!(heredoc_before("FROM x\nRUN cat <<EOF\n", 1), None);
    }
}
