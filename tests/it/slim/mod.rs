//! `venvslim slim` on the small hand-made venv (`fixtures/make_fixture_venv.py`), one module
//! per area.
//!
//! Every test builds a fresh fixture in a temp dir and runs the real binary, then checks the
//! tree it wrote and the report it printed. The fixture is small and hand-made so each trap (a
//! test helper the package imports, a sourceless module, symlink loops, hardlinks, a non-UTF-8
//! name, a FIFO) is there on purpose; `tests/it/real_venvs.rs` covers venvs built by pip.
//!
//! - `default`: the input is never touched out of place, junk goes, what the runtime reads stays
//!   (checked by running the slimmed venv's own Python), RECORD lists what is left with the right
//!   hashes; the dry run and `--in-place` agree with the real run out of place.
//! - `bytecode`, `dist_info`: each value of `--bytecode` and `--dist-info`.
//! - `budget`: `--budget SIZE`, over and under, from the file, in a dry run and in place.
//! - `select`: `--keep`, `--remove`, `--keep-package`.
//! - `guard`: which imports keep a module (required ones) and which do not (optional,
//!   type-only, build-time code), and the deep verify behind it.
//! - `config`: `[tool.venvslim]` in a pyproject.toml, hand-off keys included; flags win.
//! - `usage`: every usage error exits 2 with a `hint:` and writes nothing.
//! - `inputs`: trees that are not the plain fixture: a FIFO, a bare site-packages, relative
//!   paths, hardlinks (into a package cache, or one link of a pair removed), a broken
//!   interpreter.
//! - `snapshots`: the text output and the rule table, pinned by insta snapshots.
//!
//! What these areas share is here: running the slimmed venv's own Python on a few checks, and
//! the usage-error expectation. Helpers for any tree (`tree`, `check_record`, ...) are in `util`.

mod budget;
mod bytecode;
mod config;
mod default;
mod dist_info;
mod guard;
mod inputs;
mod select;
mod snapshots;
mod usage;

use std::path::Path;

use crate::util::{self, show, tree, tree_diff, venvslim, Detail, Fixture, TestCommand};

/// Run `code` with the venv's own `bin/pythonX.Y`, isolated and without writing bytecode.
fn python(root: &Path, py: &str, code: &str) -> TestCommand {
    let mut c = util::python(root.join(format!("bin/python{py}")));
    // IMPORT_DEMO checks that this venv, not the one it was copied from, is sys.prefix.
    c.env("EXPECT_PREFIX", root.canonicalize().unwrap())
        .args(["-I", "-B", "-c", code]);
    c
}

/// `python(..)`, expected to succeed: its stdout.
fn python_ok(root: &Path, py: &str, code: &str) -> String {
    python(root, py, code).ok().stdout()
}

/// Imports demo (the rescued test helper and the sourceless module too) from this venv, runs
/// it, and prints `hello world` and `42`.
const IMPORT_DEMO: &str = "\
import os, sys
import demo, demo.core, demo.legacy
assert demo.__version__ == '1.0', demo.__version__
assert sys.prefix == os.environ['EXPECT_PREFIX'], (sys.prefix, os.environ['EXPECT_PREFIX'])
assert demo.__file__.startswith(sys.prefix + '/'), (demo.__file__, sys.prefix)
demo.core.main()
print(demo.legacy.VALUE)
";

/// What `importlib.metadata` says of demo: version, console script, top-level package.
const METADATA_OF_DEMO: &str = "\
import importlib.metadata as md
print(md.version('demo'))
print([e.value for e in md.entry_points(group='console_scripts', name='demo')])
print(md.packages_distributions().get('demo'))
";

/// Every pyc in a `__pycache__` of the venv: its magic is this interpreter's, it is
/// unchecked-hash (PEP 552 flags 1) and carries the hash of the source beside it, as
/// `py_compile` would write it. Prints each path.
const CHECK_PYCS: &str = r#"
import importlib.util, pathlib, sys
sp = pathlib.Path(sys.prefix, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages')
for pyc in sorted(sp.rglob('__pycache__/*.pyc')):
    src = pyc.parent.parent / (pyc.name.split('.')[0] + '.py')
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER, (pyc, 'magic')
    assert int.from_bytes(data[4:8], 'little') == 1, (pyc, 'not unchecked-hash')
    assert data[8:16] == importlib.util.source_hash(src.read_bytes()), (pyc, 'hash of another source')
    print(pyc.relative_to(sp))
"#;

/// Run venvslim with `args`, expect exit 2, an `error:` first line and a `hint:` line, and no
/// change anywhere in the fixture's temp dir. Returns stderr.
fn expect_usage_error(fx: &Fixture, args: &[&str]) -> String {
    let before = tree(fx.tmp.path(), Detail::Strict);
    let output = venvslim().args(args).run();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}:\n{}",
        show(&output)
    );
    assert!(
        output.stdout.is_empty(),
        "{args:?}: printed a report:\n{}",
        show(&output)
    );
    assert!(
        stderr.starts_with("error:"),
        "{args:?}: stderr does not start with `error:`:\n{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("hint:")),
        "{args:?}: no `hint:` line:\n{stderr}"
    );
    let diff = tree_diff(&before, &tree(fx.tmp.path(), Detail::Strict));
    assert!(
        diff.is_empty(),
        "{args:?} wrote something:\n{}",
        diff.join("\n")
    );
    stderr
}
