//! `--print-equivalent`: the docker commands that reproduce a plan — `docker build` with the same
//! builder, Dockerfile, build args, secrets (by name or path), labels, target, platform, cache
//! flags and tags, a `docker push` per tag,
//! and the `printf` that writes the minimal imageDetail.json. Every value that is not plain is
//! shell-quoted, and a build arg whose value came from the environment is passed by name, as it was
//! given: its value (a token, say) is never printed.

use super::plan::Plan;
use crate::adapters::docker::Builder;
use crate::output::shell_quote;

/// The commands for `plan`, pushing to the repository `--repository` names: `registry` when it names
/// one, else `"$ECR_REGISTRY"`, and the repository `path` (both checked, so printed as they are); one
/// command per line.
pub(super) fn commands(registry: Option<&str>, path: &str, plan: &Plan) -> String {
    let repo = match registry {
        Some(r) => format!("{r}/{path}"),
        None => format!("\"$ECR_REGISTRY\"/{path}"),
    };
    let mut cmd = docker_build(&repo, plan);
    for t in tags(plan) {
        cmd.push_str(&format!("docker push {repo}:{t}\n"));
    }
    if plan.artifacts.platform_image().is_some() {
        // docker pushes by tag only; the descriptor has no docker command.
        return cmd;
    }
    cmd.push_str(&format!(
        "printf '{{\"ImageURI\":\"%s\"}}' \"$(docker inspect --format '{{{{index .RepoDigests 0}}}}' {repo}:{})\" > {}\n",
        plan.local_tag,
        shell_quote(&plan.artifacts.image_detail().display().to_string())
    ));
    cmd
}

/// The tags docker gives the image: the plan's, else (pushed by digest alone) the local one.
fn tags(plan: &Plan) -> &[String] {
    if plan.tags.is_empty() {
        std::slice::from_ref(&plan.local_tag)
    } else {
        &plan.tags
    }
}

/// `docker build …` for `plan`, tagging every tag under `repo`; ends with a newline.
fn docker_build(repo: &str, plan: &Plan) -> String {
    let build = &plan.build;
    let builder = match build.builder {
        Builder::BuildKit => "DOCKER_BUILDKIT=1",
        Builder::Classic => "DOCKER_BUILDKIT=0",
    };
    let mut cmd = format!(
        "{builder} docker build -f {}",
        shell_quote(&build.dockerfile.display().to_string())
    );
    if build.kit.inline_cache {
        cmd.push_str(" --build-arg BUILDKIT_INLINE_CACHE=1");
    }
    for flag in &build.kit.docker_flags {
        let quoted = if flag.starts_with("--") {
            flag.clone()
        } else {
            shell_quote(flag)
        };
        cmd.push_str(&format!(" {quoted}"));
    }
    let mut args: Vec<_> = build.args.iter().collect();
    args.sort();
    for (k, v) in args {
        let arg = if build.args_from_env.contains(k) {
            k.clone()
        } else {
            format!("{k}={v}")
        };
        cmd.push_str(&format!(" --build-arg {}", shell_quote(&arg)));
    }
    let mut sorted: Vec<_> = build.labels.iter().collect();
    sorted.sort();
    for (k, v) in sorted {
        cmd.push_str(&format!(" --label {}", shell_quote(&format!("{k}={v}"))));
    }
    if let Some(t) = &build.target {
        cmd.push_str(&format!(" --target {}", shell_quote(t)));
    }
    if let Some(p) = &build.platform {
        cmd.push_str(&format!(" --platform {}", shell_quote(p)));
    }
    if build.no_cache {
        cmd.push_str(" --no-cache");
    }
    if build.pull {
        cmd.push_str(" --pull");
    }
    for t in tags(plan) {
        cmd.push_str(&format!(" -t {repo}:{t}"));
    }
    cmd.push_str(&format!(
        " {}\n",
        shell_quote(&build.context_dir.display().to_string())
    ));
    cmd
}
