//! Artifacts and report files: the buildspec's patterns matched (`build_context::matching`) under
//! each base directory, artifact files copied into the output directory with `atomic::write` (secondary
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
use crate::build_context::{is_glob, matching};
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
