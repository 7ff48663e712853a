use buildsteps::steps::build_push::BuildPush;
use std::process::ExitCode;

fn main() -> ExitCode {
    buildsteps::cli::run::<BuildPush>()
}
