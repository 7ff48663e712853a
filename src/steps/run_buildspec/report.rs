//! What `run-buildspec` reports: [`RunReport`] (the `--json` object, documented field by field in
//! `docs/json.md`, run-buildspec), its phases, artifacts and report files; the human summary, the
//! phase timing table and the `--format env` variables.

use crate::output::Report;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// A build phase, in the order CodeBuild runs them (the names of [`crate::buildspec::PHASES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PhaseName {
    /// `install`.
    Install,
    /// `pre_build`.
    PreBuild,
    /// `build`.
    Build,
    /// `post_build`.
    PostBuild,
}

impl PhaseName {
    /// Every phase, in CodeBuild's order.
    pub(crate) const ALL: [PhaseName; 4] = [
        PhaseName::Install,
        PhaseName::PreBuild,
        PhaseName::Build,
        PhaseName::PostBuild,
    ];

    /// The name as the buildspec writes it (and `--json` reports it).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PhaseName::Install => "install",
            PhaseName::PreBuild => "pre_build",
            PhaseName::Build => "build",
            PhaseName::PostBuild => "post_build",
        }
    }

    /// The name as CodeBuild's log writes it: `PRE_BUILD`.
    pub(crate) fn upper(self) -> String {
        self.as_str().to_uppercase()
    }
}

impl fmt::Display for PhaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a phase ended, in CodeBuild's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum PhaseStatus {
    /// Every command (and the `finally` block) exited with status 0.
    Succeeded,
    /// A command or a `finally` command failed (see `failed_command`).
    Failed,
    /// Not run: an earlier phase failed and stopped the build.
    Skipped,
}

impl PhaseStatus {
    /// The status as `--json` and CodeBuild's log write it: `SUCCEEDED`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Succeeded => "SUCCEEDED",
            PhaseStatus::Failed => "FAILED",
            PhaseStatus::Skipped => "SKIPPED",
        }
    }
}

impl fmt::Display for PhaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One phase's outcome.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PhaseReport {
    /// The phase.
    pub(crate) name: PhaseName,
    /// How it ended.
    pub(crate) status: PhaseStatus,
    /// Wall time (0 for a skipped phase).
    pub(crate) duration_ms: u64,
    /// The command that failed (secrets masked), if one did; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failed_command: Option<String>,
}

impl PhaseReport {
    /// A phase that did not run.
    pub(crate) fn skipped(name: PhaseName) -> PhaseReport {
        PhaseReport {
            name,
            status: PhaseStatus::Skipped,
            duration_ms: 0,
            failed_command: None,
        }
    }
}

/// Files collected for one artifact.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ArtifactReport {
    /// The identifier (secondary artifacts) or `null` for the primary.
    pub(crate) identifier: Option<String>,
    /// The artifact's name, if the buildspec gives one.
    pub(crate) name: Option<String>,
    /// Where its files are.
    pub(crate) directory: String,
    /// The files, relative to `directory`.
    pub(crate) files: Vec<String>,
}

/// A report group's files.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReportFiles {
    /// The group.
    pub(crate) name: String,
    /// The format, if given.
    pub(crate) file_format: Option<String>,
    /// The files found, relative to the group's base directory.
    pub(crate) files: Vec<String>,
}

/// The result of `run-buildspec` (`schema_version` 1); `docs/json.md`, run-buildspec lists its
/// fields.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunReport {
    /// Whether the build succeeded.
    pub(crate) succeeded: bool,
    /// Whether it was stopped before it ended (a batch leg, on fast-fail); absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) stopped: bool,
    /// `CODEBUILD_BUILD_ID`.
    pub(crate) build_id: String,
    /// `CODEBUILD_BUILD_NUMBER`.
    pub(crate) build_number: u64,
    /// `CODEBUILD_RESOLVED_SOURCE_VERSION`, when the source is a git checkout.
    pub(crate) source_version: Option<String>,
    /// Each phase the buildspec has, in CodeBuild's order.
    pub(crate) phases: Vec<PhaseReport>,
    /// `env.exported-variables` and their values at the end of the build (unset ones left out).
    pub(crate) exported: BTreeMap<String, String>,
    /// Artifacts collected.
    pub(crate) artifacts: Vec<ArtifactReport>,
    /// Why no artifact was uploaded although the build reached the upload (an artifact matched
    /// nothing); `None` when the upload succeeded or did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upload_error: Option<String>,
    /// Report files found.
    pub(crate) reports: Vec<ReportFiles>,
    /// Total wall time.
    pub(crate) duration_ms: u64,
}

impl RunReport {
    /// The phase timing table (logged whatever the output format).
    pub(crate) fn timings(&self) -> String {
        let mut s = String::from("\nphase        status      duration\n");
        for p in &self.phases {
            s.push_str(&format!(
                "{:<12} {:<11} {:>7.2}s\n",
                p.name,
                p.status,
                p.duration_ms as f64 / 1000.0
            ));
        }
        s
    }
}

impl Report for RunReport {
    const STEP: &'static str = "run-buildspec";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.exported {
            s.push_str(&format!("exported {k}={v}\n"));
        }
        for a in &self.artifacts {
            s.push_str(&format!(
                "artifact {}: {} file(s) in {}\n",
                a.identifier.as_deref().unwrap_or("(primary)"),
                a.files.len(),
                a.directory
            ));
        }
        if let Some(e) = &self.upload_error {
            s.push_str(&format!("artifacts not uploaded: {e}\n"));
        }
        for r in &self.reports {
            s.push_str(&format!("report {}: {}\n", r.name, r.files.join(", ")));
        }
        s.push_str(&format!(
            "build {} {} in {:.2}s",
            self.build_id,
            if self.succeeded {
                "SUCCEEDED"
            } else {
                "FAILED"
            },
            self.duration_ms as f64 / 1000.0
        ));
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .exported
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.push(("BUILD_SUCCEEDED".into(), self.succeeded.to_string()));
        v
    }
}

/// How a batch leg ended, in CodeBuild's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum LegStatus {
    /// The leg's build succeeded.
    Succeeded,
    /// It failed (see its build's phases, or `reason`).
    Failed,
    /// It did not run, or was ended: a leg it depends on did not succeed, or fast-fail.
    Stopped,
}

impl LegStatus {
    /// The status as `--json` and the log write it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LegStatus::Succeeded => "SUCCEEDED",
            LegStatus::Failed => "FAILED",
            LegStatus::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for LegStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One leg of a batch.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LegReport {
    /// `identifier`.
    pub(crate) identifier: String,
    /// How it ended.
    pub(crate) status: LegStatus,
    /// Why it did not run, was stopped, or could not build; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// `ignore-failure`.
    pub(crate) ignore_failure: bool,
    /// `depend-on`.
    pub(crate) depend_on: Vec<String>,
    /// The buildspec it ran.
    pub(crate) buildspec: String,
    /// `env.image`, reported (the leg ran on this machine).
    pub(crate) image: Option<String>,
    /// `env.compute-type`, reported.
    pub(crate) compute_type: Option<String>,
    /// `env.type`, reported.
    pub(crate) environment_type: Option<String>,
    /// `env.privileged-mode`, reported (the commands reach this machine's Docker engine either way).
    pub(crate) privileged_mode: Option<bool>,
    /// The platform the environment implies (`linux/arm64` for `ARM_CONTAINER`), if it says.
    pub(crate) platform: Option<String>,
    /// When it started, in milliseconds after the batch did (absent when it did not run).
    pub(crate) started_ms: Option<u64>,
    /// Its wall time.
    pub(crate) duration_ms: u64,
    /// Its artifacts' directory (`OUT/IDENTIFIER`), when it ran.
    pub(crate) out: Option<String>,
    /// Its build, as a single run-buildspec reports one; absent when it did not run.
    pub(crate) build: Option<RunReport>,
}

impl LegReport {
    /// A leg (running `buildspec`) that did not run, for `reason`.
    pub(crate) fn not_run(
        leg: &crate::buildspec::Leg,
        buildspec: String,
        reason: String,
    ) -> LegReport {
        LegReport {
            identifier: leg.identifier.clone(),
            status: LegStatus::Stopped,
            reason: (!reason.is_empty()).then_some(reason),
            ignore_failure: leg.ignore_failure,
            depend_on: leg.depend_on.clone(),
            buildspec,
            image: leg.image.clone(),
            compute_type: leg.compute_type.clone(),
            environment_type: leg.environment_type.clone(),
            privileged_mode: leg.privileged_mode,
            platform: leg.platform().map(str::to_string),
            started_ms: None,
            duration_ms: 0,
            out: None,
            build: None,
        }
    }
}

/// The result of a batch (`schema_version` 1, `batch_id` set); `docs/json.md`, run-buildspec
/// lists its fields.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BatchReport {
    /// `project:uuid`.
    pub(crate) batch_id: String,
    /// `CODEBUILD_BUILD_BATCH_ARN`.
    pub(crate) batch_arn: String,
    /// `build-graph`, `build-list` or `build-matrix`.
    pub(crate) kind: crate::buildspec::BatchKind,
    /// `fast-fail`.
    pub(crate) fast_fail: bool,
    /// How many legs could run at once.
    pub(crate) parallel: usize,
    /// Whether every leg without `ignore-failure` succeeded.
    pub(crate) succeeded: bool,
    /// With --combine-artifacts: the one directory that holds every leg's artifacts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) combined_artifact: Option<String>,
    /// The legs, in the buildspec's order.
    pub(crate) legs: Vec<LegReport>,
    /// Total wall time.
    pub(crate) duration_ms: u64,
}

impl BatchReport {
    /// The summary table (logged whatever the output format): each leg's status, time and
    /// environment.
    pub(crate) fn table(&self) -> String {
        let width = self
            .legs
            .iter()
            .map(|l| l.identifier.len())
            .max()
            .unwrap_or(0)
            .max("leg".len());
        let mut s = format!("\n{:<width$}  status     duration  environment\n", "leg");
        for l in &self.legs {
            let mut env: Vec<String> = [&l.image, &l.environment_type, &l.compute_type]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            if let Some(p) = &l.platform {
                env.push(format!("({p}, not emulated)"));
            }
            let note = match (
                &l.reason,
                l.ignore_failure && l.status != LegStatus::Succeeded,
            ) {
                (Some(r), _) => format!("  {r}"),
                (None, true) => "  (ignore-failure)".into(),
                (None, false) => String::new(),
            };
            s.push_str(&format!(
                "{:<width$}  {:<9}  {:>7.2}s  {}{note}\n",
                l.identifier,
                l.status,
                l.duration_ms as f64 / 1000.0,
                if env.is_empty() {
                    "-".into()
                } else {
                    env.join(" ")
                }
            ));
        }
        s.push_str(&format!(
            "batch {} {} in {:.2}s\n",
            self.batch_id,
            if self.succeeded {
                "SUCCEEDED"
            } else {
                "FAILED"
            },
            self.duration_ms as f64 / 1000.0
        ));
        s
    }
}

impl Report for BatchReport {
    const STEP: &'static str = "run-buildspec";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = String::new();
        for l in &self.legs {
            if let Some(out) = &l.out {
                s.push_str(&format!(
                    "leg {} {}: artifacts in {out}\n",
                    l.identifier, l.status
                ));
            }
        }
        if let Some(dir) = &self.combined_artifact {
            s.push_str(&format!("combined artifact: {dir}\n"));
        }
        s.push_str(&format!(
            "batch {} {}",
            self.batch_id,
            if self.succeeded {
                "SUCCEEDED"
            } else {
                "FAILED"
            }
        ));
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        vec![
            ("BATCH_SUCCEEDED".into(), self.succeeded.to_string()),
            ("BATCH_ID".into(), self.batch_id.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_are_the_buildspecs() {
        assert_eq!(
            PhaseName::ALL.map(PhaseName::as_str),
            crate::buildspec::PHASES
        );
        for name in PhaseName::ALL {
            assert_eq!(
                serde_json::to_value(name).unwrap(),
                serde_json::json!(name.as_str())
            );
        }
        for status in [
            PhaseStatus::Succeeded,
            PhaseStatus::Failed,
            PhaseStatus::Skipped,
        ] {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(format!("[{:<10}]", PhaseName::PreBuild), "[pre_build ]");
    }

    #[test]
    fn the_timing_table() {
        let report = RunReport {
            succeeded: false,
            stopped: false,
            build_id: "p:1".into(),
            build_number: 1,
            source_version: None,
            phases: vec![
                PhaseReport {
                    name: PhaseName::Build,
                    status: PhaseStatus::Failed,
                    duration_ms: 1250,
                    failed_command: Some("make".into()),
                },
                PhaseReport::skipped(PhaseName::PostBuild),
            ],
            exported: BTreeMap::new(),
            artifacts: Vec::new(),
            upload_error: None,
            reports: Vec::new(),
            duration_ms: 1300,
        };
        assert_eq!(
            report.timings(),
            "\nphase        status      duration\nbuild        FAILED         1.25s\npost_build   SKIPPED        0.00s\n"
        );
    }
}
