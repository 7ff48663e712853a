//! Writes the shell completions (bash, zsh, fish) and man pages of every binary into a directory, for
//! `bin/release`. Built only with `--features dist`.

use buildsteps::steps::{
    build_push::BuildPush, ecr_login::EcrLogin, render_taskdef::RenderTaskdef,
    run_buildspec::RunBuildspec, scan_gate::ScanGate, tag_commit::TagCommit,
};
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "dist".into()));
    let commands = [
        EcrLogin::command(),
        BuildPush::command(),
        TagCommit::command(),
        RenderTaskdef::command(),
        ScanGate::command(),
        RunBuildspec::command(),
    ];
    let result = (|| -> std::io::Result<()> {
        let man = out.join("man/man1");
        let completions = out.join("completions");
        std::fs::create_dir_all(&man)?;
        std::fs::create_dir_all(&completions)?;
        for mut command in commands {
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "error: failed to write completions and man pages to {}: {e}",
                    out.display()
                );
            }
            ExitCode::from(70)
        }
    }
}
