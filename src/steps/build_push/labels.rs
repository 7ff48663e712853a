//! The image's labels: the user's `--label`s over the OCI labels that come from the commit
//! (`revision`, `source`, `created`), never from the wall clock; and the commit time the image
//! config's `created` is set to.

use crate::adapters::git;
use crate::commit::Commit;
use crate::environment::Environment;
use crate::output::Output;
use std::collections::HashMap;
use std::path::Path;

/// The commit's time in RFC 3339: `SOURCE_DATE_EPOCH`, else the commit's committer time in the git
/// repository at `context_dir`.
pub(super) fn created(env: &Environment, context_dir: &Path, commit: &Commit) -> Option<String> {
    let secs = env
        .var("SOURCE_DATE_EPOCH")
        .and_then(|s| s.parse::<i64>().ok())
        .or_else(|| git::commit_time(context_dir, &commit.id));
    secs.and_then(|t| u64::try_from(t).ok())
        .map(|t| crate::time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t)))
}

/// The OCI labels from the commit, with `user` (`KEY=VALUE`, or `KEY` for an empty value) over them;
/// warns when there is no commit time to label the image with.
pub(super) fn labels(
    commit: &Commit,
    created: Option<&str>,
    user: &[String],
    env: &Environment,
    context_dir: &Path,
    out: &Output,
) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = HashMap::new();
    labels.insert(
        "org.opencontainers.image.revision".into(),
        commit.id.clone(),
    );
    if let Some(s) = source(env, context_dir) {
        labels.insert("org.opencontainers.image.source".into(), s);
    }
    match created {
        Some(t) => {
            labels.insert("org.opencontainers.image.created".into(), t.to_string());
        }
        None => out.warn(
            "no commit time (no git history, no SOURCE_DATE_EPOCH): the org.opencontainers.image.created \
             label is left out and the image keeps the engine's build time",
        ),
    }
    for l in user {
        let (k, v) = split_kv(l);
        labels.insert(k, v.unwrap_or_default());
    }
    labels
}

/// The source repository's URL: CodeBuild's (without credentials), GitHub's, GitLab's, or the git
/// remote `origin`.
fn source(env: &Environment, context_dir: &Path) -> Option<String> {
    env.var("CODEBUILD_SOURCE_REPO_URL")
        .map(git::strip_userinfo)
        .or_else(|| {
            Some(format!(
                "{}/{}",
                env.var("GITHUB_SERVER_URL")?,
                env.var("GITHUB_REPOSITORY")?
            ))
        })
        .or_else(|| env.var("CI_PROJECT_URL").map(str::to_string))
        .or_else(|| git::origin_url(context_dir))
}

/// `NAME=VALUE` → (`NAME`, `Some(VALUE)`); `NAME` → (`NAME`, `None`).
pub(super) fn split_kv(s: &str) -> (String, Option<String>) {
    match s.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (s.to_string(), None),
    }
}
