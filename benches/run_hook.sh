#!/usr/bin/env bash
# What the `--run` recording hook costs a workload: the same command with and without it.
#
#   benches/run_hook.sh VENV 'WORKLOAD'       e.g.  benches/run_hook.sh V '$VENV/bin/python tests/workloads/web_request.py'
#
# WORKLOAD runs under `sh -c` with $VENV set, as `venvslim slim --run` runs it. "hook" sets what
# venvslim sets: PYTHONPATH to a directory holding only src/workload/hook.py as sitecustomize.py,
# VENVSLIM_RUN_TREE and VENVSLIM_RUN_LOG (a fresh directory per run, so every run records from
# scratch) and PYTHONDONTWRITEBYTECODE=1; "plain" sets only PYTHONDONTWRITEBYTECODE=1, so the
# difference is the hook alone. Runs are interleaved (plain, hook, plain, hook ...), RUNS pairs
# (default 15) after WARMUP (default 2). Prints each median and the ratio hook / plain.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$(cd "$1" && pwd)
workload=$2
runs=${RUNS:-15}
warmup=${WARMUP:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/hook"
cp "$root/src/workload/hook.py" "$tmp/hook/sitecustomize.py"

VENV=$venv WORKLOAD=$workload TMPD=$tmp RUNS=$runs WARMUP=$warmup python3 - <<'PY'
import os, statistics, subprocess, time

venv, workload, tmp = os.environ["VENV"], os.environ["WORKLOAD"], os.environ["TMPD"]
runs, warmup = int(os.environ["RUNS"]), int(os.environ["WARMUP"])
base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
base.update(VENV=venv, PYTHONDONTWRITEBYTECODE="1")
n = 0

def once(hook):
    global n
    env = dict(base)
    if hook:
        n += 1
        log = os.path.join(tmp, f"log{n}")
        os.mkdir(log)
        env.update(PYTHONPATH=os.path.join(tmp, "hook"), VENVSLIM_RUN_TREE=venv, VENVSLIM_RUN_LOG=log)
    t = time.perf_counter()
    subprocess.run(["sh", "-c", workload], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t

for _ in range(warmup):
    once(False), once(True)
plain, hook = [], []
for _ in range(runs):
    plain.append(once(False))
    hook.append(once(True))
p, h = statistics.median(plain), statistics.median(hook)
facts = sum(len(open(os.path.join(tmp, f"log{n}", f)).readlines()) for f in os.listdir(os.path.join(tmp, f"log{n}")))
print(f"workload: {workload}")
print(f"plain  median {p*1000:8.1f} ms  (min {min(plain)*1000:.1f})")
print(f"hook   median {h*1000:8.1f} ms  (min {min(hook)*1000:.1f}), {facts} facts recorded in the last run")
print(f"ratio hook / plain: {h/p:.3f}")
PY
