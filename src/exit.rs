//! The exit codes every binary uses. They are part of the public contract: scripts branch on them, so a
//! code never changes meaning. The README repeats this table.
//!
//! | code | name | meaning |
//! |-----:|------|---------|
//! | 0 | [`Code::Ok`] | the step did what was asked |
//! | 1 | [`Code::Verdict`] | the step ran and its answer is "no": the scan gate failed, `check` found problems |
//! | 2 | [`Code::Usage`] | bad flags, configuration or input (malformed file, bad image reference, missing Dockerfile) |
//! | 3 | [`Code::Auth`] | no credentials, credentials refused, expired token |
//! | 4 | [`Code::Remote`] | ECR, the registry or the Docker engine failed, after retries |
//! | 70 | [`Code::Internal`] | a bug in this toolkit; please report it |
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
}
