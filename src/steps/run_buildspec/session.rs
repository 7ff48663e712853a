//! The build's shell session: one shell process fed command by command on its stdin. Each command is
//! wrapped so that a marker line reports its exit status on stdout; a reader thread strips those
//! lines (and the exported-variable lines, values hex-encoded) from the log it forwards, masking
//! secret values.

use super::error::RunError;
use crate::output::Output;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;

/// A shell session the commands are written to, one at a time.
pub(super) struct Session {
    child: Child,
    stdin: ChildStdin,
    results: mpsc::Receiver<Event>,
    marker: String,
    secrets: Vec<String>,
}

/// What the reader thread saw.
enum Event {
    /// A command finished with this status.
    Status(i32),
    /// An exported variable's value (hex).
    Exported(String, String),
}

impl Session {
    /// Starts `shell` in `src` with exactly the variables `env`; its output is forwarded to `out`
    /// with `secrets` masked.
    pub(super) fn start(
        shell: &str,
        src: &Path,
        env: &[(String, String)],
        out: &Output,
        secrets: &[String],
    ) -> Result<Session, RunError> {
        let mut child = Command::new(shell)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(src)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| RunError::Shell {
                shell: shell.to_string(),
                source,
            })?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let marker = format!("__run_buildspec_{}_{nanos}__", std::process::id());
        let (tx, results) = mpsc::channel();
        let out = out.clone();
        let masks = secrets.to_vec();
        let mark = marker.clone();
        std::thread::spawn(move || forward(stdout, &mark, &out, &masks, &tx));
        Ok(Session {
            child,
            stdin,
            results,
            marker,
            secrets: secrets.to_vec(),
        })
    }

    /// `text` with every secret value replaced by `***`, as the log shows it.
    pub(super) fn mask(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
    }

    /// Runs one command with CodeBuild's log lines (secrets masked): `Ok` on exit status 0, else
    /// `Err(whether the shell is still alive)`.
    pub(super) fn command(&mut self, command: &str, out: &Output) -> Result<(), bool> {
        out.info(&format!(
            "[Container] Running command {}",
            self.mask(command)
        ));
        match self.run(command) {
            Some(0) => Ok(()),
            status => {
                out.info(&format!(
                    "[Container] Command did not exit successfully {} exit status {}",
                    self.mask(command),
                    status.map_or_else(|| "(the shell exited)".to_string(), |c| c.to_string())
                ));
                Err(status.is_some())
            }
        }
    }

    /// Runs one command; `None` when the shell is gone (the command ended the session).
    fn run(&mut self, command: &str) -> Option<i32> {
        let script = format!(
            "{{ {command}\n}} </dev/null\nprintf '\\n%s %s\\n' '{}' \"$?\"\n",
            self.marker
        );
        self.stdin.write_all(script.as_bytes()).ok()?;
        self.stdin.flush().ok()?;
        match self.results.recv().ok()? {
            Event::Status(code) => Some(code),
            Event::Exported(..) => None,
        }
    }

    /// Sets a variable for the commands that follow.
    pub(super) fn export(&mut self, name: &str, value: &str) {
        let _ = writeln!(
            self.stdin,
            "export {name}={}",
            crate::output::shell_quote(value)
        );
    }

    /// The values of `names` that are set, read from the session.
    pub(super) fn exported(&mut self, names: &[String]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for name in names {
            let script = format!(
                "if [ \"${{{name}+set}}\" = set ]; then printf '\\n%s %s %s\\n' '{m}VAR' '{name}' \"$(printf %s \"${name}\" | od -An -tx1 | tr -d ' \\n')\"; else printf '\\n%s %s -\\n' '{m}VAR' '{name}'; fi\n",
                m = self.marker
            );
            if self.stdin.write_all(script.as_bytes()).is_err() {
                break;
            }
            let _ = self.stdin.flush();
            match self.results.recv() {
                Ok(Event::Exported(n, hex)) if hex != "-" => {
                    out.insert(n, unhex(&hex));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        out
    }

    /// Ends the session and waits for the shell.
    pub(super) fn finish(mut self) {
        let _ = self.stdin.write_all(b"exit 0\n");
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// The text of `od -tx1` output without spaces, decoded (invalid UTF-8 replaced).
fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Copies the shell's output to our log, masking secrets, and turns marker lines into events.
fn forward(
    stdout: ChildStdout,
    marker: &str,
    out: &Output,
    secrets: &[String],
    tx: &mpsc::Sender<Event>,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let mut held_blank = false;
    let var_marker = format!("{marker}VAR ");
    let status_marker = format!("{marker} ");
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(rest) = text.strip_prefix(&var_marker) {
            held_blank = false;
            let mut parts = rest.splitn(2, ' ');
            let name = parts.next().unwrap_or_default().to_string();
            let hex = parts.next().unwrap_or_default().to_string();
            let _ = tx.send(Event::Exported(name, hex));
            continue;
        }
        if let Some(code) = text.strip_prefix(&status_marker) {
            held_blank = false;
            let _ = tx.send(Event::Status(code.trim().parse().unwrap_or(1)));
            continue;
        }
        if text.is_empty() {
            if held_blank {
                out.line("");
            }
            held_blank = true;
            continue;
        }
        if held_blank {
            out.line("");
            held_blank = false;
        }
        let mut shown = text.to_string();
        for s in secrets {
            shown = shown.replace(s.as_str(), "***");
        }
        out.line(&shown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_values_are_read_back_from_hex() {
        assert_eq!(unhex("68c3a9"), "hé");
    }
}
