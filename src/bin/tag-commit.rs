use buildsteps::steps::tag_commit::TagCommit;
use std::process::ExitCode;

fn main() -> ExitCode {
    buildsteps::cli::run::<TagCommit>()
}
