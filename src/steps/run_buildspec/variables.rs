//! The variables the commands see, in the order each layer overrides the one before: the process
//! environment, CodeBuild's (`CODEBUILD_BUILD_ID`, `CODEBUILD_SRC_DIR`, `AWS_REGION`, …),
//! `env.variables`, `--env`, and last the parameter-store and secrets-manager values. Also the build
//! ID (`project:uuid`).

use super::LegRun;
use super::args::RunBuildspec;
use crate::adapters::git;
use crate::buildspec::Buildspec;
use crate::environment::Environment;
use std::collections::BTreeMap;
use std::path::Path;

/// Every variable for the build shell: `process`, then `codebuild`, then `spec`'s `env.variables`,
/// then a batch leg's `env.variables`, then `--env`, then `secrets` (each replacing a variable of
/// the same name).
pub(super) fn environment(
    args: &RunBuildspec,
    process: &Environment,
    spec: &Buildspec,
    codebuild: Vec<(&'static str, String)>,
    secrets: &[(String, String)],
    leg: Option<&LegRun<'_>>,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = process
        .vars()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in codebuild {
        env.insert(k.to_string(), v);
    }
    for (k, v) in &spec.variables {
        env.insert(k.clone(), v.clone());
    }
    // A batch leg's `env.variables` are the overrides its build starts with: over the buildspec's.
    for (k, v) in leg.map_or(&[][..], |l| l.variables) {
        env.insert(k.clone(), v.clone());
    }
    for (k, v) in &args.env {
        env.insert(k.clone(), v.clone());
    }
    let mut env: Vec<(String, String)> = env.into_iter().collect();
    for (k, v) in secrets {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// The variables CodeBuild sets for a build of `src` (at `head`, when it is a git checkout).
pub(super) fn codebuild(
    args: &RunBuildspec,
    process: &Environment,
    src: &Path,
    build_id: &str,
    head: Option<&git::Head>,
    leg: Option<&LegRun<'_>>,
) -> Vec<(&'static str, String)> {
    let region = region(args, process);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let version = head.map(|h| h.commit.clone()).unwrap_or_default();
    let image = leg.and_then(|l| l.image).unwrap_or("local").to_string();
    let mut vars = vec![
        ("CODEBUILD_CI", "true".to_string()),
        ("CODEBUILD_BUILD_ID", build_id.to_string()),
        ("CODEBUILD_BUILD_NUMBER", args.build_number.to_string()),
        ("CODEBUILD_SRC_DIR", src.display().to_string()),
        ("CODEBUILD_RESOLVED_SOURCE_VERSION", version.clone()),
        (
            "CODEBUILD_SOURCE_VERSION",
            head.and_then(|h| h.branch.clone()).unwrap_or(version),
        ),
        ("CODEBUILD_BUILD_SUCCEEDING", "1".to_string()),
        ("CODEBUILD_START_TIME", start.to_string()),
        ("CODEBUILD_INITIATOR", "run-buildspec".to_string()),
        ("CODEBUILD_BUILD_IMAGE", image),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region),
    ];
    if let Some(leg) = leg {
        vars.push((
            "CODEBUILD_BATCH_BUILD_IDENTIFIER",
            leg.identifier.to_string(),
        ));
        vars.push(("CODEBUILD_BUILD_BATCH_ARN", leg.batch_arn.to_string()));
    }
    vars
}

/// `--region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
pub(super) fn region(args: &RunBuildspec, process: &Environment) -> String {
    args.region
        .clone()
        .or_else(|| process.var("AWS_REGION").map(str::to_string))
        .or_else(|| process.var("AWS_DEFAULT_REGION").map(str::to_string))
        .unwrap_or_else(|| "us-east-1".into())
}

/// `CODEBUILD_BUILD_ID`: `project:uuid`, the project being `--project` or the source directory's
/// name.
pub(super) fn build_id(project: Option<&str>, src: &Path) -> String {
    format!("{}:{}", project_name(project, src), uuid())
}

/// The project's name: `--project`, else the source directory's name.
pub(super) fn project_name(project: Option<&str>, src: &Path) -> String {
    project.map_or_else(
        || {
            src.file_name()
                .map_or_else(|| "local".into(), |n| n.to_string_lossy().into_owned())
        },
        str::to_string,
    )
}

/// A random build UUID (version 4 layout) from the OS generator.
pub(super) fn uuid() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::reference::hex_lower(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn uuids() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(build_id(None, Path::new("/work/shop")).starts_with("shop:"));
        assert!(build_id(Some("p"), Path::new("/")).starts_with("p:"));
        assert!(build_id(None, Path::new("/")).starts_with("local:"));
    }

    #[test]
    fn later_layers_win() {
        let args =
            RunBuildspec::parse_from(["run-buildspec", "--env", "B=flag", "--env", "S=flag"]);
        let process = Environment::new([("A", "process"), ("B", "process"), ("PATH", "/bin")], "/");
        let spec = Buildspec {
            variables: vec![("A".into(), "spec".into()), ("B".into(), "spec".into())],
            ..Buildspec::default()
        };
        let codebuild = codebuild(&args, &process, Path::new("/src"), "p:1", None, None);
        let env = environment(
            &args,
            &process,
            &spec,
            codebuild,
            &[("S".into(), "secret".into())],
            None,
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("spec"));
        assert_eq!(get("B"), Some("flag"));
        assert_eq!(get("S"), Some("secret"));
        assert_eq!(get("PATH"), Some("/bin"));
        assert_eq!(get("AWS_REGION"), Some("us-east-1"));
        assert_eq!(get("CODEBUILD_SRC_DIR"), Some("/src"));
        assert_eq!(env.iter().filter(|(n, _)| n == "S").count(), 1);
    }
}
