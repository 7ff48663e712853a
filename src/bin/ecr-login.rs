use buildsteps::steps::ecr_login::{EcrLogin, helper::CredentialHelper};
use std::process::ExitCode;

fn main() -> ExitCode {
    // One binary, two names: linked as `docker-credential-ecr-login` it is docker's credential helper.
    if buildsteps::cli::invoked_as("docker-credential-ecr-login") {
        buildsteps::cli::run::<CredentialHelper>()
    } else {
        buildsteps::cli::run::<EcrLogin>()
    }
}
