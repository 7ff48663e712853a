#!/usr/bin/env python3
"""bin/bench login: ecr-login against `aws ecr get-login-password | docker login --password-stdin`,
alternating in one run, each with its own docker config."""
import os
import subprocess

from timing import median, timed

rounds = int(os.environ["ROUNDS"])
ecr = os.environ["ECR"]

def ours():
    env = dict(os.environ, DOCKER_CONFIG=os.environ["OURS_CFG"])
    subprocess.run([os.environ["OURS"]], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def theirs():
    env = dict(os.environ, DOCKER_CONFIG=os.environ["THEIRS_CFG"])
    pw = subprocess.run([os.environ["AWS_CLI"], "ecr", "get-login-password", "--region", "us-east-1"],
                        env=env, check=True, capture_output=True).stdout
    subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", ecr], input=pw, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

ours(); theirs()  # warm caches once, outside the measurement
a, b = [], []
for _ in range(rounds):
    a.append(timed(ours))
    b.append(timed(theirs))
ma, mb = median(a), median(b)
print(f"login: ecr-login median {ma*1000:.1f} ms; aws ecr get-login-password | docker login median {mb*1000:.1f} ms "
      f"({rounds} alternating rounds)")
print(f"login: ratio ecr-login / shell = {ma/mb:.3f} (target <= 0.1)")
