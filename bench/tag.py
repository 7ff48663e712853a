#!/usr/bin/env python3
"""bin/bench tag: tag-commit against `skopeo copy` (same repository, new tag), alternating in one run,
for an image with a 256 MiB layer and one with a 2 GiB layer. Adding a tag should cost the same for both:
no blob byte moves."""
import os
import subprocess
import tempfile

from timing import median, timed

registry = os.environ["BUILDSTEPS_RIG_REGISTRY"]
rounds = int(os.environ.get("ROUNDS", "10"))
aws = os.environ["BUILDSTEPS_RIG_AWS_CLI"]
work = tempfile.mkdtemp(prefix="bench-tag-")
env = dict(os.environ, DOCKER_CONFIG=os.path.join(work, "docker"), BUILDSTEPS_CACHE_DIR=os.path.join(work, "cache"),
           BUILDSTEPS_COMMIT="0" * 40)
creds = "AWS:" + os.environ["BUILDSTEPS_RIG_PASSWORD"]


def sh(*args):
    return subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def pushed_image(name, size):
    ctx = os.path.join(work, name)
    os.makedirs(ctx)
    with open(os.path.join(ctx, "payload.bin"), "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM local/busybox:1\nCOPY payload.bin /payload.bin\n")
    subprocess.run([aws, "ecr", "create-repository", "--repository-name", f"bench-tag/{name}"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh(os.environ["BUILD_PUSH"], ctx, "-r", f"{registry}/bench-tag/{name}", "--latest", "false",
       "--commit-tag", "none", "--tag", "src", "--image-detail", os.path.join(ctx, "imageDetail.json"))


def run(args):
    sh(*args)


def main():
    subprocess.run([os.environ["ECR_LOGIN"]], env=env, check=True, stderr=subprocess.DEVNULL)
    print("bench tag: pushing images with a 256 MiB and a 2 GiB layer", flush=True)
    results = {}
    for name, size in (("l256m", 256 << 20), ("l2g", 2 << 30)):
        pushed_image(name, size)
        repo = f"{registry}/bench-tag/{name}"
        ours, skopeo = [], []
        for i in range(rounds):
            ours.append(timed(run, [os.environ["TAG_COMMIT"], "-r", repo, "--source", "src", "--tag", f"ours-{i}",
                               "--commit-tag", "none"]))
            skopeo.append(timed(run, ["skopeo", "copy", "-q", "--src-creds", creds, "--dest-creds", creds,
                                 f"docker://{repo}:src", f"docker://{repo}:skopeo-{i}"]))
        mo, ms = median(ours), median(skopeo)
        results[name] = mo
        label = "256 MiB" if name == "l256m" else "2 GiB"
        print(f"tag {label} layer: tag-commit median {mo*1000:.1f} ms, skopeo copy median {ms*1000:.1f} ms, "
              f"ratio {mo/ms:.3f} (target <= 0.5; {rounds} alternating rounds)")
    print(f"tag: 2 GiB / 256 MiB tag-commit time = {results['l2g']/results['l256m']:.2f} (target 0.8..1.2)")


main()
