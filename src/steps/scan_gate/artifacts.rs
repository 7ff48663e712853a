//! The files a run writes besides its result: SARIF 2.1.0 (`--sarif`), JUnit XML (`--junit`) and the
//! Markdown summary (`--markdown`), each through `atomic::write_creating_dirs`, their paths checked
//! before the gate reads or asks anything.

use super::args::ScanGate;
use super::error::GateError;
use super::report::GateReport;
use crate::atomic;
use crate::cli::Context;
use crate::output_path::{OutputPathError, OutputPaths};
use crate::scan::outputs;
use crate::scan::policy::Verdict;
use std::path::Path;

/// Checks the paths of every file asked for against each other and the files read (`--report`,
/// `--allowlist` or `.scan-gate.yaml`, `--from`), before anything is read, asked or written.
pub(crate) fn check(args: &ScanGate, ctx: &Context) -> Result<(), OutputPathError> {
    let mut paths = OutputPaths::new(ctx.env.cwd());
    for report in &args.reports {
        paths.input("--report", report);
    }
    let default_allowlist = Path::new(".scan-gate.yaml");
    paths.input(
        "--allowlist",
        args.allowlist.as_deref().unwrap_or(default_allowlist),
    );
    if let Some(from) = &args.from {
        paths.input("--from", from);
    }
    for (flag, path) in [
        ("--sarif", &args.sarif),
        ("--junit", &args.junit),
        ("--markdown", &args.markdown),
    ] {
        if let Some(path) = path {
            paths.output_creating_dirs(flag, path);
        }
    }
    paths.check()
}

/// Writes every file asked for; returns their paths as given, in that order.
pub(crate) fn write(
    args: &ScanGate,
    ctx: &Context,
    verdict: &Verdict,
    report: &GateReport,
) -> Result<Vec<String>, GateError> {
    let mut written = Vec::new();
    if let Some(path) = &args.sarif {
        let sarif = outputs::sarif(verdict, &args.sarif_artifact, env!("CARGO_PKG_VERSION"));
        write_file(ctx, path, sarif.as_bytes(), &mut written)?;
    }
    if let Some(path) = &args.junit {
        let junit = outputs::junit(verdict, &report.gate);
        write_file(ctx, path, junit.as_bytes(), &mut written)?;
    }
    if let Some(path) = &args.markdown {
        write_file(ctx, path, report.markdown.as_bytes(), &mut written)?;
    }
    Ok(written)
}

fn write_file(
    ctx: &Context,
    path: &Path,
    bytes: &[u8],
    written: &mut Vec<String>,
) -> Result<(), GateError> {
    atomic::write_creating_dirs(&ctx.env.resolve(path), bytes, 0o644)?;
    written.push(path.display().to_string());
    Ok(())
}
