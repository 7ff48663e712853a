//! What the writing commands write: every file is computed before any is written, then each is
//! compared with the disk and written atomically (or, under `--check`, only compared); `-` is stdout,
//! which the rendered file then has to itself.

use super::error::RenderError;
use super::report::{RenderReport, WrittenArtifact, display};
use crate::atomic;
use crate::cli::Context;
use crate::output::Format;
use std::path::{Path, PathBuf};

/// The rendered file and a `--json`/`--format env` result cannot share stdout; `--check` needs a file.
pub(crate) fn stdout_free(output: &Path, format: Format, check: bool) -> Result<(), RenderError> {
    let to_stdout = output == Path::new("-");
    if to_stdout && format != Format::Human {
        return Err(RenderError::Usage(
            "print the result: stdout carries the rendered file; pass --output PATH with --json or --format env".into(),
        ));
    }
    if to_stdout && check {
        return Err(RenderError::Usage(
            "run --check: it compares with a file; pass --output PATH".into(),
        ));
    }
    Ok(())
}

/// Files to write, all computed before any is written: the command's output, then its artifacts.
#[derive(Debug)]
pub(crate) struct Plan {
    output: (PathBuf, Vec<u8>),
    artifacts: Vec<(PathBuf, Vec<u8>)>,
}

impl Plan {
    /// A plan that writes `bytes` to `output` (`-`: stdout).
    pub(crate) fn new(output: &Path, bytes: Vec<u8>) -> Plan {
        Plan {
            output: (output.to_path_buf(), bytes),
            artifacts: Vec::new(),
        }
    }

    /// Adds artifacts, written after the output.
    pub(crate) fn extend(&mut self, artifacts: Vec<(PathBuf, Vec<u8>)>) {
        self.artifacts.extend(artifacts);
    }

    /// Compares each file with the disk and writes them unless `check`; records in `report` the
    /// output's digest, whether each file changed, and whether they were written.
    pub(crate) fn finish(
        &self,
        ctx: &Context,
        check: bool,
        report: &mut RenderReport,
    ) -> Result<(), RenderError> {
        let changed: Vec<bool> = self.files().map(|(p, b)| differs(ctx, p, b)).collect();
        if !check {
            for (path, bytes) in self.files() {
                write(ctx, path, bytes)?;
            }
        }
        report.sha256 = Some(sha256_hex(&self.output.1));
        report.changed = changed[0];
        report.written = !check;
        report.artifacts = self
            .artifacts
            .iter()
            .zip(&changed[1..])
            .map(|((path, bytes), changed)| WrittenArtifact {
                path: display(path),
                sha256: sha256_hex(bytes),
                changed: *changed,
            })
            .collect();
        Ok(())
    }

    /// The output, then the artifacts.
    fn files(&self) -> impl Iterator<Item = (&Path, &[u8])> {
        std::iter::once(&self.output)
            .chain(&self.artifacts)
            .map(|(path, bytes)| (path.as_path(), bytes.as_slice()))
    }
}

/// Whether `bytes` differ from the file at `path` (stdout and a missing file always do).
fn differs(ctx: &Context, path: &Path, bytes: &[u8]) -> bool {
    path == Path::new("-") || std::fs::read(ctx.env.resolve(path)).map_or(true, |old| old != bytes)
}

/// Writes `bytes` to `path` atomically, or to stdout for `-`.
fn write(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    if path == Path::new("-") {
        ctx.out.stdout_text(&String::from_utf8_lossy(bytes));
    } else {
        atomic::write_creating_dirs(&ctx.env.resolve(path), bytes, 0o644)?;
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::reference::Digest::sha256_of(bytes).hex().to_string()
}
