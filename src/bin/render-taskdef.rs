use buildsteps::steps::render_taskdef::RenderTaskdef;
use std::process::ExitCode;

fn main() -> ExitCode {
    buildsteps::cli::run::<RenderTaskdef>()
}
