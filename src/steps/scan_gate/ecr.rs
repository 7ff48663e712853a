//! The ECR side of the gate: the image resolved to its platform digests, each digest's scan waited
//! for (one deadline for all) and read into findings, a source entry and any status problem.

use super::args::ScanGate;
use super::error::GateError;
use super::image::{self, EcrTarget};
use super::inputs::Gathered;
use super::report::{SourceKind, SourceReport};
use super::status::{Problem, ScanStatus};
use super::wait::{self, Scan};
use crate::adapters::aws::{Aws, ScanPage};
use crate::cli::Context;
use crate::error::Error;
use crate::scan::reports;
use std::time::Instant;

/// Resolves the image, waits for each platform image's scan, and returns what the scans found.
pub(crate) async fn gate(
    args: &ScanGate,
    ctx: &Context,
    target: &EcrTarget,
) -> Result<Gathered, Error> {
    let region = args.region.clone().or_else(|| target.region.clone());
    let aws = Aws::load(region.as_deref(), None).await?;
    let ecr = aws.ecr(&aws.region());
    let digests = image::platform_images(ctx, &ecr, target).await?;
    // `--timeout` is at most `time::MAX_DURATION`, which every clock holds; checked all the same.
    let deadline = Instant::now().checked_add(args.timeout).ok_or_else(|| {
        GateError::Usage("use --timeout: too large for this system's clock".into())
    })?;
    let mut gathered = Gathered::default();
    for digest in digests {
        let scan = Scan {
            ecr: &ecr,
            registry: target.registry_id.as_deref(),
            repository: &target.repository,
            digest: &digest,
        };
        let page = wait::wait_for_scan(args, ctx, &scan, deadline).await?;
        gathered.extend(read_scan(args, &scan, page));
    }
    Ok(gathered)
}

/// A finished scan's findings, its source entry and the problem its status is, if any.
fn read_scan(args: &ScanGate, scan: &Scan<'_>, page: ScanPage) -> Gathered {
    let name = format!("{}@{}", scan.repository, scan.digest);
    let mut findings = reports::from_basic(page.basic, Some(scan.digest));
    findings.extend(reports::from_enhanced(page.enhanced, Some(scan.digest)));
    let status = ScanStatus::of(page.status.as_deref());
    let problems = Problem::of(
        &status,
        page.description.as_deref(),
        &name,
        args.on_scan_error,
    )
    .into_iter()
    .collect();
    Gathered {
        sources: vec![SourceReport {
            kind: SourceKind::EcrScan,
            name,
            findings: findings.len(),
            status: Some(status),
        }],
        findings,
        problems,
    }
}
