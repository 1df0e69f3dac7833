#!/usr/bin/env bash
# Start-up time of the stack on a READ-ONLY mount, as in `docker run --read-only` or distroless.
#
#   sudo benches/startup.sh [--zip] VENV [MODULE...]
#
# Each variant's tree is bind-mounted read-only AT THE ORIGINAL VENV PATH in a private mount
# namespace (`unshare -m sh -c 'mount --bind SRC VENV && mount -o remount,bind,ro VENV && ...'`),
# so shebangs, pyvenv.cfg and sys.prefix are those of a container, and Python cannot write a
# pyc it is missing: it recompiles that module at every start. Variants:
#   original      VENV itself, as pip left it (timestamp pycs written by pip)
#   slim          venvslim slim VENV -o T (default: unchecked-hash pycs compiled by VENV's python)
#   slim-strip    venvslim slim VENV -o T --bytecode strip (no pycs at all)
#   seed-recipe   cp -a VENV T, then every __pycache__ removed and every *.dist-info emptied of
#                 everything but LICENSE* files (a common hand-written Dockerfile recipe)
# With --zip, the variants are `slim` (the reference: ratios are against it), `slim-zip`
# (venvslim slim VENV -o T --zip-pure) and `original`, and each tree's file count is printed.
#   python -c pass (original)   the interpreter's own start, as a floor
# Each measurement is `VENV/bin/python -c 'import m1, m2, ...'`, entered into the variant's
# namespace with nsenter (the same small cost in every variant). Rounds are interleaved
# (A B C D E A B C D E ...), RUNS of them (default 20) after WARMUP untimed ones (default 3).
# Timer: hyperfine (-N, one run per command per round) if installed, else a Python loop.
#
# MODULES default: every top-level module of VENV's distributions (top_level.txt and RECORD),
# except the installers' (pip, setuptools, wheel), that imports on its own in the original;
# the ones that fail are listed and left out.
#
# Needs root (mount namespaces). Environment: VENVSLIM (binary; default
# target/release/venvslim under the repo root), RUNS, WARMUP, BENCH_TMP (scratch parent dir;
# default $TMPDIR or /tmp), LOGDIR (venvslim reports; default target/bench-logs), NO_HYPERFINE=1
# (use the Python loop even if hyperfine is there).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venvslim=${VENVSLIM:-$root/target/release/venvslim}
runs=${RUNS:-20}
warmup=${WARMUP:-3}
logdir=${LOGDIR:-$root/target/bench-logs}

mode=default
if [ "${1:-}" = --zip ]; then
    mode=zip
    shift
fi
if [ $# -eq 0 ]; then
    echo "usage: $0 [--zip] VENV [MODULE...]" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: needs root to make mount namespaces (unshare -m, mount --bind)" >&2
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

venv=$(cd "$1" && pwd)
shift
python=$venv/bin/python
[ -x "$python" ] || { echo "error: no $python" >&2; exit 2; }
name=$(basename "$venv")

# Nothing from the caller's environment may change where pycs go or what is imported.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PYTHON' || true)

mkdir -p "$logdir"
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/venvslim-startup.XXXXXX")
holders=()
cleanup() {
    local p
    for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${holders[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- modules -------------------------------------------------------------------------------
if [ $# -gt 0 ]; then
    modules=("$@")
else
    echo "== $name: finding top-level modules that import in the original (python -B)" >&2
    mapfile -t modules < <("$python" -B - <<'EOF'
import importlib.metadata as md, keyword, subprocess, sys

installers = {"pip", "setuptools", "wheel"}
installer_modules = {"pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils", "wheel"}
names = set()
for d in md.distributions():
    if (d.metadata["Name"] or "").lower() in installers:
        continue
    names.update((d.read_text("top_level.txt") or "").split())
    for f in d.files or []:
        top = f.parts[0] if f.parts else ""
        if top in ("..", "__pycache__") or top.endswith((".dist-info", ".data", ".egg-info")):
            continue
        if len(f.parts) > 1:
            names.add(top)
        elif top.endswith(".py"):
            names.add(top[:-3])
        elif top.endswith((".so", ".pyd")):
            names.add(top.split(".")[0])
ok = []
for n in sorted(names):
    if not n.isidentifier() or keyword.iskeyword(n) or n in installer_modules:
        continue
    try:
        r = subprocess.run([sys.executable, "-B", "-c", f"import {n}"], capture_output=True, text=True, timeout=300)
        err = r.stderr.strip().splitlines()[-1:] if r.returncode else None
    except subprocess.TimeoutExpired:
        err = ["timed out after 300 s"]
    if err is None:
        ok.append(n)
    else:
        print(f"   left out {n}: {err[0] if err else 'exit %d' % r.returncode}", file=sys.stderr)
print("\n".join(ok))
EOF
    )
fi
[ ${#modules[@]} -gt 0 ] || { echo "error: no module to import" >&2; exit 2; }
import_stmt="import $(IFS=,; echo "${modules[*]}" | sed 's/,/, /g')"
echo "   ${#modules[@]} modules: ${modules[*]}" >&2

# --- trees ---------------------------------------------------------------------------------
echo "== $name: building the variants' trees" >&2
# venvslim slim VENV -o $tmp/NAME FLAGS...; exit 1 (some paths failed) still gives a tree.
slim_tree() {
    local v=$1
    shift
    "$venvslim" slim "$venv" -o "$tmp/$v" "$@" >"$logdir/$name.startup.$v.log" 2>&1 || {
        rc=$?; [ $rc -eq 1 ] || { echo "error: venvslim exited $rc; see $logdir/$name.startup.$v.log" >&2; exit 1; }; }
}
slim_tree slim
declare -A src=([original]=$venv [slim]=$tmp/slim)
if [ "$mode" = zip ]; then
    slim_tree slim-zip --zip-pure
    grep -E '^  (zipped|    archive|  [0-9]+ distributions stay)' "$logdir/$name.startup.slim-zip.log" >&2 || true
    src[slim-zip]=$tmp/slim-zip
    variants=(slim slim-zip original)
    base=slim
else
    slim_tree slim-strip --bytecode strip
    cp -a "$venv" "$tmp/seed"
    find "$tmp/seed" -type d -name __pycache__ -prune -exec rm -rf {} +
    find "$tmp/seed" -type d -name '*.dist-info' -prune -print0 | while IFS= read -r -d '' d; do
        find "$d" ! -type d ! -name 'LICENSE*' -delete
        find "$d" -depth -type d -empty -delete
    done
    src[slim-strip]=$tmp/slim-strip
    src[seed-recipe]=$tmp/seed
    variants=(original slim slim-strip seed-recipe)
    base=original
fi
declare -A ns=()

# One namespace per variant, held open by a sleeping process; its tree is mounted read-only at
# the venv's path. `unshare` runs `sh` in the same process, so $! names the namespace.
for v in "${variants[@]}"; do
    ready=$tmp/ready.$v
    unshare -m --propagation private sh -c \
        'mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && : >"$3" && exec sleep 1000000' \
        sh "${src[$v]}" "$venv" "$ready" &
    holders+=($!)
    for _ in $(seq 100); do
        [ -e "$ready" ] && break
        kill -0 $! 2>/dev/null || { echo "error: could not mount $v read-only at $venv" >&2; exit 1; }
        sleep 0.1
    done
    [ -e "$ready" ] || { echo "error: mounting $v timed out" >&2; exit 1; }
    ns[$v]=/proc/$!/ns/mnt
    # The mount is the variant's tree, and it is read-only.
    [ "$(nsenter --mount="${ns[$v]}" -- stat -c %d:%i "$venv")" = "$(stat -c %d:%i "${src[$v]}")" ] ||
        { echo "error: $venv in $v's namespace is not ${src[$v]}" >&2; exit 1; }
    if nsenter --mount="${ns[$v]}" -- touch "$venv/.venvslim-rw-probe" 2>/dev/null; then
        rm -f "$venv/.venvslim-rw-probe"
        echo "error: $v's mount is writable" >&2
        exit 1
    fi
done

# --- spec for the timer: name, disk bytes, command or failure -------------------------------
spec=$tmp/spec.tsv
: >"$spec"
for v in "${variants[@]}"; do
    disk=$(du -s -B1 "${src[$v]}" | cut -f1)
    echo "   $v: $(find "${src[$v]}" -type f | wc -l) files, $disk bytes on disk" >&2
    cmd=(nsenter --mount="${ns[$v]}" -- "$python" -c "$import_stmt")
    if out=$("${cmd[@]}" 2>&1); then
        printf '%s\t%s\t%s\t\n' "$v" "$disk" "$(printf '%q ' "${cmd[@]}")" >>"$spec"
    else
        why=$(tail -1 <<<"$out")
        echo "   $v FAILS to import: $why" >&2
        printf '%s\t%s\t\t%s\n' "$v" "$disk" "${why//$'\t'/ }" >>"$spec"
    fi
done
printf '%s\t%s\t%s\t\n' "python -c pass (original)" "" \
    "$(printf '%q ' nsenter --mount="${ns[original]}" -- "$python" -c pass)" >>"$spec"

timer=python
[ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null && timer=hyperfine
echo "== $name: timing, $warmup warm-up + $runs interleaved rounds, timer: $timer" >&2

# --- timing and the table ------------------------------------------------------------------
"$python" -I -B - "$spec" "$runs" "$warmup" "$timer" "$tmp" "$name" "${#modules[@]}" "$base" <<'EOF'
import json, math, shlex, statistics, subprocess, sys, time

spec, runs, warmup, timer, tmp, name, nmods, base_name = sys.argv[1:]
runs, warmup = int(runs), int(warmup)
rows = [line.rstrip("\n").split("\t") for line in open(spec)]
live = [(n, shlex.split(c)) for n, _, c, _ in rows if c]

def one_round(r):
    """One interleaved round: each live command once, in order. Returns {name: seconds}."""
    if timer == "hyperfine":
        out = f"{tmp}/hf.json"
        args = ["hyperfine", "-N", "--runs", "1", "--style", "none", "--export-json", out]
        for n, argv in live:
            args += ["-n", n, shlex.join(argv)]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        return {res["command"]: res["times"][0] for res in json.load(open(out))["results"]}
    times = {}
    for n, argv in live:
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[n] = time.perf_counter() - t0
    return times

for _ in range(warmup):
    one_round(_)
samples = {n: [] for n, _ in live}
for r in range(runs):
    for n, t in one_round(r).items():
        samples[n].append(t)
    print(f"   round {r + 1}: " + " ".join(f"{n.split()[0] if ' ' in n else n} {samples[n][-1]:.3f}" for n, _ in live), file=sys.stderr)

def p90(xs):  # nearest rank
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]

base = statistics.median(samples[base_name]) if base_name in samples else None
print()
print(f"### {name}: start-up on a read-only mount, `python -c 'import ...'` ({nmods} modules), "
      f"{runs} interleaved rounds, timer {timer}")
print()
print(f"| variant | tree on disk (MiB) | median (s) | p90 (s) | min (s) | median / {base_name} |")
print("|---|---:|---:|---:|---:|---:|")
for n, disk, cmd, why in rows:
    size = f"{int(disk) / 1048576:.1f}" if disk else "-"
    if not cmd:
        print(f"| {n} | {size} | fails: {why} | | | |")
        continue
    xs = samples[n]
    med = statistics.median(xs)
    ratio = f"{med / base:.2f}x" if base else "-"
    print(f"| {n} | {size} | {med:.3f} | {p90(xs):.3f} | {min(xs):.3f} | {ratio} |")
EOF
echo
echo "modules: ${modules[*]}"
