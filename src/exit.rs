//! The exit codes every binary uses. They are part of the public contract: scripts branch on them, so a
//! code never changes meaning. The README repeats this table (a test below checks that it does).
//!
//! | code | name | meaning |
//! |-----:|------|---------|
//! | 0 | [`Code::Ok`] | the step did what was asked |
//! | 1 | [`Code::Verdict`] | the step ran and its answer is "no": the scan gate failed, `check` found problems; a Dockerfile step failed (build-push) |
//! | 2 | [`Code::Usage`] | bad flags, configuration or input (malformed file, bad image reference, missing Dockerfile) |
//! | 3 | [`Code::Auth`] | no credentials, credentials refused, expired token |
//! | 4 | [`Code::Remote`] | ECR, the registry or the Docker engine failed, after retries; scan-gate: the scan did not finish before `--timeout` |
//! | 70 | [`Code::Internal`] | a bug in this toolkit; please report it |
//!
//! # Where each code comes from
//!
//! Every error type implements [`crate::error::Diagnostic::exit_code`], and `cli::execute` exits
//! with the code of the error a step returned; nothing else picks a code. The rules those
//! implementations follow, so that one can audit them against this list:
//!
//! - **0** — the step returned `Ok(Code::Ok)`.
//! - **1** — a step's own negative answer, returned as `Ok(Code::Verdict)`, never an error: scan-gate's
//!   policy failed; render-taskdef `check` found errors or `--check` found a file that would change;
//!   run-buildspec's build failed (a command exited non-zero); docker's credential-helper `get` found
//!   no credentials (the protocol's "not found"). One error maps here too: a Dockerfile step that
//!   failed in the engine (`BuildError::Failed`), because the build ran and said no.
//! - **2** — clap's usage errors (clap exits 2 itself); every parse or validation error of input
//!   the user gave: flags, files (JSON/YAML with line:column, buildspecs, reports, allowlists,
//!   `.dockerignore`, Dockerfile paths), image references, hosts, durations; an input larger than
//!   its limit (`input::DOCUMENT_LIMIT`, `REPORT_LIMIT`: `/dev/zero`); an output path that
//!   cannot be written; run-buildspec's `--src` or `--out` that is not a directory, an artifact
//!   path outside the source (or temporary) directory, a shell it cannot start; a missing or empty region (`AwsError::NoRegion`), one that is not a region
//!   name (`AwsError::BadRegion`) or that no AWS partition has (ecr-login's
//!   `LoginError::UnknownRegion`); an endpoint override that is not an http(s) URL
//!   (`AwsError::BadEndpoint`); a registry's 404 (no such repository, tag or digest); a credential
//!   store or helper named in docker's `config.json` that is not installed or not executable
//!   (`HelperError::Missing`).
//! - **3** — no AWS credentials (`AwsError::NoCredentials`), an AWS error code of the
//!   authentication family (`AccessDenied…`, `UnrecognizedClientException`, signature and
//!   expired-token errors), a registry's 401/403, a failed OIDC role assumption, the runner
//!   refusing the job an OIDC token (401/403); `--role-arn` outside GitHub Actions OIDC. A malformed
//!   `--role-arn` is 2.
//! - **4** — any other error answer or transport failure from AWS, the registry or the Docker
//!   engine, once retries are spent (a TLS handshake that failed — the registry's certificate not
//!   trusted, say — is not retried: it fails again on every try); a credential store or helper that fails or does not answer
//!   within its timeout (`HelperError::Failed`, `HelperError::Timeout`; a login or logout then
//!   leaves `config.json` as it was); the GitHub Actions OIDC token service failing (a refusal is
//!   3); scan-gate's `--timeout` passing (`GateError::Timeout`). (A scan that ended in a failed
//!   status fails the gate: 1.)
//! - **70** — a panic (the hook in `cli` prints a "please report" message), a concurrent task of
//!   ours that failed (`TaskFailed`), and the few errors that only a bug can cause.
//!
//! A broken stdout pipe (e.g. `| head`) is not an error: the step stops quietly with the code it had.

use std::process::ExitCode;

/// One documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// 0: success.
    Ok,
    /// 1: a negative verdict (gate failed, differences found).
    Verdict,
    /// 2: usage, configuration or input error.
    Usage,
    /// 3: authentication or credentials error.
    Auth,
    /// 4: a remote service failed after retries.
    Remote,
    /// 70: internal error (a bug).
    Internal,
}

impl Code {
    /// Every code, in table order.
    pub const ALL: [Code; 6] = [
        Code::Ok,
        Code::Verdict,
        Code::Usage,
        Code::Auth,
        Code::Remote,
        Code::Internal,
    ];

    /// The number the process exits with.
    pub const fn as_u8(self) -> u8 {
        match self {
            Code::Ok => 0,
            Code::Verdict => 1,
            Code::Usage => 2,
            Code::Auth => 3,
            Code::Remote => 4,
            Code::Internal => 70,
        }
    }

    /// A short lowercase description, as in the table above.
    pub const fn describe(self) -> &'static str {
        match self {
            Code::Ok => "success",
            Code::Verdict => "negative verdict (gate failed or differences found)",
            Code::Usage => "usage, configuration or input error",
            Code::Auth => "authentication or credentials error",
            Code::Remote => "remote service failed after retries",
            Code::Internal => "internal error (a bug in this toolkit)",
        }
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> ExitCode {
        ExitCode::from(code.as_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    /// The rows of the first Markdown table under `heading` in `text`: (code, meaning).
    fn table_rows(text: &str, heading: &str) -> Vec<(u8, String)> {
        let start = text.find(heading).expect("the heading");
        text[start..]
            .lines()
            .skip_while(|l| !l.trim_start_matches("//! ").starts_with('|'))
            .map(|l| l.trim_start_matches("//!").trim())
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                let code = cells.first()?.parse().ok()?;
                Some((code, (*cells.last()?).to_string()))
            })
            .collect()
    }

    #[test]
    fn codes_are_distinct_and_match_the_documented_table() {
        let numbers: Vec<u8> = Code::ALL.iter().map(|c| c.as_u8()).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 70]);
        let table = include_str!("exit.rs");
        for code in Code::ALL {
            let row = format!("| {} | [`Code::{:?}`] |", code.as_u8(), code);
            assert!(table.contains(&row), "the module docs lack the row {row}");
        }
    }

    #[test]
    fn the_readme_table_is_this_table() {
        let ours = table_rows(include_str!("exit.rs"), "| code | name | meaning |");
        let readme = table_rows(include_str!("../README.md"), "## Exit codes");
        let numbers: Vec<u8> = ours.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 70]);
        assert_eq!(
            readme, ours,
            "README.md's exit-code table differs from src/exit.rs's"
        );
    }
}
