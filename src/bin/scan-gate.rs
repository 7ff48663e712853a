use buildsteps::steps::scan_gate::ScanGate;
use std::process::ExitCode;

fn main() -> ExitCode {
    buildsteps::cli::run::<ScanGate>()
}
