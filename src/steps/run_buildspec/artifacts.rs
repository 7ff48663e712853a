//! Artifacts and report files: the buildspec's patterns matched with [`Glob`] under each base
//! directory, artifact files copied into the output directory with `atomic::write` (secondary
//! artifacts under their identifier).

use super::error::RunError;
use super::report::{ArtifactReport, ReportFiles};
use crate::build_context::Glob;
use crate::buildspec::{Artifact, Buildspec};
use crate::output::Output;
use std::path::{Path, PathBuf};

/// Collects every artifact of `spec` from `src` into `out_dir` (created when there is any).
pub(super) fn collect_all(
    spec: &Buildspec,
    src: &Path,
    out_dir: PathBuf,
) -> Result<Vec<ArtifactReport>, RunError> {
    if !spec.artifacts.is_empty() {
        std::fs::create_dir_all(&out_dir).map_err(|source| RunError::Artifact {
            path: out_dir.clone(),
            source,
        })?;
    }
    // Canonical, so the walk can recognise (and skip) it inside the source directory.
    let out_dir = std::fs::canonicalize(&out_dir).unwrap_or(out_dir);
    spec.artifacts
        .iter()
        .map(|artifact| collect(artifact, src, &out_dir))
        .collect()
}

/// Says that no artifact is uploaded (the build stopped before the build phase), if there are any.
pub(super) fn not_uploaded(spec: &Buildspec, out: &Output) {
    if !spec.artifacts.is_empty() {
        out.info("[Container] Artifacts not uploaded: the build stopped before the build phase");
    }
}

/// The files each report group names.
pub(super) fn report_files(spec: &Buildspec, src: &Path) -> Vec<ReportFiles> {
    spec.reports
        .iter()
        .map(|g| ReportFiles {
            name: g.name.clone(),
            file_format: g.file_format.clone(),
            files: matching(
                &g.files,
                &[],
                &src.join(g.base_directory.as_deref().unwrap_or("")),
                None,
            )
            .into_iter()
            .map(|(rel, _)| rel)
            .collect(),
        })
        .collect()
}

/// Copies an artifact's files into `out` (secondary artifacts into `out/<identifier>`).
fn collect(artifact: &Artifact, src: &Path, out: &Path) -> Result<ArtifactReport, RunError> {
    let base = src.join(artifact.base_directory.as_deref().unwrap_or(""));
    let dir = match &artifact.identifier {
        Some(id) => out.join(id),
        None => out.to_path_buf(),
    };
    let mut files = Vec::new();
    for (rel, file) in matching(&artifact.files, &artifact.exclude, &base, Some(out)) {
        let name = if artifact.discard_paths {
            Path::new(&rel)
                .file_name()
                .map_or_else(|| rel.clone(), |n| n.to_string_lossy().into_owned())
        } else {
            rel.trim_start_matches('/').to_string()
        };
        let bytes = std::fs::read(&file).map_err(|source| RunError::Artifact {
            path: file.clone(),
            source,
        })?;
        crate::atomic::write_creating_dirs(&dir.join(&name), &bytes, 0o644)?;
        files.push(name);
    }
    files.sort();
    files.dedup();
    Ok(ArtifactReport {
        identifier: artifact.identifier.clone(),
        name: artifact.name.clone(),
        directory: dir.display().to_string(),
        files,
    })
}

/// Whether a pattern (or path segment) has glob syntax.
fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Files under `base` (or absolute paths) matching any of `patterns` and none of `exclude`:
/// (path as matched, file). The directory `skip` is never entered.
fn matching(
    patterns: &[String],
    exclude: &[String],
    base: &Path,
    skip: Option<&Path>,
) -> Vec<(String, PathBuf)> {
    let exclude: Vec<Glob> = exclude.iter().filter_map(|p| Glob::new(p).ok()).collect();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for pattern in patterns {
        let (root, rel_pattern) = if let Some(abs) = pattern.strip_prefix('/') {
            (PathBuf::from("/"), abs.to_string())
        } else {
            (
                base.to_path_buf(),
                pattern.trim_start_matches("./").to_string(),
            )
        };
        if !is_glob(&rel_pattern) {
            let file = root.join(&rel_pattern);
            if file.is_file() {
                found.push((pattern.trim_start_matches("./").to_string(), file));
            }
            continue;
        }
        let Ok(glob) = Glob::new(&rel_pattern) else {
            continue;
        };
        walk(&root, &rel_pattern, skip, |rel, path| {
            let shown = if pattern.starts_with('/') {
                format!("/{rel}")
            } else {
                rel.to_string()
            };
            if glob.matches(rel)
                && !exclude.iter().any(|e| e.matches(rel))
                && !found.iter().any(|(p, _)| *p == shown)
            {
                found.push((shown, path));
            }
        });
    }
    found.sort();
    found
}

/// Calls `visit` with (path relative to `root`, path) for every file and symlink under the literal
/// prefix directory of `rel_pattern` (its segments before the first with glob syntax), never
/// entering `skip`.
fn walk(root: &Path, rel_pattern: &str, skip: Option<&Path>, mut visit: impl FnMut(&str, PathBuf)) {
    let prefix: Vec<&str> = rel_pattern
        .split('/')
        .take_while(|seg| !is_glob(seg))
        .collect();
    let mut stack = vec![root.join(prefix.join("/"))];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                // Never collect the output directory into itself.
                if skip != Some(path.as_path()) {
                    stack.push(path);
                }
            } else if kind.is_file() || kind.is_symlink() {
                let Ok(rel) = path.strip_prefix(root) else {
                    continue;
                };
                let rel = rel.to_string_lossy().into_owned();
                visit(&rel, path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_patterns() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.txt", "sub/b.txt", "sub/deep/c.json", "skip/d.txt"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let names = |pats: &[&str], ex: &[&str]| -> Vec<String> {
            let pats: Vec<String> = pats.iter().map(ToString::to_string).collect();
            let ex: Vec<String> = ex.iter().map(ToString::to_string).collect();
            matching(&pats, &ex, dir.path(), None)
                .into_iter()
                .map(|(r, _)| r)
                .collect()
        };
        assert_eq!(
            names(&["**/*"], &["skip/**"]),
            ["a.txt", "sub/b.txt", "sub/deep/c.json"]
        );
        assert_eq!(
            names(&["sub/**/*.json", "a.txt"], &[]),
            ["a.txt", "sub/deep/c.json"]
        );
        assert_eq!(names(&["*.txt"], &[]), ["a.txt"]);
        assert_eq!(names(&["missing.txt"], &[]), Vec::<String>::new());
        let skip = dir.path().join("skip");
        let walked = |pattern: &str| {
            let mut rels = Vec::new();
            walk(dir.path(), pattern, Some(&skip), |rel, _| {
                rels.push(rel.to_string());
            });
            rels.sort();
            rels
        };
        assert_eq!(walked("**/*"), ["a.txt", "sub/b.txt", "sub/deep/c.json"]);
        assert_eq!(walked("sub/deep/*.json"), ["sub/deep/c.json"]);
    }
}
