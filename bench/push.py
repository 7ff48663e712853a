#!/usr/bin/env python3
"""bin/bench push: build-push against `docker push`, on the local rig, alternating in one run.

Cold, as a CI host starts: every round a new image with a new 256 MiB random layer, the registry's
storage emptied and build-push's layer cache (BUILDSTEPS_CACHE_DIR) emptied before each timed push.
Build + push: a Dockerfile whose RUN writes 256 MiB of new random bytes each round, build-push against
`DOCKER_BUILDKIT=1 docker build` + `docker push` (the docker.io client, BuildKit). Registry cache:
a RUN of over 10 s rebuilt on a pruned engine, with `--cache-from` against without.

Each cold round also measures the floor this rig sets: the engine's export sends its first byte
only once it has staged every layer on disk, and the registry takes bytes at its own rate (timed
with curl uploading the same 256 MiB), so no push from the engine's export can be faster than
the two added up. The floor is printed beside the ratio.

Then the same images pushed again into an emptied registry with build-push's layer cache warm from a
warm-up run (reported on their own lines: a CI host does not start that way), and unchanged
re-pushes. Images there: one 256 MiB layer of random bytes, one 256 MiB layer of system libraries
(typical binaries), and a 1 GiB random layer for the memory figure. build-push is given a Dockerfile
that is just `FROM <image>`, so its build is a cache hit and the figure is the push.
"""
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from timing import median, timed

registry = os.environ["BUILDSTEPS_RIG_REGISTRY"]
state = os.environ["BUILDSTEPS_RIG_DIR"]
rounds = int(os.environ.get("ROUNDS", "3"))
build_push = os.environ["BUILD_PUSH"]
aws = os.environ["BUILDSTEPS_RIG_AWS_CLI"]
work = tempfile.mkdtemp(prefix="bench-push-")
env = dict(os.environ, DOCKER_CONFIG=os.path.join(work, "docker"), BUILDSTEPS_CACHE_DIR=os.path.join(work, "cache"))


def sh(*args, **kw):
    return subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def image_with(name, fill):
    """A local image FROM the base image with one layer made by `fill(dir)`."""
    ctx = os.path.join(work, name)
    os.makedirs(ctx)
    fill(ctx)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM local/busybox:1\nCOPY payload /payload\n")
    sh("docker", "build", "-q", "-t", f"bench/{name}:1", ctx)


def random_payload(size):
    def fill(ctx):
        os.makedirs(os.path.join(ctx, "payload"))
        with open(os.path.join(ctx, "payload", "random.bin"), "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
    return fill


def libraries_payload(size):
    def fill(ctx):
        dest = os.path.join(ctx, "payload")
        os.makedirs(dest)
        total = 0
        for root in ("/usr/lib", "/usr/libexec", "/usr/bin", "/usr/sbin", "/usr/local/lib"):
            for dirpath, _, files in os.walk(root):
                for fn in sorted(files):
                    src = os.path.join(dirpath, fn)
                    if os.path.islink(src) or not os.path.isfile(src):
                        continue
                    n = os.path.getsize(src)
                    if total + n > size:
                        continue
                    rel = os.path.relpath(src, "/")
                    os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
                    shutil.copyfile(src, os.path.join(dest, rel))
                    total += n
                    if total >= size - (1 << 20):
                        return
    return fill


def empty_registry():
    base = os.path.join(state, "registry-data", "docker", "registry", "v2")
    for sub in ("blobs", "repositories"):
        shutil.rmtree(os.path.join(base, sub), ignore_errors=True)


class EngineConnection(http.client.HTTPConnection):
    """HTTP to the Docker engine's socket."""

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://"))


def export_first_byte(image):
    """Seconds until the engine's export of `image` (`docker save`: GET /images/{name}/get) sends
    its first byte; the whole export is read and dropped."""
    conn = EngineConnection("docker")
    t = time.perf_counter()
    conn.request("GET", f"/images/{image}/get")
    resp = conn.getresponse()
    first = None
    while resp.read(1 << 20):
        if first is None:
            first = time.perf_counter() - t
    conn.close()
    return first


def registry_ingest(path, repo):
    """Seconds the registry takes to receive the file at `path` as one blob: one streamed PATCH and
    the PUT with its digest, sent by curl (HTTP/1.1, the rig's CA). The credentials go to curl on
    its stdin, not in its arguments."""
    with open(path, "rb") as f:
        digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    base = f"https://{registry}"
    config = f'user = "AWS:{os.environ["BUILDSTEPS_RIG_PASSWORD"]}"\n'.encode()

    def curl(*args):
        out = subprocess.run(["curl", "-sS", "-f", "-K", "-", "--cacert", os.environ["BUILDSTEPS_RIG_CA"],
                              "--http1.1", "-o", "/dev/null", "-D", "-", *args], input=config, check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()
        location = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                        if line.lower().startswith("location:"))
        return location if location.startswith("http") else base + location

    upload = curl("-X", "POST", f"{base}/v2/{repo}/blobs/uploads/")
    t = time.perf_counter()
    done = curl("-X", "PATCH", "-H", "Content-Type: application/octet-stream", "-T", path, upload)
    curl("-X", "PUT", done + ("&" if "?" in done else "?") + f"digest={digest}")
    return time.perf_counter() - t


def docker_push(name):
    ref = f"{registry}/bench-docker/{name}:1"
    sh("docker", "tag", f"bench/{name}:1", ref)
    return timed(sh, "docker", "push", ref)


def ours(name):
    ctx = os.path.join(work, f"from-{name}")
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(f"FROM bench/{name}:1\n")
    cmd = [build_push, ctx, "-r", f"{registry}/bench-ours/{name}", "--commit", "0" * 40, "--latest", "false",
           "--image-detail", os.path.join(work, "imageDetail.json"), "--json"]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"build-push failed: {err.decode()}")
    return elapsed, out


def create_repository(repo):
    subprocess.run([aws, "ecr", "create-repository", "--repository-name", repo], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cold_rounds():
    """New bytes, empty registry, empty layer cache: the push a CI host does. Returns the floor's
    registry part (seconds for 256 MiB), which the build + push rounds share."""
    d, o, first_byte, ingest = [], [], [], []
    for i in range(rounds):
        name = f"fresh{i}-{os.getpid()}"
        create_repository(f"bench-ours/{name}")
        image_with(name, random_payload(256 << 20))
        first_ours = i % 2 == 1
        for side in (("ours", "docker") if first_ours else ("docker", "ours")):
            empty_registry()
            if side == "docker":
                d.append(docker_push(name))
            else:
                shutil.rmtree(env["BUILDSTEPS_CACHE_DIR"], ignore_errors=True)
                o.append(ours(name)[0])
        empty_registry()
        first_byte.append(export_first_byte(f"bench/{name}:1"))
        ingest.append(registry_ingest(os.path.join(work, name, "payload", "random.bin"), f"bench-ours/{name}"))
        subprocess.run(["docker", "rmi", "-f", f"bench/{name}:1", f"{registry}/bench-docker/{name}:1",
                        f"{registry}/bench-ours/{name}:{'0' * 40}"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    md, mo = median(d), median(o)
    print(f"push 256 MiB new random layer: cold (new bytes, empty registry and layer cache)  docker push {md:.2f} s, "
          f"build-push {mo:.2f} s, ratio {mo/md:.3f} (target <= 0.35)", flush=True)
    mf, mi = median(first_byte), median(ingest)
    print(f"  floor on this rig: the export's first byte {mf:.2f} s + the registry taking the same 256 MiB "
          f"from curl {mi:.2f} s = {mf + mi:.2f} s, ratio {(mf + mi)/md:.3f} to docker push; build-push is "
          f"{mo - mf - mi:.2f} s above it", flush=True)
    return mi
def build_and_push_rounds(ingest):
    """A RUN step writing 256 MiB of new bytes: build-push against docker build (BuildKit) + docker push.
    The floor: build-push's own build phase, the export's first byte of the image it built, and the
    registry's time for 256 MiB (`ingest`, from the cold rounds)."""
    network = os.environ.get("BUILD_PUSH_NETWORK") or "default"
    create_repository("bench-ours/built")
    d, o, build, first_byte = [], [], [], []
    for i in range(rounds):
        for side in (("ours", "docker") if i % 2 else ("docker", "ours")):
            ctx = os.path.join(work, f"built-{side}-{i}")
            os.makedirs(ctx)
            nonce = os.urandom(8).hex()
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write(f"FROM local/busybox:1\nRUN echo {nonce} && head -c 268435456 /dev/urandom > /big\n")
            empty_registry()
            if side == "docker":
                ref = f"{registry}/bench-docker/built:{nonce}"
                t = time.perf_counter()
                subprocess.run(["/usr/bin/docker", "build", "-q", "--network", network, "-t", ref, ctx],
                               check=True, env=dict(env, DOCKER_BUILDKIT="1"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
                sh("docker", "push", ref)
                d.append(time.perf_counter() - t)
                subprocess.run(["docker", "rmi", "-f", ref], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            else:
                shutil.rmtree(env["BUILDSTEPS_CACHE_DIR"], ignore_errors=True)
                commit = nonce.ljust(40, "0")
                cmd = [build_push, ctx, "-r", f"{registry}/bench-ours/built", "--commit", commit,
                       "--latest", "false", "--image-detail", os.path.join(work, "imageDetail.json"), "--json"]
                t = time.perf_counter()
                proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                o.append(time.perf_counter() - t)
                if proc.returncode != 0:
                    raise SystemExit(f"build-push failed: {proc.stderr.decode()}")
                build.append(json.loads(proc.stdout)["timings"]["build_ms"] / 1000)
                first_byte.append(export_first_byte(f"{registry}/bench-ours/built:{commit}"))
    md, mo = median(d), median(o)
    print(f"build + push, RUN writing 256 MiB of new bytes: docker build (BuildKit) + docker push {md:.2f} s, "
          f"build-push {mo:.2f} s, ratio {mo/md:.3f} (target <= 0.6)", flush=True)
    mb, mf = median(build), median(first_byte)
    print(f"  floor on this rig: build-push's build {mb:.2f} s + the export's first byte {mf:.2f} s + the "
          f"registry taking 256 MiB {ingest:.2f} s = {mb + mf + ingest:.2f} s, ratio "
          f"{(mb + mf + ingest)/md:.3f} to docker build + push", flush=True)


def cache_from_rounds():
    """A RUN taking over 10 s, rebuilt on a pruned engine: with --cache-from the registry's inline cache
    against without it."""
    create_repository("bench-ours/cached")
    ctx = os.path.join(work, "cached")
    os.makedirs(ctx)
    with open(os.path.join(ctx, "id"), "w") as f:
        f.write(os.urandom(8).hex())
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM local/busybox:1\nCOPY id /\nRUN sleep 10 && head -c 67108864 /dev/urandom > /data\n")
    repo = f"{registry}/bench-ours/cached"
    base = [build_push, ctx, "-r", repo, "--commit", "c" * 40, "--image-detail", os.path.join(work, "imageDetail.json")]

    def fresh_engine():
        subprocess.run(["docker", "builder", "prune", "-af"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run(["docker", "rmi", "-f", f"{repo}:latest", f"{repo}:{'c' * 40}"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(env["BUILDSTEPS_CACHE_DIR"], ignore_errors=True)

    def run(extra):
        fresh_engine()
        t = time.perf_counter()
        proc = subprocess.run(base + extra, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise SystemExit(f"build-push failed: {proc.stderr.decode()}")
        return time.perf_counter() - t

    run(["--cache-to", "inline"])  # the image whose inline cache the next builds use; not measured
    cached, uncached = [], []
    for i in range(rounds):
        for side in (("cached", "uncached") if i % 2 else ("uncached", "cached")):
            if side == "cached":
                cached.append(run(["--cache-from", f"{repo}:latest"]))
            else:
                uncached.append(run(["--cache-to", "inline"]))
    mc, mu = median(cached), median(uncached)
    print(f"build on a pruned engine, RUN of 10 s: --cache-from {mc:.2f} s, without {mu:.2f} s, "
          f"ratio {mc/mu:.3f} (target <= 0.2)", flush=True)


def ours_rss(name):
    """Peak RSS (MiB) of one cold build-push run (empty registry, empty layer cache)."""
    ctx = os.path.join(work, f"from-{name}")
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(f"FROM bench/{name}:1\n")
    empty_registry()
    shutil.rmtree(env["BUILDSTEPS_CACHE_DIR"], ignore_errors=True)
    cmd = [build_push, ctx, "-r", f"{registry}/bench-ours/{name}", "--commit", "0" * 40, "--latest", "false",
           "--image-detail", os.path.join(work, "imageDetail.json")]
    pid = os.posix_spawn(build_push, cmd, env, file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                                           (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise SystemExit("build-push failed while measuring RSS")
    return usage.ru_maxrss / 1024


def main():
    subprocess.run([os.environ["ECR_LOGIN"]], env=env, check=True, stderr=subprocess.DEVNULL)
    for repo in ("bench-ours/random", "bench-ours/libs", "bench-ours/random1g"):
        subprocess.run([aws, "ecr", "create-repository", "--repository-name", repo], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ingest = cold_rounds()
    build_and_push_rounds(ingest)
    cache_from_rounds()
    print("bench push: preparing images (256 MiB random, 256 MiB libraries, 1 GiB random)", flush=True)
    image_with("random", random_payload(256 << 20))
    image_with("libs", libraries_payload(256 << 20))
    image_with("random1g", random_payload(1 << 30))
    for name, label in (("random", "256 MiB random layer"), ("libs", "256 MiB libraries layer")):
        cold_d, cold_o, warm_d, warm_o, push_ms = [], [], [], [], []
        ours(name)  # warm the engine's build cache; not measured
        for _ in range(rounds):
            empty_registry()
            cold_d.append(docker_push(name))
            warm_d.append(docker_push(name))
            empty_registry()
            elapsed, _ = ours(name)
            cold_o.append(elapsed)
            elapsed, out = ours(name)
            warm_o.append(elapsed)
            push_ms.append(json.loads(out)["timings"]["push_ms"] / 1000)
        md, mo = median(cold_d), median(cold_o)
        wd, wo = median(warm_d), median(warm_o)
        print(f"push {label}: empty registry, build-push's layer cache warm from a warm-up run (not a CI "
              f"host's start)  docker push {md:.2f} s, build-push {mo:.2f} s, ratio {mo/md:.3f}")
        print(f"push {label}: unchanged  docker push {wd:.3f} s, build-push {wo:.3f} s wall "
              f"(of which push {median(push_ms):.3f} s; target <= 0.1 s)")
    for name, label in (("random", "256 MiB"), ("random1g", "1 GiB")):
        ours(name) if name == "random1g" else None
        print(f"push peak RSS of build-push with a {label} layer: {ours_rss(name):.1f} MiB (target <= 64)")
    shutil.rmtree(work, ignore_errors=True)


main()
