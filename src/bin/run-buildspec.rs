use buildsteps::steps::run_buildspec::RunBuildspec;
use std::process::ExitCode;

fn main() -> ExitCode {
    buildsteps::cli::run::<RunBuildspec>()
}
