//! docker credential helpers (`docker-credential-NAME`): the protocol docker itself speaks to them.
//! The secret travels on the helper's stdin, never in its argv or environment.
//!
//! Every call is bounded: a helper that has not exited (and closed its output) within its timeout
//! ([`DEFAULT_TIMEOUT`] unless the caller says otherwise) is killed and reported, so a helper waiting
//! for a keychain prompt nobody will answer cannot hang a build. What a failing helper says (stdout,
//! where the protocol puts errors, and stderr) is kept, at most [`MESSAGE_LIMIT`] characters of each,
//! with the secret it was given replaced by `<redacted>` in every form it could be echoed in.

use crate::error::Diagnostic;
use crate::exit::Code;
use crate::secret::Secret;
use base64::Engine as _;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a helper call may take unless the caller gives another limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The most of each output stream a helper's error message keeps, in characters.
pub const MESSAGE_LIMIT: usize = 2000;

/// The most of each output stream read into memory; the rest is read and dropped.
const READ_LIMIT: usize = 1 << 20;

/// A helper call failed.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    /// The helper program cannot be run: not on PATH, or not executable.
    #[error("run `{program}`: {reason}")]
    Missing {
        /// `docker-credential-NAME`.
        program: String,
        /// `it is not on PATH`, `it is not executable`.
        reason: String,
    },
    /// It ran and failed, or answered something that is not the protocol's.
    #[error("{action} credentials for `{server}` with `{program}`: {message}")]
    Failed {
        /// `store`, `get`, `erase`.
        action: &'static str,
        /// The registry host.
        server: String,
        /// `docker-credential-NAME`.
        program: String,
        /// What it said (stdout, where the protocol puts errors, then stderr) and its exit status.
        message: String,
    },
    /// It did not finish within its time.
    #[error(
        "{action} credentials for `{server}` with `{program}`: it did not answer within {}s and was stopped",
        after.as_secs_f64()
    )]
    Timeout {
        /// `store`, `get`, `erase`.
        action: &'static str,
        /// The registry host.
        server: String,
        /// `docker-credential-NAME`.
        program: String,
        /// The limit it exceeded.
        after: Duration,
    },
}

impl Diagnostic for HelperError {
    fn exit_code(&self) -> Code {
        match self {
            // docker's config.json names a program that is not installed: configuration.
            HelperError::Missing { .. } => Code::Usage,
            // The helper is there and failed, like any other service that failed.
            HelperError::Failed { .. } | HelperError::Timeout { .. } => Code::Remote,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            HelperError::Missing { .. } => {
                "install the helper docker's config.json names, or remove `credsStore`/`credHelpers` \
                 from config.json; `ecr-login install-helper` serves ECR hosts on demand instead"
                    .into()
            }
            HelperError::Failed { program, .. } => format!(
                "check that `{program}` works on its own (`{program} list`): its keychain or \
                 service may be locked or stopped; or remove `credsStore`/`credHelpers` from \
                 docker's config.json to keep credentials in the file"
            ),
            HelperError::Timeout { program, .. } => format!(
                "`{program}` may be waiting for a password prompt or a locked keychain: unlock it \
                 and run again (ecr-login's --helper-timeout gives it longer)"
            ),
        })
    }
}

/// The program name for a helper suffix: `desktop` → `docker-credential-desktop`.
pub fn program(name: &str) -> String {
    format!("docker-credential-{name}")
}

/// One credential helper, `docker-credential-NAME`, with the time each call may take.
#[derive(Debug, Clone)]
pub struct Helper {
    name: String,
    timeout: Duration,
}

impl Helper {
    /// The helper `docker-credential-NAME`, each call bounded by `timeout`.
    pub fn new(name: &str, timeout: Duration) -> Helper {
        Helper {
            name: name.to_string(),
            timeout,
        }
    }

    /// `store` with `{"ServerURL","Username","Secret"}` on stdin.
    pub fn store(&self, server: &str, username: &str, secret: &Secret) -> Result<(), HelperError> {
        let payload = serde_json::json!({
            "ServerURL": server,
            "Username": username,
            "Secret": secret.expose(),
        });
        let out = self.call("store", server, &payload.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.failed("store", server, &out, Some((username, secret))))
        }
    }

    /// `get`: the username and secret for `server`, `None` when it has none.
    pub fn get(&self, server: &str) -> Result<Option<(String, Secret)>, HelperError> {
        let out = self.call("get", server, server)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            if text.contains("credentials not found") {
                return Ok(None);
            }
            return Err(self.failed("get", server, &out, None));
        }
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| HelperError::Failed {
                action: "get",
                server: server.into(),
                program: program(&self.name),
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

    /// `erase` with the server URL on stdin. A store that has nothing for `server` (the protocol's
    /// "credentials not found") has nothing to erase: that is success.
    pub fn erase(&self, server: &str) -> Result<(), HelperError> {
        let out = self.call("erase", server, server)?;
        if out.status.success()
            || String::from_utf8_lossy(&out.stdout).contains("credentials not found")
        {
            Ok(())
        } else {
            Err(self.failed("erase", server, &out, None))
        }
    }

    /// Runs the helper with `action` and `stdin`, and collects what it printed, within the timeout.
    fn call(&self, action: &'static str, server: &str, stdin: &str) -> Result<Answer, HelperError> {
        let program = program(&self.name);
        let mut command = Command::new(&program);
        command.arg(action);
        match run_bounded(command, stdin.as_bytes(), self.timeout) {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(HelperError::Timeout {
                action,
                server: server.into(),
                program,
                after: self.timeout,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HelperError::Missing {
                program,
                reason: "it is not on PATH".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(HelperError::Missing {
                    program,
                    reason: "it is not executable (permission denied)".into(),
                })
            }
            Err(e) => Err(HelperError::Failed {
                action,
                server: server.into(),
                program,
                message: e.to_string(),
            }),
        }
    }

    /// The error for a helper that exited non-zero: what it said and its status, with the secret it
    /// was given (if any) redacted.
    fn failed(
        &self,
        action: &'static str,
        server: &str,
        out: &Answer,
        given: Option<(&str, &Secret)>,
    ) -> HelperError {
        let clean = |bytes: &[u8]| redact(&shown(bytes), given);
        let stdout = clean(&out.stdout);
        let stderr = clean(&out.stderr);
        let said = match (stdout.is_empty(), stderr.is_empty()) {
            (true, true) => "no message".to_string(),
            (false, true) => stdout,
            (true, false) => stderr,
            (false, false) if stdout == stderr => stdout,
            (false, false) => format!("{stdout}; stderr: {stderr}"),
        };
        HelperError::Failed {
            action,
            server: server.into(),
            program: program(&self.name),
            message: format!("{said} ({})", out.status),
        }
    }
}

/// What a helper printed, and how it exited.
#[derive(Debug)]
struct Answer {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// `docker-credential-NAME store` within [`DEFAULT_TIMEOUT`].
pub fn store(name: &str, server: &str, username: &str, secret: &Secret) -> Result<(), HelperError> {
    Helper::new(name, DEFAULT_TIMEOUT).store(server, username, secret)
}

/// `docker-credential-NAME get` within [`DEFAULT_TIMEOUT`]: the username and secret for `server`,
/// `None` when it has none.
pub fn get(name: &str, server: &str) -> Result<Option<(String, Secret)>, HelperError> {
    Helper::new(name, DEFAULT_TIMEOUT).get(server)
}

/// `docker-credential-NAME erase` within [`DEFAULT_TIMEOUT`].
pub fn erase(name: &str, server: &str) -> Result<(), HelperError> {
    Helper::new(name, DEFAULT_TIMEOUT).erase(server)
}

/// Runs `command` with `stdin` on its standard input and collects its output and exit status.
/// `None` when it took longer than `limit`: it is killed then. Its output counts as complete when
/// its end of each pipe is closed, so a process it left behind holding them counts against the same
/// limit. Errors are the spawn's (`NotFound` when the program is not on PATH).
fn run_bounded(
    mut command: Command,
    stdin: &[u8],
    limit: Duration,
) -> std::io::Result<Option<Answer>> {
    let now = Instant::now();
    let deadline = now
        .checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        let bytes = stdin.to_vec();
        // A program that exits without reading is judged by its exit status; one that never reads
        // is killed at the deadline, which ends this write too.
        std::thread::spawn(move || {
            let _ = input.write_all(&bytes);
        });
    }
    let stdout = child.stdout.take().map(collect);
    let stderr = child.stderr.take().map(collect);
    let Some(status) = wait_until(&mut child, deadline)? else {
        return Ok(None);
    };
    let read = |rx: Option<mpsc::Receiver<Vec<u8>>>| match rx {
        None => Some(Vec::new()),
        Some(rx) => rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok(),
    };
    let (Some(stdout), Some(stderr)) = (read(stdout), read(stderr)) else {
        return Ok(None);
    };
    Ok(Some(Answer {
        status,
        stdout,
        stderr,
    }))
}

/// Reads a pipe to its end on a thread of its own, keeping at most [`READ_LIMIT`] bytes; the bytes
/// arrive on the channel when the pipe closes.
fn collect(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0_u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = READ_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

/// Waits for `child` to exit until `deadline`; past it, kills it and returns `None`.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// A helper's output as one line of text for an error message: trimmed, control characters (a
/// terminal's escape sequences) shown as `?`, at most [`MESSAGE_LIMIT`] characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut out: String = text
        .chars()
        .take(MESSAGE_LIMIT)
        .map(|c| match c {
            '\n' | '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    if text.chars().count() > MESSAGE_LIMIT {
        out.push('…');
    }
    out
}

/// `text` with every form of the secret a helper could echo — as given, JSON-escaped, base64 of
/// the secret and of `USER:SECRET` (docker's `auth`) — replaced by `<redacted>`.
fn redact(text: &str, given: Option<(&str, &Secret)>) -> String {
    let Some((username, secret)) = given else {
        return text.to_string();
    };
    let raw = secret.expose();
    if raw.is_empty() {
        return text.to_string();
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let json = serde_json::to_string(raw).unwrap_or_default();
    let escaped = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or(raw);
    let mut forms = [
        raw.to_string(),
        escaped.to_string(),
        b64.encode(raw),
        b64.encode(format!("{username}:{raw}")),
    ];
    // The longest first, so a form that contains another is replaced whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
        .iter()
        .filter(|f| !f.is_empty())
        .fold(text.to_string(), |t, f| t.replace(f.as_str(), "<redacted>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_bounded_line_without_escape_sequences() {
        assert_eq!(shown(b"  no\nkeychain\x1b[31m  "), "no keychain?[31m");
        let long = "x".repeat(MESSAGE_LIMIT + 10);
        let s = shown(long.as_bytes());
        assert_eq!(s.chars().count(), MESSAGE_LIMIT + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn every_echoed_form_of_the_secret_is_redacted() {
        let secret = Secret::new("pa\"ss/word+");
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = format!(
            "bad input {{\"Secret\":{}}} raw pa\"ss/word+ b64 {} auth {}",
            serde_json::to_string("pa\"ss/word+").unwrap(),
            b64.encode("pa\"ss/word+"),
            b64.encode("AWS:pa\"ss/word+"),
        );
        let out = redact(&text, Some(("AWS", &secret)));
        assert!(!out.contains("ss/word"), "{out}");
        assert!(!out.contains(&b64.encode("pa\"ss/word+")), "{out}");
        assert!(!out.contains(&b64.encode("AWS:pa\"ss/word+")), "{out}");
        assert_eq!(out.matches("<redacted>").count(), 4, "{out}");
        assert_eq!(redact("as is", None), "as is");
    }

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn a_program_is_bounded_by_its_limit_and_its_output_collected() {
        let quick = Duration::from_millis(300);
        let started = Instant::now();
        assert!(
            run_bounded(sh("exec sleep 30"), b"", quick)
                .unwrap()
                .is_none()
        );
        // Exited, but a process it left behind holds its output open.
        assert!(
            run_bounded(sh("sleep 30 & echo started"), b"", quick)
                .unwrap()
                .is_none()
        );
        // Never reads its input.
        let big = vec![b'x'; 1 << 20];
        assert!(
            run_bounded(sh("exec sleep 30"), &big, quick)
                .unwrap()
                .is_none()
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let out = run_bounded(sh("cat; echo err >&2; exit 3"), b"in", DEFAULT_TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice()),
            (&b"in"[..], &b"err\n"[..])
        );
        assert_eq!(out.status.code(), Some(3));
        // Output beyond the read limit is read and dropped.
        let out = run_bounded(sh("head -c 3000000 /dev/zero"), b"", DEFAULT_TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!(out.stdout.len(), READ_LIMIT);
        let missing = run_bounded(Command::new("docker-credential-surely-absent"), b"", quick);
        assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn a_failed_store_keeps_what_it_said_without_the_secret() {
        let helper = Helper::new("test", DEFAULT_TIMEOUT);
        let secret = Secret::new("TOPSECRET-123");
        let answer = run_bounded(
            sh("echo \"invalid input: $(cat)\"; echo 'keychain locked' >&2; exit 1"),
            br#"{"Secret":"TOPSECRET-123"}"#,
            DEFAULT_TIMEOUT,
        )
        .unwrap()
        .unwrap();
        let err = helper.failed("store", "h.example", &answer, Some(("AWS", &secret)));
        let text = err.to_string();
        assert!(!text.contains("TOPSECRET"), "{text}");
        assert!(text.contains("invalid input"), "{text}");
        assert!(text.contains("stderr: keychain locked"), "{text}");
        assert!(text.contains("exit status: 1"), "{text}");
        assert_eq!(err.exit_code(), Code::Remote);
        let timeout = HelperError::Timeout {
            action: "get",
            server: "h".into(),
            program: program("x"),
            after: Duration::from_secs(60),
        };
        assert_eq!(timeout.exit_code(), Code::Remote);
        assert!(timeout.to_string().contains("within 60s"), "{timeout}");
        let missing = HelperError::Missing {
            program: program("x"),
            reason: "it is not on PATH".into(),
        };
        assert_eq!(missing.exit_code(), Code::Usage);
    }
}
