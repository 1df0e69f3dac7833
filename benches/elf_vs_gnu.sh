#!/usr/bin/env bash
# venvslim's ELF engine against GNU strip (binutils) on every ELF file of a real venv, same run.
#
#   benches/elf_vs_gnu.sh VENV
#
# VENV: a venv with numpy 2.x, scipy, pyarrow, polars, uvloop, psycopg2-binary, pillow,
# opencv-python-headless and pyyaml built from source (make one with `benches/elf_vs_gnu.sh
# --make-venv DIR`). Per ELF file under site-packages: bytes before, after
# `strip --strip-unneeded`, after `venvslim strip`; gzip -6 sizes; whether each output still loads
# (import / ctypes.CDLL in a subprocess of the copied venv's python); a workload per package on
# both trees; wall time of both tools over all files (interleaved rounds on fresh copies) and
# peak RSS on the largest file. See benches/elf_vs_gnu.py for the details and docs/elf.md for a
# measured run.
#
# Environment: VENVSLIM (default target/release/venvslim; point it at a copy if others rebuild the
# tree while you measure), ROUNDS (3), JOBS (parallel load checks, 2), BENCH_TMP (scratch parent,
# default target/elfbench-tmp: needs ~3x the venv's size), REPORT (markdown output, default
# target/elfbench/elf_vs_gnu.md, raw data beside it as .json), GNU_STRIP (/usr/bin/strip),
# KEEP_TREES=1 to keep the stripped trees. Needs python3, gzip, cp, /usr/bin/time
# (`apt-get install -y time`) and binutils.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() {
    echo "usage: $0 VENV | $0 --make-venv DIR" >&2
    exit 2
}
[ $# -ge 1 ] || usage

if [ "$1" = --make-venv ]; then
    # The wheelhouse venv: the binary wheels as PyPI serves them, pyyaml compiled here (its
    # _yaml extension needs libyaml-dev; without it pyyaml installs pure-Python, which we refuse).
    [ $# -eq 2 ] || usage
    dir=$2
    [ ! -e "$dir" ] || { echo "error: $dir exists" >&2; exit 2; }
    python=${PYTHON:-python3}
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install --disable-pip-version-check -q --only-binary=:all: \
        numpy scipy pyarrow polars uvloop psycopg2-binary pillow opencv-python-headless
    "$dir/bin/python" -m pip install --disable-pip-version-check -q --no-binary pyyaml pyyaml
    if ! ls "$dir"/lib/python*/site-packages/yaml/_yaml*.so >/dev/null 2>&1; then
        echo "error: pyyaml built without its C extension (install libyaml-dev and gcc, then retry)" >&2
        exit 1
    fi
    "$dir/bin/python" -m pip freeze --all --disable-pip-version-check >"$dir.freeze.txt"
    echo "venv: $dir; freeze: $dir.freeze.txt"
    exit 0
fi

[ $# -eq 1 ] || usage
missing=()
for tool in python3 gzip cp sync "${GNU_STRIP:-/usr/bin/strip}" /usr/bin/time; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "error: missing ${missing[*]} (apt-get install -y binutils time gzip)" >&2
    exit 2
fi
if ! ls "$1"/lib/python*/site-packages/yaml/_yaml*.so >/dev/null 2>&1; then
    echo "warning: no yaml/_yaml*.so in $1: pyyaml was not built with libyaml; its workload will fail" >&2
fi
exec python3 "$here/elf_vs_gnu.py" "$1"
