//! Reading the local git repository (libgit2 through `git2`): the HEAD commit, its branch, and whether
//! the working tree has uncommitted changes. Read-only: nothing here writes to a repository.

use std::path::{Path, PathBuf};
use std::sync::Once;

/// What HEAD points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The full commit ID (hex).
    pub commit: String,
    /// The branch name when HEAD is a branch; `None` when detached.
    pub branch: Option<String>,
    /// Whether tracked files differ from HEAD (in the index or the working tree), as `git describe
    /// --dirty` counts it; untracked files do not count.
    pub dirty: bool,
    /// The repository's working directory (or git directory for a bare repository).
    pub root: PathBuf,
}

/// Reading the repository failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The repository exists but HEAD names no commit yet.
    #[error("read HEAD of the git repository at `{}`: it has no commits yet", root.display())]
    Unborn {
        /// The repository root.
        root: PathBuf,
    },
    /// libgit2 failed.
    #[error("read the git repository at `{}`", root.display())]
    Read {
        /// The repository root (or the directory searched from).
        root: PathBuf,
        /// The libgit2 error.
        #[source]
        source: git2::Error,
    },
}

/// Finds the repository containing `dir` and reads HEAD. `Ok(None)` when `dir` is not inside one.
///
/// Repositories owned by another user are read as well (CI containers often check out as another
/// uid than the one the build runs as).
pub fn head(dir: &Path) -> Result<Option<Head>, GitError> {
    allow_foreign_owners();
    let repo = match git2::Repository::discover(dir) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(source) => {
            return Err(GitError::Read {
                root: dir.to_path_buf(),
                source,
            });
        }
    };
    let root = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let read = |source| GitError::Read {
        root: root.clone(),
        source,
    };
    let head = match repo.head() {
        Ok(h) => h,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
            return Err(GitError::Unborn { root });
        }
        Err(e) => return Err(read(e)),
    };
    let commit = head.peel_to_commit().map_err(read)?.id().to_string();
    let branch = if head.is_branch() {
        head.shorthand().ok().map(str::to_string)
    } else {
        None
    };
    let dirty = if repo.is_bare() {
        false
    } else {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(true);
        repo.statuses(Some(&mut opts))
            .map_err(read)?
            .iter()
            .any(|s| s.status() != git2::Status::CURRENT)
    };
    Ok(Some(Head {
        commit,
        branch,
        dirty,
        root,
    }))
}

/// Turns off libgit2's repository-owner check (git's `safe.directory`) for this process.
///
/// The check protects git commands that *execute* configuration from a repository someone else owns
/// (hooks, `core.fsmonitor`). We only read HEAD, refs and the index, and libgit2 executes nothing, so the
/// check would only refuse the common CI layout (checkout owned by another uid) without protecting
/// anything.
fn allow_foreign_owners() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `set_verify_owner_validation` writes a libgit2 global and is unsafe only because it
        // must not race other libgit2 calls; `Once` runs it before this process's first repository
        // access and exactly once.
        #[expect(
            unsafe_code,
            reason = "libgit2 global option, set once before any repository access"
        )]
        unsafe {
            let _ = git2::opts::set_verify_owner_validation(false);
        }
    });
}

/// The commit time (Unix seconds) of `commit` in the repository containing `dir`, if both exist.
pub fn commit_time(dir: &Path, commit: &str) -> Option<i64> {
    allow_foreign_owners();
    let repo = git2::Repository::discover(dir).ok()?;
    let oid = git2::Oid::from_str(commit).ok()?;
    let c = repo.find_commit(oid).ok()?;
    Some(c.time().seconds())
}

/// The `origin` remote's URL without any credentials in it, if there is one.
pub fn origin_url(dir: &Path) -> Option<String> {
    allow_foreign_owners();
    let repo = git2::Repository::discover(dir).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    remote.url().ok().map(strip_userinfo)
}

/// `https://user:token@host/x` → `https://host/x`.
pub fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::strip_userinfo;

    #[test]
    fn credentials_never_reach_the_source_label() {
        assert_eq!(
            strip_userinfo("https://x-access-token:ghs_abc@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            strip_userinfo("https://github.com/o/r"),
            "https://github.com/o/r"
        );
        assert_eq!(
            strip_userinfo("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
    }
}
