//! The builder and what only BuildKit takes: `--builder` (and `DOCKER_BUILDKIT`, as docker reads
//! it), `--secret`, `--ssh`, `--cache-from` and `--cache-to`, `--network`, each checked before
//! anything runs. `--network` is taken by both builders.

use super::BuildPush;
use super::args::{BuilderArg, CacheTo};
use super::error::BuildPushError;
use crate::adapters::buildkit::session::SecretValue;
use crate::adapters::docker::Builder;
use crate::environment::Environment;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What BuildKit is given beyond the classic builder's settings.
#[derive(Debug, Default)]
pub(super) struct BuildKit {
    /// Secrets by ID.
    pub(super) secrets: BTreeMap<String, SecretValue>,
    /// The SSH agent's socket.
    pub(super) ssh_agent: Option<PathBuf>,
    /// `--cache-from` images.
    pub(super) cache_from: Vec<String>,
    /// Inline cache metadata in the image (`--cache-to inline`).
    pub(super) inline_cache: bool,
    /// `--network`.
    pub(super) network: Option<String>,
    /// The docker flags that ask for all of the above, for `--print-equivalent` (names and paths,
    /// never a secret's value).
    pub(super) docker_flags: Vec<String>,
}

/// The builder `--builder` or `DOCKER_BUILDKIT` chooses, and BuildKit's settings; the classic
/// builder refuses what it cannot do rather than ignore it.
pub(super) fn choose(
    args: &BuildPush,
    env: &Environment,
) -> Result<(Builder, BuildKit), BuildPushError> {
    let builder = match args.builder {
        Some(BuilderArg::Buildkit) => Builder::BuildKit,
        Some(BuilderArg::Classic) => Builder::Classic,
        None => match env.var("DOCKER_BUILDKIT").map(str::trim) {
            Some("0" | "false" | "FALSE" | "False") => Builder::Classic,
            _ => Builder::BuildKit,
        },
    };
    let mut docker_flags = Vec::new();
    for s in args.secrets.iter().filter(|s| !s.trim().is_empty()) {
        docker_flags.extend(["--secret".to_string(), s.clone()]);
    }
    if let Some(ssh) = args.ssh.as_deref().filter(|s| !s.trim().is_empty()) {
        docker_flags.extend(["--ssh".to_string(), ssh.to_string()]);
    }
    for c in args.cache_from.iter().filter(|c| !c.trim().is_empty()) {
        docker_flags.extend(["--cache-from".to_string(), c.clone()]);
    }
    if let Some(n) = args.network.as_deref().filter(|n| !n.trim().is_empty()) {
        docker_flags.extend(["--network".to_string(), n.to_string()]);
    }
    let kit = BuildKit {
        secrets: secrets(&args.secrets, env)?,
        ssh_agent: ssh(args.ssh.as_deref(), env)?,
        cache_from: cache_from(&args.cache_from)?,
        inline_cache: match args.cache_to {
            Some(CacheTo::Inline) => true,
            Some(CacheTo::None) => false,
            None => !args.cache_from.is_empty(),
        },
        network: network(args.network.as_deref())?,
        docker_flags,
    };
    if builder == Builder::Classic {
        let needs = [
            ("--secret", !kit.secrets.is_empty()),
            ("--ssh", kit.ssh_agent.is_some()),
            ("--cache-from", !kit.cache_from.is_empty()),
            ("--cache-to inline", kit.inline_cache),
        ];
        if let Some((flag, _)) = needs.iter().find(|(_, given)| *given) {
            return Err(flag_error(
                "--builder",
                "classic",
                &format!("{flag} needs BuildKit, and the classic builder was chosen"),
                "drop --builder classic (or DOCKER_BUILDKIT=0) to build with BuildKit",
            ));
        }
    }
    Ok((builder, kit))
}

fn flag_error(flag: &'static str, value: &str, reason: &str, help: &str) -> BuildPushError {
    BuildPushError::Flag {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
        help: help.to_string(),
    }
}

/// `--secret id=ID,src=PATH` / `id=ID,env=VAR` (also `source=`, `type=file|env`, and `id=ID` alone
/// with `type=env` naming the variable `ID`), read now: a missing file or variable fails before the
/// build. The value given in the flag is a path or a name, never the secret itself.
fn secrets(
    flags: &[String],
    env: &Environment,
) -> Result<BTreeMap<String, SecretValue>, BuildPushError> {
    const HELP: &str = "pass --secret id=ID,src=PATH or --secret id=ID,env=VARIABLE";
    let mut out = BTreeMap::new();
    for flag in flags.iter().filter(|f| !f.trim().is_empty()) {
        let bad = |reason: &str| flag_error("--secret", flag, reason, HELP);
        let (mut id, mut src, mut var, mut kind) = (None, None, None, None);
        for field in flag.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| bad(&format!("`{field}` is not KEY=VALUE")))?;
            match key.trim() {
                "id" => id = Some(value.to_string()),
                "src" | "source" => src = Some(value.to_string()),
                "env" => var = Some(value.to_string()),
                "type" => kind = Some(value.to_string()),
                other => return Err(bad(&format!("unknown key `{other}`"))),
            }
        }
        let id = id
            .filter(|i| !i.is_empty())
            .ok_or_else(|| bad("no id= given"))?;
        if out.contains_key(&id) {
            return Err(bad(&format!("the secret `{id}` is given twice")));
        }
        let value = match (kind.as_deref(), src, var) {
            (_, Some(_), Some(_)) => return Err(bad("give src= or env=, not both")),
            (Some("env"), Some(name), None) | (_, None, Some(name)) => env_secret(env, &name)
                .ok_or_else(|| bad(&format!("the environment variable `{name}` is not set")))?,
            (Some("env"), None, None) => env_secret(env, &id)
                .ok_or_else(|| bad(&format!("the environment variable `{id}` is not set")))?,
            (None | Some("file"), Some(path), None) => {
                let path = env.resolve(std::path::Path::new(&path));
                std::fs::read(&path)
                    .map_err(|e| bad(&format!("read the secret file `{}`: {e}", path.display())))?
            }
            (None | Some("file"), None, None) => return Err(bad("no src= or env= given")),
            (Some(other), _, _) => {
                return Err(bad(&format!("unknown type `{other}` (file or env)")));
            }
        };
        out.insert(id, SecretValue(value));
    }
    Ok(out)
}

fn env_secret(env: &Environment, name: &str) -> Option<Vec<u8>> {
    env.var(name).map(|v| v.as_bytes().to_vec())
}

/// `--ssh default` (the agent at `$SSH_AUTH_SOCK`) or `default=SOCKET`.
fn ssh(flag: Option<&str>, env: &Environment) -> Result<Option<PathBuf>, BuildPushError> {
    let Some(flag) = flag.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let bad = |reason: &str| {
        flag_error(
            "--ssh",
            flag,
            reason,
            "pass --ssh default with an agent running (SSH_AUTH_SOCK set), or --ssh default=SOCKET",
        )
    };
    let socket = match flag.split_once('=') {
        Some(("default", path)) => PathBuf::from(path),
        None if flag == "default" => env
            .var("SSH_AUTH_SOCK")
            .map(PathBuf::from)
            .ok_or_else(|| bad("SSH_AUTH_SOCK is not set"))?,
        _ => return Err(bad("only the `default` agent is forwarded")),
    };
    let socket = env.resolve(&socket);
    if !socket.exists() {
        return Err(bad(&format!(
            "the agent socket `{}` does not exist",
            socket.display()
        )));
    }
    Ok(Some(socket))
}

/// `--cache-from IMAGE` or `type=registry,ref=IMAGE`.
fn cache_from(flags: &[String]) -> Result<Vec<String>, BuildPushError> {
    let mut out = Vec::new();
    for flag in flags.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        let bad = |reason: &str| {
            flag_error(
                "--cache-from",
                flag,
                reason,
                "name an image in a registry, e.g. --cache-from 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:latest",
            )
        };
        let image = if flag.contains('=') {
            let mut image = None;
            for field in flag.split(',') {
                match field.split_once('=') {
                    Some(("type", "registry")) => {}
                    Some(("ref", r)) => image = Some(r.to_string()),
                    Some(("type", other)) => {
                        return Err(bad(&format!(
                            "the cache type `{other}` is not supported (registry)"
                        )));
                    }
                    _ => return Err(bad(&format!("unknown field `{field}`"))),
                }
            }
            image.ok_or_else(|| bad("no ref= given"))?
        } else {
            flag.to_string()
        };
        if image.is_empty() || image.chars().any(char::is_whitespace) {
            return Err(bad("not an image reference"));
        }
        if !out.contains(&image) {
            out.push(image);
        }
    }
    Ok(out)
}

/// `--network`: the modes BuildKit knows.
fn network(flag: Option<&str>) -> Result<Option<String>, BuildPushError> {
    match flag.map(str::trim) {
        None | Some("") => Ok(None),
        Some(mode @ ("default" | "host" | "none")) => Ok(Some(mode.to_string())),
        Some(other) => Err(flag_error(
            "--network",
            other,
            "BuildKit runs steps on `default`, `host` or `none`",
            "pass --network default, host or none",
        )),
    }
}

/// The registry host of an image reference, as docker reads it (`docker.io` when the first part
/// is not a host).
pub(super) fn registry_of(image: &str) -> String {
    crate::reference::docker::split_docker_domain(image)
        .0
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{cache_from, registry_of};

    #[test]
    fn cache_sources_take_docker_syntax() {
        assert_eq!(
            cache_from(&[
                "a.example/app:latest".into(),
                "type=registry,ref=b.example/x:1".into()
            ])
            .unwrap(),
            ["a.example/app:latest", "b.example/x:1"]
        );
        assert!(cache_from(&["type=local,src=dir".into()]).is_err());
        assert!(cache_from(&["type=registry".into()]).is_err());
        assert_eq!(registry_of("r.example:5000/app:1"), "r.example:5000");
        assert_eq!(registry_of("library/app"), "docker.io");
    }
}
