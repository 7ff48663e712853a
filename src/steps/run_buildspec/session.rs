//! The build's shell session: one shell process fed command by command on its stdin, as CodeBuild
//! runs a buildspec.
//!
//! Each command is wrapped so that a marker line reports its exit status on file descriptor 8 (a
//! copy of the shell's stdout made when it starts, so a command's own redirections do not hide it),
//! and a second marker on 9 (stderr) says the command's error output is complete. Reader threads
//! strip those lines (and the exported-variable lines, values hex-encoded) from the log they
//! forward, masking secret values in both streams.
//!
//! A command that ends the shell (`exit 3`) does not end the build: the shell's `EXIT` trap saves
//! the exported variables and the working directory and reports the status, and a new shell goes on
//! from that state, as CodeBuild keeps both across commands. Every shell runs in its own process
//! group; the groups are ended when the build ends, so a background process a command left behind
//! (`sleep 300 &`) does not outlive the build.

use super::error::RunError;
use super::secrets;
use crate::output::{Output, shell_quote};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long the build waits, once it has ended the shell's process group, for the last of its
/// output to arrive.
const DRAIN: Duration = Duration::from_secs(5);

/// A shell session the commands are written to, one at a time.
pub(super) struct Session<'a> {
    /// How to start a shell.
    shell: &'a str,
    src: &'a Path,
    env: &'a [(String, String)],
    out: &'a Output,
    secrets: &'a [String],
    /// The running shell.
    child: Child,
    stdin: ChildStdin,
    results: mpsc::Receiver<Event>,
    marker: String,
    /// Where the `EXIT` trap saves the exported variables and the working directory (private).
    state: tempfile::TempDir,
    /// The process groups of every shell this session started.
    groups: Vec<i32>,
    /// Set when the build is to stop (a batch's fast-fail): the running command is ended and no
    /// other starts.
    stop: Option<&'a AtomicBool>,
}

/// What the reader threads saw.
enum Event {
    /// A command finished with this status.
    Status(i32),
    /// The shell exited with this status (its `EXIT` trap ran).
    Exited(i32),
    /// The error output of the command so far has been forwarded.
    StderrSynced,
    /// An exported variable's value (hex).
    Exported(String, String),
    /// A stream ended.
    Closed,
}

impl<'a> Session<'a> {
    /// Starts `shell` in `src` with exactly the variables `env`; its output is forwarded to `out`
    /// with `secrets` masked.
    pub(super) fn start(
        shell: &'a str,
        src: &'a Path,
        env: &'a [(String, String)],
        out: &'a Output,
        secrets: &'a [String],
        stop: Option<&'a AtomicBool>,
    ) -> Result<Session<'a>, RunError> {
        let state = tempfile::Builder::new()
            .prefix(".run-buildspec.")
            .tempdir()
            .map_err(|source| RunError::Shell {
                shell: shell.to_string(),
                source,
            })?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let marker = format!("__run_buildspec_{}_{nanos}__", std::process::id());
        let (child, stdin, results) = spawn(shell, src, env, out, secrets, &marker)?;
        let mut session = Session {
            shell,
            src,
            env,
            out,
            secrets,
            groups: vec![pid(&child)],
            child,
            stdin,
            results,
            marker,
            state,
            stop,
        };
        session.prelude(false);
        Ok(session)
    }

    /// Sets up a new shell: the marker descriptors, the `EXIT` trap and, for a shell that replaces
    /// one a command ended, the state that one saved.
    fn prelude(&mut self, restore: bool) {
        let env_file = shell_quote(&self.state_file("env").to_string_lossy());
        let cwd_file = shell_quote(&self.state_file("cwd").to_string_lossy());
        // The paths go through variables, so the trap's own quoting never meets theirs.
        let mut script = format!(
            "exec 8>&1 9>&2\n__rb_env={env_file}; __rb_cwd={cwd_file}\ntrap '__rb_status=$?; export -p > \"$__rb_env\"; printf %s \"$PWD\" > \"$__rb_cwd\"; printf \"\\n%s EXIT %s\\n\" {m} \"$__rb_status\" >&8' EXIT\n",
            m = self.marker
        );
        if restore {
            script.push_str(
                "if [ -f \"$__rb_env\" ]; then . \"$__rb_env\" 2>/dev/null; cd -- \"$(cat \"$__rb_cwd\")\" 2>/dev/null; rm -f \"$__rb_env\" \"$__rb_cwd\"; fi\n",
            );
        }
        let _ = self.stdin.write_all(script.as_bytes());
    }

    fn state_file(&self, name: &str) -> PathBuf {
        self.state.path().join(name)
    }

    /// `text` with every secret value replaced by `***`, as the log shows it.
    pub(super) fn mask(&self, text: &str) -> String {
        secrets::mask(self.secrets, text)
    }

    /// Runs one command with CodeBuild's log lines (secrets masked): whether it exited with status
    /// 0. A command that ended the shell failed; a new shell continues from its state.
    pub(super) fn command(&mut self, command: &str) -> Result<bool, RunError> {
        let out = self.out;
        if self.stopping() {
            out.info(&format!(
                "[Container] Command not run, the build is stopping: {}",
                self.mask(command)
            ));
            return Ok(false);
        }
        out.info(&format!(
            "[Container] Running command {}",
            self.mask(command)
        ));
        let status = self.run(command);
        if status == Some(Ended::Status(0)) {
            return Ok(true);
        }
        let shown = match status {
            Some(Ended::Status(code) | Ended::Exited(code)) => code.to_string(),
            None => "(the shell was killed)".to_string(),
        };
        out.info(&format!(
            "[Container] Command did not exit successfully {} exit status {shown}",
            self.mask(command),
        ));
        if !matches!(status, Some(Ended::Status(_))) && !self.stopping() {
            self.restart()?;
        }
        Ok(false)
    }

    /// Whether the build is to stop.
    pub(super) fn stopping(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// Ends every process group of the session (TERM, then KILL for what is left).
    fn end_groups(&self) {
        for signal in [libc::SIGTERM, libc::SIGKILL] {
            let alive: Vec<i32> = self
                .groups
                .iter()
                .copied()
                .filter(|g| signal_group(*g, 0))
                .collect();
            if alive.is_empty() {
                break;
            }
            for group in alive {
                signal_group(group, signal);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs one command: how it ended, `None` when the shell died without its trap (a signal).
    fn run(&mut self, command: &str) -> Option<Ended> {
        let m = &self.marker;
        let script = format!(
            "{{ {command}\n}} </dev/null\n__rb_status=$?\nprintf '\\n%s SYNC\\n' '{m}' >&9\nprintf '\\n%s %s\\n' '{m}' \"$__rb_status\" >&8\n"
        );
        if self.stdin.write_all(script.as_bytes()).is_err() || self.stdin.flush().is_err() {
            return None;
        }
        let mut status = None;
        let mut synced = false;
        // The status comes from stdout, the sync from stderr; a command that ends the shell sends
        // no sync, and its stderr closes instead.
        while status.is_none() || !synced {
            if self.stopping() {
                self.out
                    .info("[Container] Stopping the build: ending the running command");
                self.end_groups();
                let _ = self.child.wait();
                return None;
            }
            let event = match self.results.recv_timeout(Duration::from_secs(1)) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // A shell killed by a signal runs no trap; a background process may still hold
                    // its pipes open, so the streams need not close.
                    if matches!(self.child.try_wait(), Ok(Some(_))) {
                        return match self.results.recv_timeout(Duration::from_millis(500)) {
                            Ok(Event::Exited(code)) => Some(Ended::Exited(code)),
                            _ => None,
                        };
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            };
            match event {
                Event::Status(code) => status = Some(Ended::Status(code)),
                Event::Exited(code) => return Some(Ended::Exited(code)),
                Event::StderrSynced => synced = true,
                Event::Closed => {
                    if status.is_some() {
                        synced = true;
                    }
                }
                Event::Exported(..) => {}
            }
        }
        status
    }

    /// Replaces a shell that ended with a new one holding its exported variables and directory.
    fn restart(&mut self) -> Result<(), RunError> {
        let _ = self.child.wait();
        self.out.warn(
            "the build shell exited; a new shell continues with the exported variables and the directory it had (other shell variables and functions are lost)",
        );
        let (child, stdin, results) = spawn(
            self.shell,
            self.src,
            self.env,
            self.out,
            self.secrets,
            &self.marker,
        )?;
        self.groups.push(pid(&child));
        self.child = child;
        self.stdin = stdin;
        self.results = results;
        self.prelude(true);
        Ok(())
    }

    /// Sets a variable for the commands that follow.
    pub(super) fn export(&mut self, name: &str, value: &str) {
        let _ = writeln!(self.stdin, "export {name}={}", shell_quote(value));
    }

    /// The values of `names` that are set, read from the session.
    pub(super) fn exported(&mut self, names: &[String]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for name in names {
            let script = format!(
                "if [ \"${{{name}+set}}\" = set ]; then printf '\\n%s %s %s\\n' '{m}VAR' '{name}' \"$(printf %s \"${name}\" | od -An -tx1 | tr -d ' \\n')\" >&8; else printf '\\n%s %s -\\n' '{m}VAR' '{name}' >&8; fi\n",
                m = self.marker
            );
            if self.stdin.write_all(script.as_bytes()).is_err() {
                break;
            }
            let _ = self.stdin.flush();
            loop {
                match self.results.recv() {
                    Ok(Event::Exported(n, hex)) => {
                        if hex != "-" {
                            out.insert(n, unhex(&hex));
                        }
                        break;
                    }
                    Ok(Event::StderrSynced | Event::Closed) => {}
                    Ok(Event::Status(_) | Event::Exited(_)) | Err(_) => return out,
                }
            }
        }
        out
    }

    /// Ends the session: the shell exits, then every process group it started is ended (TERM,
    /// then KILL), and the last output is forwarded.
    pub(super) fn finish(mut self) {
        let _ = self.stdin.write_all(b"trap - EXIT\nexit 0\n");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
        self.end_groups();
        // Both readers end when the last holder of the pipes is gone.
        let deadline = std::time::Instant::now() + DRAIN;
        let mut closed = 0;
        while closed < 2 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.results.recv_timeout(left) {
                Ok(Event::Closed) => closed += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// It exited with this status, the shell still running.
    Status(i32),
    /// It ended the shell, which exited with this status.
    Exited(i32),
}

/// Starts a shell in its own process group, with readers forwarding its stdout and stderr.
fn spawn(
    shell: &str,
    src: &Path,
    env: &[(String, String)],
    out: &Output,
    secrets: &[String],
    marker: &str,
) -> Result<(Child, ChildStdin, mpsc::Receiver<Event>), RunError> {
    let mut child = Command::new(shell)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(src)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Shell {
            shell: shell.to_string(),
            source,
        })?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, results) = mpsc::channel();
    for (stream, is_stdout) in [
        (Box::new(stdout) as Box<dyn Read + Send>, true),
        (Box::new(stderr), false),
    ] {
        let reader = Reader {
            marker: marker.to_string(),
            out: out.clone(),
            masks: secrets.to_vec(),
            tx: tx.clone(),
            is_stdout,
        };
        std::thread::spawn(move || reader.forward(stream));
    }
    Ok((child, stdin, results))
}

/// The shell's process ID, which is also its process group's.
fn pid(child: &Child) -> i32 {
    i32::try_from(child.id()).unwrap_or(i32::MAX)
}

/// Sends `signal` to the process group `group` (0: only asks whether it still has members).
fn signal_group(group: i32, signal: i32) -> bool {
    #[expect(
        unsafe_code,
        reason = "kill(2) on a process group this session created; no memory is touched"
    )]
    // SAFETY: kill(2) takes plain integers and has no memory-safety preconditions.
    let done = unsafe { libc::kill(-group, signal) };
    done == 0
}

/// The text of `od -tx1` output without spaces, decoded (invalid UTF-8 replaced).
fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Copies one of the shell's streams to our log, masking secrets, and turns marker lines into
/// events.
struct Reader {
    marker: String,
    out: Output,
    masks: Vec<String>,
    tx: mpsc::Sender<Event>,
    is_stdout: bool,
}

impl Reader {
    fn forward(self, stream: impl Read) {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut held_blank = false;
        let var_marker = format!("{}VAR ", self.marker);
        let exit_marker = format!("{} EXIT ", self.marker);
        let sync_marker = format!("{} SYNC", self.marker);
        let status_marker = format!("{} ", self.marker);
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            let event = if let Some(rest) = text.strip_prefix(&var_marker) {
                let mut parts = rest.splitn(2, ' ');
                let name = parts.next().unwrap_or_default().to_string();
                let hex = parts.next().unwrap_or_default().to_string();
                Some(Event::Exported(name, hex))
            } else if let Some(code) = text.strip_prefix(&exit_marker) {
                Some(Event::Exited(code.trim().parse().unwrap_or(1)))
            } else if text == sync_marker && !self.is_stdout {
                Some(Event::StderrSynced)
            } else {
                text.strip_prefix(&status_marker)
                    .map(|code| Event::Status(code.trim().parse().unwrap_or(1)))
            };
            if let Some(event) = event {
                // The marker's leading newline ends a partial line; it is not the command's.
                held_blank = false;
                let _ = self.tx.send(event);
                continue;
            }
            if text.is_empty() {
                if held_blank {
                    self.out.line("");
                }
                held_blank = true;
                continue;
            }
            if held_blank {
                self.out.line("");
                held_blank = false;
            }
            self.out.line(&secrets::mask(&self.masks, text));
        }
        let _ = self.tx.send(Event::Closed);
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
