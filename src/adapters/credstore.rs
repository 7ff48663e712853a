//! docker credential helpers (`docker-credential-NAME`): the protocol docker itself speaks to them.
//! The secret travels on the helper's stdin, never in its argv or environment.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::secret::Secret;
use std::io::Write;
use std::process::{Command, Stdio};

/// A helper call failed.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    /// The helper program is not on PATH.
    #[error("run `{program}`: it is not on PATH")]
    Missing {
        /// `docker-credential-NAME`.
        program: String,
    },
    /// It ran and failed.
    #[error("{action} credentials for `{server}` with `{program}`: {message}")]
    Failed {
        /// `store`, `erase`.
        action: &'static str,
        /// The registry host.
        server: String,
        /// `docker-credential-NAME`.
        program: String,
        /// What it said (it prints errors on stdout).
        message: String,
    },
}

impl Diagnostic for HelperError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some(
            "install the helper docker's config.json names, or remove `credsStore`/`credHelpers` \
             from config.json; `ecr-login install-helper` serves ECR hosts on demand instead"
                .into(),
        )
    }
}

/// The program name for a helper suffix: `desktop` → `docker-credential-desktop`.
pub fn program(name: &str) -> String {
    format!("docker-credential-{name}")
}

/// `docker-credential-NAME store` with `{"ServerURL","Username","Secret"}` on stdin.
pub fn store(name: &str, server: &str, username: &str, secret: &Secret) -> Result<(), HelperError> {
    let payload = serde_json::json!({
        "ServerURL": server,
        "Username": username,
        "Secret": secret.expose(),
    });
    run(name, "store", server, &payload.to_string())
}

/// `docker-credential-NAME get`: the username and secret for `server`, `None` when it has none.
pub fn get(name: &str, server: &str) -> Result<Option<(String, Secret)>, HelperError> {
    let out = spawn(name, "get", server, server)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if text.contains("credentials not found") {
            return Ok(None);
        }
        return Err(failed(name, "get", server, &out));
    }
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| HelperError::Failed {
        action: "get",
        server: server.into(),
        program: program(name),
        message: "its answer is not JSON".into(),
    })?;
    let user = doc
        .get("Username")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(doc
        .get("Secret")
        .and_then(|v| v.as_str())
        .map(|s| (user, Secret::new(s))))
}

/// `docker-credential-NAME erase` with the server URL on stdin.
pub fn erase(name: &str, server: &str) -> Result<(), HelperError> {
    run(name, "erase", server, server)
}

fn run(name: &str, action: &'static str, server: &str, stdin: &str) -> Result<(), HelperError> {
    let out = spawn(name, action, server, stdin)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(name, action, server, &out))
    }
}

/// Runs the helper with `action`, `stdin` on its standard input, and collects its output.
fn spawn(
    name: &str,
    action: &'static str,
    server: &str,
    stdin: &str,
) -> Result<std::process::Output, HelperError> {
    let program = program(name);
    let failure = |message: String| HelperError::Failed {
        action,
        server: server.into(),
        program: program.clone(),
        message,
    };
    let mut child = match Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HelperError::Missing { program });
        }
        Err(e) => return Err(failure(e.to_string())),
    };
    if let Some(mut input) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().map_err(|e| failure(e.to_string()))
}

/// The error for a helper that exited non-zero: what it said (on stdout, by protocol) and its status.
fn failed(
    name: &str,
    action: &'static str,
    server: &str,
    out: &std::process::Output,
) -> HelperError {
    let said = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .trim()
    .to_string();
    HelperError::Failed {
        action,
        server: server.into(),
        program: program(name),
        message: format!(
            "{} ({})",
            if said.is_empty() { "no message" } else { &said },
            out.status
        ),
    }
}
