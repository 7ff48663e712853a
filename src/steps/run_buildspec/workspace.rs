//! A batch leg's copy of the source: every file git does not ignore (all of them outside a git
//! checkout), the `.git` directory with it so the leg sees the same commit, links kept as links,
//! modes kept — as each CodeBuild leg gets its own checkout. The output directory, when it is
//! inside the source, is left out.

use super::error::RunError;
use std::path::Path;

/// Copies `src` to `dest` (created), leaving out `out` and what git ignores.
pub(super) fn copy(src: &Path, dest: &Path, out: &Path) -> Result<(), RunError> {
    let repo = git2::Repository::discover(src)
        .ok()
        .filter(|r| r.workdir().is_some());
    let workdir = repo
        .as_ref()
        .and_then(git2::Repository::workdir)
        .and_then(|w| std::fs::canonicalize(w).ok());
    let out = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let failed = |path: &Path, source: std::io::Error| RunError::Workspace {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dest).map_err(|e| failed(dest, e))?;
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| failed(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| failed(&dir, e))?;
            let path = entry.path();
            if path == out {
                continue;
            }
            let kind = entry.file_type().map_err(|e| failed(&path, e))?;
            let ignored = match (&repo, &workdir) {
                (Some(repo), Some(workdir)) => path.strip_prefix(workdir).is_ok_and(|rel| {
                    !rel.starts_with(".git") && repo.is_path_ignored(rel).unwrap_or(false)
                }),
                _ => false,
            };
            if ignored {
                continue;
            }
            let Ok(rel) = path.strip_prefix(src) else {
                continue;
            };
            let target = dest.join(rel);
            if kind.is_dir() {
                std::fs::create_dir_all(&target).map_err(|e| failed(&target, e))?;
                stack.push(path);
            } else if kind.is_symlink() {
                let link = std::fs::read_link(&path).map_err(|e| failed(&path, e))?;
                std::os::unix::fs::symlink(link, &target).map_err(|e| failed(&target, e))?;
            } else if kind.is_file() {
                std::fs::copy(&path, &target).map_err(|e| failed(&path, e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_what_git_keeps_and_leaves_out_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(src.join("target/debug")).unwrap();
        std::fs::create_dir_all(src.join("out")).unwrap();
        git2::Repository::init(&src).unwrap();
        std::fs::write(src.join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::write(src.join("sub/a.txt"), "a").unwrap();
        std::fs::write(src.join("build.log"), "log").unwrap();
        std::fs::write(src.join("target/debug/big"), "big").unwrap();
        std::fs::write(src.join("out/old"), "old").unwrap();
        std::fs::write(src.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            src.join("run.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/a.txt", src.join("link")).unwrap();
        let dest = dir.path().join("copy");
        copy(&src, &dest, &src.join("out")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("sub/a.txt")).unwrap(),
            "a"
        );
        assert!(
            dest.join(".git/HEAD").exists(),
            "the repository comes along"
        );
        assert!(!dest.join("build.log").exists());
        assert!(!dest.join("target").exists());
        assert!(!dest.join("out").exists());
        assert_eq!(
            std::fs::read_link(dest.join("link")).unwrap(),
            Path::new("sub/a.txt")
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dest.join("run.sh"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o755);
    }
}
