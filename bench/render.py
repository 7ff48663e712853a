#!/usr/bin/env python3
"""bin/bench render: render-taskdef on a 10-container task definition (built from the real fixtures),
process start included, against the shell it replaces: `envsubst` for the ${TAG} and `jq` setting one
image. Alternating runs in one process; prints medians, the bar (<= 10 ms) and the ratios."""
import json
import os
import subprocess
import tempfile

from timing import median, p90, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "taskdef")
ours = os.environ["RENDER_TASKDEF"]
rounds = int(os.environ.get("ROUNDS", "50"))
work = tempfile.mkdtemp(prefix="bench-render-")

# Ten containers: the FireLens/App Mesh example's three, the describe output's one, and the PHP demo's
# two, repeated with distinct names; a ${TAG} in every image.
with open(os.path.join(FIXTURES, "firelens-examples-appmesh-firelens-colorteller-black-ecs-task-def.json")) as f:
    td = json.load(f)
sources = list(td["containerDefinitions"])
with open(os.path.join(FIXTURES, "amazon-ecs-deploy-task-definition-testing-describe-output.json")) as f:
    sources += json.load(f)["containerDefinitions"]
containers = []
for i in range(10):
    c = json.loads(json.dumps(sources[i % len(sources)]))
    c["name"] = f"c{i}"
    c["image"] = c["image"].split(":")[0].split("@")[0] + ":${TAG}"
    c.pop("dependsOn", None)
    c.pop("portMappings", None)
    containers.append(c)
td["containerDefinitions"] = containers
td["proxyConfiguration"]["containerName"] = "c2"
td["cpu"], td["memory"] = "4096", "8192"
src = os.path.join(work, "taskdef.json")
with open(src, "w") as f:
    json.dump(td, f, indent=2)
size = os.path.getsize(src)
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/colorteller@sha256:" + "1" * 64
env = dict(os.environ, TAG="1.2.3")

ours_cmd = [ours, src, "--image", f"c1={image}", "--env", "c1:MODE=prod", "-o", os.path.join(work, "ours.json")]
check = subprocess.run(ours_cmd, env=env, capture_output=True, text=True)
if check.returncode != 0:
    raise SystemExit(f"render-taskdef failed on the bench input:\n{check.stderr}")


def shell():
    # What buildspecs do: envsubst for the tag, jq for the image (no validation at all).
    with open(src) as i, open(os.path.join(work, "subst.json"), "w") as o:
        subprocess.run(["envsubst"], stdin=i, stdout=o, env=env, check=True)
    with open(os.path.join(work, "subst.json")) as i, open(os.path.join(work, "theirs.json"), "w") as o:
        subprocess.run(["jq", "--arg", "img", image,
                        '(.containerDefinitions[] | select(.name == "c1") | .image) = $img'],
                       stdin=i, stdout=o, env=env, check=True)


times = {"render-taskdef": [], "envsubst + jq": []}
for _ in range(3):
    subprocess.run(ours_cmd, env=env, check=True, stderr=subprocess.DEVNULL)
    shell()
for _ in range(rounds):
    times["render-taskdef"].append(timed(lambda: subprocess.run(ours_cmd, env=env, check=True, stderr=subprocess.DEVNULL)))
    times["envsubst + jq"].append(timed(shell))

med = {k: median(v) * 1000 for k, v in times.items()}
print(f"10-container task definition ({size} bytes), {rounds} alternating rounds, process start included")
for k, v in med.items():
    print(f"  {k:<16} median {v:7.2f} ms   p90 {p90(times[k]) * 1000:7.2f} ms")
print(f"  bar: render-taskdef <= 10 ms: {'met' if med['render-taskdef'] <= 10 else 'NOT met'} ({med['render-taskdef']:.2f} ms)")
print(f"  ratio render-taskdef / (envsubst + jq): {med['render-taskdef'] / med['envsubst + jq']:.3f}")
