#!/usr/bin/env bash
# venvslim's default output against a careful hand-made slim of the same venv, in one run.
#
#   benches/hand_slim.sh VENV [VENV...]
#
# For each VENV (never modified):
#   venvslim  venvslim slim VENV -o TMP/NAME-venvslim          (default settings)
#   hand      cp -a VENV TMP/NAME-hand, then what an engineer would script in a Dockerfile
#             (hand_slim below): pip, setuptools and wheel removed by name (with their
#             dist-info, bin scripts, pkg_resources, _distutils_hack, distutils-precedence.pth);
#             the junk rules of `venvslim rules` that can be applied safely by name (find
#             commands; no import guard, so every file a rule names goes); every __pycache__
#             removed and site-packages compiled again with `compileall --invalidation-mode
#             unchecked-hash` for the venv's own path; GNU `strip --strip-unneeded` on every ELF
#             shared library, each one loaded afterwards (ctypes.CDLL) and put back unstripped
#             if it no longer loads (hand_slim.py strip).
# Then `venvslim verify OUT --against VENV` (deep, the default with --against) on both trees:
# "clean" is exit 0. The hand slim is verified too, since a slim that breaks imports is not a
# fair reference.
#
# Prints a table: input, hand and venvslim bytes and regular files (hand_slim.py size: apparent
# bytes of regular files, each inode once; the same measure for all three), venvslim / hand, and
# both verify verdicts; then, per venv, what venvslim's output holds that the hand slim does not
# (and the other way), grouped by directory (hand_slim.py diff).
#
# What the hand slim leaves as venvslim's rules would not: METADATA and RECORD are kept whole
# (venvslim cuts METADATA's body and rewrites RECORD); tests/ and docs/ are removed whatever
# imports them (venvslim's import guard keeps what kept code imports); ELF files not named
# *.so / *.so.* are not stripped.
#
# Environment: VENVSLIM (binary; default target/release/venvslim under the repo root),
# BENCH_TMP (scratch parent; default $TMPDIR or /tmp), LOGDIR (venvslim's reports and the
# hand slim's logs; default target/bench-logs under the repo root), DIFF_TOP (directory groups
# listed per venv, default 10), KEEP=1 (keep the trees and print where they are), VERIFY_HAND=0
# (skip verifying the hand slim).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venvslim=${VENVSLIM:-$root/target/release/venvslim}
logdir=${LOGDIR:-$root/target/bench-logs}
pypart=$root/benches/hand_slim.py
top=${DIFF_TOP:-10}

if [ $# -eq 0 ]; then
    echo "usage: $0 VENV [VENV...]" >&2
    exit 2
fi
if [ ! -x "$venvslim" ]; then
    echo "error: no venvslim binary at $venvslim" >&2
    echo "hint: run \`cargo build --release\` or set VENVSLIM" >&2
    exit 2
fi
for tool in strip python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 2; }
done
case $top in '' | *[!0-9]*) echo "error: DIFF_TOP must be a number" >&2; exit 2 ;; esac

mkdir -p "$logdir"
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/venvslim-hand.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "trees kept in $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

# Licence and attribution files are never removed (venvslim's is_license_name).
not_license=(! -iname 'license*' ! -iname 'licence*' ! -iname 'copying*' ! -iname 'notice*'
    ! -iname 'authors*' ! -iname 'copyright*' ! -iname '*.license')

# rm_files DIR FIND-TESTS...: delete the regular files under DIR that match, licences kept.
rm_files() {
    local dir=$1
    shift
    find "$dir" -type f "$@" "${not_license[@]}" -delete
}

# hand_slim TREE VENV: the hand recipe on TREE, a `cp -a` of VENV.
hand_slim() {
    local tree=$1 venv=$2 sp d rel
    local sps=("$tree"/lib/python3*/site-packages)
    if [ ${#sps[@]} -ne 1 ] || [ ! -d "${sps[0]}" ]; then
        echo "error: expected one lib/python3*/site-packages in $tree" >&2
        return 2
    fi
    sp=${sps[0]}

    # Installers, by name.
    rm -rf "$sp"/{pip,setuptools,wheel,pkg_resources,_distutils_hack,distutils-precedence.pth}
    rm -rf "$sp"/{pip,setuptools,wheel}-*.dist-info
    find "$tree/bin" -maxdepth 1 \( -name pip -o -name 'pip3*' -o -name wheel -o -name 'easy_install*' \) -delete

    # Bytecode: all of it goes, and is compiled again below.
    find "$tree" -depth -type d -name __pycache__ -exec rm -rf {} +
    find "$sp" -type f -name '*.pyo' -delete

    # tests.dir, tests.conftest (with venvslim's allowlist of runtime code in test directories).
    find "$sp" -type d \( -name tests -o -name test \) -prune -print0 |
        while IFS= read -r -d '' d; do
            rel=${d#"$sp"/}
            case $rel in django/test | django/test/*) continue ;; esac
            find "$d" -type f ! -path "$sp/numpy/_core/tests/_natype.py" \
                ! -path "$sp/numpy/core/tests/_natype.py" -delete
            find "$d" -depth -type d -empty -delete
        done
    find "$sp" -type f -name conftest.py ! -path "$sp/django/test/*" -delete

    # stubs.pyi, stubs.py-typed (mypy and jedi read their bundled stubs).
    rm_files "$sp" -name '*.pyi' ! -path "$sp/mypy/*" ! -path "$sp/jedi/third_party/*" \
        ! -path "$sp/typeshed_client/typeshed/*"
    rm_files "$sp" -name py.typed
    # sources.c (packages that compile at run time keep theirs).
    rm_files "$sp" -regextype posix-extended -iregex '.*\.(c|h|cc|cpp|cxx|hpp|hh|hxx|pyx|pxd|pxi|inl|tcc|cuh)' \
        ! -path "$sp/triton/*" ! -path "$sp/torch/include/*" ! -path "$sp/torch/_inductor/*" \
        ! -path "$sp/cffi/*" ! -path "$sp/Cython/*" ! -path "$sp/pyximport/*"
    # translations.po, sourcemaps, windows.exe, static-libs.
    rm_files "$sp" \( -iname '*.po' -o -iname '*.pot' \)
    rm_files "$sp" \( -iname '*.js.map' -o -iname '*.mjs.map' -o -iname '*.cjs.map' -o -iname '*.css.map' \)
    rm_files "$sp" -iname '*.exe'
    rm_files "$sp" -iname '*.a'
    # docs.files: README, CHANGELOG... with a documentation extension or none.
    rm_files "$sp" -regextype posix-extended -iregex \
        '.*/(readme|changelog|changes|history|news|contributing|code_of_conduct|security|release_notes)((\.[^/]*)?\.(md|rst|txt|markdown))?'
    # sources.include and docs.dir: such directories that are not packages (no __init__.py).
    find "$sp" -type d \( -name include -o -name docs -o -name doc -o -name examples -o -name example \) \
        -print0 | while IFS= read -r -d '' d; do
            [ -e "$d/__init__.py" ] && continue
            case ${d#"$sp"/} in triton/* | torch/include/* | torch/_inductor/* | cffi/* | Cython/* | pyximport/*) continue ;; esac
            if [ "${d##*/}" = include ]; then
                rm_files "$d" ! -name '*.py' ! -name '*.so' ! -name '*.so.*' ! -name '*.pyc' ! -name '*.pth'
            else
                rm_files "$d"
            fi
        done
    rm -rf "$tree/include" "$tree/share/man" "$tree/share/doc"
    # activation.
    rm -f "$tree"/bin/{activate,activate.csh,activate.fish,Activate.ps1}
    # dist-info.install-only.
    find "$sp" -path "$sp/*.dist-info/*" -type f \( -name INSTALLER -o -name REQUESTED -o -name WHEEL \
        -o -name DESCRIPTION.rst -o -name metadata.json -o -name RECORD.jws -o -name RECORD.p7s \) -delete

    # Bytecode for the venv's own path (-s/-p), unchecked-hash, as a builder stage would.
    "$tree/bin/python" -I -m compileall -q -j 2 --invalidation-mode unchecked-hash \
        -s "$tree" -p "$venv" "$sp" >"$tree.compile.log" 2>&1 || true
    echo "compileall: $(grep -c '^\*\*\*' "$tree.compile.log" || true) sources did not compile"

    # GNU strip where the library still loads.
    python3 "$pypart" strip "$tree" "$tree/bin/python"
}

# verify TREE VENV LOG: clean or broken, from venvslim verify's exit code.
verify() {
    local st=0
    "$venvslim" verify "$1" --against "$2" >"$3" 2>&1 || st=$?
    case $st in 0) echo clean ;; 1) echo broken ;; *) echo "error($st)" ;; esac
}

rows=()
diffs=()
for venv in "$@"; do
    venv=$(cd "$venv" && pwd)
    name=$(basename "$venv")
    out=$tmp/$name-venvslim
    hand=$tmp/$name-hand
    echo "== $name" >&2

    "$venvslim" slim "$venv" -o "$out" >"$logdir/hand_slim-$name.slim.txt" 2>&1 || {
        echo "error: venvslim slim failed on $venv; see $logdir/hand_slim-$name.slim.txt" >&2
        exit 1
    }
    cp -a "$venv" "$hand"
    hand_slim "$hand" "$venv" >"$logdir/hand_slim-$name.hand.txt" 2>&1
    grep -E '^(compileall|strip):' "$logdir/hand_slim-$name.hand.txt" >&2 || true

    read -r in_b in_f < <(python3 "$pypart" size "$venv")
    read -r hand_b hand_f < <(python3 "$pypart" size "$hand")
    read -r vs_b vs_f < <(python3 "$pypart" size "$out")
    ratio=$(python3 -c "print(f'{$vs_b / $hand_b:.3f}')")
    v_out=$(verify "$out" "$venv" "$logdir/hand_slim-$name.verify.txt")
    v_hand=n/a
    [ "${VERIFY_HAND:-1}" = 0 ] || v_hand=$(verify "$hand" "$venv" "$logdir/hand_slim-$name.verify-hand.txt")
    rows+=("$(printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s' "$name" "$in_b" "$in_f" "$hand_b" "$hand_f" \
        "$vs_b" "$vs_f" "$ratio" "$v_out" "$v_hand")")
    diffs+=("== $name"$'\n'"$(python3 "$pypart" diff "$out" "$hand" "$top")")
    [ "${KEEP:-0}" = 1 ] || rm -rf "$out" "$hand" "$hand.compile.log"
done

echo
echo "venvslim $("$venvslim" --version 2>/dev/null | head -1)"
printf '| %s | %s | %s | %s | %s | %s | %s |\n' venv 'input bytes (files)' 'hand bytes (files)' \
    'venvslim bytes (files)' 'venvslim / hand' 'verify venvslim' 'verify hand'
echo '|---|---:|---:|---:|---:|---|---|'
for row in "${rows[@]}"; do
    IFS='|' read -r name in_b in_f hand_b hand_f vs_b vs_f ratio v_out v_hand <<<"$row"
    printf '| %s | %s (%s) | %s (%s) | %s (%s) | %s | %s | %s |\n' "$name" "$in_b" "$in_f" \
        "$hand_b" "$hand_f" "$vs_b" "$vs_f" "$ratio" "$v_out" "$v_hand"
done
echo
printf '%s\n\n' "${diffs[@]}"
echo "logs: $logdir/hand_slim-*.txt"
