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
