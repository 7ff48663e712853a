#!/usr/bin/env python3
"""bin/bench scan: scan-gate on a 20 MB trivy report built from the real fixtures (trivy's centos-7
golden, its results repeated under distinct targets), with every output (--json, SARIF, JUnit,
Markdown), against the hand-rolled jq gate buildspecs use. Alternating runs in one process; prints
medians, the bar (<= 0.2 s) and the ratio."""
import json
import os
import subprocess
import tempfile

from timing import median, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "trivy", "main-42f795f", "centos-7.json.golden")
ours = os.environ["SCAN_GATE"]
rounds = int(os.environ.get("ROUNDS", "10"))
work = tempfile.mkdtemp(prefix="bench-scan-")

with open(FIXTURE) as f:
    base = json.load(f)
results = base["Results"]
report = dict(base)
report["Results"] = []
copy = 0
while True:
    for r in results:
        r = dict(r)
        r["Target"] = f"{r['Target']} #{copy}"
        report["Results"].append(r)
    copy += 1
    text = json.dumps(report, indent=2)
    if len(text) >= 20_000_000:
        break
path = os.path.join(work, "trivy.json")
with open(path, "w") as f:
    f.write(text)
size = os.path.getsize(path)
vulns = sum(len(r.get("Vulnerabilities") or []) for r in report["Results"])

ours_cmd = [ours, "--report", path, "--json", "--sarif", os.path.join(work, "scan.sarif"),
            "--junit", os.path.join(work, "junit.xml"), "--markdown", os.path.join(work, "scan.md")]
jq_cmd = ["jq", "-e", '[.Results[].Vulnerabilities[]? | select(.Severity == "HIGH" or .Severity == "CRITICAL")] | length == 0', path]


def run(cmd):
    # The gate's verdict is its exit code; a failing gate is part of what is timed.
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


times = {"scan-gate": [], "jq gate": []}
for _ in range(2):
    timed(run, ours_cmd)
    timed(run, jq_cmd)
for _ in range(rounds):
    times["scan-gate"].append(timed(run, ours_cmd))
    times["jq gate"].append(timed(run, jq_cmd))
med = {k: median(v) for k, v in times.items()}
print(f"trivy report: {size / 1e6:.1f} MB, {vulns} findings; {rounds} alternating rounds")
for k, v in med.items():
    print(f"  {k:<10} median {v * 1000:8.1f} ms")
print(f"  bar: scan-gate (parse + policy + JSON, SARIF, JUnit, Markdown) <= 200 ms: "
      f"{'met' if med['scan-gate'] <= 0.2 else 'NOT met'} ({med['scan-gate'] * 1000:.1f} ms)")
print(f"  ratio scan-gate / jq gate: {med['scan-gate'] / med['jq gate']:.3f}")
