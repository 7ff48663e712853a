//! The result of every `render-taskdef` command: what was read, what was written (or would be), the
//! images and placeholders after rendering, and the findings — as the `--json` object, human text,
//! `--format env` variables, GitHub outputs and the Markdown summary; and the exit code it means.
//! `docs/json.md`, render-taskdef lists the JSON fields.

use crate::cli::Context;
use crate::error::Error;
use crate::exit::Code;
use crate::output::Report;
use crate::taskdef::edit::Placeholder;
use crate::taskdef::{Finding, Level};
use serde::Serialize;
use std::path::Path;

/// The command a report is for (`command` in `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CommandName {
    /// The default command: a task definition rendered (`render`).
    Render,
    /// A task definition (and its AppSpec) validated; nothing written (`check`).
    Check,
    /// An AppSpec validated and written, `<TASK_DEFINITION>` filled in if asked (`appspec`).
    Appspec,
    /// An AppSpec generated from flags (`new-appspec`).
    NewAppspec,
}

/// A file the step wrote (or would write) besides its output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WrittenArtifact {
    /// Its path as given.
    pub(crate) path: String,
    /// The sha256 of its bytes (lower-case hex).
    pub(crate) sha256: String,
    /// Whether it differs from the file on disk (always true for a new file).
    pub(crate) changed: bool,
}

/// A container's image after rendering.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ContainerImage {
    /// The container.
    pub(crate) name: String,
    /// Its `image` field as written (a URI or a placeholder).
    pub(crate) image: String,
}

/// The result of `render-taskdef` and each of its subcommands. JSON fields (`schema_version` 1):
/// `command`; `input`; `output` (path, or `-` for stdout; null for `check`); `sha256` of the output;
/// `written` (false under --check, for `check`, or when findings stopped it); `changed` (the output
/// differs from the file on disk); `containers` [{name, image}]; `placeholders` [{placeholder,
/// container, `image_uri`}]; `artifacts` [{path, sha256, changed}]; `variables` (names substituted);
/// `normalized` (what was unwrapped or dropped); `findings` [{severity, rule, path, message}];
/// `errors`, `warnings` (counts). The five lists before `findings` are left out when empty.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RenderReport {
    /// `render`, `check`, `appspec` or `new-appspec`.
    pub(crate) command: CommandName,
    /// The input file (`-` for stdin, `(flags)` for `new-appspec`).
    pub(crate) input: String,
    /// The output file (`-` for stdout); none for `check`.
    pub(crate) output: Option<String>,
    /// sha256 of the output's bytes (lower-case hex); none when nothing was rendered.
    pub(crate) sha256: Option<String>,
    /// Whether files were written.
    pub(crate) written: bool,
    /// Whether the output differs from the file on disk (always true for stdout or a new file).
    pub(crate) changed: bool,
    /// Container images after rendering.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) containers: Vec<ContainerImage>,
    /// CodeDeploy placeholders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) placeholders: Vec<Placeholder>,
    /// Other files written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) artifacts: Vec<WrittenArtifact>,
    /// Template variables substituted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) variables: Vec<String>,
    /// Normalisation done on the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) normalized: Vec<String>,
    /// Findings, errors first.
    pub(crate) findings: Vec<Finding>,
    /// Number of error findings (warnings included under --strict).
    pub(crate) errors: usize,
    /// Number of warning findings.
    pub(crate) warnings: usize,
    /// Whether `--check` was given (compare, do not write).
    #[serde(skip)]
    pub(crate) check: bool,
}

impl RenderReport {
    /// An empty report for `command` on `input`.
    pub(crate) fn new(command: CommandName, input: &Path) -> RenderReport {
        RenderReport {
            command,
            input: display(input),
            output: None,
            sha256: None,
            written: false,
            changed: false,
            containers: Vec::new(),
            placeholders: Vec::new(),
            artifacts: Vec::new(),
            variables: Vec::new(),
            normalized: Vec::new(),
            findings: Vec::new(),
            errors: 0,
            warnings: 0,
            check: false,
        }
    }

    /// Sorts findings (errors first, stable) and counts them; under --strict warnings count as errors.
    pub(crate) fn tally(&mut self, mut findings: Vec<Finding>, strict: bool) {
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        self.warnings = findings
            .iter()
            .filter(|f| f.severity == Level::Warning)
            .count();
        self.errors = findings
            .iter()
            .filter(|f| f.severity == Level::Error)
            .count();
        if strict {
            self.errors += self.warnings;
        }
        self.findings = findings;
    }

    /// 1 for findings, or for a file that would change under --check; else 0.
    fn exit_code(&self) -> Code {
        let changed = self.changed || self.artifacts.iter().any(|a| a.changed);
        if self.errors > 0 || (self.check && changed) {
            Code::Verdict
        } else {
            Code::Ok
        }
    }

    /// The last lines of the human text: the verdict, or what happened to the files.
    fn outcome(&self) -> String {
        let out = self.output.as_deref().unwrap_or("-");
        let counts = if self.findings.is_empty() {
            String::new()
        } else {
            format!(" ({} error(s), {} warning(s))", self.errors, self.warnings)
        };
        if self.errors > 0 {
            let tail = if self.command == CommandName::Check {
                ""
            } else {
                "; nothing written"
            };
            return format!(
                "{}: {} error(s), {} warning(s){tail}\n",
                self.input, self.errors, self.warnings
            );
        }
        if self.command == CommandName::Check {
            return format!("{}: valid{counts}\n", self.input);
        }
        if self.check {
            return self.comparison(out, &counts);
        }
        self.wrote(out, &counts)
    }

    /// Under --check: up to date, or the files that would change.
    fn comparison(&self, out: &str, counts: &str) -> String {
        let changed: Vec<&str> = std::iter::once((out, self.changed))
            .chain(self.artifacts.iter().map(|a| (a.path.as_str(), a.changed)))
            .filter(|(_, c)| *c)
            .map(|(p, _)| p)
            .collect();
        if changed.is_empty() {
            format!("{out}: up to date{counts}\n")
        } else {
            format!("would change: {}\n", changed.join(", "))
        }
    }

    /// The files written, and what fills each placeholder.
    fn wrote(&self, out: &str, counts: &str) -> String {
        let mut s = String::new();
        if out != "-" {
            s.push_str(&format!("wrote {out}{counts}\n"));
        }
        for p in &self.placeholders {
            let uri = p
                .image_uri
                .as_deref()
                .unwrap_or("(no --image: filled from another artifact)");
            s.push_str(&format!(
                "  <{}> in {}: {uri}\n",
                p.placeholder, p.container
            ));
        }
        for a in &self.artifacts {
            s.push_str(&format!("wrote {}\n", a.path));
        }
        s
    }
}

impl Report for RenderReport {
    const STEP: &'static str = "render-taskdef";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = String::new();
        for n in &self.normalized {
            s.push_str(&format!("note: {}: {n}\n", self.input));
        }
        for f in &self.findings {
            s.push_str(&format!("{f}\n"));
        }
        s.push_str(&self.outcome());
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let prefix = match self.command {
            CommandName::Render | CommandName::Check => "TASKDEF",
            CommandName::Appspec | CommandName::NewAppspec => "APPSPEC",
        };
        vec![
            (
                format!("{prefix}_OUTPUT"),
                self.output.clone().unwrap_or_default(),
            ),
            (
                format!("{prefix}_SHA256"),
                self.sha256.clone().unwrap_or_default(),
            ),
        ]
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        vec![
            ("file".into(), self.output.clone().unwrap_or_default()),
            ("sha256".into(), self.sha256.clone().unwrap_or_default()),
        ]
    }

    fn markdown(&self) -> Option<String> {
        if self.findings.is_empty() {
            return None;
        }
        let mut md = format!(
            "### render-taskdef: `{}`\n\n| severity | where | finding |\n|---|---|---|\n",
            self.input
        );
        for f in &self.findings {
            let sev = match f.severity {
                Level::Error => "error",
                Level::Warning => "warning",
            };
            md.push_str(&format!(
                "| {sev} | `{}` | {} |\n",
                f.path,
                f.message.replace('|', "\\|")
            ));
        }
        Some(md)
    }
}

/// Emits the report and maps it to the exit code.
pub(crate) fn conclude(ctx: &Context, report: &RenderReport) -> Result<Code, Error> {
    ctx.out.emit(report)?;
    Ok(report.exit_code())
}

/// A path as the report shows it.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_are_the_commands_as_typed() {
        let names: Vec<String> = [
            CommandName::Render,
            CommandName::Check,
            CommandName::Appspec,
            CommandName::NewAppspec,
        ]
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
        assert_eq!(
            names,
            ["\"render\"", "\"check\"", "\"appspec\"", "\"new-appspec\""]
        );
    }

    #[test]
    fn check_mode_names_the_files_that_would_change() {
        let mut report = RenderReport::new(CommandName::Render, Path::new("td.json"));
        report.output = Some("out/td.json".into());
        report.check = true;
        report.artifacts.push(WrittenArtifact {
            path: "out/imagedefinitions.json".into(),
            sha256: String::new(),
            changed: true,
        });
        assert_eq!(report.human(), "would change: out/imagedefinitions.json\n");
        assert_eq!(report.exit_code(), Code::Verdict);
        report.artifacts[0].changed = false;
        assert_eq!(report.human(), "out/td.json: up to date\n");
        assert_eq!(report.exit_code(), Code::Ok);
    }

    #[test]
    fn appspec_commands_export_appspec_variables() {
        let mut report = RenderReport::new(CommandName::NewAppspec, Path::new("(flags)"));
        report.output = Some("appspec.yaml".into());
        report.sha256 = Some("ab".into());
        assert_eq!(
            report.variables(),
            [
                ("APPSPEC_OUTPUT".to_string(), "appspec.yaml".to_string()),
                ("APPSPEC_SHA256".to_string(), "ab".to_string())
            ]
        );
    }
}
