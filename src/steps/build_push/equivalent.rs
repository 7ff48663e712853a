//! `--print-equivalent`: the docker commands that reproduce a plan — `docker build` with the same
//! Dockerfile, build args, labels, target and tags, a `docker push` per tag, and the `printf` that
//! writes the minimal imageDetail.json.

use super::plan::Plan;
use crate::output::shell_quote;

/// The commands for `plan`, pushing to `repository` as given on the command line (a bare name is put
/// under `"$ECR_REGISTRY"`); one per line.
pub(super) fn commands(repository: &str, plan: &Plan) -> String {
    let repo = if repository.contains('/')
        && repository
            .split('/')
            .next()
            .is_some_and(|f| f.contains('.'))
    {
        repository.to_string()
    } else {
        format!("\"$ECR_REGISTRY\"/{repository}")
    };
    let mut cmd = docker_build(&repo, plan);
    for t in &plan.tags {
        cmd.push_str(&format!("docker push {repo}:{t}\n"));
    }
    cmd.push_str(&format!(
        "printf '{{\"ImageURI\":\"%s\"}}' \"$(docker inspect --format '{{{{index .RepoDigests 0}}}}' {repo}:{})\" > {}\n",
        plan.tags[0],
        shell_quote(&plan.artifacts.image_detail().display().to_string())
    ));
    cmd
}

/// `docker build …` for `plan`, tagging every tag under `repo`; ends with a newline.
fn docker_build(repo: &str, plan: &Plan) -> String {
    let build = &plan.build;
    let mut cmd = format!(
        "docker build -f {}",
        shell_quote(&build.dockerfile.display().to_string())
    );
    for (k, v) in &build.args {
        cmd.push_str(&format!(
            " --build-arg {}",
            shell_quote(&format!("{k}={v}"))
        ));
    }
    let mut sorted: Vec<_> = build.labels.iter().collect();
    sorted.sort();
    for (k, v) in sorted {
        cmd.push_str(&format!(" --label {}", shell_quote(&format!("{k}={v}"))));
    }
    if let Some(t) = &build.target {
        cmd.push_str(&format!(" --target {t}"));
    }
    for t in &plan.tags {
        cmd.push_str(&format!(" -t {repo}:{t}"));
    }
    cmd.push_str(&format!(
        " {}\n",
        shell_quote(&build.context_dir.display().to_string())
    ));
    cmd
}
