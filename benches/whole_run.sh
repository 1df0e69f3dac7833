#!/usr/bin/env bash
# Wall time, peak memory and output size of a whole `venvslim slim` run, against `cp -a`.
#
#   benches/whole_run.sh VENV [VENV...]
#
# For each VENV, in one run and interleaved (A B C A B C ...), ROUNDS times (default 5):
#   cp-a           cp -a VENV TMP/copy                                  (the reference)
#   slim           venvslim slim VENV -o TMP/out-default                (default settings)
#   slim-keep-pyc  venvslim slim VENV -o TMP/out-keep --bytecode keep   (no compile step)
#   slim-in-place  venvslim slim VENV --in-place, on a fresh `cp -a VENV TMP/inplace` made before
#                  the timer starts (then `sync`, so the copy's writeback is not charged to the
#                  slim); as root the copy is bind-mounted at VENV's path in a private mount
#                  namespace, so it is slimmed where pip installed it (pip's pycs name that
#                  path and are reused); without root it is slimmed at TMP/inplace and every pyc
#                  is compiled again. The input venv itself is never modified.
# Outputs are removed before each run, outside the timed part. The page cache cannot be
# dropped reliably here, so every command runs once untimed first (warm-up): all numbers are
# warm-cache numbers.
#
# Prints medians, min/max, the ratio of each median to cp -a's, venvslim's peak RSS
# (/usr/bin/time -f %M, the largest of the process and of each child it waited for, such as the
# interpreter that compiles bytecode; "n/a" without /usr/bin/time), and sizes of the input and
# outputs: apparent bytes (du -sb), disk bytes (du -s -B1), regular files, and tar.gz bytes
# (tar -C DIR -cf - . | gzip -6 | wc -c; roughly what a registry stores and transfers).
#
# Environment: VENVSLIM (binary; default target/release/venvslim under the repo root),
# ROUNDS (default 5), VARIANTS (space-separated subset, in order; default all four), BENCH_TMP (scratch parent dir; default $TMPDIR or /tmp; use the same
# filesystem as the venvs), LOGDIR (venvslim reports of the warm-up runs; default
# target/bench-logs under the repo root).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venvslim=${VENVSLIM:-$root/target/release/venvslim}
rounds=${ROUNDS:-5}
logdir=${LOGDIR:-$root/target/bench-logs}

if [ $# -eq 0 ]; then
    echo "usage: $0 VENV [VENV...]" >&2
    exit 2
fi
if [ ! -x "$venvslim" ]; then
    echo "error: no venvslim binary at $venvslim" >&2
    echo "hint: run \`cargo build --release\` or set VENVSLIM" >&2
    exit 2
fi
case $rounds in '' | *[!0-9]* | 0) echo "error: ROUNDS must be a positive integer" >&2; exit 2 ;; esac

have_time=0
[ -x /usr/bin/time ] && have_time=1
[ $have_time -eq 1 ] || echo "note: /usr/bin/time not found: peak RSS will be n/a (apt-get install -y time)" >&2

mkdir -p "$logdir"
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/venvslim-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

read -r -a variants <<<"${VARIANTS:-cp-a slim slim-keep-pyc slim-in-place}"

# run VARIANT VENV LOGFILE: one run; sets last_s (seconds) and last_rss (KiB or n/a); aborts on
# a fatal exit. Called in the main shell (not in $(...)) so that `exit` ends the script.
run() {
    local variant=$1 venv=$2 log=$3 cmd out
    case $variant in
        cp-a) out=$tmp/copy; cmd=(cp -a "$venv" "$out") ;;
        slim) out=$tmp/out-default; cmd=("$venvslim" slim "$venv" -o "$out") ;;
        slim-keep-pyc) out=$tmp/out-keep; cmd=("$venvslim" slim "$venv" -o "$out" --bytecode keep) ;;
        slim-in-place)
            out=$tmp/inplace
            if [ "$(id -u)" -eq 0 ]; then
                # The copy, mounted (writable) at the venv's own path in a private namespace:
                # slimmed where pip installed it, as in a builder stage, so pip's bytecode
                # (which names that path) is reused. Writes land in the copy only.
                cmd=(unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh
                    "$out" "$venv" "$venvslim" slim "$venv" --in-place)
            else
                # Elsewhere, every pyc names another path and is compiled again: slower.
                cmd=("$venvslim" slim "$out" --in-place)
            fi
            ;;
        *) echo "error: unknown variant $variant" >&2; exit 2 ;;
    esac
    rm -rf "$out" "$tmp/rss"
    if [ "$variant" = slim-in-place ]; then
        cp -a "$venv" "$out"
        sync
    fi
    local t0 t1 rc=0
    t0=$(date +%s%N)
    if [ $have_time -eq 1 ]; then
        /usr/bin/time -f %M -o "$tmp/rss" "${cmd[@]}" >"$log" 2>&1 || rc=$?
    else
        "${cmd[@]}" >"$log" 2>&1 || rc=$?
    fi
    t1=$(date +%s%N)
    # venvslim: 1 = finished with some failed paths (still a complete run), 2 = fatal.
    if [ $rc -ne 0 ] && { [ $variant = cp-a ] || [ $rc -ne 1 ]; }; then
        echo "error: $variant on $venv exited $rc; see $log" >&2
        tail -5 "$log" >&2
        exit 1
    fi
    [ $rc -eq 0 ] || echo "warning: $variant on $venv exited $rc (some paths failed); see $log" >&2
    last_rss=n/a
    [ $have_time -eq 1 ] && last_rss=$(tail -1 "$tmp/rss")
    last_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# sizes DIR: sets app (apparent bytes), disk (bytes), files (regular files), tgz (tar.gz bytes).
sizes() {
    local d=$1
    app=$(du -sb "$d" | cut -f1)
    disk=$(du -s -B1 "$d" | cut -f1)
    files=$(find "$d" -type f | wc -l)
    tgz=$(tar -C "$d" -cf - . | gzip -6 | wc -c)
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }

time_rows=()
size_rows=()
echo "venvslim: $venvslim ($("$venvslim" --version))" >&2
echo "rounds: $rounds, interleaved; one untimed warm-up of each command first (warm page cache)" >&2

for venv in "$@"; do
    venv=$(cd "$venv" && pwd)
    name=$(basename "$venv")
    echo "== $name: warm-up" >&2
    for v in "${variants[@]}"; do
        run "$v" "$venv" "$logdir/$name.$v.log"
        echo "   $v ${last_s}s" >&2
    done
    declare -A samples=() rss=()
    for ((r = 1; r <= rounds; r++)); do
        line="round $r:"
        for v in "${variants[@]}"; do
            run "$v" "$venv" "$tmp/run.log"
            samples[$v]+="$last_s "
            rss[$v]+="$last_rss "
            line+=" $v ${last_s}s"
        done
        echo "$line" >&2
    done
    # Sizes of the outputs of the last round (all three are still there).
    echo "== $name: sizes" >&2
    sizes "$venv"
    in_tgz=$tgz
    size_rows+=("| $name | input | $(mib "$app") | $(mib "$disk") | $files | $(mib "$tgz") | 100% |")
    for pair in slim:out-default slim-keep-pyc:out-keep slim-in-place:inplace; do
        [ -d "$tmp/${pair#*:}" ] || continue
        sizes "$tmp/${pair#*:}"
        size_rows+=("| $name | ${pair%%:*} | $(mib "$app") | $(mib "$disk") | $files | $(mib "$tgz") | $(pct "$tgz" "$in_tgz") |")
    done
    cp_med=$(tr ' ' '\n' <<<"${samples[cp-a]}" | grep . | median)
    for v in "${variants[@]}"; do
        vals=$(tr ' ' '\n' <<<"${samples[$v]}" | grep .)
        med=$(median <<<"$vals")
        lo=$(sort -g <<<"$vals" | head -1)
        hi=$(sort -g <<<"$vals" | tail -1)
        ratio=$(awk -v a="$med" -v b="$cp_med" 'BEGIN { printf "%.1fx", a / b }')
        peak=n/a
        if [ $have_time -eq 1 ] && [ "$v" != cp-a ]; then
            peak="$(tr ' ' '\n' <<<"${rss[$v]}" | grep . | sort -g | tail -1 | awk '{ printf "%.0f", $1 / 1024 }') MiB"
        elif [ "$v" = cp-a ]; then
            peak="-"
        fi
        time_rows+=("| $name | $v | $med | $lo | $hi | $ratio | $peak |")
    done
    unset samples rss
done

echo
echo "### Wall time (s), warm cache, $rounds interleaved rounds"
echo
echo "| venv | command | median | min | max | median / cp -a | venvslim peak RSS |"
echo "|---|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${time_rows[@]}"
echo
echo "### Sizes (MiB; tar.gz = tar -cf - . | gzip -6)"
echo
echo "| venv | tree | apparent | disk | files | tar.gz | tar.gz vs input |"
echo "|---|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${size_rows[@]}"
echo
echo
echo "venvslim reports of the warm-up runs: $logdir/"
