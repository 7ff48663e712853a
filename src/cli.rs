//! The edge: the one place that reads argv and the process environment, starts the runtime, runs a
//! step, prints the error chain and exits with the documented code.
//!
//! A binary is one line: `fn main() -> ExitCode { buildsteps::cli::run::<Step>() }`.

use crate::environment::Environment;
use crate::error::Error;
use crate::exit::Code;
use crate::output::{Output, OutputArgs};
use std::future::Future;
use std::process::ExitCode;

/// Everything a step gets besides its own flags.
#[derive(Debug, Clone)]
pub struct Context {
    /// The process environment, captured at start.
    pub env: Environment,
    /// Where results, logs and CI outputs go.
    pub out: Output,
}

/// A step: its flags (clap derive, with `env` fallbacks) and how it runs.
pub trait Step: clap::Parser + Send + 'static {
    /// The binary's name, for messages (`ecr-login`).
    const NAME: &'static str;

    /// The step's output flags (`#[command(flatten)] output: OutputArgs`).
    fn output_args(&self) -> &OutputArgs;

    /// Runs the step. `Ok` carries the exit code of a completed run (0, or 1 for a negative verdict).
    fn run(self, ctx: Context) -> impl Future<Output = Result<Code, Error>> + Send;
}

/// Parses argv (exit 2 with clap's message on a usage error; `--help` exits 0), runs the step, and
/// returns the documented exit code.
pub fn run<S: Step>() -> ExitCode {
    install_panic_hook(S::NAME);
    let step = S::parse();
    let env = Environment::from_process();
    let out = Output::stdio(step.output_args().format(), &env);
    execute(step, Context { env, out }).into()
}

/// Whether the program was started under `name` (the file name of `argv[0]`), for binaries that
/// answer to more than one name.
pub fn invoked_as(name: &str) -> bool {
    std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_name().map(|f| f == name))
        .unwrap_or(false)
}

/// Runs a parsed step on a fresh runtime and reports its error, if any, through `ctx.out`.
pub fn execute<S: Step>(step: S, ctx: Context) -> Code {
    let out = ctx.out.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.failure(S::NAME, &[format!("start the async runtime: {e}")], None);
            return Code::Internal;
        }
    };
    match runtime.block_on(step.run(ctx)) {
        Ok(code) => code,
        Err(err) => {
            out.failure(S::NAME, &err.chain(), err.help().as_deref());
            err.exit_code()
        }
    }
}

/// A panic is a bug: say so, say where to report it, and exit 70 rather than 101 or an abort.
fn install_panic_hook(step: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        #[expect(
            clippy::print_stderr,
            reason = "a panic may come from inside `Output`; the hook must not depend on it"
        )]
        {
            eprintln!(
                "error: internal error in {step} (a bug; please report it with this message)\n  caused by: {info}"
            );
        }
        std::process::exit(i32::from(Code::Internal.as_u8()));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;
    use crate::output::testing;
    use crate::output::{Format, Report};
    use clap::Parser;

    #[derive(Debug, thiserror::Error)]
    #[error("read `{0}`")]
    struct Missing(String, #[source] std::io::Error);

    impl Diagnostic for Missing {
        fn exit_code(&self) -> Code {
            Code::Usage
        }
        fn help(&self) -> Option<String> {
            Some("pass --file PATH".into())
        }
    }

    #[derive(serde::Serialize)]
    struct Done {
        answer: u32,
    }

    impl Report for Done {
        const STEP: &'static str = "demo";
        const SCHEMA_VERSION: u32 = 1;
        fn human(&self) -> String {
            format!("answer: {}", self.answer)
        }
    }

    /// A tiny step used to exercise the edge.
    #[derive(Debug, Parser)]
    struct Demo {
        /// A file to read.
        #[arg(long, env = "DEMO_FILE")]
        file: String,
        #[command(flatten)]
        output: OutputArgs,
    }

    impl Step for Demo {
        const NAME: &'static str = "demo";
        fn output_args(&self) -> &OutputArgs {
            &self.output
        }
        async fn run(self, ctx: Context) -> Result<Code, Error> {
            let text = tokio::fs::read_to_string(ctx.env.resolve(self.file.as_ref()))
                .await
                .map_err(|e| Missing(self.file.clone(), e))?;
            ctx.out
                .emit(&Done {
                    answer: u32::try_from(text.len()).unwrap_or(0),
                })
                .map_err(Error::from)?;
            Ok(if text.is_empty() {
                Code::Verdict
            } else {
                Code::Ok
            })
        }
    }

    fn run_demo(args: &[&str], cwd: &std::path::Path) -> (Code, String, String) {
        let step =
            Demo::try_parse_from(std::iter::once("demo").chain(args.iter().copied())).unwrap();
        let env = Environment::new(Vec::<(String, String)>::new(), cwd);
        let (out, stdout, stderr) = testing::output(step.output.format(), &env);
        let code = execute(step, Context { env, out });
        (code, stdout.text(), stderr.text())
    }

    #[test]
    fn success_prints_the_result_and_exits_0() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.txt"), "hello").unwrap();
        let (code, stdout, stderr) = run_demo(&["--file", "in.txt", "--json"], dir.path());
        assert_eq!(code, Code::Ok);
        assert_eq!(
            stdout,
            "{\"schema_version\":1,\"step\":\"demo\",\"answer\":5}\n"
        );
        assert_eq!(stderr, "");
        let (code, stdout, stderr) = run_demo(&["--file", "in.txt"], dir.path());
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (Code::Ok, "", "answer: 5\n")
        );
    }

    #[test]
    fn a_verdict_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        let (code, _, stderr) = run_demo(&["--file", "empty"], dir.path());
        assert_eq!((code, stderr.as_str()), (Code::Verdict, "answer: 0\n"));
    }

    #[test]
    fn errors_print_the_chain_and_help_and_exit_with_their_code() {
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr) =
            run_demo(&["--file", "nope.txt", "--format", "json"], dir.path());
        assert_eq!(code, Code::Usage);
        assert_eq!(stdout, "", "nothing partial on stdout");
        assert_eq!(
            stderr,
            "error: failed to read `nope.txt`\n  caused by: No such file or directory (os error 2)\nhelp: pass --file PATH\n"
        );
    }

    #[test]
    fn flags_fall_back_to_the_environment_and_usage_errors_are_clap_errors() {
        // clap reads the fallback from the process environment; the variable is unique to this test.
        let err = Demo::try_parse_from(["demo"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), i32::from(Code::Usage.as_u8()));
        let ok = Demo::try_parse_from(["demo", "--file", "x", "--format", "env"]).unwrap();
        assert_eq!(ok.output.format(), Format::Env);
    }
}
