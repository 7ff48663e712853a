//! One module per step: its flags (clap derive, each with an environment fallback) and its logic.

pub mod build_push;
pub mod ecr_login;
pub mod render_taskdef;
pub mod run_buildspec;
pub mod scan_gate;
pub mod tag_commit;

use clap::CommandFactory;

/// The binaries, one per step, in the order the README introduces them. This is the one list:
/// `bin/release` and the release tests read it through `buildsteps-dist --list`.
pub const BINARIES: [&str; 6] = [
    "ecr-login",
    "build-push",
    "tag-commit",
    "render-taskdef",
    "scan-gate",
    "run-buildspec",
];

/// Each binary's clap definition, in [`BINARIES`] order (for man pages, completions and checks).
pub fn commands() -> [clap::Command; 6] {
    [
        ecr_login::EcrLogin::command(),
        build_push::BuildPush::command(),
        tag_commit::TagCommit::command(),
        render_taskdef::RenderTaskdef::command(),
        scan_gate::ScanGate::command(),
        run_buildspec::RunBuildspec::command(),
    ]
}

#[cfg(test)]
mod tests {
    use super::{BINARIES, commands};

    #[test]
    fn every_command_definition_is_consistent_and_named_as_its_binary() {
        for (command, name) in commands().into_iter().zip(BINARIES) {
            assert_eq!(command.get_name(), name);
            // clap's own checks: no two flags with one name, defaults among possible values, every
            // `requires`/`conflicts_with` naming an argument that exists, subcommands likewise.
            command.debug_assert();
        }
        // The credential-helper personality of ecr-login is a command too.
        <super::ecr_login::helper::CredentialHelper as clap::CommandFactory>::command()
            .debug_assert();
    }

    #[test]
    fn every_binary_has_its_source_file() {
        for name in BINARIES {
            let path = format!("{}/src/bin/{name}.rs", env!("CARGO_MANIFEST_DIR"));
            assert!(std::path::Path::new(&path).exists(), "{path}");
        }
    }
}
