//! What the writing commands write: every file is computed before any is written, every path is
//! checked ([`OutputPaths`]: regular files, writable directories, none named twice, none an input it
//! would change — an imageDetail.json re-written with the URI read from it is the same file), then
//! each is compared with the disk and written atomically (or, under `--check`, only compared); `-` is
//! stdout, which the rendered file then has to itself.

use super::error::RenderError;
use super::report::{RenderReport, WrittenArtifact, display};
use crate::atomic;
use crate::cli::Context;
use crate::error::Error;
use crate::output::Format;
use crate::output_path::OutputPaths;
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

/// An artifact to write: the flag that asked for it, its path, its bytes.
pub(crate) type Artifact = (&'static str, PathBuf, Vec<u8>);

/// Files to write, all computed before any is written: the command's output, then its artifacts
/// (each with the flag that asked for it), and the files the command read.
#[derive(Debug)]
pub(crate) struct Plan {
    output: (PathBuf, Vec<u8>),
    artifacts: Vec<Artifact>,
    inputs: Vec<(&'static str, PathBuf)>,
}

impl Plan {
    /// A plan that writes `bytes` to `output` (`-`: stdout).
    pub(crate) fn new(output: &Path, bytes: Vec<u8>) -> Plan {
        Plan {
            output: (output.to_path_buf(), bytes),
            artifacts: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// The files the command read (`(flag, path)`), which no output may be.
    pub(crate) fn reading(mut self, inputs: Vec<(&'static str, PathBuf)>) -> Plan {
        self.inputs = inputs;
        self
    }

    /// Adds artifacts (`(flag, path, bytes)`), written after the output.
    pub(crate) fn extend(&mut self, artifacts: Vec<Artifact>) {
        self.artifacts.extend(artifacts);
    }

    /// Checks every path, then compares each file with the disk and writes them unless `check`;
    /// records in `report` the output's digest, whether each file changed, and whether they were
    /// written.
    pub(crate) fn finish(
        &self,
        ctx: &Context,
        check: bool,
        report: &mut RenderReport,
    ) -> Result<(), Error> {
        self.check_paths(ctx, check)?;
        let changed: Vec<bool> = self.files().map(|(_, p, b)| differs(ctx, p, b)).collect();
        if !check {
            for (_, path, bytes) in self.files() {
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
            .map(|((_, path, bytes), changed)| WrittenArtifact {
                path: display(path),
                sha256: sha256_hex(bytes),
                changed: *changed,
            })
            .collect();
        Ok(())
    }

    /// The output, then the artifacts, each with its flag.
    fn files(&self) -> impl Iterator<Item = (&'static str, &Path, &[u8])> {
        let (output, bytes) = &self.output;
        std::iter::once(("--output", output.as_path(), bytes.as_slice())).chain(
            self.artifacts
                .iter()
                .map(|(flag, path, bytes)| (*flag, path.as_path(), bytes.as_slice())),
        )
    }

    /// Every file path (stdout aside) checked before anything is read from or written to it.
    fn check_paths(&self, ctx: &Context, check: bool) -> Result<(), Error> {
        let stdio = |p: &Path| p == Path::new("-");
        let mut paths = OutputPaths::new(ctx.env.cwd());
        paths.comparing(check);
        for (flag, path) in self.inputs.iter().filter(|(_, p)| !stdio(p)) {
            paths.input(flag, path);
        }
        for (flag, path, bytes) in self.files().filter(|(_, p, _)| !stdio(p)) {
            paths.output_creating_dirs_holding(flag, path, bytes);
        }
        Ok(paths.check()?)
    }
}

/// Whether `bytes` differ from the file at `path` (stdout and a missing file always do).
fn differs(ctx: &Context, path: &Path, bytes: &[u8]) -> bool {
    path == Path::new("-") || std::fs::read(ctx.env.resolve(path)).map_or(true, |old| old != bytes)
}

/// Writes `bytes` to `path` atomically, or to stdout for `-`.
fn write(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if path == Path::new("-") {
        ctx.out.stdout_text(&String::from_utf8_lossy(bytes))?;
    } else {
        atomic::write_creating_dirs(&ctx.env.resolve(path), bytes, 0o644)?;
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::reference::Digest::sha256_of(bytes).hex().to_string()
}
