#!/usr/bin/env bash
# Build an example venv to benchmark venvslim on.
#
#   benches/make_venv.sh NAME DIR
#
# NAME is one of:
#   web      fastapi, uvicorn[standard], sqlalchemy
#   django   django
#   datasci  numpy, pandas, scipy, scikit-learn, matplotlib
#   big      pyarrow, polars, opencv-python-headless, onnxruntime, numpy, pandas
#            (~800 MB: the whole-run benchmark's large case, mostly ELF files)
#
# The venv is made with `$PYTHON -m venv` (PYTHON defaults to python3) and filled by pip from
# PyPI, unpinned: benchmarks compare variants of the same venv in the same run, so the exact
# versions matter less than knowing them. They are written, with pip and setuptools, to
# DIR/../NAME.freeze.txt (`pip freeze --all`). DIR must not exist, or be an empty directory.
set -euo pipefail

usage() {
    echo "usage: $0 web|django|datasci|big DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
name=$1
dir=$2
case $name in
    web) pkgs=(fastapi 'uvicorn[standard]' sqlalchemy) ;;
    django) pkgs=(django) ;;
    datasci) pkgs=(numpy pandas scipy scikit-learn matplotlib) ;;
    big) pkgs=(pyarrow polars opencv-python-headless onnxruntime numpy pandas) ;;
    *) usage ;;
esac

if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "error: $dir exists and is not empty" >&2
    echo "hint: remove it first, or pick another DIR" >&2
    exit 2
fi

python=${PYTHON:-python3}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
freeze="$(dirname "$dir")/$name.freeze.txt"

"$python" -m venv "$dir"
"$dir/bin/python" -m pip install --disable-pip-version-check --quiet "${pkgs[@]}"
"$dir/bin/python" -m pip freeze --all --disable-pip-version-check >"$freeze"

echo "venv:   $dir ($("$dir/bin/python" -c 'import sys; print(sys.version.split()[0])'))"
echo "freeze: $freeze ($(wc -l <"$freeze") distributions)"
