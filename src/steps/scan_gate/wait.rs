//! Waiting for ECR's scan of one digest: one deadline for all, jittered backoff, a scan started at
//! once where the repository does not scan by itself (else after `ScanNotFoundException` was
//! retried briefly: a scan-on-push race), every page read, enhanced scans read until they settle;
//! findings short of the answer's own `findingSeverityCounts` are read again, then refused.

use super::args::ScanGate;
use super::error::GateError;
use super::status::ScanStatus;
use crate::adapters::aws::{Ecr, ScanPage, ScanStart};
use crate::cli::Context;
use crate::error::Error;
use crate::scan::reports;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Where a scan is: one digest in one repository.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan<'a> {
    /// ECR in the registry's region.
    pub(crate) ecr: &'a Ecr,
    /// The registry's account (`None`: the caller's).
    pub(crate) registry: Option<&'a str>,
    /// The repository.
    pub(crate) repository: &'a str,
    /// The image digest.
    pub(crate) digest: &'a str,
}

/// What enhanced findings are compared by between polls: severity counts and finding identities.
type Findings = (BTreeMap<String, i64>, BTreeSet<String>);

/// What the polls so far have seen.
#[derive(Debug)]
struct Wait {
    /// The next wait between polls.
    interval: Duration,
    /// A scan was started (or ECR said one exists).
    started: bool,
    /// Polls that found no scan.
    not_found: u32,
    /// Whether the repository scans by itself (`None`: unknown, so worth waiting for).
    by_itself: Option<bool>,
    /// Whether `by_itself` was asked.
    asked: bool,
    /// For the timeout error.
    last_status: String,
    /// Enhanced scanning: the findings last seen, and for how many polls in a row.
    settled: Option<Findings>,
    stable: u32,
    /// Reads in a row whose findings fell short of their own counts.
    short: u32,
}

/// How many reads in a row may fall short of `findingSeverityCounts` (a page written while it was
/// read, say) before the answer is taken to be incomplete.
const SHORT_READS: u32 = 3;

/// Polls until the scan is final (or settled, for enhanced scanning) or the deadline passes.
pub(crate) async fn wait_for_scan(
    args: &ScanGate,
    ctx: &Context,
    scan: &Scan<'_>,
    deadline: Instant,
) -> Result<ScanPage, Error> {
    let started_at = Instant::now();
    let mut wait = Wait {
        interval: args.poll_interval,
        started: false,
        not_found: 0,
        by_itself: None,
        asked: false,
        last_status: "none".to_string(),
        settled: None,
        stable: 0,
        short: 0,
    };
    loop {
        let done = match all_pages(ctx, scan).await? {
            None => wait.no_scan_yet(ctx, scan).await?,
            Some(page) => wait.read(page, args.settle_polls, scan)?,
        };
        if let Some(page) = done {
            return Ok(page);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(GateError::Timeout {
                repository: scan.repository.to_string(),
                digest: scan.digest.to_string(),
                waited: crate::time::human(started_at.elapsed()),
                status: wait.last_status,
            }
            .into());
        }
        tokio::time::sleep(jitter(wait.interval).min(deadline - now)).await;
        wait.interval =
            (wait.interval.mul_f64(1.5)).min(Duration::from_secs(30).max(args.poll_interval));
    }
}

impl Wait {
    /// No scan yet. Just after a push a scan-on-push may not be visible: where the repository scans
    /// on push (or it is not known), look twice more before starting one. `Some` when ECR says it
    /// cannot scan the image.
    async fn no_scan_yet(
        &mut self,
        ctx: &Context,
        scan: &Scan<'_>,
    ) -> Result<Option<ScanPage>, Error> {
        self.last_status = "no scan".into();
        if !self.asked {
            self.by_itself = scan.ecr.scans_by_itself(scan.repository).await;
            self.asked = true;
        }
        if !self.started && (self.not_found >= 2 || self.by_itself == Some(false)) {
            let unsupported = self.start(ctx, scan).await?;
            if unsupported.is_some() {
                return Ok(unsupported);
            }
        }
        self.not_found += 1;
        Ok(None)
    }

    /// Starts a basic scan; `Some` (an `UNSUPPORTED_IMAGE` answer) when ECR cannot scan the image.
    async fn start(&mut self, ctx: &Context, scan: &Scan<'_>) -> Result<Option<ScanPage>, Error> {
        let answer = scan
            .ecr
            .start_image_scan(scan.registry, scan.repository, scan.digest)
            .await?;
        match &answer {
            ScanStart::Started(_) => {
                ctx.out.info(&format!(
                    "started a basic scan of {}@{}",
                    scan.repository, scan.digest
                ));
                // A small image's basic scan often takes seconds: look again soon, then back off
                // as usual.
                self.interval = self.interval.min(Duration::from_secs(1));
            }
            ScanStart::AlreadyScanned | ScanStart::NotYet => {}
            ScanStart::Unsupported(message) => {
                return Ok(Some(ScanPage {
                    status: Some(ScanStatus::UnsupportedImage.name().into()),
                    description: Some(message.clone()),
                    ..ScanPage::default()
                }));
            }
        }
        self.started = answer != ScanStart::NotYet;
        Ok(None)
    }

    /// A scan's page: `Some` when the scan is final, or settled for enhanced scanning. Findings
    /// short of their own `findingSeverityCounts` are read again; [`SHORT_READS`] such reads in a
    /// row are an error — judging them would pass the findings no page held.
    fn read(
        &mut self,
        page: ScanPage,
        settle_polls: u32,
        scan: &Scan<'_>,
    ) -> Result<Option<ScanPage>, GateError> {
        let status = ScanStatus::of(page.status.as_deref());
        self.last_status = status.to_string();
        if matches!(status, ScanStatus::InProgress | ScanStatus::Pending) {
            return Ok(None);
        }
        let short = reports::shortfalls(&page.counts, &page.basic, &page.enhanced);
        if !short.is_empty() {
            self.short += 1;
            self.settled = None;
            self.stable = 0;
            let reason = short
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            if self.short >= SHORT_READS {
                return Err(GateError::Incomplete {
                    repository: scan.repository.to_string(),
                    digest: scan.digest.to_string(),
                    reason: format!("{reason}, in {} reads in a row", self.short),
                });
            }
            self.last_status = format!("{status}, {reason}");
            return Ok(None);
        }
        self.short = 0;
        Ok(match status {
            // Enhanced scanning keeps adding findings for a while: settle first.
            ScanStatus::Active => self.settles(&page, settle_polls).then_some(page),
            // COMPLETE, and every status that ends the scan (judged by the caller).
            _ => Some(page),
        })
    }

    /// Whether `page` holds the same findings as the polls before it, `settle_polls` times in a row.
    fn settles(&mut self, page: &ScanPage, settle_polls: u32) -> bool {
        let key = (
            page.counts.clone(),
            page.enhanced
                .iter()
                .map(|e| {
                    e.finding_arn
                        .clone()
                        .unwrap_or_else(|| format!("{:?}", e.title))
                })
                .chain(page.basic.iter().map(|b| b.name.clone()))
                .collect::<BTreeSet<String>>(),
        );
        if self.settled.as_ref() == Some(&key) {
            self.stable += 1;
        } else {
            self.stable = 1;
            self.settled = Some(key);
        }
        self.stable >= settle_polls
    }
}

/// Every page of findings, counts and status from the first; a repeated `nextToken` ends the loop.
async fn all_pages(ctx: &Context, scan: &Scan<'_>) -> Result<Option<ScanPage>, Error> {
    let Scan {
        ecr,
        registry,
        repository,
        digest,
    } = *scan;
    let Some(mut first) = ecr
        .image_scan_findings(registry, repository, digest, None)
        .await?
    else {
        return Ok(None);
    };
    let mut seen = BTreeSet::new();
    let mut token = first.next_token.take();
    while let Some(t) = token {
        if !seen.insert(t.clone()) {
            ctx.out.warn(&format!(
                "ECR returned the page token {t} twice for {repository}@{digest}; stopping there"
            ));
            break;
        }
        let Some(page) = ecr
            .image_scan_findings(registry, repository, digest, Some(&t))
            .await?
        else {
            break;
        };
        first.basic.extend(page.basic);
        first.enhanced.extend(page.enhanced);
        token = page.next_token;
    }
    Ok(Some(first))
}

/// ±20 % around `d`, from the clock's low bits (no randomness crate needed for spreading polls).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    jitter_by(d, nanos % 1000)
}

/// `d` scaled into [0.8, 1.2) by `sample` (0..1000): 0 gives 0.8 × d, 500 gives d.
fn jitter_by(d: Duration, sample: u32) -> Duration {
    d.mul_f64(0.8 + f64::from(sample % 1000) / 1000.0 * 0.4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_over_twenty_percent_either_side() {
        let d = Duration::from_secs(10);
        assert_eq!(jitter_by(d, 0), Duration::from_secs(8));
        assert_eq!(jitter_by(d, 500), d);
        assert_eq!(jitter_by(d, 999), Duration::from_millis(11_996));
        // Every sample stays inside the band, and the band is really used.
        let all: Vec<Duration> = (0..1000).map(|n| jitter_by(d, n)).collect();
        assert!(
            all.iter()
                .all(|j| *j >= Duration::from_secs(8) && *j < Duration::from_secs(12))
        );
        let distinct: std::collections::BTreeSet<Duration> = all.into_iter().collect();
        assert_eq!(distinct.len(), 1000, "each sample gives its own delay");
        // The clock-driven one is one of those.
        let j = jitter(d);
        assert!(
            j >= Duration::from_secs(8) && j < Duration::from_secs(12),
            "{j:?}"
        );
    }
}
