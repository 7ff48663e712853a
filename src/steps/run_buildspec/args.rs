//! `run-buildspec`'s flags: the clap struct (its doc comments are `--help`) and the `--env` parser.

use crate::output::OutputArgs;
use std::path::PathBuf;

/// Run a CodeBuild buildspec locally, the way CodeBuild runs it.
///
///   run-buildspec                                   # ./buildspec.yml on this directory, artifacts in ./out
///   run-buildspec ci/buildspec.yml --src app --out build/out
///   run-buildspec --env DB_PASSWORD=… --env IMAGE_REPO_NAME=app   # set or override variables
///   run-buildspec examples/multiarch/buildspec.yml --parallel 2   # a batch: its legs, then a table
///
/// A buildspec with `batch:` (build-graph, build-list or build-matrix) runs as a batch build: each
/// leg is a build of its own, in its own copy of the source (the files git does not ignore), with
/// its own shell, CODEBUILD_BUILD_ID, CODEBUILD_BATCH_BUILD_IDENTIFIER and
/// CODEBUILD_BUILD_BATCH_ARN, its env.variables over the buildspec's; legs start once the legs
/// they depend on succeeded, up to --parallel at once; each log line starts with `[IDENTIFIER]`,
/// and each leg's artifacts go to OUT/IDENTIFIER/. A leg's image and compute type are reported
/// (with the platform they imply: ARM_CONTAINER is linux/arm64), not emulated. fast-fail stops the
/// other legs when one fails; a leg with ignore-failure does not fail the batch.
///
/// Variables: the process environment, then the CodeBuild ones (CODEBUILD_BUILD_ID,
/// CODEBUILD_SRC_DIR, CODEBUILD_RESOLVED_SOURCE_VERSION from git, CODEBUILD_BUILD_NUMBER,
/// CODEBUILD_BUILD_SUCCEEDING, AWS_REGION, …), then `env.variables`, then --env. Variables from
/// `env.parameter-store` and `env.secrets-manager` are read through the AWS SDK (GetParameter with
/// decryption; GetSecretValue with json-key, version-stage, version-id), or taken from --env; their
/// values are masked in the log.
///
/// Exit codes: 0 the build succeeded · 1 it failed (the summary says where) · 2 bad flag or an
/// invalid buildspec (with its line number).
#[expect(
    clippy::doc_markdown,
    reason = "the help text names variables and API calls as users type them, without backticks"
)]
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "run-buildspec", version, verbatim_doc_comment)]
pub struct RunBuildspec {
    /// The buildspec to run.
    #[arg(
        value_name = "BUILDSPEC",
        default_value = "buildspec.yml",
        env = "RUN_BUILDSPEC_FILE"
    )]
    pub(super) buildspec: PathBuf,

    /// The source directory (CODEBUILD_SRC_DIR): where the commands start.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".",
        env = "RUN_BUILDSPEC_SRC"
    )]
    pub(super) src: PathBuf,

    /// Where artifacts are collected (the primary's files at the top, secondary ones under their
    /// identifier).
    #[arg(
        short = 'o',
        long,
        value_name = "DIR",
        default_value = "out",
        env = "RUN_BUILDSPEC_OUT"
    )]
    pub(super) out: PathBuf,

    /// Set a variable: NAME=VALUE (repeatable; wins over env.variables; required for
    /// parameter-store and secrets-manager variables).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub(super) env: Vec<(String, String)>,

    /// The project name in CODEBUILD_BUILD_ID (default: the source directory's name).
    #[arg(long, value_name = "NAME", env = "RUN_BUILDSPEC_PROJECT")]
    pub(super) project: Option<String>,

    /// CODEBUILD_BUILD_NUMBER.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        env = "RUN_BUILDSPEC_BUILD_NUMBER"
    )]
    pub(super) build_number: u64,

    /// Run the buildspec's phases as one build, leaving its `batch` section aside (as CodeBuild's
    /// StartBuild does; StartBuildBatch runs the legs).
    #[arg(long, env = "RUN_BUILDSPEC_NO_BATCH")]
    pub(super) no_batch: bool,

    /// How many legs of a batch run at once [default: the number of CPUs].
    #[arg(long, value_name = "N", env = "RUN_BUILDSPEC_PARALLEL", value_parser = clap::value_parser!(u16).range(1..))]
    pub(super) parallel: Option<u16>,

    /// Report the legs' primary artifacts as one artifact (the CodeBuild project's "combine
    /// artifacts" batch setting); each leg's files are in OUT/IDENTIFIER/ either way.
    #[arg(long, env = "RUN_BUILDSPEC_COMBINE_ARTIFACTS")]
    pub(super) combine_artifacts: bool,

    /// AWS_REGION and AWS_DEFAULT_REGION for the commands (default: AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION", env = "RUN_BUILDSPEC_REGION")]
    pub(super) region: Option<String>,

    #[command(flatten)]
    pub(super) output: OutputArgs,
}

/// `--env NAME=VALUE`: split on the first `=`; the name must be a shell variable name.
fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{k}` is not a variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables() {
        assert_eq!(parse_var("A_1=x=y").unwrap(), ("A_1".into(), "x=y".into()));
        assert!(parse_var("A-B=1").is_err());
    }
}
