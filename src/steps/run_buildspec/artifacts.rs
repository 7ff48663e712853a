//! Artifacts and report files: the buildspec's patterns matched with [`Glob`] under each base
//! directory, artifact files copied into the output directory with `atomic::write` (secondary
//! artifacts under their identifier).
//!
//! Files come only from the source directory, or — for an absolute pattern such as `/tmp/build.json`,
//! CodeBuild's way to collect a file the build wrote elsewhere — from the temporary directory
//! ([`Roots`]): the buildspec reader refuses `..`, an absolute pattern elsewhere (`/etc/hostname`) is
//! refused before the build starts, and a matched file whose real path (links followed) is outside
//! those is an error. Files are written only inside the output directory. As in CodeBuild, an
//! artifact whose patterns match nothing fails the upload; every artifact is matched and checked
//! before the first file is copied, so a failed upload writes nothing.

use super::error::RunError;
use super::report::{ArtifactReport, ReportFiles};
use crate::build_context::Glob;
use crate::buildspec::{Artifact, Buildspec};
use crate::output::Output;
use std::path::{Path, PathBuf};

/// The directories artifact and report files may come from, canonical: the source directory, and
/// the temporary directory (`$TMPDIR`, `/tmp`) for absolute patterns.
pub(super) struct Roots {
    src: PathBuf,
    temporary: Vec<PathBuf>,
}

impl Roots {
    /// `src` (canonical) and the temporary directories `tmpdir` (`$TMPDIR`) and `/tmp`.
    pub(super) fn new(src: &Path, tmpdir: Option<&str>) -> Roots {
        let mut temporary: Vec<PathBuf> = tmpdir
            .filter(|t| t.starts_with('/'))
            .into_iter()
            .chain(["/tmp"])
            .filter_map(|t| std::fs::canonicalize(t).ok())
            .collect();
        temporary.dedup();
        Roots {
            src: src.to_path_buf(),
            temporary,
        }
    }

    /// Whether `real` (canonical) is inside one of the roots.
    fn contain(&self, real: &Path) -> bool {
        real.starts_with(&self.src) || self.temporary.iter().any(|t| real.starts_with(t))
    }

    /// Checks, before the build, that every absolute pattern and base directory of `spec` is inside
    /// a root (links in the part that exists already resolved).
    pub(super) fn check(&self, spec: &Buildspec) -> Result<(), RunError> {
        let artifacts = spec
            .artifacts
            .iter()
            .map(|a| (a.base_directory.as_deref(), &a.files));
        let reports = spec
            .reports
            .iter()
            .map(|g| (g.base_directory.as_deref(), &g.files));
        for (base, files) in artifacts.chain(reports) {
            let absolute = |p: &&String| p.starts_with('/');
            let paths = base
                .filter(|b| b.starts_with('/'))
                .into_iter()
                .chain(files.iter().filter(absolute).map(String::as_str));
            for pattern in paths {
                let literal: Vec<&str> = pattern
                    .split('/')
                    .take_while(|segment| !is_glob(segment))
                    .collect();
                if !self.contain(&resolved(Path::new(&literal.join("/")))) {
                    return Err(RunError::Outside {
                        pattern: pattern.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// What the upload did.
#[derive(Debug)]
pub(super) enum Upload {
    /// Every artifact's files were copied.
    Collected(Vec<ArtifactReport>),
    /// An artifact matched no file (CodeBuild's `CLIENT_ERROR: no matching artifact paths found`):
    /// nothing was copied. The message names the artifact.
    NoMatch(String),
}

/// An artifact's files, matched and checked, not copied yet.
struct Planned<'a> {
    artifact: &'a Artifact,
    /// Where its files go.
    dir: PathBuf,
    /// (name in `dir`, file to copy).
    files: Vec<(String, PathBuf)>,
}

/// Collects every artifact of `spec` from `roots` into `out_dir` (created when there is
/// any), or copies nothing when one of them matches nothing.
pub(super) fn collect_all(
    spec: &Buildspec,
    roots: &Roots,
    out_dir: &Path,
    log: &Output,
) -> Result<Upload, RunError> {
    // Absolute, so the walk can recognise (and skip) it inside the source directory.
    let out_dir = resolved(out_dir);
    let mut planned = Vec::new();
    for artifact in &spec.artifacts {
        let plan = plan(artifact, roots, &out_dir)?;
        if plan.files.is_empty() {
            let which = match &artifact.identifier {
                Some(id) => format!("the secondary artifact `{id}`"),
                None => "the primary artifact".to_string(),
            };
            log.info("[Container] Phase complete: UPLOAD_ARTIFACTS State: FAILED");
            log.info(&format!(
                "[Container] Phase context status code: CLIENT_ERROR Message: no matching artifact paths found ({which}: {})",
                artifact.files.join(", ")
            ));
            return Ok(Upload::NoMatch(format!(
                "no matching artifact paths found for {which}"
            )));
        }
        planned.push(plan);
    }
    planned
        .iter()
        .map(copy)
        .collect::<Result<_, _>>()
        .map(Upload::Collected)
}

/// Says that no artifact is uploaded (the build stopped before the build phase), if there are any.
pub(super) fn not_uploaded(spec: &Buildspec, out: &Output) {
    if !spec.artifacts.is_empty() {
        out.info("[Container] Artifacts not uploaded: the build stopped before the build phase");
    }
}

/// The files each report group names.
pub(super) fn report_files(spec: &Buildspec, roots: &Roots) -> Result<Vec<ReportFiles>, RunError> {
    spec.reports
        .iter()
        .map(|g| {
            let base = roots.src.join(g.base_directory.as_deref().unwrap_or(""));
            Ok(ReportFiles {
                name: g.name.clone(),
                file_format: g.file_format.clone(),
                files: inside(roots, matching(&g.files, &[], &base, None))?
                    .into_iter()
                    .map(|(rel, _)| rel)
                    .collect(),
            })
        })
        .collect()
}

/// An artifact's files and where they go (secondary artifacts into `out/<identifier>`).
fn plan<'a>(artifact: &'a Artifact, roots: &Roots, out: &Path) -> Result<Planned<'a>, RunError> {
    let base = roots
        .src
        .join(artifact.base_directory.as_deref().unwrap_or(""));
    let dir = match &artifact.identifier {
        Some(id) => out.join(id),
        None => out.to_path_buf(),
    };
    let matched = matching(&artifact.files, &artifact.exclude, &base, Some(out));
    let files = inside(roots, matched)?
        .into_iter()
        .map(|(rel, file)| {
            let name = if artifact.discard_paths {
                Path::new(&rel)
                    .file_name()
                    .map_or_else(|| rel.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                // An absolute pattern's file keeps its path under the artifact: `tmp/build.json`.
                rel.trim_start_matches('/').to_string()
            };
            (name, file)
        })
        .collect();
    Ok(Planned {
        artifact,
        dir,
        files,
    })
}

/// Copies a planned artifact's files.
fn copy(plan: &Planned<'_>) -> Result<ArtifactReport, RunError> {
    let mut files = Vec::new();
    for (name, file) in &plan.files {
        let bytes = std::fs::read(file).map_err(|source| RunError::Artifact {
            path: file.clone(),
            source,
        })?;
        crate::atomic::write_creating_dirs(&plan.dir.join(name), &bytes, 0o644)?;
        files.push(name.clone());
    }
    files.sort();
    files.dedup();
    Ok(ArtifactReport {
        identifier: plan.artifact.identifier.clone(),
        name: plan.artifact.name.clone(),
        directory: plan.dir.display().to_string(),
        files,
    })
}

/// The matched files whose real path (links followed) is a file inside `roots`; one outside is an
/// error, a link to a directory is left out.
fn inside(
    roots: &Roots,
    matched: Vec<(String, PathBuf)>,
) -> Result<Vec<(String, PathBuf)>, RunError> {
    let mut kept = Vec::new();
    for (rel, file) in matched {
        let real = std::fs::canonicalize(&file).map_err(|source| RunError::Artifact {
            path: file.clone(),
            source,
        })?;
        if !roots.contain(&real) {
            return Err(RunError::LinkOutside {
                path: file,
                target: real,
            });
        }
        if real.is_file() {
            kept.push((rel, file));
        }
    }
    Ok(kept)
}

/// `path` made absolute with its existing part's links resolved (the rest, not there yet, as
/// written).
fn resolved(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Whether a pattern (or path segment) has glob syntax.
fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Files under `base` (or `/` for an absolute pattern) matching any of `patterns` (without `..`:
/// the buildspec reader checks) and none of `exclude`: (path as matched — relative to `base`, or
/// absolute — file). The directory `skip` is never entered.
fn matching(
    patterns: &[String],
    exclude: &[String],
    base: &Path,
    skip: Option<&Path>,
) -> Vec<(String, PathBuf)> {
    let exclude: Vec<Glob> = exclude.iter().filter_map(|p| Glob::new(p).ok()).collect();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for pattern in patterns {
        let (root, rel_pattern, prefix) = match pattern.strip_prefix('/') {
            Some(abs) => (Path::new("/"), abs, "/"),
            None => (base, pattern.trim_start_matches("./"), ""),
        };
        if !is_glob(rel_pattern) {
            let file = root.join(rel_pattern);
            let shown = format!("{prefix}{rel_pattern}");
            if file.is_file() && !found.iter().any(|(p, _)| *p == shown) {
                found.push((shown, file));
            }
            continue;
        }
        let Ok(glob) = Glob::new(rel_pattern) else {
            continue;
        };
        walk(root, rel_pattern, skip, |rel, path| {
            let shown = format!("{prefix}{rel}");
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
