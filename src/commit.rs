//! Which commit a build is for, and where that answer came from.
//!
//! Resolution order (the first that answers wins):
//!
//! 1. the `--commit` flag (or its environment fallback, read by the step's flag);
//! 2. CodeBuild: `CODEBUILD_RESOLVED_SOURCE_VERSION` when it is a commit ID (with an S3 source it is an
//!    object version, which is skipped and mentioned in the error);
//! 3. GitHub Actions: on `pull_request*` events the PR head SHA from `$GITHUB_EVENT_PATH`
//!    (`GITHUB_SHA` there is a merge commit that exists nowhere else); otherwise `GITHUB_SHA`;
//! 4. GitLab CI: `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA` (merged-results pipelines), else `CI_COMMIT_SHA`;
//! 5. the git repository containing the working directory: HEAD, its branch, and whether the tree is
//!    dirty.
//!
//! Nothing resolving (a CodePipeline zip source with no `.git`, say) is an error that lists what was
//! tried and how to fix it.

use crate::adapters::git;
use crate::environment::Environment;
use crate::error::Diagnostic;
use crate::exit::Code;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A resolved commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commit {
    /// The commit ID as given or found (lowercase hex; full length unless `--commit` was abbreviated).
    pub id: String,
    /// The first 7 characters.
    pub short: String,
    /// The branch or ref, when the source knows it (`main`, `feature/x`, `refs/pull/7/head`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where the ID came from.
    pub source: Source,
    /// Whether the working tree had uncommitted changes (known only for [`Source::Git`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    /// The pull request's number (known only for [`Source::GithubPullRequest`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
}

/// Where a commit ID came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The `--commit` flag or its environment fallback.
    Flag,
    /// `CODEBUILD_RESOLVED_SOURCE_VERSION`.
    Codebuild,
    /// `pull_request.head.sha` in `$GITHUB_EVENT_PATH`.
    GithubPullRequest,
    /// `GITHUB_SHA`.
    Github,
    /// `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA` or `CI_COMMIT_SHA`.
    Gitlab,
    /// HEAD of the local git repository.
    Git,
}

impl Source {
    /// What exactly was read, for logs: `GITHUB_SHA`, `git HEAD`…
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--commit",
            Source::Codebuild => "CODEBUILD_RESOLVED_SOURCE_VERSION",
            Source::GithubPullRequest => "pull_request.head.sha in $GITHUB_EVENT_PATH",
            Source::Github => "GITHUB_SHA",
            Source::Gitlab => "GitLab CI_COMMIT_SHA",
            Source::Git => "git HEAD",
        }
    }
}

/// How a commit becomes an image tag (metadata-action's `type=sha` grammar, plus the full SHA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CommitTag {
    /// The full SHA (the default: unique, and what CodePipeline's commit ID is).
    Full,
    /// The first 7 characters.
    Short,
    /// `sha-` and 7 characters.
    ShaShort,
    /// `sha-` and the full SHA.
    ShaFull,
    /// No commit tag.
    None,
}

impl CommitTag {
    /// The tag for `commit` in this form.
    pub fn tag(self, commit: &Commit) -> Option<String> {
        match self {
            CommitTag::Full => Some(commit.id.clone()),
            CommitTag::Short => Some(commit.short.clone()),
            CommitTag::ShaShort => Some(format!("sha-{}", commit.short)),
            CommitTag::ShaFull => Some(format!("sha-{}", commit.id)),
            CommitTag::None => None,
        }
    }
}

/// No commit could be resolved, or a source was unusable.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// `--commit` is not a hex commit ID.
    #[error("use `{value}` as the commit ID: expected 7 to 64 hex digits")]
    InvalidFlag {
        /// The value given.
        value: String,
    },
    /// A pull-request event file could not be used.
    #[error("read the pull request head commit from `{}`: {reason}", path.display())]
    GithubEvent {
        /// `$GITHUB_EVENT_PATH`.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Nothing resolved.
    #[error(
        "determine the commit ID: no CI commit variable is set and `{}` is not inside a git repository{}",
        dir.display(),
        skipped.iter().fold(String::new(), |acc, s| acc + "; " + s)
    )]
    Unresolved {
        /// The directory searched for a repository.
        dir: PathBuf,
        /// Sources that were present but unusable, with why.
        skipped: Vec<String>,
    },
    /// The repository could not be read.
    #[error(transparent)]
    Git(#[from] git::GitError),
}

impl Diagnostic for CommitError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        match self {
            CommitError::InvalidFlag { .. } => {
                Some("pass the full commit SHA, e.g. --commit \"$(git rev-parse HEAD)\"".into())
            }
            CommitError::GithubEvent { .. } => Some(
                "run on the runner's own event file, or pass --commit ${{ github.event.pull_request.head.sha }}".into(),
            ),
            CommitError::Unresolved { .. } => Some(
                "pass --commit SHA (or set BUILDSTEPS_COMMIT); with a CodePipeline zip source, pass \
                 #{SourceVariables.CommitId} or use the \"full clone\" output artifact format"
                    .into(),
            ),
            CommitError::Git(git::GitError::Unborn { .. }) => {
                Some("commit first, or pass --commit SHA".into())
            }
            CommitError::Git(_) => None,
        }
    }
}

/// Resolves the commit: `flag` first, then CI variables from `env`, then the repository at `dir`.
pub fn resolve(flag: Option<&str>, env: &Environment, dir: &Path) -> Result<Commit, CommitError> {
    if let Some(value) = flag.filter(|v| !v.is_empty()) {
        if !is_hex(value, 7) {
            return Err(CommitError::InvalidFlag {
                value: value.to_string(),
            });
        }
        return Ok(commit(value, None, Source::Flag, None));
    }

    let mut skipped = Vec::new();
    if let Some(version) = env.var("CODEBUILD_RESOLVED_SOURCE_VERSION") {
        if is_hex(version, 40) {
            return Ok(commit(version, codebuild_ref(env), Source::Codebuild, None));
        }
        skipped.push(format!(
            "CODEBUILD_RESOLVED_SOURCE_VERSION `{version}` is not a commit ID (an S3 source's version?)"
        ));
    }

    if env.flag("GITHUB_ACTIONS") {
        let event = env.var("GITHUB_EVENT_NAME").unwrap_or_default();
        if event.starts_with("pull_request") {
            let (sha, reference, number) = github_pr_head(env)?;
            return Ok(Commit {
                pull_request: number,
                ..commit(&sha, reference, Source::GithubPullRequest, None)
            });
        }
        if let Some(sha) = env.var("GITHUB_SHA") {
            let reference = env.var("GITHUB_REF_NAME").map(str::to_string);
            return Ok(commit(sha, reference, Source::Github, None));
        }
    }

    if env.flag("GITLAB_CI") {
        let sha = env
            .var("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")
            .or_else(|| env.var("CI_COMMIT_SHA"));
        if let Some(sha) = sha {
            let reference = env
                .var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
                .or_else(|| env.var("CI_COMMIT_REF_NAME"))
                .map(str::to_string);
            return Ok(commit(sha, reference, Source::Gitlab, None));
        }
    }

    match git::head(dir)? {
        Some(head) => Ok(commit(
            &head.commit,
            head.branch,
            Source::Git,
            Some(head.dirty),
        )),
        None => Err(CommitError::Unresolved {
            dir: dir.to_path_buf(),
            skipped,
        }),
    }
}

fn commit(id: &str, reference: Option<String>, source: Source, dirty: Option<bool>) -> Commit {
    let id = id.to_ascii_lowercase();
    Commit {
        short: id.chars().take(7).collect(),
        id,
        reference,
        source,
        dirty,
        pull_request: None,
    }
}

fn is_hex(s: &str, min_len: usize) -> bool {
    (min_len..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The branch of a CodeBuild build: the webhook's head ref, the webhook trigger, or a non-SHA source
/// version (a branch name the build was started with).
fn codebuild_ref(env: &Environment) -> Option<String> {
    if let Some(r) = env.var("CODEBUILD_WEBHOOK_HEAD_REF") {
        return Some(r.strip_prefix("refs/heads/").unwrap_or(r).to_string());
    }
    if let Some(t) = env.var("CODEBUILD_WEBHOOK_TRIGGER") {
        return Some(t.strip_prefix("branch/").unwrap_or(t).to_string());
    }
    env.var("CODEBUILD_SOURCE_VERSION")
        .filter(|v| !is_hex(v, 40) && !v.starts_with("arn:"))
        .map(|v| v.strip_prefix("refs/heads/").unwrap_or(v).to_string())
}

/// The head SHA, head ref and number of the pull request in `$GITHUB_EVENT_PATH`.
fn github_pr_head(env: &Environment) -> Result<(String, Option<String>, Option<u64>), CommitError> {
    let Some(path) = env.var("GITHUB_EVENT_PATH") else {
        return Err(CommitError::GithubEvent {
            path: PathBuf::from("$GITHUB_EVENT_PATH"),
            reason: "the variable is not set".into(),
        });
    };
    let path = env.resolve(Path::new(path));
    let err = |reason: String| CommitError::GithubEvent {
        path: path.clone(),
        reason,
    };
    let text = crate::input::read_to_string(&path, crate::input::DOCUMENT_LIMIT)
        .map_err(|e| err(e.to_string()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    let head = &event["pull_request"]["head"];
    let sha = head["sha"]
        .as_str()
        .filter(|s| is_hex(s, 40))
        .ok_or_else(|| err("`pull_request.head.sha` is missing or not a commit ID".into()))?;
    Ok((
        sha.to_string(),
        head["ref"].as_str().map(str::to_string),
        event["pull_request"]["number"].as_u64(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
    const D: &str = "dddddddddddddddddddddddddddddddddddddddd";

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::new(vars.iter().copied(), "/")
    }

    /// A directory that is certainly outside any repository.
    fn no_repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            git::head(dir.path()).unwrap().is_none(),
            "tests need a temp dir outside git"
        );
        dir
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn repo_with_commit() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        git(dir.path(), &["add", "Dockerfile"]);
        git(dir.path(), &["commit", "-q", "-m", "first"]);
        let sha = git(dir.path(), &["rev-parse", "HEAD"]);
        (dir, sha)
    }

    #[test]
    fn precedence_is_flag_codebuild_github_gitlab_git() {
        let (repo, head) = repo_with_commit();
        let all = [
            ("CODEBUILD_RESOLVED_SOURCE_VERSION", A),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", B),
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", C),
        ];
        let r = |vars: &[(&str, &str)], flag| resolve(flag, &env(vars), repo.path()).unwrap();
        assert_eq!(r(&all, Some(D)).source, Source::Flag);
        assert_eq!(r(&all, Some(D)).id, D);
        assert_eq!(
            (r(&all, None).id.as_str(), r(&all, None).source),
            (A, Source::Codebuild)
        );
        assert_eq!(
            (r(&all[1..], None).id.as_str(), r(&all[1..], None).source),
            (B, Source::Github)
        );
        assert_eq!(
            (r(&all[3..], None).id.as_str(), r(&all[3..], None).source),
            (C, Source::Gitlab)
        );
        let from_git = r(&[], None);
        assert_eq!(
            (from_git.id.as_str(), from_git.source),
            (head.as_str(), Source::Git)
        );
        assert_eq!(from_git.short, head[..7]);
        assert_eq!(from_git.reference.as_deref(), Some("main"));
        assert_eq!(from_git.dirty, Some(false));
    }

    #[test]
    fn flag_must_be_hex_and_is_lowercased() {
        let dir = no_repo();
        let c = resolve(Some("ABCDEF1"), &env(&[]), dir.path()).unwrap();
        assert_eq!((c.id.as_str(), c.short.as_str()), ("abcdef1", "abcdef1"));
        for bad in ["main", "abc", "zzzzzzz", &"a".repeat(65)] {
            let err = resolve(Some(bad), &env(&[]), dir.path()).unwrap_err();
            assert!(matches!(err, CommitError::InvalidFlag { .. }), "{bad}");
            assert_eq!(err.exit_code(), Code::Usage);
        }
    }

    #[test]
    fn codebuild_branch_and_s3_versions() {
        let dir = no_repo();
        let c = resolve(
            None,
            &env(&[
                ("CODEBUILD_RESOLVED_SOURCE_VERSION", A),
                ("CODEBUILD_WEBHOOK_HEAD_REF", "refs/heads/feature/x"),
            ]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(c.reference.as_deref(), Some("feature/x"));
        let c = resolve(
            None,
            &env(&[
                ("CODEBUILD_RESOLVED_SOURCE_VERSION", A),
                ("CODEBUILD_SOURCE_VERSION", "main"),
            ]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(c.reference.as_deref(), Some("main"));
        // An S3 object version is not a commit: skipped, and named in the error.
        let err = resolve(
            None,
            &env(&[(
                "CODEBUILD_RESOLVED_SOURCE_VERSION",
                "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
            )]),
            dir.path(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("is not inside a git repository"), "{text}");
        assert!(
            text.contains("`3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY` is not a commit ID"),
            "{text}"
        );
        assert!(err.help().unwrap().contains("--commit"));
    }

    #[test]
    fn github_pull_requests_use_the_head_sha_from_the_event_file() {
        let dir = no_repo();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            format!(r#"{{"action":"synchronize","pull_request":{{"number":7,"head":{{"sha":"{A}","ref":"feature/y"}}}}}}"#),
        )
        .unwrap();
        let vars = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_SHA", B),
            ("GITHUB_REF_NAME", "7/merge"),
        ];
        let c = resolve(None, &env(&vars), dir.path()).unwrap();
        assert_eq!((c.id.as_str(), c.source), (A, Source::GithubPullRequest));
        assert_eq!(c.reference.as_deref(), Some("feature/y"));
        assert_eq!(c.pull_request, Some(7));

        // A push event uses GITHUB_SHA and GITHUB_REF_NAME.
        let mut push = vars;
        push[1] = ("GITHUB_EVENT_NAME", "push");
        push[4] = ("GITHUB_REF_NAME", "main");
        let c = resolve(None, &env(&push), dir.path()).unwrap();
        assert_eq!(
            (c.id.as_str(), c.source, c.reference.as_deref()),
            (B, Source::Github, Some("main"))
        );

        // A broken event file is an error, not a silent fall-back to the merge commit.
        std::fs::write(&event, "{not json").unwrap();
        let err = resolve(None, &env(&vars), dir.path()).unwrap_err();
        assert!(err.to_string().contains("invalid JSON"), "{err}");
        std::fs::write(&event, r#"{"pull_request":{"head":{}}}"#).unwrap();
        let err = resolve(None, &env(&vars), dir.path()).unwrap_err();
        assert!(err.to_string().contains("pull_request.head.sha"), "{err}");
    }

    #[test]
    fn gitlab_merge_request_head_wins_over_the_merge_commit() {
        let dir = no_repo();
        let c = resolve(
            None,
            &env(&[
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_SHA", C),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", A),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "topic"),
                ("CI_COMMIT_REF_NAME", "main"),
            ]),
            dir.path(),
        )
        .unwrap();
        assert_eq!((c.id.as_str(), c.reference.as_deref()), (A, Some("topic")));
    }

    #[test]
    fn git_detached_head_dirty_tree_and_subdirectories() {
        let (repo, head) = repo_with_commit();
        let sub = repo.path().join("app/src");
        std::fs::create_dir_all(&sub).unwrap();
        // Untracked files do not make the tree dirty.
        std::fs::write(sub.join("new.txt"), "x").unwrap();
        let c = resolve(None, &env(&[]), &sub).unwrap();
        assert_eq!((c.id.as_str(), c.dirty), (head.as_str(), Some(false)));
        // A modified tracked file does.
        std::fs::write(repo.path().join("Dockerfile"), "FROM scratch\nLABEL x=y\n").unwrap();
        assert_eq!(resolve(None, &env(&[]), &sub).unwrap().dirty, Some(true));
        git(repo.path(), &["checkout", "-q", "--", "Dockerfile"]);
        // Detached HEAD: no branch.
        git(repo.path(), &["checkout", "-q", "--detach"]);
        let c = resolve(None, &env(&[]), repo.path()).unwrap();
        assert_eq!(
            (c.id.as_str(), c.reference, c.dirty),
            (head.as_str(), None, Some(false))
        );
    }

    #[test]
    fn a_repository_without_commits_says_so() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        let err = resolve(None, &env(&[]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("has no commits yet"), "{err}");
        assert!(err.help().unwrap().contains("--commit"));
    }

    #[test]
    fn a_repository_owned_by_another_user_is_read() {
        let (repo, head) = repo_with_commit();
        // Hand the whole checkout to another uid, as a CI container's checkout step does.
        let status = Command::new("chown")
            .args(["-R", "4321:4321"])
            .arg(repo.path())
            .status()
            .unwrap();
        assert!(status.success());
        let c = resolve(None, &env(&[]), repo.path()).unwrap();
        assert_eq!((c.id.as_str(), c.source), (head.as_str(), Source::Git));
    }
}
