#!/usr/bin/env python3
"""bin/bench multiarch: the multi-platform example (examples/multiarch: an amd64 leg, an arm64 leg and
the merge leg) through run-buildspec's batch mode with --parallel 2 against the same legs one after
another (--parallel 1), alternating in one run; then the merge step alone, `tag-commit index` against
`docker manifest create` + `docker manifest push` (DOCKER_CLI_EXPERIMENTAL=enabled) of the same two
platform images.

Every batch round is cold: new bytes in the app (so new layers for both legs), an empty layer cache
(a new BUILDSTEPS_CACHE_DIR), the engine's build cache pruned, a new repository; each leg logs in
afresh (ecr-login fetches a new token, no token cache). The merge rounds use no cache of ours (tag-commit keeps none): each round writes a
new tag for both sides.

`docker manifest push` speaks plain HTTP to a registry at a loopback address (the engine lists
127.0.0.0/8 as insecure, and the rig's ECR host name resolves there), so this script serves the
rig's registry storage and logins on 127.0.0.1:80 too, for docker only: docker's push is then one
TLS handshake cheaper than ours, never dearer."""
import json
import os
import shutil
import subprocess
import tempfile
import time

from timing import median, timed

registry = os.environ["BUILDSTEPS_RIG_REGISTRY"]
rounds = int(os.environ.get("ROUNDS", "3"))
aws = os.environ["BUILDSTEPS_RIG_AWS_CLI"]
root = os.environ["REPO_ROOT"]
bins = os.environ["BIN_DIR"]
work = tempfile.mkdtemp(prefix="bench-multiarch-")
docker_config = os.path.join(work, "docker")
os.makedirs(docker_config)
env = dict(os.environ, DOCKER_CONFIG=docker_config, PATH=f"{bins}:{os.environ['PATH']}",
           DOCKER_CLI_EXPERIMENTAL="enabled")
env.pop("BUILDSTEPS_COMMIT", None)


def sh(*args, **kw):
    return subprocess.run(args, check=True, env=kw.pop("env", env), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


def repository(name):
    subprocess.run([aws, "ecr", "create-repository", "--repository-name", name], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def checkout(n):
    """A new checkout of the example with new bytes in the app (64 MiB of random data, so each leg
    builds and pushes a new layer of that size)."""
    src = os.path.join(work, f"src-{n}")
    for f in ("appspec.yaml", "examples/app", "examples/multiarch"):
        s, d = os.path.join(root, f), os.path.join(src, f)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        (shutil.copytree if os.path.isdir(s) else shutil.copy)(s, d)
    with open(os.path.join(src, "examples/app/www/payload.bin"), "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.email=b@b", "-c", "user.name=b", "commit", "-q", "-m", "x"]):
        sh("git", *cmd, cwd=src)
    return src


def batch(parallel, n):
    src = checkout(f"{n}-{parallel}")
    repo = f"bench-multiarch/p{parallel}-{n}-{os.getpid()}"
    repository(repo)
    cache = os.path.join(work, f"cache-{n}-{parallel}")
    e = dict(env, BUILDSTEPS_CACHE_DIR=cache)
    subprocess.run(["docker", "builder", "prune", "-af"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    args = [os.path.join(bins, "run-buildspec"), os.path.join(src, "examples/multiarch/buildspec.yml"),
            "--src", src, "--out", os.path.join(work, f"out-{n}-{parallel}"), "--parallel", str(parallel),
            "--env", f"REPOSITORY={repo}",
            "--env", f"BASE_IMAGE_amd64={os.environ['BUILDSTEPS_RIG_BASE_IMAGE']}",
            "--env", f"BASE_IMAGE_arm64={os.environ['BUILDSTEPS_RIG_ARM64_BASE_IMAGE']}",
            "--env", "FAIL_ON=CRITICAL", "--json"]
    return timed(sh, *args, env=e)


def platform_images():
    """Two platform images pushed by digest, for the merge rounds: (repository URI, [digests])."""
    src = checkout("merge")
    name = f"bench-multiarch/merge-{os.getpid()}"
    repository(name)
    uri = f"{registry}/{name}"
    digests = []
    for arch, base in (("amd64", os.environ["BUILDSTEPS_RIG_BASE_IMAGE"]),
                       ("arm64", os.environ["BUILDSTEPS_RIG_ARM64_BASE_IMAGE"])):
        out = sh(os.path.join(bins, "build-push"), os.path.join(src, "examples/app"), "-r", uri,
                 "--platform", f"linux/{arch}", "--push-by-digest", "--build-arg", f"BASE={base}",
                 "--platform-image", os.path.join(work, f"{arch}.json"), "--json")
        digests.append(json.loads(out.stdout)["digest"])
    return uri, digests


def plain_http_registry():
    """The rig's registry storage and logins, also on plain HTTP at 127.0.0.1:80 (for docker)."""
    rig = os.environ["BUILDSTEPS_RIG_DIR"]
    config = os.path.join(work, "registry-80.yml")
    with open(config, "w") as f:
        f.write(f"""version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {rig}/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:80
auth:
  htpasswd:
    realm: buildsteps-rig
    path: {rig}/htpasswd
""")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    return proc


def main():
    sh(os.path.join(bins, "ecr-login"))
    print(f"bench multiarch: {rounds} alternating rounds of the example batch, cold (new bytes, "
          "empty layer cache, pruned build cache, new repository each round)", flush=True)
    parallel, sequential = [], []
    for i in range(rounds):
        parallel.append(batch(2, i))
        sequential.append(batch(1, i))
    mp, ms = median(parallel), median(sequential)
    print(f"multiarch batch (2 legs + merge): --parallel 2 median {mp:.2f} s, --parallel 1 median {ms:.2f} s, "
          f"ratio {mp/ms:.3f}", flush=True)

    uri, (amd, arm) = platform_images()
    registry_80 = plain_http_registry()
    ours, theirs = [], []
    merge_rounds = max(rounds, 10)
    for i in range(merge_rounds):
        ours.append(timed(sh, os.path.join(bins, "tag-commit"), "index", "-r", uri, "--source", amd,
                          "--source", arm, "--latest", "false", "--commit-tag", "none", "--tag", f"ours-{i}",
                          "--image-detail", os.path.join(work, f"detail-{i}.json")))
        tag = f"{uri}:theirs-{i}"

        def docker_manifest():
            sh("docker", "manifest", "create", tag, f"{uri}@{amd}", f"{uri}@{arm}")
            sh("docker", "manifest", "push", "--purge", tag)
        theirs.append(timed(docker_manifest))
    registry_80.terminate()
    mo, mt = median(ours), median(theirs)
    print(f"merge of 2 platform images: tag-commit index median {mo*1000:.0f} ms, docker manifest create + "
          f"push median {mt*1000:.0f} ms, ratio {mo/mt:.3f} (target <= 0.3; {merge_rounds} alternating rounds)")


try:
    main()
finally:
    shutil.rmtree(work, ignore_errors=True)
