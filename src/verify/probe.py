"""The Python half of `venvslim verify`: a worker that answers one request per line.

Why a worker: importing a module is the only sure way to know it still works, and an import may
crash the interpreter (a segfault in an extension) or hang. The Rust side (src/verify/worker.rs)
owns the timeout: it sends one request at a time, waits for its answer line, and when the worker
dies or stops answering it marks that request Crashed/TimedOut and starts a new worker for the
rest. This file therefore never retries anything itself.

Run by the Rust side as `VENV/bin/python -I -B -c <this file> SITE_PACKAGES BIN`: isolated (no
PYTHONPATH, no user site, no cwd on sys.path), and `-B` so probing never writes bytecode into the
venv it checks. A venv keeps its site-packages on sys.path under -I (it comes from pyvenv.cfg next
to the executable, not from the environment); the hello line says whether it was there, and a tree
that is not a venv (a --target dir run by a foreign interpreter) gets it with site.addsitedir.

Protocol, one JSON object per line on the duplicated stdout; the real fds 0, 1 and 2 point at
/dev/null so what modules print (or read) never mixes with it:
  -> hello {"hello": ..., "python", "prefix", "site_on_path", "read_only"}
  <- {"op": "discover"}                        -> modules, dists, module_dists, scripts
  <- {"op": "import", "name": "a.b"}           -> {"ok": true} | {"ok": false, "error": ...}
  <- {"op": "script", "module": m, "attr": a}  -> the same
"""

import importlib
import importlib.machinery
import importlib.metadata
import json
import os
import re
import site
import sys
import traceback
import warnings

SITE = os.path.abspath(sys.argv[1])
BIN = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
# "deep": every module on disk, not only top-level and extension modules.
DEEP = len(sys.argv) > 3 and sys.argv[3] == "deep"

proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")  # os.dup: not inherited by subprocesses
proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
if not os.environ.get("VENVSLIM_VERIFY_DEBUG"):
    _null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(_null, fd)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")
warnings.simplefilter("ignore")


def send(obj):
    proto_out.write(json.dumps(obj, sort_keys=True) + "\n")
    proto_out.flush()


# Never imported, wherever they appear (by last dotted component), because importing them does
# more than define names: `__main__` runs a package's command line (pip, uvicorn, ...),
# `antigravity` opens a web browser, `this` prints, `setup` runs a build (setup.py shipped by a
# sloppy wheel), `conftest` is a pytest plugin file, `sitecustomize`/`usercustomize` already ran at
# start-up and are meant to run once.
SKIP_LAST = {"__main__", "antigravity", "this", "setup", "conftest", "sitecustomize", "usercustomize"}
# Whole top-level names: `_distutils_hack` swaps the stdlib's distutils in sys.modules for every
# later import (it is what setuptools' .pth runs anyway); `idlelib`/`tkinter`/`turtle*` open GUI
# windows or need a display.
SKIP_TOP = {"_distutils_hack", "idlelib", "tkinter", "turtle", "turtledemo"}


def skipped(name):
    parts = name.split(".")
    if parts[0] in SKIP_TOP or parts[-1] in SKIP_LAST:
        return True
    # Test code: venvslim removes `tests/`/`test/` dirs by design, so probing them would only
    # report its own removals; test modules also tend to need pytest and fixtures.
    return any(p == "test" or "tests" in p or p.startswith("test_") for p in parts)


EXT_SUFFIXES = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)


def module_of(filename):
    """(module name, is_extension) for a file name, or None if it is not a module."""
    for suffix in EXT_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)], True
    for suffix in (".py", ".pyc"):  # a .pyc outside __pycache__ is a sourceless module
        if filename.endswith(suffix):
            return filename[: -len(suffix)], False
    return None


def is_python_extension(path, stem):
    """A plain `name.so` may be a library, not a module: it is one if it exports PyInit_<name>."""
    if not path.endswith(".so") or ".cpython-" in path or ".abi3." in path:
        return True
    try:
        with open(path, "rb") as f:
            return b"PyInit_" + stem.encode() + b"\0" in f.read()
    except OSError:
        return False


def has_init(path):
    try:
        return any((module_of(n) or ("",))[0] == "__init__" for n in os.listdir(path))
    except OSError:
        return False


def holds_modules(path):
    """A directory without __init__ counts as a namespace package only if it holds modules or
    packages, so data directories (`numpy/_core/include`) are not probed as modules."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return False
    for e in entries:
        if is_file(e) and (module_of(e.name) or ("__init__",))[0] != "__init__":
            return True
        if e.is_dir() and e.name.isidentifier() and has_init(e.path):
            return True
    return False


def discover_modules():
    """{dotted name: file or dir}: top-level modules, and every extension module below them."""
    found = {}
    for e in sorted(os.scandir(SITE), key=lambda e: e.name):
        if e.is_dir():
            if e.name.isidentifier() and e.name != "__pycache__" and (has_init(e.path) or holds_modules(e.path)):
                found[e.name] = e.path
                walk_extensions(e.path, e.name, found)
        elif is_file(e):
            mod = module_of(e.name)
            if mod and mod[0].isidentifier() and (not mod[1] or is_python_extension(e.path, mod[0])):
                found.setdefault(mod[0], e.path)
    for archive in site_archives():
        discover_archive(archive, found)
    for dist in importlib.metadata.distributions(path=[SITE]):
        for line in (safe(lambda: dist.read_text("top_level.txt")) or "").splitlines():
            if line.strip().isidentifier():
                found.setdefault(line.strip(), None)
    return {k: v for k, v in found.items() if not skipped(k)}


def site_archives():
    """Zip archives directly in site-packages that are on sys.path (`venvslim slim --zip-pure`
    puts pure packages in one, through a .pth file): their modules are checked like any other."""
    return sorted(
        p for p in sys.path
        if p.endswith(".zip") and os.path.dirname(os.path.abspath(p)) == SITE and os.path.isfile(p)
    )


def discover_archive(archive, found):
    """Top-level modules in a zip on sys.path (with DEEP, every module), as `archive/name`."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return
    for name in names:
        if name.endswith("/"):
            continue
        parts = name.split("/")
        mod = module_of(parts[-1])
        if not mod or mod[1]:
            continue
        dotted = parts[:-1] + ([] if mod[0] == "__init__" else [mod[0]])
        if not dotted or not all(p.isidentifier() for p in dotted):
            continue
        top = "/".join(dotted[:1])
        found.setdefault(dotted[0], os.path.join(archive, top))
        if DEEP:
            for k in range(2, len(dotted) + 1):
                found.setdefault(".".join(dotted[:k]), os.path.join(archive, *dotted[:k]))


def is_file(entry):
    """DirEntry.is_file(), False for a symlink loop (ELOOP) or another unreadable link."""
    try:
        return entry.is_file()
    except OSError:
        return False


def walk_extensions(path, dotted, found):
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if e.name.isidentifier() and e.name != "__pycache__" and not skipped(f"{dotted}.{e.name}"):
                # A subpackage is a module too: its __init__ can fail when a module it imports
                # is gone, and importing its submodules does not probe it when none is left.
                if DEEP and has_init(e.path):
                    found[f"{dotted}.{e.name}"] = e.path
                walk_extensions(e.path, f"{dotted}.{e.name}", found)
        elif is_file(e):
            mod = module_of(e.name)
            if not mod or not mod[0].isidentifier() or skipped(f"{dotted}.{mod[0]}"):
                continue
            if mod[1] and is_python_extension(e.path, mod[0]):
                found[f"{dotted}.{mod[0]}"] = e.path
            elif DEEP and not mod[1] and mod[0] != "__init__":
                found[f"{dotted}.{mod[0]}"] = e.path


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def safe(fn):
    try:
        return fn()
    except Exception:
        return None


def last_line(e):
    lines = traceback.format_exception_only(type(e), e)
    text = (lines[-1] if lines else type(e).__name__).strip()
    return text[:500]


def probe_dist(dist):
    """What an application sees of one distribution, the way it asks (importlib.metadata)."""
    path = getattr(dist, "_path", None)
    stem = os.path.basename(str(path)) if path is not None else ""
    stem = stem[: -len(".dist-info")] if stem.endswith(".dist-info") else stem
    name = safe(lambda: dist.metadata["Name"]) or stem.split("-")[0]
    out = {"name": name, "version": None, "entry_point_groups": [], "error": None}
    try:
        version = importlib.metadata.version(name)
        out["version"] = version
        if version is None:
            out["error"] = f"importlib.metadata.version({name!r}) is None: METADATA is missing or has no Version"
    except BaseException as e:
        out["error"] = last_line(e)
    try:
        out["entry_point_groups"] = sorted({ep.group for ep in dist.entry_points})
    except BaseException as e:
        out["error"] = out["error"] or last_line(e)
    return normalize(name), out


def owners_by_file(dists):
    """normalized path -> set of dists whose RECORD lists it."""
    owners = {}
    for key, dist in dists:
        for f in safe(lambda: dist.files) or []:
            p = os.path.normpath(str(safe(lambda: f.locate()) or ""))
            owners.setdefault(p, set()).add(key)
    return owners


def module_file(path):
    """The file RECORD would list for a module found at `path` (a package: its __init__)."""
    if path and os.path.isdir(path):
        for n in sorted(os.listdir(path)):
            if (module_of(n) or ("",))[0] == "__init__":
                return os.path.join(path, n)
    return path


def discover_scripts(owners, dists_by_script):
    """bin/ files written from pip's (or uv's) console-script template: name -> (module, attr)."""
    scripts = {}
    if not BIN or not os.path.isdir(BIN):
        return scripts
    for e in sorted(os.scandir(BIN), key=lambda e: e.name):
        if not e.is_file(follow_symlinks=False) or e.stat().st_size > 65536:
            continue
        try:
            with open(e.path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if not text.startswith("#!") or "python" not in text.split("\n", 1)[0]:
            continue
        imp = re.search(r"^from\s+([\w.]+)\s+import\s+(\w+)\s*$", text, re.M)
        call = re.search(r"sys\.exit\(\s*([\w.]+)\(\)\s*\)", text)
        if not imp or not call:
            continue
        func = call.group(1)
        attr = func if func.split(".")[0] == imp.group(2) else imp.group(2)
        owner = sorted(owners.get(os.path.normpath(e.path), ())) or dists_by_script.get(e.name, [])
        scripts[e.name] = {"module": imp.group(1), "attr": attr, "dist": owner[0] if owner else None}
    return scripts


def discover():
    dists, seen = {}, []
    for dist in importlib.metadata.distributions(path=[SITE]):
        key, rep = probe_dist(dist)
        if key not in dists:  # the first on the path is the one version() finds
            dists[key] = rep
            seen.append((key, dist))
    owners = owners_by_file(seen)
    by_top = {}
    try:
        for top, names in importlib.metadata.packages_distributions().items():
            by_top[top] = sorted({normalize(n) for n in names if n})  # None: no METADATA
    except Exception:  # AttributeError before Python 3.10; a malformed RECORD
        pass
    modules = discover_modules()
    module_dists = {}
    for name, path in modules.items():
        found = sorted(owners.get(os.path.normpath(module_file(path) or ""), ()))
        found = found or by_top.get(name.split(".")[0], [])
        if found:
            module_dists[name] = found
    dists_by_script = {}
    for key, dist in seen:
        for ep in safe(lambda: dist.entry_points) or []:
            if ep.group in ("console_scripts", "gui_scripts"):
                dists_by_script.setdefault(ep.name, [key])
    return {
        # pip goes last: importing it makes setuptools' distutils shim stand down for the rest of
        # the process (`spec_for_pip`, pypa/pip#8761), so setuptools probed after it fails its own
        # assertion, which no application that imports only one of them would see.
        "modules": sorted(modules, key=lambda n: (n.split(".")[0] == "pip", n)),
        "extensions": sorted(n for n, p in modules.items() if p and (module_of(os.path.basename(p)) or ("", False))[1]),
        "dists": dists,
        "module_dists": module_dists,
        "scripts": discover_scripts(owners, dists_by_script),
    }


def memoize_find_library():
    """ctypes.util.find_library answers each call by running `ldconfig -p` (and gcc or ld when
    that finds nothing), ~10 ms a name; a package that looks for a missing system library tries
    a dozen names at every import (Django's gdal and geos), and a deep probe imports it again for
    each of its modules. The answer depends only on the name, the library search path variables
    and the system's libraries, none of which a probe changes, so one worker asks once per name."""
    try:
        import ctypes.util
    except ImportError:  # an interpreter built without _ctypes: nothing to answer
        return
    find = ctypes.util.find_library
    answers = {}

    def find_library(name):
        key = (name, os.environ.get("LD_LIBRARY_PATH"), os.environ.get("LIBRARY_PATH"))
        if key not in answers:
            answers[key] = find(name)
        return answers[key]

    find_library.__doc__ = find.__doc__
    ctypes.util.find_library = find_library


def guarded(fn):
    try:
        fn()
        return {"ok": True}
    except BaseException as e:  # SystemExit, KeyboardInterrupt from a module: record, go on
        return {"ok": False, "error": last_line(e)}


def check_script(module, attr):
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)


def hello():
    real = [os.path.realpath(p) for p in sys.path if p]
    on_path = os.path.realpath(SITE) in real
    if not on_path:
        site.addsitedir(SITE)
    try:
        read_only = bool(os.statvfs(SITE).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return {
        "hello": True,
        "python": f"{sys.implementation.name} {sys.version.split()[0]}",
        "prefix": os.path.realpath(sys.prefix),
        "site_on_path": on_path,
        "read_only": read_only,
    }


def main():
    send(hello())
    memoize_find_library()
    for line in proto_in:
        req = json.loads(line)
        op = req.get("op")
        if op == "discover":
            try:
                send(discover())
            except BaseException as e:  # a bug here, or a tree too odd to list: say what
                send({"discover_error": "".join(traceback.format_exception(e))[-2000:]})
        elif op == "import":
            send(guarded(lambda: importlib.import_module(req["name"])))
        elif op == "script":
            send(guarded(lambda: check_script(req["module"], req["attr"])))
        else:
            send({"ok": False, "error": f"probe: unknown request {op!r}"})
    # Imported modules may have started non-daemon threads: don't wait for them.
    os._exit(0)


main()
