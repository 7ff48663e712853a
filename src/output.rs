//! Everything a step says: the result (the only thing on stdout), human text and logs (stderr), and the
//! CI integrations. No other module writes to stdout or stderr.
//!
//! - `--format human` (default): the result as text on stderr; stdout stays empty.
//! - `--format json` / `--json`: one JSON object on stdout: `{"schema_version": N, "step": "…", …}`.
//!   Each step documents its fields on its result type; `schema_version` changes when a field changes
//!   meaning or goes away (new fields may be added without a bump).
//! - `--format env`: `NAME=value` lines on stdout, shell-quoted, for `eval "$(step --format env)"` in a
//!   buildspec whose `env.exported-variables` then names them.
//! - In GitHub Actions (`GITHUB_ACTIONS=true`), whatever the format: outputs go to `$GITHUB_OUTPUT`, a
//!   Markdown summary to `$GITHUB_STEP_SUMMARY`, secrets are masked with `::add-mask::` before anything
//!   else is printed, and failures become `::error::` annotations. Workflow commands go to stderr, which
//!   the runner reads for commands as it reads stdout, so stdout keeps carrying the result only.

pub mod github;
pub mod progress;

use crate::environment::{Ci, Environment};
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How the result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Text for people, on stderr.
    #[default]
    Human,
    /// One JSON object on stdout.
    Json,
    /// `NAME=value` lines on stdout for `eval` (CodeBuild `exported-variables`).
    Env,
}

/// The output flags every step takes (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// How to print the result: `human` (text on stderr), `json` (one object on stdout), or `env`
    /// (`NAME=value` lines on stdout for `eval`, e.g. for a buildspec's `exported-variables`).
    #[arg(long, value_enum, env = "BUILDSTEPS_FORMAT", default_value_t = Format::Human)]
    pub format: Format,

    /// Shorthand for `--format json`.
    #[arg(long)]
    pub json: bool,
}

impl OutputArgs {
    /// The format in force: `--json` wins over `--format`.
    pub fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

/// A step's result. The result type documents its JSON fields in rustdoc.
pub trait Report: Serialize {
    /// The step's name, as in the binary name (`ecr-login`).
    const STEP: &'static str;
    /// The version of this step's JSON shape.
    const SCHEMA_VERSION: u32;

    /// The result as text for people (written to stderr).
    fn human(&self) -> String;

    /// The values exported by `--format env` and as GitHub outputs: `(NAME, value)`. Names are
    /// upper-case for the environment; GitHub outputs use them in lower case.
    fn variables(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The GitHub Actions step outputs. Default: [`Report::variables`] with lower-case names. A step
    /// that exports secrets there (as `ecr-login` does, like the AWS action) masks them first.
    fn github_outputs(&self) -> Vec<(String, String)> {
        self.variables()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    }

    /// A Markdown fragment for the GitHub step summary.
    fn markdown(&self) -> Option<String> {
        None
    }
}

/// The JSON envelope: `schema_version` and `step` first, then the report's own fields.
#[derive(Debug, Serialize)]
struct Envelope<'a, R: Serialize> {
    schema_version: u32,
    step: &'static str,
    #[serde(flatten)]
    report: &'a R,
}

/// The JSON text `--json` prints for a report (one line, no trailing newline).
pub fn to_json<R: Report>(report: &R) -> String {
    serde_json::to_string(&Envelope {
        schema_version: R::SCHEMA_VERSION,
        step: R::STEP,
        report,
    })
    .unwrap_or_else(|e| format!("{{\"schema_version\":0,\"error\":\"serialise result: {e}\"}}"))
}

/// A shareable writer (stdout, stderr, or a buffer in tests).
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// Makes a [`Sink`] from a writer.
pub fn sink<W: Write + Send + 'static>(w: W) -> Sink {
    Arc::new(Mutex::new(w))
}

/// The one object through which a step prints.
#[derive(Clone)]
pub struct Output {
    format: Format,
    stdout: Sink,
    stderr: Sink,
    github: Option<github::Files>,
    ci: Ci,
    stderr_is_terminal: bool,
    /// Put before every log line (`[build_arm64] `): one build's lines among others'.
    prefix: Option<Arc<str>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("format", &self.format)
            .field("ci", &self.ci)
            .finish_non_exhaustive()
    }
}

/// Printing the result failed: stdout could not be written, or a GitHub Actions file could not.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// Writing to stdout failed for a reason other than a closed pipe (`> /dev/full`: no space).
    #[error("write the result to stdout")]
    Stdout(#[source] io::Error),
    /// Writing `$GITHUB_OUTPUT` or `$GITHUB_STEP_SUMMARY` failed.
    #[error(transparent)]
    File(#[from] OutputFileError),
}

impl crate::error::Diagnostic for EmitError {
    fn exit_code(&self) -> crate::exit::Code {
        crate::exit::Code::Usage
    }

    fn help(&self) -> Option<String> {
        match self {
            EmitError::Stdout(_) => Some(
                "the result did not arrive: send stdout somewhere that takes it (a file system with free space, a pipe, a file open for writing)"
                    .into(),
            ),
            EmitError::File(e) => e.help(),
        }
    }
}

/// Writing an output file (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`) failed.
#[derive(Debug, thiserror::Error)]
#[error("write the GitHub Actions file `{}`", path.display())]
pub struct OutputFileError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl crate::error::Diagnostic for OutputFileError {
    fn exit_code(&self) -> crate::exit::Code {
        crate::exit::Code::Usage
    }
}

impl Output {
    /// An output for the process's real stdout and stderr.
    pub fn stdio(format: Format, env: &Environment) -> Output {
        Output::new(format, env, sink(io::stdout()), sink(io::stderr()))
    }

    /// An output writing to the given sinks (tests, embedding).
    pub fn new(format: Format, env: &Environment, stdout: Sink, stderr: Sink) -> Output {
        Output {
            format,
            stdout,
            stderr,
            github: github::Files::from_env(env),
            ci: env.ci(),
            stderr_is_terminal: env.stderr_is_terminal(),
            prefix: None,
        }
    }

    /// The same output, with `prefix` before each of its log lines (a GitHub workflow command keeps
    /// its place at the start of the line, with the prefix in its message).
    #[must_use]
    pub fn prefixed(&self, prefix: &str) -> Output {
        Output {
            prefix: Some(Arc::from(prefix)),
            stderr_is_terminal: false,
            ..self.clone()
        }
    }

    /// The format in force.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The CI system detected at start.
    pub fn ci(&self) -> Ci {
        self.ci
    }

    /// The sink for logs and progress.
    pub fn stderr(&self) -> Sink {
        Arc::clone(&self.stderr)
    }

    /// Whether progress bars may be drawn.
    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_is_terminal
    }

    /// Writes one line to stderr. Write failures on stderr are ignored: there is nowhere to report them.
    pub fn line(&self, text: &str) {
        if let Ok(mut w) = self.stderr.lock() {
            match &self.prefix {
                None => {
                    let _ = writeln!(w, "{text}");
                }
                Some(prefix) => {
                    for line in text.split('\n') {
                        let _ = writeln!(w, "{prefix}{line}");
                    }
                }
            }
        }
    }

    /// A log line for people (stderr).
    pub fn info(&self, text: &str) {
        self.line(text);
    }

    /// A warning: `warning: …` on stderr, and a `::warning::` annotation in GitHub Actions.
    pub fn warn(&self, text: &str) {
        if self.ci == Ci::GithubActions {
            let text = format!("{}{text}", self.prefix.as_deref().unwrap_or(""));
            self.command_line(&github::command("warning", &[], &text));
        } else {
            self.line(&format!("warning: {text}"));
        }
    }

    /// Writes a GitHub workflow command: at the start of its line, whatever the prefix.
    fn command_line(&self, command: &str) {
        if let Ok(mut w) = self.stderr.lock() {
            let _ = writeln!(w, "{command}");
        }
    }

    /// Masks a secret in GitHub Actions logs. Call before the secret could appear anywhere.
    pub fn mask(&self, secret: &str) {
        if self.ci == Ci::GithubActions {
            for line in secret.lines().filter(|l| !l.trim().is_empty()) {
                self.command_line(&github::command("add-mask", &[], line));
            }
        }
    }

    /// Reports a failure: the error chain and `help:` on stderr, and in GitHub Actions an `::error::`
    /// annotation titled with the step.
    pub fn failure(&self, step: &str, chain: &[String], help: Option<&str>) {
        let mut text = format!(
            "error: failed to {}",
            chain.first().map_or("", String::as_str)
        );
        for cause in chain.iter().skip(1) {
            text.push_str("\n  caused by: ");
            text.push_str(cause);
        }
        if let Some(help) = help {
            text.push_str("\nhelp: ");
            text.push_str(help);
        }
        if self.ci == Ci::GithubActions {
            self.command_line(&github::command(
                "error",
                &[("title", &format!("{step} failed"))],
                &text,
            ));
        }
        self.line(&text);
    }

    /// Prints a step's result in the chosen format, and writes GitHub outputs and summary when running
    /// in GitHub Actions. A closed stdout (`| head`) is not an error; any other failure to write it is
    /// ([`Output::stdout_text`]).
    pub fn emit<R: Report>(&self, report: &R) -> Result<(), EmitError> {
        match self.format {
            Format::Human => self.line(report.human().trim_end()),
            Format::Json => self.stdout_text(&(to_json(report) + "\n"))?,
            Format::Env => {
                let text = report
                    .variables()
                    .iter()
                    .fold(String::new(), |acc, (k, v)| {
                        acc + k + "=" + &shell_quote(v) + "\n"
                    });
                self.stdout_text(&text)?;
            }
        }
        if let Some(files) = &self.github {
            let outputs = report.github_outputs();
            files
                .append_outputs(&outputs)
                .map_err(|(path, source)| OutputFileError { path, source })?;
            if let Some(md) = report.markdown() {
                files
                    .append_summary(&md)
                    .map_err(|(path, source)| OutputFileError { path, source })?;
            }
        }
        Ok(())
    }

    /// Writes raw text to stdout (the result, or one value for `--password-stdout`-style modes) and
    /// flushes it. A broken pipe is not an error: the reader has what it wanted (`| head`). Any other
    /// failure (`> /dev/full`) is, so that a result that did not arrive never looks like success.
    pub fn stdout_text(&self, text: &str) -> Result<(), EmitError> {
        let mut w = self
            .stdout
            .lock()
            .map_err(|_| EmitError::Stdout(io::Error::other("an earlier write panicked")))?;
        match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(EmitError::Stdout(e)),
            _ => Ok(()),
        }
    }
}

/// Quotes a value for a POSIX shell when it needs quoting: `abc` stays, `a b` → `'a b'`,
/// `it's` → `'it'\''s'`.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A buffer sink whose contents can be read back.
    #[derive(Clone, Default)]
    pub(crate) struct Buffer(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    pub(crate) fn output(format: Format, env: &Environment) -> (Output, Buffer, Buffer) {
        let (out, err) = (Buffer::default(), Buffer::default());
        (
            Output::new(format, env, sink(out.clone()), sink(err.clone())),
            out,
            err,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::output;
    use super::*;

    #[derive(Serialize)]
    struct Pushed {
        image: String,
        tags: Vec<String>,
    }

    impl Report for Pushed {
        const STEP: &'static str = "build-push";
        const SCHEMA_VERSION: u32 = 1;
        fn human(&self) -> String {
            format!("pushed {}\n", self.image)
        }
        fn variables(&self) -> Vec<(String, String)> {
            vec![
                ("IMAGE_URI".into(), self.image.clone()),
                ("TAGS".into(), self.tags.join("\n")),
            ]
        }
        fn markdown(&self) -> Option<String> {
            Some(format!("### Pushed\n`{}`\n", self.image))
        }
    }

    fn report() -> Pushed {
        Pushed {
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc".into(),
            tags: vec!["latest".into(), "abc".into()],
        }
    }

    fn local() -> Environment {
        Environment::new(Vec::<(String, String)>::new(), "/")
    }

    #[test]
    fn json_envelope_leads_with_schema_version_and_step() {
        let (out, stdout, stderr) = output(Format::Json, &local());
        out.emit(&report()).unwrap();
        let text = stdout.text();
        assert!(
            text.starts_with(r#"{"schema_version":1,"step":"build-push","image":"#),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["tags"][1], "abc");
        assert_eq!(stderr.text(), "");
    }

    #[test]
    fn human_text_goes_to_stderr_and_stdout_stays_empty() {
        let (out, stdout, stderr) = output(Format::Human, &local());
        out.emit(&report()).unwrap();
        assert_eq!(stdout.text(), "");
        assert_eq!(
            stderr.text(),
            "pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc\n"
        );
    }

    #[test]
    fn env_format_is_eval_safe() {
        let (out, stdout, _) = output(Format::Env, &local());
        out.emit(&report()).unwrap();
        assert_eq!(
            stdout.text(),
            "IMAGE_URI=123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc\nTAGS='latest\nabc'\n"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn github_actions_gets_outputs_summary_and_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let out_file = dir.path().join("output");
        let summary = dir.path().join("summary");
        let env = Environment::new(
            [
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
                ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ],
            "/",
        );
        let (out, stdout, stderr) = output(Format::Human, &env);
        out.mask("s3cr3t");
        out.emit(&report()).unwrap();
        out.warn("token expires in 5m");
        out.failure(
            "scan-gate",
            &["read `x`".into(), "no such file".into()],
            Some("check it"),
        );
        assert_eq!(stdout.text(), "");
        let err = stderr.text();
        assert!(err.starts_with("::add-mask::s3cr3t\n"), "{err}");
        assert!(err.contains("::warning::token expires in 5m\n"));
        assert!(err.contains(
            "::error title=scan-gate failed::error: failed to read `x`%0A  caused by: no such file%0Ahelp: check it\n"
        ));
        assert!(
            err.ends_with("error: failed to read `x`\n  caused by: no such file\nhelp: check it\n")
        );
        let outputs = std::fs::read_to_string(&out_file).unwrap();
        assert!(outputs.starts_with(
            "image_uri=123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc\ntags<<ghadelimiter_"
        ));
        let parsed = github::parse_output_file(&outputs);
        assert_eq!(
            parsed,
            [
                ("image_uri".to_string(), report().image),
                ("tags".to_string(), "latest\nabc".to_string()),
            ]
        );
        assert_eq!(
            std::fs::read_to_string(&summary).unwrap(),
            "### Pushed\n`123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc`\n\n"
        );
    }

    /// A stdout that fails every write with `kind` (`> /dev/full` is `StorageFull`).
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    #[test]
    fn a_failed_stdout_write_is_an_error_but_a_closed_pipe_is_not() {
        let failing = |kind| {
            let err = testing::Buffer::default();
            let out =
                |format| Output::new(format, &local(), sink(Failing(kind)), sink(err.clone()));
            (out(Format::Json), out(Format::Env), out(Format::Human), err)
        };
        let (json, env, human, stderr) = failing(io::ErrorKind::StorageFull);
        let e = json.emit(&report()).unwrap_err();
        assert_eq!(e.to_string(), "write the result to stdout");
        assert_eq!(
            crate::error::Diagnostic::exit_code(&e),
            crate::exit::Code::Usage
        );
        assert!(env.emit(&report()).is_err());
        assert!(json.stdout_text("password\n").is_err());
        // Human text goes to stderr, which never fails a step.
        human.emit(&report()).unwrap();
        assert!(stderr.text().starts_with("pushed "));
        let (json, env, _, _) = failing(io::ErrorKind::BrokenPipe);
        json.emit(&report()).unwrap();
        env.emit(&report()).unwrap();
        json.stdout_text("password\n").unwrap();
    }

    #[test]
    fn outside_github_there_are_no_workflow_commands() {
        let (out, _, stderr) = output(Format::Human, &local());
        out.mask("s3cr3t");
        out.warn("careful");
        assert_eq!(stderr.text(), "warning: careful\n");
    }
}
