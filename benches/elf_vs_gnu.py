#!/usr/bin/env python3
"""venvslim's ELF engine against GNU strip on a real venv, in one run.

    python3 benches/elf_vs_gnu.py VENV        (benches/elf_vs_gnu.sh is the usual entry point)

For every ELF file (by the magic \\x7fELF, symlinks skipped) under VENV's site-packages:
copies VENV twice (`cp -a`) to A and B; in A runs `strip --strip-unneeded FILE` (binutils) file by
file, recording the exit status; in B runs `venvslim strip FILE...` (default mode `unneeded`).
Then, per file: bytes before / after GNU / after ours, `gzip -6` size of each, and whether each
output still loads:

- an extension module (`name.cpython-*.so`, `name.abi3.so` inside an importable package):
  `TREE/bin/python -c 'import pkg.mod'` in a subprocess. If the module does not import in the
  original venv either (an optional dependency missing), `ctypes.CDLL(path)` is the check instead.
- any other ELF file (vendored libraries: `*.libs/`, `pyarrow/libarrow*.so.N`):
  `ctypes.CDLL(path)` in a fresh subprocess AND the import of the extension module that maps it
  in the original venv (found from /proc/self/maps) still imports and maps it.

Then a workload per package runs on the original, A and B (numpy matmul+inv, scipy svd+optimize,
pyarrow parquet round trip, polars group_by, uvloop, psycopg2 adapt, pillow resize+PNG, cv2
GaussianBlur, yaml CLoader). Then timing: ROUNDS interleaved rounds, each on fresh copies of
the ELF files, of GNU strip over all files in one command, `venvslim strip` over all files, and
`venvslim strip` with RAYON_NUM_THREADS=1; and peak RSS (`/usr/bin/time -f %M`) of both on the
largest file.

Writes a markdown report (stdout and REPORT) and the raw data as JSON beside it.
Environment: VENVSLIM (binary), BENCH_TMP (scratch parent, same filesystem as the venv is best),
ROUNDS (default 3), JOBS (parallel load checks, default 2), REPORT (markdown path),
GNU_STRIP (default /usr/bin/strip), KEEP_TREES=1 (keep A and B for inspection).
"""

import concurrent.futures as cf
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("ROUNDS", "3"))
JOBS = int(os.environ.get("JOBS", "2"))
GNU_STRIP = os.environ.get("GNU_STRIP", "/usr/bin/strip")
CHECK_TIMEOUT = 300

# Workloads: one script per package in benches/elf_workloads/ (the ELF real-wheel test runs the
# same files). Each is run as `TREE/bin/python -I -B -c CODE` with a scratch dir as cwd; it must
# exit 0 and print one line starting with "ok".
WORKLOADS_DIR = Path(__file__).resolve().parent / "elf_workloads"


def load_workloads():
    """{package: code} of every benches/elf_workloads/PACKAGE.py, in name order."""
    return {p.stem: p.read_text() for p in sorted(WORKLOADS_DIR.glob("*.py"))}


# One load check, run in a subprocess of TREE/bin/python: `import MODULE` or `ctypes.CDLL(PATH)`;
# then, if MUST_MAP is given (a path relative to site-packages), that file must be mapped in the
# process (/proc/self/maps). Prints the site-packages files mapped, as JSON.
LOAD_CHECK = r"""
import ctypes, importlib, json, sys
mode, target, root, must_map = sys.argv[1:5]
result_out, sys.stdout = sys.stdout, sys.stderr  # modules may print (cv2 does): keep stdout for the JSON
if mode == "import":
    importlib.import_module(target)
else:
    ctypes.CDLL(target)
maps = set()
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith(root + "/"):
            maps.add(parts[5].strip()[len(root) + 1:])
if must_map and must_map not in maps:
    sys.exit(f"{must_map} is not mapped after {mode} {target}")
print(json.dumps(sorted(maps)), file=result_out)
"""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def log(msg):
    print(f"[elf_vs_gnu {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    env["POLARS_MAX_THREADS"] = "1"
    return env


def run_py(tree, args, cwd, timeout=CHECK_TIMEOUT):
    """Run TREE/bin/python -I -B ARGS: (ok, stdout, short reason)."""
    try:
        p = subprocess.run(
            [str(tree / "bin/python"), "-I", "-B", *args],
            cwd=cwd,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, "", f"timeout after {timeout}s"
    if p.returncode == 0:
        return True, p.stdout, ""
    err = [l for l in p.stderr.strip().splitlines() if l.strip()]
    reason = err[-1] if err else f"exit {p.returncode}"
    if p.returncode < 0:
        reason = f"signal {-p.returncode}: {reason}"
    return False, p.stdout, reason[:300]


def is_elf(p):
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def gz_size(path):
    """gzip -6 -c FILE | wc -c"""
    p1 = subprocess.Popen(["gzip", "-6", "-c", "-n", str(path)], stdout=subprocess.PIPE)
    n = 0
    while True:
        b = p1.stdout.read(1 << 20)
        if not b:
            break
        n += len(b)
    if p1.wait() != 0:
        raise RuntimeError(f"gzip failed on {path}")
    return n


def site_packages(venv):
    for d in sorted((venv / "lib").glob("python*/site-packages")):
        return d.relative_to(venv)
    sys.exit(f"error: no lib/python*/site-packages in {venv}")


def record_owners(sp):
    """relative path under site-packages -> distribution name (from each dist-info's RECORD)."""
    owners = {}
    for di in sp.glob("*.dist-info"):
        name = di.name[: -len(".dist-info")].rsplit("-", 1)[0]
        meta = di / "METADATA"
        if meta.exists():
            for line in meta.read_text(errors="replace").splitlines():
                if line.startswith("Name:"):
                    name = line.split(":", 1)[1].strip()
                    break
                if not line.strip():
                    break
        rec = di / "RECORD"
        if rec.exists():
            for line in rec.read_text(errors="replace").splitlines():
                path = line.rsplit(",", 2)[0]
                owners[os.path.normpath(path)] = name.lower()
    return owners


def ext_suffixes(python):
    out = subprocess.run(
        [str(python), "-I", "-c", "import importlib.machinery as m; print('\\n'.join(m.EXTENSION_SUFFIXES))"],
        capture_output=True, text=True, check=True, env=child_env(),
    )
    return [s for s in out.stdout.split() if s]


def module_name(rel, suffixes, sp):
    """Dotted module name of an extension module at REL (relative to site-packages), or None."""
    name = Path(rel).name
    suf = next((s for s in sorted(suffixes, key=len, reverse=True) if name.endswith(s)), None)
    if suf is None:
        return None
    parts = list(Path(rel).parts[:-1])
    # every parent must be a package (regular or namespace: a directory with a valid name)
    for i in range(len(parts)):
        if not parts[i].isidentifier():
            return None
    return ".".join(parts + [name[: -len(suf)]])


# ---------------------------------------------------------------------------------------------
# ELF section table (for explaining differences): 32/64-bit, both endians, no dependencies.
# ---------------------------------------------------------------------------------------------

SHT_NAMES = {0: "NULL", 1: "PROGBITS", 2: "SYMTAB", 3: "STRTAB", 4: "RELA", 8: "NOBITS", 9: "REL", 11: "DYNSYM"}


def elf_layout(path):
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return None
        is64 = ident[4] == 2
        e = "<" if ident[5] == 1 else ">"
        if is64:
            hdr = struct.unpack(e + "HHIQQQIHHHHHH", f.read(48))
            _, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = hdr
        else:
            hdr = struct.unpack(e + "HHIIIIIHHHHHH", f.read(36))
            _, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = hdr
        load_end = 0
        loads = []
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if is64:
                p_type, _, p_offset, _, _, p_filesz = struct.unpack(e + "IIQQQQ", f.read(40))
            else:
                p_type, p_offset, _, _, p_filesz = struct.unpack(e + "IIIII", f.read(20))
            if p_type == 1:
                load_end = max(load_end, p_offset + p_filesz)
                loads.append((p_offset, p_filesz))
        secs = []
        if shoff:
            if shnum == 0:
                f.seek(shoff)
                raw = f.read(shentsize)
                shnum = struct.unpack(e + ("IIQQQQ" if is64 else "IIIIII"), raw[: 40 if is64 else 24])[5]
            if shstrndx == 0xFFFF:
                f.seek(shoff)
                raw = f.read(shentsize)
                shstrndx = struct.unpack(e + ("IIQQQQII" if is64 else "IIIIIIII"), raw[: 48 if is64 else 32])[6]
            for i in range(shnum):
                f.seek(shoff + i * shentsize)
                if is64:
                    name, typ, flags, _, off, size = struct.unpack(e + "IIQQQQ", f.read(40))
                else:
                    name, typ, flags, _, off, size = struct.unpack(e + "IIIIII", f.read(24))
                secs.append([name, typ, flags, off, size])
            if 0 < shstrndx < len(secs):
                _, _, _, stroff, strsize = secs[shstrndx]
                f.seek(stroff)
                strtab = f.read(strsize)
                for s in secs:
                    end = strtab.find(b"\0", s[0])
                    s[0] = strtab[s[0] : end].decode(errors="replace") if s[0] < len(strtab) else "?"
        return {
            "is64": is64,
            "loads": loads,
            "load_end": load_end,
            "size": os.path.getsize(path),
            "shoff": shoff,
            "sections": [
                {"name": n, "type": SHT_NAMES.get(t, hex(t)), "alloc": bool(fl & 2), "off": o, "size": sz}
                for n, t, fl, o, sz in secs
            ],
        }


def explain(before, gnu, ours, verdict):
    """Why ours saves less than GNU on this file: which sections each removed, where they were."""
    lb, lg, lo = elf_layout(before), elf_layout(gnu), elf_layout(ours)
    named = lambda lay: {s["name"]: s for s in lay["sections"] if s["type"] != "NULL" and s["name"]}
    nb, ng, no = named(lb), named(lg), named(lo)
    gnu_removed = {n: s["size"] for n, s in nb.items() if n not in ng and s["type"] != "NOBITS"}
    ours_removed = {n: s["size"] for n, s in nb.items() if n not in no and s["type"] != "NOBITS"}
    gnu_only = {n: sz for n, sz in gnu_removed.items() if n not in ours_removed}
    shrunk = {
        n: (nb[n]["size"], ng[n]["size"])
        for n in nb
        if n in ng and n in no and ng[n]["size"] < nb[n]["size"] and ng[n]["type"] != "NOBITS"
    }
    in_load = lambda off, size: any(o <= off and off + size <= o + fs for o, fs in lb["loads"])
    between = {n: sz for n, sz in ours_removed.items() if nb[n]["off"] + nb[n]["size"] <= lb["load_end"]}
    parts = []
    if verdict == "nothing_to_strip":
        parts.append("ours: nothing to strip (no debug sections, no .symtab)")
    if between and lo["size"] >= lb["size"] - sum(between.values()) // 2:
        parts.append(
            "sections ours removed lie before the end of the last PT_LOAD (between segments: patchelf "
            f"layout) and could not be reclaimed by moving the trailing segments, so they are zeroed "
            f"in place: {fmt_secs(between)}"
        )
    shdr_size = len(lb["sections"]) * (64 if lb["is64"] else 40)
    if lo["size"] > lb["size"] and in_load(lb["shoff"], shdr_size):
        parts.append(
            f"ours grew by {lo['size'] - lb['size']} B: the original section header table lies inside "
            f"a PT_LOAD (offset {lb['shoff']}, patchelf layout), which must stay byte-identical, so a new "
            "table is appended"
        )
    if gnu_only:
        parts.append(f"GNU also removed {fmt_secs(gnu_only)}")
    if shrunk:
        parts.append(
            "GNU shrank sections ours keeps whole (strip merges the annobin notes of "
            ".gnu.build.attributes; .shstrtab loses the removed names): "
            + ", ".join(f"{n} {a}->{b}" for n, (a, b) in shrunk.items())
        )
    removed_gnu = sum(gnu_removed.values()) + sum(a - b for a, b in shrunk.values())
    layout = (lb["size"] - lg["size"]) - removed_gnu
    if layout > 0:
        parts.append(f"{layout} B of GNU's saving is layout (alignment padding between sections/segments dropped by re-laying out the file)")
    # GNU rewrites program headers: a PT_LOAD whose file size shrank lost bytes the loader maps
    # (patchelf leaves unused space inside its segments). Ours never changes a loaded byte.
    loaded_cut = sum(fb - fg for (_, fb), (_, fg) in zip(lb["loads"], lg["loads"]) if fg < fb)
    if loaded_cut:
        parts.append(
            f"GNU cut {loaded_cut} B out of loaded segments (PT_LOAD p_filesz shrunk; mapped bytes "
            "ours never changes)"
        )
    deficit = (lb["size"] - lg["size"]) - (lb["size"] - lo["size"])
    if loaded_cut and deficit <= loaded_cut + 4096:
        cat = "loaded"
    elif lo["size"] > lb["size"] and in_load(lb["shoff"], shdr_size):
        cat = "grew"
    elif between and lo["size"] >= lb["size"] - sum(between.values()) // 2:
        cat = "zeroed"
    elif verdict == "nothing_to_strip":
        cat = "nothing"
    else:
        cat = "notes"
    return "; ".join(parts) or "no section-level difference found", cat


def fmt_secs(d):
    return ", ".join(f"{n} ({sz} B)" for n, sz in sorted(d.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def copy_tree(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def copy_files(root, rels, dst):
    """Fresh copies of ROOT/REL for each REL under DST (modes and mtimes kept)."""
    dst.mkdir(parents=True)
    subprocess.run(["cp", "-a", "--parents", *rels, str(dst)], cwd=root, check=True)


def timed(cmd, cwd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0, p.returncode, p.stderr.decode(errors="replace")


def peak_rss(cmd, env=None):
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(
            ["/usr/bin/time", "-o", t.name, "-f", "%M", *cmd],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        lines = [l for l in t.read().split() if l.strip().isdigit()]
        return (int(lines[-1]) if lines else None), p.returncode


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        # re-render the markdown of a saved run: elf_vs_gnu.py --render REPORT.json
        data = json.loads(Path(sys.argv[2]).read_text())
        print(render(data, Path(data["venv"])), end="")
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    venv = Path(sys.argv[1]).resolve()
    if not (venv / "bin/python").exists() or not (venv / "pyvenv.cfg").exists():
        sys.exit(f"error: {venv} is not a venv (no bin/python or pyvenv.cfg)")
    repo = Path(__file__).resolve().parent.parent
    venvslim = Path(os.environ.get("VENVSLIM", repo / "target/release/venvslim")).resolve()
    if not venvslim.exists():
        sys.exit(f"error: {venvslim} not found (cargo build --release, or set VENVSLIM)")
    report_path = Path(os.environ.get("REPORT", repo / "target/elfbench/elf_vs_gnu.md"))
    report_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_parent = Path(os.environ.get("BENCH_TMP", repo / "target/elfbench-tmp"))
    tmp_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="elf-vs-gnu-", dir=tmp_parent)).resolve()
    log(f"scratch {work}")
    t_start = time.time()

    sp_rel = site_packages(venv)
    sp = venv / sp_rel
    owners = record_owners(sp)
    files = []
    for root, _, names in os.walk(sp):
        for n in names:
            p = Path(root) / n
            if not p.is_symlink() and p.is_file() and is_elf(p):
                files.append(str(p.relative_to(venv)))
    files.sort()
    log(f"{len(files)} ELF files under {sp_rel}")
    suffixes = ext_suffixes(venv / "bin/python")

    def owner(rel):
        r = os.path.normpath(os.path.relpath(rel, sp_rel))
        if r in owners:
            return owners[r]
        return "?" + Path(r).parts[0]

    rows = {}
    for rel in files:
        r = os.path.relpath(rel, sp_rel)
        rows[rel] = {
            "file": r,
            "package": owner(rel),
            "module": module_name(r, suffixes, sp),
            "before": os.path.getsize(venv / rel),
        }

    # ---- A (GNU) and B (ours) ----
    A, B = work / "A", work / "B"
    log("cp -a venv -> A, B")
    copy_tree(venv, A)
    copy_tree(venv, B)
    log(f"GNU {GNU_STRIP} --strip-unneeded, file by file, in A")
    gnu_version = subprocess.run([GNU_STRIP, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    for rel in files:
        p = subprocess.run([GNU_STRIP, "--strip-unneeded", rel], cwd=A, capture_output=True, text=True)
        rows[rel]["gnu_exit"] = p.returncode
        rows[rel]["gnu_stderr"] = p.stderr.strip()[:300]
    log("venvslim strip --json, all files, in B")
    p = subprocess.run([str(venvslim), "strip", "--json", *files], cwd=B, capture_output=True, text=True)
    ours_exit = p.returncode
    try:
        verdicts = {f["path"]: f for f in json.loads(p.stdout)["files"]}
    except (ValueError, KeyError):
        sys.exit(f"venvslim strip printed no JSON (exit {p.returncode}):\n{p.stdout[:2000]}\n{p.stderr[:2000]}")
    for rel in files:
        v = verdicts.get(rel, {})
        rows[rel]["ours_verdict"] = v.get("verdict", "missing")
        if "why" in v:
            rows[rel]["ours_why"] = v["why"]
        if "error" in v:
            rows[rel]["ours_why"] = v["error"]
    for rel in files:
        rows[rel]["gnu"] = os.path.getsize(A / rel)
        rows[rel]["ours"] = os.path.getsize(B / rel)

    log("gzip -6 sizes")
    with cf.ThreadPoolExecutor(JOBS) as ex:
        for key, root in (("before_gz", venv), ("gnu_gz", A), ("ours_gz", B)):
            for rel, n in zip(files, ex.map(lambda r: gz_size(root / r), files)):
                rows[rel][key] = n

    # ---- load checks ----
    # A check spec is a list of (mode, target, must_map): ("import", module, rel or "") or
    # ("cdll", rel, ""); a file is loadable when every check of its spec passes. Specs come from
    # what works in the original venv.
    cwd = work / "cwd"
    cwd.mkdir()
    spr = lambda rel: os.path.relpath(rel, sp_rel)  # relative to site-packages

    def run_check(tree, check):
        mode, target, must = check
        tgt = str(tree / target) if mode == "cdll" else target
        ok, out, why = run_py(tree, ["-c", LOAD_CHECK, mode, tgt, str(tree / sp_rel), must], cwd)
        return ok, why, (json.loads(out) if ok else [])

    def run_spec(tree, spec):
        for check in spec:
            ok, why, _ = run_check(tree, check)
            if not ok:
                what = f"{check[0]} {spr(check[1]) if check[0] == 'cdll' else check[1]}"
                return False, f"{what}: {why}"
        return True, ""

    ext = [rel for rel in files if rows[rel]["module"]]
    libs = [rel for rel in files if not rows[rel]["module"]]
    log(f"original: {len(ext)} extension modules (import), {len(files)} files (CDLL)")
    with cf.ThreadPoolExecutor(JOBS) as ex:
        imp = dict(zip(ext, ex.map(lambda r: run_check(venv, ("import", rows[r]["module"], "")), ext)))
        cdl = dict(zip(files, ex.map(lambda r: run_check(venv, ("cdll", r, "")), files)))
        tops = sorted({rows[r]["module"].split(".")[0] for r in ext if not imp[r][0]})
        top_imp = dict(zip(tops, ex.map(lambda t: run_check(venv, ("import", t, "")), tops)))
    mapped_by = {}  # file (rel to site-packages) -> [(number of files mapped, module)] importing it
    importers = [(rows[rel]["module"], imp[rel]) for rel in ext] + list(top_imp.items())
    for mod, (ok, _, maps) in importers:
        for m in maps if ok else []:
            mapped_by.setdefault(m, []).append((len(maps), mod))
    for rel in files:
        row = rows[rel]
        row["orig_cdll_why"] = cdl[rel][1]
        spec = []
        if row["module"] and imp[rel][0]:
            spec = [("import", row["module"], "")]
        elif row["module"]:
            row["orig_import_why"] = imp[rel][1]
            top = row["module"].split(".")[0]
            if top_imp[top][0] and row["file"] in top_imp[top][2]:
                spec = [("import", top, row["file"])]  # e.g. cv2's loader imports cv2.abi3.so as `cv2`
            elif cdl[rel][0]:
                spec = [("cdll", rel, "")]
        else:
            if cdl[rel][0]:
                spec.append(("cdll", rel, ""))
            cands = sorted(mapped_by.get(row["file"], []))
            if cands:
                row["importer"] = cands[0][1]
                spec.append(("import", cands[0][1], row["file"]))
        row["spec"] = spec
        row["load_how"] = " + ".join(
            f"import {t}" + (" (maps it)" if m else "") if k == "import" else "CDLL" for k, t, m in spec
        ) or "n/a"
        row["orig_loadable"] = True if spec else None
        if not spec:
            row["orig_loadable_why"] = row.get("orig_import_why") or cdl[rel][1]

    # Whole trees: every file stripped at once (what an image gets).
    checked = [r for r in files if rows[r]["spec"]]
    for tag, tree in (("gnu", A), ("ours", B)):
        log(f"whole-tree load checks: {tag}")
        with cf.ThreadPoolExecutor(JOBS) as ex:
            for rel, (ok, why) in zip(checked, ex.map(lambda r: run_spec(tree, rows[r]["spec"]), checked)):
                rows[rel][f"{tag}_tree_loadable"] = ok
                rows[rel][f"{tag}_tree_why"] = why

    # Alone: the original venv with only this file replaced by the tool's output, so a file is
    # judged on its own bytes, not on a dependency the same tool broke. One hardlinked copy of
    # the venv per worker; the file is swapped in and out by rename (never written in place).
    swap_trees = []
    for i in range(JOBS):
        t = work / f"swap{i}"
        subprocess.run(["cp", "-al", str(venv), str(t)], check=True)
        swap_trees.append(t)
    free = __import__("queue").Queue()
    for t in swap_trees:
        free.put(t)

    def same_bytes(a, b):
        return os.path.getsize(a) == os.path.getsize(b) and subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0

    def alone(tag_tree_rel):
        tag, tree, rel = tag_tree_rel
        t = free.get()
        try:
            tmp = t / (rel + ".swap")
            shutil.copy2(tree / rel, tmp)
            os.replace(tmp, t / rel)
            try:
                return run_spec(t, rows[rel]["spec"])
            finally:
                os.link(venv / rel, tmp)
                os.replace(tmp, t / rel)
        finally:
            free.put(t)

    for tag, tree in (("gnu", A), ("ours", B)):
        todo = []
        for rel in files:
            row = rows[rel]
            if not row["spec"]:
                row[f"{tag}_loadable"], row[f"{tag}_loadable_why"] = None, row["orig_loadable_why"]
            elif same_bytes(venv / rel, tree / rel):
                row[f"{tag}_loadable"], row[f"{tag}_loadable_why"] = True, "unchanged"
            else:
                todo.append(rel)
        log(f"alone load checks: {tag}, {len(todo)} changed files")
        with cf.ThreadPoolExecutor(JOBS) as ex:
            for rel, (ok, why) in zip(todo, ex.map(alone, [(tag, tree, r) for r in todo])):
                rows[rel][f"{tag}_loadable"] = ok
                rows[rel][f"{tag}_loadable_why"] = why
    for t in swap_trees:
        shutil.rmtree(t)

    # ---- workloads ----
    log("workloads")
    workloads = {}
    for pkg, code in load_workloads().items():
        workloads[pkg] = {}
        for tag, tree in (("orig", venv), ("gnu", A), ("ours", B)):
            ok, out, why = run_py(tree, ["-c", code], cwd)
            ok = ok and out.startswith("ok")
            workloads[pkg][tag] = {"ok": ok, "out": out.strip(), "why": why}

    # ---- timing: interleaved rounds on fresh copies of the ELF files ----
    log(f"timing: {ROUNDS} interleaved rounds")
    variants = {
        "gnu": ([GNU_STRIP, "--strip-unneeded"], None),
        "ours": ([str(venvslim), "strip"], None),
        "ours-1-thread": ([str(venvslim), "strip"], dict(os.environ, RAYON_NUM_THREADS="1")),
    }
    order = list(variants)
    times = {k: [] for k in variants}
    exits = {k: [] for k in variants}
    for rnd in range(ROUNDS):
        rot = order[rnd % len(order):] + order[: rnd % len(order)]
        for name in rot:
            d = work / f"t-{rnd}-{name}"
            copy_files(venv, files, d)
            subprocess.run(["sync"], check=True)
            cmd, env = variants[name]
            secs, rc, _ = timed([*cmd, *files], d, env)
            times[name].append(secs)
            exits[name].append(rc)
            shutil.rmtree(d)
            subprocess.run(["sync"], check=True)
            log(f"  round {rnd + 1} {name}: {secs:.2f}s (exit {rc})")

    # ---- peak RSS on the largest file ----
    largest = max(files, key=lambda r: rows[r]["before"])
    rss = {}
    for name, (cmd, env) in variants.items():
        d = work / f"rss-{name}"
        copy_files(venv, [largest], d)
        kb, rc = peak_rss([*cmd, str(d / largest)], env)
        rss[name] = (kb, rc)
        shutil.rmtree(d)
    log(f"peak RSS on {largest}: {rss}")

    # ---- explanations for (a) failures ----
    for rel in files:
        row = rows[rel]
        gs, os_ = row["before"] - row["gnu"], row["before"] - row["ours"]
        row["gnu_saved"], row["ours_saved"] = gs, os_
        row["gnu_saved_gz"] = row["before_gz"] - row["gnu_gz"]
        row["ours_saved_gz"] = row["before_gz"] - row["ours_gz"]
        row["a_applies"] = row["gnu_loadable"] is True and row["gnu_exit"] == 0
        row["a_pass"] = (not row["a_applies"]) or gs <= 0 or os_ >= 0.99 * gs
        row["a_pass_gz"] = (not row["a_applies"]) or row["gnu_saved_gz"] <= 0 or row["ours_saved_gz"] >= 0.99 * row["gnu_saved_gz"]
        row["b_applies"] = row["gnu_loadable"] is False or (row["gnu_exit"] != 0 and row["orig_loadable"] is True)
        row["b_pass"] = (not row["b_applies"]) or (
            row["ours_loadable"] is True
            and row.get("ours_tree_loadable", True) is True
            and (os_ > 0 or row["ours_saved_gz"] > 0)
        )
        if row["a_applies"] and not row["a_pass"] or row["b_applies"] and not row["b_pass"]:
            row["explain"], row["category"] = explain(venv / rel, A / rel, B / rel, row["ours_verdict"])

    data = {
        "venv": str(venv),
        "venvslim": str(venvslim),
        "gnu_strip": gnu_version,
        "ours_exit": ours_exit,
        "rows": [rows[r] for r in files],
        "workloads": workloads,
        "times": times,
        "exits": exits,
        "largest": largest,
        "rss_kb": rss,
        "elapsed": time.time() - t_start,
    }
    (report_path.with_suffix(".json")).write_text(json.dumps(data, indent=1, default=str))
    md = render(data, venv)
    report_path.write_text(md)
    print(md)
    log(f"report: {report_path} (+ .json); {time.time() - t_start:.0f}s")
    if os.environ.get("KEEP_TREES") == "1":
        log(f"kept {A} and {B}")
    else:
        shutil.rmtree(work)


def short(why):
    """A failure reason without the scratch trees' absolute paths, and safe in a table cell."""
    return re.sub(r"/\S*?/site-packages/", "", why or "").replace("|", "\\|").replace("\n", " ")


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def yn(v):
    return {True: "yes", False: "**NO**", None: "n/a"}[v]


def render(data, venv):
    rows = sorted(data["rows"], key=lambda r: (r["package"], r["file"]))
    out = []
    w = out.append
    w("## Per file\n")
    w(f"GNU: `{data['gnu_strip']}` `--strip-unneeded`, file by file; ours: `venvslim strip` (mode `unneeded`). "
      "Sizes in bytes; gz = `gzip -6 -n -c FILE | wc -c`. Loadable: the file alone is put into a copy of the "
      "original venv and checked with that venv's python in a subprocess: an extension module is imported "
      "(`python -c 'import pkg.mod'`; cv2's by `import cv2`, checking it is mapped); another library is "
      "`ctypes.CDLL`-ed and the extension module that maps it in the original venv is imported and must "
      "map it again; n/a = does not load in the original either. † = loads alone but not in the tree where "
      "every file was stripped by the same tool (a dependency it broke).\n")
    w("| package | file | before | GNU | ours | before gz | GNU gz | ours gz | GNU loadable? | ours loadable? |")
    w("|---|---|--:|--:|--:|--:|--:|--:|---|---|")
    for r in rows:
        gnu_l = yn(r["gnu_loadable"]) + ("†" if r["gnu_loadable"] and r.get("gnu_tree_loadable") is False else "")
        if r["gnu_exit"] != 0:
            gnu_l += f" (strip exit {r['gnu_exit']})"
        ours_l = yn(r["ours_loadable"]) + ("†" if r["ours_loadable"] and r.get("ours_tree_loadable") is False else "")
        ours_cell = str(r["ours"])
        if r["ours_verdict"] not in ("stripped",):
            ours_cell += f" ({r['ours_verdict']})"
        w(f"| {r['package']} | `{r['file']}` | {r['before']} | {r['gnu']} | {ours_cell} | {r['before_gz']} | "
          f"{r['gnu_gz']} | {r['ours_gz']} | {gnu_l} | {ours_l} |")
    tb = sum(r["before"] for r in rows)
    tg = sum(r["gnu"] for r in rows)
    to = sum(r["ours"] for r in rows)
    tbz = sum(r["before_gz"] for r in rows)
    tgz = sum(r["gnu_gz"] for r in rows)
    toz = sum(r["ours_gz"] for r in rows)
    w(f"| **total** | {len(rows)} files | {tb} | {tg} | {to} | {tbz} | {tgz} | {toz} | "
      f"{sum(1 for r in rows if r['gnu_loadable'] is False)} broken, "
      f"{sum(1 for r in rows if r['gnu_loadable'] and r.get('gnu_tree_loadable') is False)} † | "
      f"{sum(1 for r in rows if r['ours_loadable'] is False)} broken, "
      f"{sum(1 for r in rows if r['ours_loadable'] and r.get('ours_tree_loadable') is False)} † |")
    w("")
    w("## Per package\n")
    w("| package | files | before | GNU | ours | before gz | GNU gz | ours gz | GNU broken (alone / in tree) | ours broken (alone / in tree) |")
    w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for pkg in sorted({r["package"] for r in rows}):
        pr = [r for r in rows if r["package"] == pkg]
        sm = lambda k: sum(r[k] for r in pr)
        nb = lambda t: f"{sum(1 for r in pr if r[t + '_loadable'] is False)} / {sum(1 for r in pr if r.get(t + '_tree_loadable') is False)}"
        w(f"| {pkg} | {len(pr)} | {mib(sm('before'))} | {mib(sm('gnu'))} | {mib(sm('ours'))} | {mib(sm('before_gz'))} | "
          f"{mib(sm('gnu_gz'))} | {mib(sm('ours_gz'))} | {nb('gnu')} | {nb('ours')} |")
    w("")
    w("## Totals\n")
    w("| | raw | saved | gz | saved gz |")
    w("|---|--:|--:|--:|--:|")
    w(f"| before | {mib(tb)} | | {mib(tbz)} | |")
    w(f"| GNU strip --strip-unneeded | {mib(tg)} | {mib(tb - tg)} ({100 * (tb - tg) / tb:.1f}%) | {mib(tgz)} | {mib(tbz - tgz)} ({100 * (tbz - tgz) / tbz:.1f}%) |")
    w(f"| venvslim strip | {mib(to)} | {mib(tb - to)} ({100 * (tb - to) / tb:.1f}%) | {mib(toz)} | {mib(tbz - toz)} ({100 * (tbz - toz) / tbz:.1f}%) |")
    ok_rows = [r for r in rows if r["gnu_loadable"] is True and r["gnu_exit"] == 0]
    if ok_rows:
        g = sum(r["gnu_saved"] for r in ok_rows)
        o = sum(r["ours_saved"] for r in ok_rows)
        gz_g = sum(r["gnu_saved_gz"] for r in ok_rows)
        gz_o = sum(r["ours_saved_gz"] for r in ok_rows)
        w(f"| only the {len(ok_rows)} files GNU leaves loadable: GNU saves | | {mib(g)} | | {mib(gz_g)} |")
        w(f"| ... ours saves | | {mib(o)} ({100 * o / g:.2f}% of GNU's) | | {mib(gz_o)} ({100 * gz_o / gz_g:.2f}% of GNU's) |")
    w("")
    w("## Acceptance\n")
    a_rows = [r for r in rows if r["a_applies"]]
    a_fail = [r for r in a_rows if not r["a_pass"]]
    w(f"**(a)** on every file where GNU's output is loadable, ours saves >= 99% of the bytes GNU saves: "
      f"{len(a_rows) - len(a_fail)}/{len(a_rows)} pass" + (" -- **PASS**" if not a_fail else " -- **FAIL** on:"))
    if a_fail:
        cats = {
            "loaded": "GNU cut bytes out of loaded segments (PT_LOAD p_filesz shrunk, segments re-laid out); ours keeps every loaded byte, so this gap is by design",
            "zeroed": "patchelf layout: the removed sections lie between segments and are zeroed in place, not cut",
            "grew": "patchelf layout, and the section header table lies inside a PT_LOAD: a new one is appended (file grows)",
            "nothing": "ours has nothing to strip (no .symtab, no debug sections); GNU's saving is layout padding and merged build notes",
            "notes": "same sections removed; GNU also shrinks .gnu.build.attributes / .shstrtab and padding",
        }
        w("")
        w("| category | files | GNU saved | ours saved | GNU saved gz | ours saved gz |")
        w("|---|--:|--:|--:|--:|--:|")
        for c, label in cats.items():
            cr = [r for r in a_fail if r.get("category") == c]
            if cr:
                sm = lambda k: sum(r[k] for r in cr)
                w(f"| {label} | {len(cr)} | {sm('gnu_saved')} | {sm('ours_saved')} | {sm('gnu_saved_gz')} | {sm('ours_saved_gz')} |")
        gz_fail = [r for r in a_fail if not r["a_pass_gz"]]
        w("")
        w(f"Measured on gzip -6 sizes instead, (a) holds on {len(a_rows) - len(gz_fail)}/{len(a_rows)} files; "
          f"it fails on {len(gz_fail)}, together {sum(r['gnu_saved_gz'] - r['ours_saved_gz'] for r in gz_fail)} gz bytes.")
        w("")
        w("| package | file | GNU saved | ours saved | ours/GNU | GNU saved gz | ours saved gz | ours/GNU gz | why |")
        w("|---|---|--:|--:|--:|--:|--:|--:|---|")
        for r in a_fail:
            rr = r["ours_saved"] / r["gnu_saved"] if r["gnu_saved"] else 0
            rz = r["ours_saved_gz"] / r["gnu_saved_gz"] if r["gnu_saved_gz"] > 0 else float("nan")
            w(f"| {r['package']} | `{r['file']}` | {r['gnu_saved']} | {r['ours_saved']} | {100 * rr:.1f}% | "
              f"{r['gnu_saved_gz']} | {r['ours_saved_gz']} | {100 * rz:.1f}% | {r.get('explain', '')} |")
    w("")
    b_rows = [r for r in rows if r["b_applies"]]
    b_fail = [r for r in b_rows if not r["b_pass"]]
    w(f"**(b)** on files GNU breaks, ours loads and saves > 0 bytes: {len(b_rows) - len(b_fail)}/{len(b_rows)} pass"
      + (" -- **PASS**" if not b_fail else " -- **FAIL** on some"))
    if b_rows:
        w("")
        w("| package | file | GNU | why GNU's output does not load | ours loadable? | ours saved raw | ours saved gz | pass |")
        w("|---|---|---|---|---|--:|--:|---|")
        for r in b_rows:
            why = short(r["gnu_loadable_why"] or r["gnu_stderr"])
            ours_l = yn(r["ours_loadable"]) + ("" if r.get("ours_tree_loadable", True) else " (not in the all-ours tree)")
            w(f"| {r['package']} | `{r['file']}` | exit {r['gnu_exit']} | {why} | {ours_l} | "
              f"{r['ours_saved']} | {r['ours_saved_gz']} | {'yes' if r['b_pass'] else '**NO** ' + r.get('explain', '')} |")
    w("")
    broken_ours = [r for r in rows if r["ours_loadable"] is False]
    w(f"Files ours leaves unloadable: {len(broken_ours)}" + ("" if not broken_ours else ": " + ", ".join(f"`{r['file']}` ({short(r['ours_loadable_why'])})" for r in broken_ours)))
    na = [r for r in rows if r["orig_loadable"] is None]
    if na:
        w("")
        w(f"Not load-checked ({len(na)}, they do not load in the original venv either): "
          + ", ".join(f"`{r['file']}` ({short(r['orig_loadable_why'])})" for r in na))
    refused = [r for r in rows if r["ours_verdict"] not in ("stripped", "nothing_to_strip")]
    if refused:
        w("")
        w("venvslim verdicts other than stripped/nothing_to_strip: "
          + ", ".join(f"`{r['file']}`: {r['ours_verdict']} {r.get('ours_why', '')}" for r in refused))
    gnu_err = [r for r in rows if r["gnu_exit"] != 0 or r["gnu_stderr"]]
    if gnu_err:
        w("")
        w("GNU strip exit status / messages: " + "; ".join(f"`{r['file']}`: exit {r['gnu_exit']} {r['gnu_stderr']}" for r in gnu_err))
    for tag, label in (("gnu", "GNU"), ("ours", "ours")):
        dag = [r for r in rows if r[tag + "_loadable"] and r.get(tag + "_tree_loadable") is False]
        if dag:
            w("")
            w(f"† {label}: {len(dag)} files load alone but not in the all-{label} tree, e.g. "
              + ", ".join(f"`{r['file']}` ({short(r[tag + '_tree_why'])[:160]})" for r in dag[:3]))
    unmapped = [r for r in rows if not r["module"] and r["spec"] and not r.get("importer")]
    if unmapped:
        w("")
        w(f"Libraries no extension-module import maps in the original (checked by CDLL only, {len(unmapped)}): "
          + ", ".join(f"`{r['file']}`" for r in unmapped))
    w("")
    w("## Workloads\n")
    w("| package | original | GNU tree | ours tree | output (ours) |")
    w("|---|---|---|---|---|")
    for pkg, res in data["workloads"].items():
        cell = lambda t: "pass" if res[t]["ok"] else f"**FAIL** ({short(res[t]['why'])})"
        w(f"| {pkg} | {cell('orig')} | {cell('gnu')} | {cell('ours')} | {res['ours']['out'][:80]} |")
    w("")
    w("## Time and memory\n")
    t = data["times"]
    med = lambda v: sorted(v)[len(v) // 2]
    w(f"All {len(rows)} files in one command, {len(t['gnu'])} interleaved rounds (order rotated), each on a fresh "
      f"`cp -a` of the files followed by `sync`; wall seconds; {os.cpu_count()} cores. "
      "`venvslim strip` runs files in parallel (rayon); the 1-thread row sets RAYON_NUM_THREADS=1.\n")
    w("| command | rounds (s) | median (s) | median / GNU |")
    w("|---|---|--:|--:|")
    for name, label in (("gnu", "GNU strip --strip-unneeded FILE..."), ("ours", "venvslim strip FILE..."),
                        ("ours-1-thread", "venvslim strip FILE... (RAYON_NUM_THREADS=1)")):
        v = t[name]
        w(f"| {label} | {', '.join(f'{x:.2f}' for x in v)} | {med(v):.2f} | {med(v) / med(t['gnu']):.2f} |")
    w("")
    largest = next(r for r in rows if os.path.join(str(site_packages(venv)), r["file"]) == data["largest"])
    w(f"Peak RSS (`/usr/bin/time -f %M`) stripping the largest file, `{largest['file']}` ({mib(largest['before'])}):\n")
    w("| command | peak RSS | exit |")
    w("|---|--:|--:|")
    for name, (kb, rc) in data["rss_kb"].items():
        w(f"| {name} | {kb / 1024:.1f} MiB | {rc} |" if kb else f"| {name} | n/a | {rc} |")
    w("")
    w(f"_venv {data['venv']}; venvslim {data['venvslim']} (strip exit {data['ours_exit']}); bench took {data['elapsed']:.0f}s._")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
