#!/usr/bin/env python3
"""bin/bench pipeline: the example pipeline (buildspec.yml, with the steps) against the classic shell
one (examples/buildspec-shell.yml: docker login/build/tag/push, printf, sed), both run by
run-buildspec on the same app, the same rig, alternating in one run.

Every run builds a new image: before each run the app's page changes and is committed, so neither
side meets the other's build cache and both do the same build work. The time spent in `docker
build` is measured at the Docker engine's socket: both the docker CLI and build-push reach the engine
through a small proxy here that times each `POST /build` from the request to the end of its
response. Printed: medians of the total time and of the time outside docker build, and the ratios
(ours / shell). Ours does more than the shell: it waits for ECR's scan and gates on it, and moves
`latest` only after the gate."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from timing import median

rounds = int(os.environ.get("ROUNDS", "5"))
root = os.environ["REPO_ROOT"]
run_buildspec = os.environ["RUN_BUILDSPEC"]
aws = os.environ["BUILDSTEPS_RIG_AWS_CLI"]
engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
work = tempfile.mkdtemp(prefix="bench-pipeline-")
src = os.path.join(work, "src")


class BuildTimer:
    """A Unix-socket proxy in front of the Docker engine that records how long each build took."""

    def __init__(self, path):
        self.path = path
        self.builds = []
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def take(self):
        with self.lock:
            builds, self.builds = self.builds, []
        return builds

    def accept(self):
        while True:
            client, _ = self.server.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(engine)
            state = {"started": None}
            threading.Thread(target=self.pump, args=(client, upstream, state, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, state, False), daemon=True).start()

    def pump(self, src_sock, dst_sock, state, request):
        tail = b""
        try:
            while True:
                data = src_sock.recv(1 << 16)
                if not data:
                    break
                if request and state["started"] is None:
                    head = data[:200]
                    if head.startswith(b"POST /") and b"/build?" in head.split(b"\r\n", 1)[0]:
                        state["started"] = time.perf_counter()
                if not request and state["started"] is not None:
                    # The end of the build's chunked response (a zero-length chunk).
                    tail = (tail + data)[-7:]
                    if tail.endswith(b"0\r\n\r\n"):
                        self.done(state)
                dst_sock.sendall(data)
        except OSError:
            pass
        finally:
            if not request and state["started"] is not None:
                self.done(state)
            for s in (src_sock, dst_sock):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def done(self, state):
        with self.lock:
            if state["started"] is not None:
                self.builds.append(time.perf_counter() - state["started"])
                state["started"] = None


def git(*args):
    subprocess.run(["git", "-C", src, "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                   check=True, stdout=subprocess.DEVNULL)


def checkout():
    for f in ("buildspec.yml", "taskdef.json", "appspec.yaml", "examples/buildspec-shell.yml", "examples/app"):
        s, d = os.path.join(root, f), os.path.join(src, f)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        (shutil.copytree if os.path.isdir(s) else shutil.copy)(s, d)
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "bench")


def change(label):
    with open(os.path.join(src, "examples/app/www/index.html"), "w") as f:
        f.write(f"<!doctype html><title>{label}</title><p>{label} {time.time_ns()}</p>\n")
    git("commit", "-q", "-am", label)


def pipeline(side, timer, env):
    spec = "buildspec.yml" if side == "ours" else "examples/buildspec-shell.yml"
    shutil.rmtree(os.path.join(src, "deploy"), ignore_errors=True)
    shutil.rmtree(os.path.join(src, "reports"), ignore_errors=True)
    timer.take()
    t = time.perf_counter()
    out = subprocess.run([run_buildspec, os.path.join(src, spec), "--src", src, "--out", os.path.join(work, f"out-{side}"),
                          "--env", f"REPOSITORY=bench-pipeline/{side}", "--env", "BASE_IMAGE=local/busybox:1",
                          "--env", "FAIL_ON=CRITICAL", "--json"], env=env, capture_output=True, text=True)
    total = time.perf_counter() - t
    builds = timer.take()
    if out.returncode != 0:
        raise SystemExit(f"bench pipeline: the {side} pipeline failed:\n{out.stderr[-4000:]}")
    report = json.loads(out.stdout)
    if len(builds) != 1:
        raise SystemExit(f"bench pipeline: expected one docker build in the {side} pipeline, saw {len(builds)}")
    return total, builds[0], report


def main():
    checkout()
    timer = BuildTimer(os.path.join(work, "docker.sock"))
    base = dict(os.environ, DOCKER_HOST=f"unix://{timer.path}", BUILDSTEPS_CACHE_DIR=os.path.join(work, "cache"),
                PATH=f"{os.path.dirname(run_buildspec)}:{os.path.dirname(aws)}:{os.environ['PATH']}")
    base.pop("BUILDSTEPS_COMMIT", None)
    envs = {side: dict(base, DOCKER_CONFIG=os.path.join(work, f"docker-{side}")) for side in ("ours", "shell")}
    for side in envs:
        subprocess.run([aws, "ecr", "create-repository", "--repository-name", f"bench-pipeline/{side}"],
                       env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"bench pipeline: {rounds} alternating rounds of buildspec.yml and examples/buildspec-shell.yml "
          "(plus one warm-up each)", flush=True)
    times = {"ours": [], "shell": []}
    for i in range(rounds + 1):
        for side in (("ours", "shell") if i % 2 == 0 else ("shell", "ours")):
            change(f"{side}-{i}")
            total, build, report = pipeline(side, timer, envs[side])
            phases = " ".join(f"{p['name']}={p['duration_ms'] / 1000:.2f}s" for p in report["phases"])
            print(f"  round {i} {side:5}: total {total:6.2f} s, docker build {build:5.2f} s ({phases})"
                  + (" [warm-up]" if i == 0 else ""), flush=True)
            if i > 0:
                times[side].append((total, build))
    med = {side: (median(t for t, _ in v), median(t - b for t, b in v),
                  median(b for _, b in v)) for side, v in times.items()}
    (ot, oo, ob), (st, so, sb) = med["ours"], med["shell"]
    print(f"pipeline total: ours median {ot:.2f} s, shell median {st:.2f} s, ratio {ot / st:.3f}")
    print(f"pipeline outside docker build: ours median {oo:.2f} s, shell median {so:.2f} s, ratio {oo / so:.3f}"
          f" (docker build medians: ours {ob:.2f} s, shell {sb:.2f} s)")
    shutil.rmtree(work, ignore_errors=True)


main()
