#!/usr/bin/env bash
# How long a deep `venvslim verify` takes, against what importing the same modules costs.
#
#   benches/deep_verify.sh VENV...
#
# Per venv, in one run, paired and interleaved (V I V I ...), RUNS rounds (default 5) after
# WARMUP untimed ones (default 1):
#   verify   venvslim verify VENV --against VENV --deep --json: both probes, deep (every module
#            on disk), as `verify OUT --against VENV` and `slim --verify` run them (--deep is the
#            default with --against now; spelled out, the same line times older binaries)
#   import   VENV/bin/python -I -B -c '<import each module the probe found importable>', in
#            one process: the floor for any check that imports them
# and prints the medians and their ratio (verify / import). The modules are listed once,
# before the rounds, by the repo's own probe (src/verify/probe.py, deep) run with VENV's
# interpreter: those that imported. The import process tries each in the probe's order and goes
# on past one that fails there (a package's submodule the probe found left in sys.modules by its
# failed parent imports in the probe and not on its own); the count of those is printed.
#
# As root, verify runs each probe on a read-only mount (unshare -m), as it does for a user; the
# import process runs on the venv as it is, with -B so neither writes bytecode.
#
# Environment: VENVSLIM (binary; default target/release/venvslim under the repo root), RUNS,
# WARMUP, LOGDIR (venvslim's reports; default target/bench-logs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venvslim=${VENVSLIM:-$root/target/release/venvslim}
runs=${RUNS:-5}
warmup=${WARMUP:-1}
logdir=${LOGDIR:-$root/target/bench-logs}
probe_py=$root/src/verify/probe.py

if [ $# -eq 0 ]; then
    echo "usage: $0 VENV..." >&2
    exit 2
fi
if [ ! -x "$venvslim" ]; then
    echo "error: no venvslim binary at $venvslim" >&2
    echo "hint: run \`cargo build --release\` or set VENVSLIM" >&2
    exit 2
fi
for n in "$runs" "$warmup"; do
    case $n in '' | *[!0-9]*) echo "error: RUNS and WARMUP must be integers" >&2; exit 2 ;; esac
done
[ "$runs" -ge 1 ] || { echo "error: RUNS must be at least 1" >&2; exit 2; }

# Nothing from the caller's environment may change what is imported or where pycs go.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PYTHON' || true)

mkdir -p "$logdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/venvslim-deep-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

results=()
for arg in "$@"; do
    venv=$(cd "$arg" && pwd)
    name=$(basename "$venv")
    python=$venv/bin/python
    [ -x "$python" ] || { echo "error: no $python" >&2; exit 2; }
    site=$(cd / && "$python" -I -B -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

    echo "== $name: listing the modules the deep probe imports" >&2
    # Speaks probe.py's protocol (one JSON request per line) the way src/verify/worker.rs does.
    (cd / && "$python" -I -B - "$python" "$probe_py" "$site" "$venv/bin" >"$tmp/$name.modules") <<'EOF'
import json, subprocess, sys
python, probe, site, bin_ = sys.argv[1:5]
p = subprocess.Popen([python, "-I", "-B", "-c", open(probe).read(), site, bin_, "deep"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
def ask(req):
    p.stdin.write(json.dumps(req) + "\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())
json.loads(p.stdout.readline())  # hello
for m in ask({"op": "discover"})["modules"]:
    if ask({"op": "import", "name": m}).get("ok"):
        print(m)
p.stdin.close()
p.wait()
EOF
    count=$(wc -l <"$tmp/$name.modules")
    code="import importlib
failed = 0
for m in open('$tmp/$name.modules').read().split():
    try:
        importlib.import_module(m)
    except BaseException:
        failed += 1
open('$tmp/$name.failed', 'w').write(str(failed))"
    echo "   $count modules import in the probe" >&2

    : >"$tmp/$name.verify"
    : >"$tmp/$name.import"
    for ((i = 0; i < warmup + runs; i++)); do
        t0=$(now)
        rc=0
        "$venvslim" verify "$venv" --against "$venv" --deep --json >"$logdir/$name.deep_verify.json" 2>&1 || rc=$?
        t1=$(now)
        [ $rc -eq 0 ] || { echo "error: verify exited $rc; see $logdir/$name.deep_verify.json" >&2; exit 1; }
        (cd / && "$python" -I -B -c "$code" >/dev/null 2>&1) || true
        t2=$(now)
        if [ "$i" -ge "$warmup" ]; then
            secs "$t0" "$t1" >>"$tmp/$name.verify"; echo >>"$tmp/$name.verify"
            secs "$t1" "$t2" >>"$tmp/$name.import"; echo >>"$tmp/$name.import"
        fi
        echo "   round $((i + 1))/$((warmup + runs)): verify $(secs "$t0" "$t1") s, import $(secs "$t1" "$t2") s" >&2
    done
    results+=("$name $count $(cat "$tmp/$name.failed") $tmp/$name.verify $tmp/$name.import")
done

python3 - "${results[@]}" <<'EOF'
import statistics, sys
print("| venv | modules | failed alone | verify median (s) | import median (s) | verify / import |")
print("|---|---|---|---|---|---|")
for r in sys.argv[1:]:
    name, count, failed, vf, imf = r.split()
    v = statistics.median(float(x) for x in open(vf).read().split())
    i = statistics.median(float(x) for x in open(imf).read().split())
    print(f"| {name} | {count} | {failed} | {v:.2f} | {i:.2f} | {v / i:.2f}x |")
EOF
