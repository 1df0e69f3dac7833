"""The recording hook of `venvslim slim --run` / `verify --run`, installed as `sitecustomize`.

venvslim runs the user's workload with PYTHONPATH pointing at a private directory that holds
only this file, so every Python the workload starts (its console scripts, subprocesses, test
runners) imports it at start-up, after the venv's .pth files, without a byte of the tree
changing. It adds an audit hook (PEP 578) that notes what the process touches under the tree:

  open REL           a file opened (also through io.open_code: every module the import system
                     loads, and a path inside a zip archive, which fails there)
  list REL           a directory listed (os.listdir, os.scandir: also what the import system does)
  dlopen REL         a shared library loaded through ctypes
  module NAME REL    at exit: a module in sys.modules loaded from the tree (not those the venv's
                     .pth files imported at start-up, before this hook)
  import NAME        a module the import system is asked to load (the "import" event, raised
                     only for a module not loaded yet): written at once, so a forked worker or a
                     process ending in os._exit, which never reach the exit handler, leave it
  missing NAME       an uncaught ModuleNotFoundError, by module name
  frame REL          a frame of an uncaught exception's traceback, in a file under the tree
  hello              the hook is running in this process

REL is relative to the tree as the workload sees it (VENVSLIM_RUN_TREE). Each process appends
one fact per line to VENVSLIM_RUN_LOG/PID.log, each fact once: the kind, then each value as the
hex of its file-system bytes, separated by tabs (no json: importing it would cost every Python
the workload starts about 7 ms). venvslim reads them all after the workload ends
(docs/verification.md). The hook only records: it never changes what
the workload sees, and a failure inside it is swallowed (it must not be the thing that breaks).
A sitecustomize the venv itself ships is run after it, as Python would have.
"""


def _install():
    import os
    import sys

    tree = os.environ.get("VENVSLIM_RUN_TREE")
    log = os.environ.get("VENVSLIM_RUN_LOG")
    if not tree or not log:
        return
    tree = os.path.abspath(tree).rstrip("/") + "/"
    cut = len(tree)
    try:
        out = open(os.path.join(log, "%d.log" % os.getpid()), "a", buffering=1, encoding="ascii")
    except OSError:
        return

    seen = set()
    fspath = os.fspath
    fsdecode = os.fsdecode
    fsencode = os.fsencode
    abspath = os.path.abspath

    def note(kind, *values):
        fact = (kind,) + values
        if fact in seen:
            return
        seen.add(fact)
        try:
            out.write("\t".join([kind] + [fsencode(v).hex() for v in values]) + "\n")
        except Exception:
            pass

    def rel(path):
        """Path under the tree, relative to it; None for anything else."""
        if (
            type(path) is str
            and path[:1] == "/"
            and "/./" not in path
            and "/../" not in path
            and "//" not in path
            and not path.endswith(("/.", "/.."))
        ):
            p = path  # already absolute and normal: the common case, kept cheap
        elif path is None or isinstance(path, int):
            return None
        else:
            try:
                p = abspath(fsdecode(fspath(path)))
            except Exception:
                return None
        if p.startswith(tree):
            return p[cut:]
        return None

    kinds = {"open": "open", "os.listdir": "list", "os.scandir": "list", "ctypes.dlopen": "dlopen"}

    def hook(event, args):
        kind = kinds.get(event)
        if kind is not None and args:
            r = rel(args[0])
            if r is not None:
                note(kind, r)
        elif event == "import" and args and type(args[0]) is str:
            note("import", args[0])

    note("hello")
    # What site imported before this hook (the .pth files' imports) is start-up, not workload.
    startup = set(sys.modules)
    sys.addaudithook(hook)

    def at_exit():
        for name, mod in list(sys.modules.items()):
            if name in startup:
                continue
            r = rel(getattr(mod, "__file__", None))
            if r is not None:
                note("module", name, r)
        try:
            out.flush()
        except Exception:
            pass

    import atexit

    atexit.register(at_exit)

    previous = sys.excepthook

    def excepthook(kind, value, tb):
        try:
            if isinstance(value, ModuleNotFoundError) and value.name:
                note("missing", value.name)
            t = tb
            while t is not None:
                r = rel(t.tb_frame.f_code.co_filename)
                if r is not None:
                    note("frame", r)
                t = t.tb_next
        except Exception:
            pass
        previous(kind, value, tb)

    sys.excepthook = excepthook


def _chain():
    """Run the sitecustomize this one shadows (one the venv or the interpreter ships)."""
    import importlib.machinery
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if p and os.path.abspath(p) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    import importlib.util

    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    _install()
except Exception:
    pass
_chain()
