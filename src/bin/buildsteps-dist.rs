//! Writes the shell completions (bash, zsh, fish) and man pages of every binary into a directory, for
//! `bin/release`; `--list` prints the binaries' names, one a line. Built only with `--features dist`.

use buildsteps::exit::Code;
use buildsteps::steps::{BINARIES, commands};
use clap_complete::Shell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "dist".into());
    if arg == "--list" {
        let mut stdout = std::io::stdout().lock();
        let listed = BINARIES
            .iter()
            .try_for_each(|name| writeln!(stdout, "{name}"))
            .and_then(|()| stdout.flush());
        return match listed {
            Ok(()) => Code::Ok.into(),
            Err(e) => fail(&format!("failed to print the binaries: {e}")),
        };
    }
    let out = PathBuf::from(arg);
    let result = (|| -> std::io::Result<()> {
        let man = out.join("man/man1");
        let completions = out.join("completions");
        std::fs::create_dir_all(&man)?;
        std::fs::create_dir_all(&completions)?;
        for mut command in commands() {
            let name = command.get_name().to_string();
            let mut page = Vec::new();
            clap_mangen::Man::new(command.clone()).render(&mut page)?;
            std::fs::write(man.join(format!("{name}.1")), page)?;
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                clap_complete::generate_to(shell, &mut command, &name, &completions)?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => Code::Ok.into(),
        Err(e) => fail(&format!(
            "failed to write completions and man pages to {}: {e}",
            out.display()
        )),
    }
}

/// Prints the error and returns the exit code for a failure here: the files are ours to write, so
/// a failure is reported like any other internal error.
fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    Code::Internal.into()
}
