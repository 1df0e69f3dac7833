"""Probe a venv from the inside and print one JSON object describing what works.

Run with the venv's own interpreter, isolated and without writing bytecode:

    VENV/bin/python -I -B tests/it/util/probe.py VENV [--deep]

`-I` drops PYTHONPATH, the user site and the script's directory from sys.path; the venv's
site-packages stays on it, because a venv is found from the executable's pyvenv.cfg, not from the
environment (the probe checks this and exits 3 if it is not so). The Rust tests run it twice, on
the original venv and on the slimmed tree bind-mounted read-only onto the original venv's path, and
compare the two objects: everything that imported before must import after, and so on.

What it reports:
- `top_level`: every top-level module of site-packages (directory scan + top_level.txt), imported
  one after the other in this process, each guarded, with its `__file__` or the exception.
- `deep` (with --deep): every submodule found by walking the regular packages on disk, imported the
  same way. One process for all of them: a subprocess per module is far too slow for numpy/pandas.
- `dists`: per distribution, `version()`, entry points, requirements, METADATA headers, and whether
  the files RECORD lists exist.
- `compile_events`: `compile` audit events for a `.py` under the venv raised while the import system
  compiles a module's source (SourceLoader.source_to_code), i.e. because no valid pyc was found;
  library code that parses its own source (anyio) goes to `other_compiles`. On a read-only mount nothing can be
  cached, so with good bytecode this must be 0: that is how start-up cost is checked without timing.
- `loaded`: for every module loaded from a `.py` under the venv (also those imported by `site` before
  this script ran, which the audit hook cannot see), the kind of pyc the import system would use
  and whether the code object in it names the module's path as its `co_filename`.

Zip archives in site-packages on sys.path (`venvslim slim --zip-pure`) are probed like directories:
their modules count as top-level and deep modules; a module zipimport compiles from source (no
usable `name.pyc` beside `name.py` in the archive) counts in `compile_events`; and `zip_loaded`
reports, for every module loaded from such an archive, the pyc it came from (`pyc`: its kind,
`co_filename_ok`: the code names `<archive>/pkg/mod.py`). Without such an archive nothing changes.
"""

import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import marshal
import os
import signal
import sys
import sysconfig
import time
import warnings
from importlib import _bootstrap_external

VENV = os.path.abspath(sys.argv[1])
DEEP = "--deep" in sys.argv[2:]
PER_MODULE_TIMEOUT_S = 60

# Imports with effects beyond defining names; skipped wherever they appear (by last component).
SKIP_LAST = {
    "__main__",  # running a package's command line (uvicorn, pip, websockets, ... have one)
    "antigravity",  # opens a web browser
    "this",  # prints the Zen of Python
    "conftest",  # pytest plugin files: only meaningful under a test runner
}
# Skipped whole packages (by dotted prefix), with the reason.
SKIP_PREFIX = (
    # Importing it replaces stdlib distutils in sys.modules, changing what later imports see.
    "_distutils_hack",
    # Test runners (none in the venvs here, but a venv may carry one): their internals install
    # import hooks (assertion rewriting) and load plugins through entry points, which would change
    # how every module after them is loaded.
    "pytest",
    "_pytest",
)

compile_events = []  # the import system compiling a module's source
other_compiles = []  # compile() of venv sources by library code (anyio's lazy-import map parses its own source)
in_source_to_code = [0]


def audit(event, args):
    if event == "compile" and len(args) >= 2:
        filename = args[1]
        if isinstance(filename, bytes):
            filename = os.fsdecode(filename)
        if isinstance(filename, str) and filename.endswith(".py") and under_venv(filename):
            # The event's arguments look the same for an import and for library code that parses
            # its own source (inspect.getsource + compile(..., PyCF_ONLY_AST)): tell them apart by
            # whether the import system's SourceLoader.source_to_code is running.
            (compile_events if in_source_to_code[0] else other_compiles).append(filename)


_source_to_code = _bootstrap_external.SourceLoader.source_to_code


def source_to_code(self, data, path, *, _optimize=-1):
    in_source_to_code[0] += 1
    try:
        return _source_to_code(self, data, path, _optimize=_optimize)
    finally:
        in_source_to_code[0] -= 1


_bootstrap_external.SourceLoader.source_to_code = source_to_code

# zipimport compiles a module's source itself (no SourceLoader): count those as import compiles.
import zipimport  # noqa: E402

_zip_compile_source = zipimport._compile_source


def zip_compile_source(pathname, source):
    in_source_to_code[0] += 1
    try:
        return _zip_compile_source(pathname, source)
    finally:
        in_source_to_code[0] -= 1


zipimport._compile_source = zip_compile_source


def under_venv(path):
    return path == VENV or path.startswith(VENV + os.sep)


sys.addaudithook(audit)

# Modules may print at import time; keep the real stdout for the JSON alone.
real_stdout = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
warnings.simplefilter("ignore")


def site_dirs():
    dirs = []
    for key in ("purelib", "platlib"):
        p = sysconfig.get_path(key)
        if p and under_venv(os.path.abspath(p)) and os.path.isdir(p):
            real = os.path.realpath(p)
            if all(os.path.realpath(d) != real for d in dirs):
                dirs.append(p)
    return dirs


SITE = site_dirs()
if not SITE or sys.prefix != VENV or not any(os.path.abspath(p) in SITE for p in sys.path):
    print(
        f"probe: not running inside the venv {VENV}: prefix={sys.prefix} path={sys.path}",
        file=sys.stderr,
    )
    os._exit(3)

EXT_SUFFIXES = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)


def module_name_of_file(filename):
    """Module name for a file in a package dir, or None if the file is not a module."""
    for suffix in EXT_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    for suffix in (".py", ".pyc"):  # a `.pyc` outside __pycache__ is a sourceless module
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return None


def is_module_dir(entry):
    """A directory entry that can be a (regular or namespace) package."""
    return (
        entry.is_dir()
        and entry.name.isidentifier()
        and entry.name != "__pycache__"
        and (is_package_dir(entry.path) or is_namespace_dir(entry.path))
    )


def is_package_dir(path):
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(module_name_of_file(n) == "__init__" for n in names)


def is_namespace_dir(path):
    """A dir without __init__ counts as a namespace package only if it holds modules or packages
    (so data dirs such as `numpy/_core/include` are not probed as modules)."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return False
    for e in entries:
        if e.is_file() and module_name_of_file(e.name) not in (None, "__init__"):
            return True
        if e.is_dir() and e.name.isidentifier() and e.name != "__pycache__" and is_package_dir(e.path):
            return True
    return False


def site_archives():
    """Zip archives directly in a site dir and on sys.path (venvslim --zip-pure)."""
    return sorted(
        p
        for p in sys.path
        if p.endswith(".zip") and os.path.isfile(p) and any(os.path.dirname(p) == s for s in SITE)
    )


def archive_modules():
    """Dotted names of every module in the site archives (packages included)."""
    import zipfile

    names = set()
    for archive in site_archives():
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                parts = name.split("/")
                mod = None if name.endswith("/") else module_name_of_file(parts[-1])
                if mod is None:
                    continue
                dotted = parts[:-1] + ([] if mod == "__init__" else [mod])
                if dotted and all(p.isidentifier() for p in dotted):
                    for k in range(1, len(dotted) + 1):
                        names.add(".".join(dotted[:k]))
    return names


def top_level_names():
    names = {n for n in archive_modules() if "." not in n}
    for site in SITE:
        for e in os.scandir(site):
            if e.is_dir():
                if is_module_dir(e):
                    names.add(e.name)
            elif e.is_file():
                mod = module_name_of_file(e.name)
                if mod and mod.isidentifier():
                    names.add(mod)
    for dist in importlib.metadata.distributions():
        text = dist.read_text("top_level.txt") or ""
        for line in text.splitlines():
            line = line.strip()
            if line.isidentifier():
                names.add(line)
    return sorted(n for n in names if not skipped(n))


def submodule_names(top):
    """Dotted names of every module below the package `top`, from the files on disk."""
    found = []
    for site in SITE:
        root = os.path.join(site, top)
        if not os.path.isdir(root):
            continue
        stack = [(root, top)]
        while stack:
            path, dotted = stack.pop()
            for e in sorted(os.scandir(path), key=lambda e: e.name):
                if e.is_dir():
                    if is_module_dir(e):
                        name = f"{dotted}.{e.name}"
                        found.append(name)
                        stack.append((e.path, name))
                elif e.is_file():
                    mod = module_name_of_file(e.name)
                    if mod and mod != "__init__" and mod.isidentifier():
                        found.append(f"{dotted}.{mod}")
    found.extend(n for n in archive_modules() if n.startswith(top + "."))
    return sorted(set(n for n in found if not skipped(n)))


def skipped(name):
    return name.rsplit(".", 1)[-1] in SKIP_LAST or any(
        name == p or name.startswith(p + ".") for p in SKIP_PREFIX
    )


class ImportTimeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise ImportTimeout(f"import took more than {PER_MODULE_TIMEOUT_S}s")


signal.signal(signal.SIGALRM, on_alarm)


def try_import(name):
    signal.alarm(PER_MODULE_TIMEOUT_S)
    start = time.monotonic()
    try:
        mod = importlib.import_module(name)
        file = getattr(mod, "__file__", None)
        if file is None and hasattr(mod, "__path__"):  # a namespace package: name its directory
            out = {"ok": True, "file": next(iter(mod.__path__), None), "namespace": True}
        else:
            out = {"ok": True, "file": file}
    except BaseException as e:  # SystemExit, our timeout, ...: record it and go on
        out = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
    finally:
        signal.alarm(0)
    out["ms"] = round((time.monotonic() - start) * 1000)
    return out


def normalize(name):
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def dist_report(dist):
    path = getattr(dist, "_path", None)
    meta = dist.metadata
    name = meta["Name"] if meta is not None else None
    out = {
        "dir": os.path.basename(str(path)) if path is not None else None,
        "name": name,
        "version": dist.version,
    }
    if name:
        try:
            out["version_lookup"] = importlib.metadata.version(name)
        except BaseException as e:
            out["version_lookup_error"] = f"{type(e).__name__}: {e}"
    out["entry_points"] = sorted(f"{ep.group}|{ep.name}|{ep.value}" for ep in dist.entry_points)
    out["requires"] = sorted(dist.requires or [])
    headers = {}
    if meta is not None:
        for key in set(meta.keys()):
            if key.lower() == "description":
                continue
            headers[key] = sorted(str(v) for v in meta.get_all(key) or [])
    out["metadata_headers"] = headers
    files = dist.files
    if files is None:
        out["files_count"] = None
        out["files_missing"] = []
    else:
        missing = [str(f) for f in files if not os.path.lexists(f.locate())]
        out["files_count"] = len(files)
        out["files_missing"] = sorted(missing)
    return out


def pyc_kind(source, pyc):
    """What the import system would do with `pyc` for `source` (see SourceLoader.get_code)."""
    try:
        with open(pyc, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return "missing", None
    except OSError as e:
        return f"unreadable: {e}", None
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return "bad-magic", None
    flags = int.from_bytes(data[4:8], "little")
    if flags & 0b1:
        if flags & 0b10:
            with open(source, "rb") as f:
                ok = importlib.util.source_hash(f.read()) == data[8:16]
            kind = "checked-hash" if ok else "stale"
        else:
            kind = "unchecked-hash"
    else:
        st = os.stat(source)
        ok = int.from_bytes(data[8:12], "little") == (int(st.st_mtime) & 0xFFFFFFFF) and int.from_bytes(
            data[12:16], "little"
        ) == (st.st_size & 0xFFFFFFFF)
        kind = "timestamp" if ok else "stale"
    try:
        code = marshal.loads(data[16:])
        co_filename = code.co_filename
    except Exception as e:
        return "bad-code", f"{type(e).__name__}: {e}"
    return kind, co_filename


def loaded_report():
    out = {}
    for name, mod in sorted(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py") or not under_venv(file):
            continue
        kind, co_filename = pyc_kind(file, importlib.util.cache_from_source(file))
        out[name] = {
            "file": file,
            "pyc": kind,
            "co_filename_ok": co_filename == file,
            "co_filename": co_filename,
        }
    return out


def zip_loaded_report():
    """For every module loaded from a site archive: the kind of the pyc it came from, and whether
    its code names `<archive>/pkg/mod.py` (what zipimport itself gives a compiled source)."""
    out = {}
    for name, mod in sorted(sys.modules.items()):
        loader = getattr(mod, "__loader__", None)
        file = getattr(mod, "__file__", None)
        if not isinstance(loader, zipimport.zipimporter) or not isinstance(file, str):
            continue
        if not any(file.startswith(a + os.sep) for a in site_archives()):
            continue
        source = file[:-1] if file.endswith(".pyc") else file
        try:
            data = loader.get_data(source + "c")
        except OSError:
            out[name] = {"file": file, "pyc": "missing", "co_filename_ok": False}
            continue
        flags = int.from_bytes(data[4:8], "little")
        kind = {0: "timestamp", 1: "unchecked-hash", 3: "checked-hash"}.get(flags, f"flags {flags}")
        if data[:4] != importlib.util.MAGIC_NUMBER:
            kind = "bad-magic"
        try:
            co_filename = marshal.loads(data[16:]).co_filename
        except Exception as e:
            co_filename = f"unreadable: {type(e).__name__}"
        out[name] = {
            "file": file,
            "pyc": kind,
            "from_pyc": file.endswith(".pyc"),
            "co_filename": co_filename,
            "co_filename_ok": co_filename == source,
        }
    return out


def main():
    result = {"venv": VENV, "prefix": sys.prefix, "site_packages": SITE, "python": sys.version}
    result["top_level"] = {name: try_import(name) for name in top_level_names()}
    if DEEP:
        deep = {}
        for top, r in result["top_level"].items():
            file = r.get("file") or ""
            if r["ok"] and (r.get("namespace") or os.path.basename(file).startswith("__init__.")):
                failed = set()
                for name in submodule_names(top):  # sorted: a package comes before its modules
                    parent = name.rsplit(".", 1)[0]
                    if any(parent == f or parent.startswith(f + ".") for f in failed):
                        # Importing it would import the failed package again first (django.contrib.gis
                        # without GDAL: 200 ms each for ~80 modules).
                        deep[name] = {"ok": False, "error": "not tried: a parent package failed"}
                        continue
                    deep[name] = try_import(name)
                    if not deep[name]["ok"]:
                        failed.add(name)
        result["deep"] = deep
    dists = {}
    for dist in importlib.metadata.distributions():
        rep = dist_report(dist)
        key = normalize(rep["name"]) if rep["name"] else "dir:" + str(rep["dir"])
        dists[key] = rep
    result["dists"] = dists
    try:
        result["packages_distributions"] = {
            k: sorted(v) for k, v in importlib.metadata.packages_distributions().items()
        }
    except BaseException as e:
        result["packages_distributions_error"] = f"{type(e).__name__}: {e}"
    result["loaded"] = loaded_report()
    if site_archives():
        result["zip_loaded"] = zip_loaded_report()
    result["compile_events"] = len(compile_events)
    result["compiled_files"] = sorted(set(compile_events))[:50]
    result["other_compiles"] = sorted(set(other_compiles))[:50]
    real_stdout.write(json.dumps(result, sort_keys=True))
    real_stdout.flush()
    # Imported modules may have started non-daemon threads; don't wait for them.
    os._exit(0)


main()
