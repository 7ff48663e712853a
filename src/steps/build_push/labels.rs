//! The image's labels: the user's `--label`s over the OCI labels that come from the commit
//! (`revision`, `source`, `created`), never from the wall clock; and the commit time the image
//! config's `created` is set to.

use super::error::BuildPushError;
use crate::adapters::git;
use crate::commit::Commit;
use crate::environment::Environment;
use crate::output::Output;
use std::collections::HashMap;
use std::path::Path;

/// The latest time an image's `created` can say: 9999-12-31T23:59:59Z (RFC 3339 has four-digit
/// years).
const LATEST_TIME: u64 = 253_402_300_799;

/// The commit's time in RFC 3339: `SOURCE_DATE_EPOCH`, else the commit's committer time in the git
/// repository at `context_dir`. A `SOURCE_DATE_EPOCH` that is not a count of seconds up to
/// [`LATEST_TIME`] is an error (the reproducible-builds specification asks a build to fail on a
/// malformed one), never silently replaced by another time.
pub(super) fn created(
    env: &Environment,
    context_dir: &Path,
    commit: &Commit,
) -> Result<Option<String>, BuildPushError> {
    let secs = match env.var("SOURCE_DATE_EPOCH") {
        Some(value) => Some(source_date_epoch(value)?),
        None => git::commit_time(context_dir, &commit.id).and_then(|t| u64::try_from(t).ok()),
    };
    Ok(secs
        .filter(|t| *t <= LATEST_TIME)
        .map(|t| crate::time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))))
}

/// `SOURCE_DATE_EPOCH`: decimal digits only, at most [`LATEST_TIME`].
fn source_date_epoch(value: &str) -> Result<u64, BuildPushError> {
    let bad = |reason: &str| BuildPushError::Flag {
        flag: "SOURCE_DATE_EPOCH",
        value: value.to_string(),
        reason: reason.into(),
        help: "set SOURCE_DATE_EPOCH to the commit time in seconds (git log -1 --format=%ct), or \
               unset it to use the commit's time from git"
            .into(),
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected whole seconds since 1970-01-01 (digits only)"));
    }
    match value.parse::<u64>() {
        Ok(t) if t <= LATEST_TIME => Ok(t),
        _ => Err(bad(
            "too large: an image's time ends at 9999-12-31T23:59:59Z (253402300799)",
        )),
    }
}

/// The OCI labels from the commit, with `user` (`KEY=VALUE`, or `KEY` for an empty value) over them;
/// warns when there is no commit time to label the image with. A label with an empty key or one
/// with white space in it is refused, as docker refuses it.
pub(super) fn labels(
    commit: &Commit,
    created: Option<&str>,
    user: &[String],
    env: &Environment,
    context_dir: &Path,
    out: &Output,
) -> Result<HashMap<String, String>, BuildPushError> {
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
        check_key("--label", l, &k)?;
        labels.insert(k, v.unwrap_or_default());
    }
    Ok(labels)
}

/// A `--label` or `--build-arg` name: not empty, no white space (docker's and buildx's rules).
pub(super) fn check_key(flag: &'static str, value: &str, key: &str) -> Result<(), BuildPushError> {
    let reason = if key.trim().is_empty() {
        "the name before `=` is empty"
    } else if key.chars().any(char::is_whitespace) {
        "the name before `=` contains white space"
    } else {
        return Ok(());
    };
    Err(BuildPushError::Flag {
        flag,
        value: value.to_string(),
        reason: reason.into(),
        help: format!("pass {flag} NAME=VALUE, the name a word without spaces"),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_is_whole_seconds_or_an_error() {
        let commit = crate::commit::resolve(
            Some("0123456789abcdef0123456789abcdef01234567"),
            &Environment::new(Vec::<(String, String)>::new(), "/"),
            Path::new("/"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let at = |v: &str| {
            created(
                &Environment::new([("SOURCE_DATE_EPOCH", v)], "/"),
                dir.path(),
                &commit,
            )
        };
        assert_eq!(at("0").unwrap().as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            at("1420070400").unwrap().as_deref(),
            Some("2015-01-01T00:00:00Z")
        );
        assert_eq!(
            at("253402300799").unwrap().as_deref(),
            Some("9999-12-31T23:59:59Z")
        );
        assert_eq!(at("").unwrap(), None, "empty is unset; no git history here");
        for (bad, reason) in [
            ("abc", "digits only"),
            ("-5", "digits only"),
            ("1.5", "digits only"),
            (" 12", "digits only"),
            ("1e9", "digits only"),
            ("253402300800", "too large"),
            ("9223372036854775807", "too large"),
            ("99999999999999999999999", "too large"),
        ] {
            let e = at(bad).unwrap_err();
            assert!(
                e.to_string().contains("as SOURCE_DATE_EPOCH") && e.to_string().contains(reason),
                "{bad}: {e}"
            );
        }
    }
}
