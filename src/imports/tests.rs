//! The scanner on source text: names first, then the block context of each import.

use super::imported_modules;

fn scan(src: &str, module: &str, is_package: bool) -> Vec<String> {
    imported_modules(src.as_bytes(), module, is_package)
}

/// Scans `src` as the plain module `pkg.sub.mod`.
fn m(src: &str) -> Vec<String> {
    scan(src, "pkg.sub.mod", false)
}

fn v(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|&s| s.to_owned()).collect();
    names.sort();
    names
}

#[test]
fn plain_import_reports_parents() {
    assert_eq!(m("import a.b.c\n"), v(&["a", "a.b", "a.b.c"]));
}

#[test]
fn plain_import_with_alias_and_list() {
    assert_eq!(m("import a.b as x, c"), v(&["a", "a.b", "c"]));
    assert_eq!(m("import a.b.c as d"), v(&["a", "a.b", "a.b.c"]));
}

#[test]
fn from_import_names_as_submodules() {
    assert_eq!(
        m("from a.b import c, d as e\n"),
        v(&["a", "a.b", "a.b.c", "a.b.d"])
    );
}

#[test]
fn from_import_star() {
    assert_eq!(m("from a.b import *\n"), v(&["a", "a.b"]));
}

#[test]
fn relative_imports_in_module() {
    assert_eq!(m("from . import x"), v(&["pkg", "pkg.sub", "pkg.sub.x"]));
    assert_eq!(
        m("from .m import y"),
        v(&["pkg", "pkg.sub", "pkg.sub.m", "pkg.sub.m.y"])
    );
    assert_eq!(m("from ..z import w"), v(&["pkg", "pkg.z", "pkg.z.w"]));
    assert_eq!(m("from .. import w"), v(&["pkg", "pkg.w"]));
    assert_eq!(m("from .import x"), v(&["pkg", "pkg.sub", "pkg.sub.x"]));
}

#[test]
fn relative_imports_in_package() {
    assert_eq!(
        scan("from . import x", "pkg.sub", true),
        v(&["pkg", "pkg.sub", "pkg.sub.x"])
    );
    let src = "from . import (a,\n    b)\n";
    assert_eq!(
        scan(src, "pkg.sub", true),
        v(&["pkg", "pkg.sub", "pkg.sub.a", "pkg.sub.b"])
    );
    assert_eq!(
        scan("from .. import y", "pkg.sub", true),
        v(&["pkg", "pkg.y"])
    );
}

#[test]
fn relative_beyond_top_level_ignored() {
    assert!(m("from ...x import y").is_empty());
    assert!(m("from .... import y").is_empty());
    assert!(scan("from . import x", "toplevel", false).is_empty());
    assert!(scan("from .. import x", "pkg", true).is_empty());
    assert_eq!(scan("from . import x", "pkg", true), v(&["pkg", "pkg.x"]));
}

#[test]
fn parenthesised_multi_line() {
    let src = "from x import (\n    a,\n    b as c,  # comment\n)\nimport y\n";
    assert_eq!(m(src), v(&["x", "x.a", "x.b", "y"]));
}

#[test]
fn backslash_continuations() {
    assert_eq!(m("from a import b, \\\n    c\n"), v(&["a", "a.b", "a.c"]));
    assert_eq!(m("import a, \\\n  b.c\n"), v(&["a", "b", "b.c"]));
    assert_eq!(m("from a \\\n import b\n"), v(&["a", "a.b"]));
}

#[test]
fn semicolon_separated_statements() {
    assert_eq!(
        m("import a; import b; from c import d"),
        v(&["a", "b", "c", "c.d"])
    );
    assert_eq!(
        m("x = 1; from .q import r"),
        v(&["pkg", "pkg.sub", "pkg.sub.q", "pkg.sub.q.r"])
    );
}

#[test]
fn indented_and_compound_imports() {
    let src = "\
def f():
    import a
    if TYPE_CHECKING:
        from b import c
try:
    import d
except ImportError:  import e
if x: from f import g
class K:
    def m(self):
        return lambda: __import__('h')
";
    assert_eq!(m(src), v(&["a", "b", "b.c", "d", "e", "f", "f.g", "h"]));
}

/// The need of each module `src` imports, as `name:need` for the ones not required.
fn needs(src: &str) -> Vec<String> {
    super::imports(src.as_bytes(), "pkg.mod", false)
        .into_iter()
        .filter(|i| i.need != super::Need::Required)
        .map(|i| format!("{}:{:?}", i.module, i.need))
        .collect()
}

#[test]
fn optional_imports_in_try_that_catches_import_errors() {
    let src = "\
try:
    import a
    from b import c
except (ImportError, AttributeError) as exc:
    import fallback
try:
    import d
except ValueError:
    pass
except Exception:
    pass
try:
    import e
except KeyError:
    pass
finally:
    pass
try: import f
except: pass
";
    assert_eq!(
        needs(src),
        [
            "a:Optional",
            "b:Optional",
            "b.c:Optional",
            "d:Optional",
            "f:Optional"
        ]
    );
}

#[test]
fn nested_blocks_and_function_bodies() {
    let src = "\
def build():
    try:
        import setuptools
    except Exception as ex:
        raise RuntimeError('needs setuptools') from ex
    import required_in_function
    if sys.version_info >= (3, 12):
        import version_checked
class K:
    try:
        if True:
            import deep
    except ModuleNotFoundError:
        pass
    import after_try
";
    // The handler raises: setuptools is required, with a better message.
    assert_eq!(needs(src), ["deep:Optional"]);
}

#[test]
fn type_checking_blocks_and_their_else() {
    let src = "\
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from a import A
    try:
        import b
    except ImportError:
        import c
else:
    import d
if typing.TYPE_CHECKING: import e
if not TYPE_CHECKING:
    import f
if TYPE_CHECKING or RUNTIME:
    import g
import a
";
    assert_eq!(
        needs(src),
        ["a.A:TypeOnly", "b:TypeOnly", "c:TypeOnly", "e:TypeOnly"]
    );
}

#[test]
fn suppress_and_headers_with_brackets() {
    let src = "\
with contextlib.suppress(ImportError):
    import a
with suppress(KeyError):
    import b
with open('x') as f, suppress(ModuleNotFoundError): import c
if (x := {'k': 1}) and TYPE_CHECKING:
    import d
try:  # a comment
    # another
    import e

except ImportError:
    pass
";
    assert_eq!(needs(src), ["a:Optional", "c:Optional", "e:Optional"]);
}

#[test]
fn tabs_and_a_try_whose_handler_is_elsewhere() {
    // A `try` body indented with a tab, and a nested try whose only handler is not
    // an import error while the outer one is.
    let src = "try:\n\timport a\n\ttry:\n\t\timport b\n\texcept OSError:\n\t\tpass\nexcept ImportError:\n\tpass\nimport c\n";
    assert_eq!(needs(src), ["a:Optional", "b:Optional"]);
    let strongest = "try:\n    import a\nexcept ImportError:\n    pass\nimport a\n";
    assert!(needs(strongest).is_empty());
}

#[test]
fn imports_in_function_bodies_do_not_run_at_import() {
    let src = "\
import a
def f():
    import b
    class Inner:
        import c
async def g():
    import d
class K:
    import e
    def m(self):
        import a
try:
    import opt
except ImportError:
    pass
";
    let at_import: Vec<String> = super::imports(src.as_bytes(), "pkg.mod", false)
        .into_iter()
        .filter(|i| i.at_import)
        .map(|i| i.module)
        .collect();
    assert_eq!(at_import, ["a", "e", "opt"]);
}

#[test]
fn dynamic_imports_with_literals() {
    let src = "\
__import__('pkg_resources')
__import__(\"a.b\")
mod = importlib.import_module(\"c.d\")
import_module('e')
importlib.import_module(name='f')
__import__('zope.interface')
";
    let want = ["pkg_resources", "a", "a.b", "c", "c.d", "e", "f", "zope"];
    let mut want = v(&want);
    want.push("zope.interface".into());
    want.sort();
    assert_eq!(m(src), want);
}

#[test]
fn dynamic_relative_import_module() {
    assert_eq!(
        m("import_module('.x', __name__)"),
        v(&["pkg", "pkg.sub", "pkg.sub.x"])
    );
    assert_eq!(
        m("import_module('.x', package=__name__)"),
        v(&["pkg", "pkg.sub", "pkg.sub.x"])
    );
    assert_eq!(
        scan("import_module('..y', __name__)", "pkg.sub", true),
        v(&["pkg", "pkg.y"])
    );
    assert_eq!(
        m("import_module('.z', 'other.pkg')"),
        v(&["other", "other.pkg", "other.pkg.z"])
    );
    assert!(scan("import_module('.x', __name__)", "top", false).is_empty());
    assert!(m("__import__('.x')").is_empty());
}

#[test]
fn dynamic_imports_with_non_literals_ignored() {
    let src = "\
__import__(name)
import_module(f'plugins.{name}')
import_module('a' + suffix)
import_module('a' 'b')
__import__(b'bytes')
import_module('not a module')
import_module('')
";
    assert!(m(src).is_empty());
}

#[test]
fn comments_ignored() {
    let src = "# import foo\nx = 1  # from bar import baz\n#import_module('q')\n";
    assert!(m(src).is_empty());
}

#[test]
fn strings_ignored() {
    let src = r#"
a = "import x"
b = 'from y import z'
c = f"import {w}" + rb'import v' + Rb"from . import u" + u'import t'
d = "escaped \" import q"
e = '__import__("r")'
g = r'\' import s'
"#;
    assert!(m(src).is_empty());
}

#[test]
fn docstring_with_import_text() {
    let src = "def f():\n    \"\"\"Example.\n\n    >>> from pkg.tests import x\n    >>> import os\n    \"\"\"\n    return 1\n'''\nimport no\n'''\nimport yes\n";
    assert_eq!(m(src), v(&["yes"]));
}

#[test]
fn nested_f_strings() {
    let src = "\
a = f\"{x[\"import k\"]}\"
b = f'{x:#x} {y!r:>{width}} {{import no}}'
c = f\"\"\"{
    ' import no2 '  # comment
}\"\"\"
import real
";
    assert_eq!(m(src), v(&["real"]));
}

#[test]
fn future_imports_ignored() {
    assert!(m("from __future__ import annotations, print_function\n").is_empty());
}

#[test]
fn lookalike_identifiers_ignored() {
    let src =
        "reimport x\nmy_import('y')\nx.importer('z')\nimportlib.reload(w)\nimport_modules('v')\n";
    assert!(m(src).is_empty());
    let src = "raise E from exc\nimport z\nyield from g\n";
    assert_eq!(m(src), v(&["z"]));
}

#[test]
fn attribute_import_module_counts() {
    assert_eq!(m("self.import_module('x')"), v(&["x"]));
}

#[test]
fn unterminated_string_at_eof() {
    assert_eq!(m("import a\nx = \"abc"), v(&["a"]));
    assert_eq!(m("import a\nx = '''abc\nimport b\n"), v(&["a"]));
    assert_eq!(m("import a\nx = f'{abc"), v(&["a"]));
    assert_eq!(m("x = 'abc\nimport b\n"), v(&["b"]));
    assert_eq!(m("import a\nx = '\\"), v(&["a"]));
    assert!(m("from").is_empty());
    assert!(m("import").is_empty());
    assert_eq!(m("from . import"), v(&["pkg", "pkg.sub"]));
    assert!(m("__import__(").is_empty());
    assert!(m("").is_empty());
}

#[test]
fn invalid_utf8_does_not_panic() {
    let src = b"\xff\xfe = 1\nimport os\nimport \xc3(\nx = '\x80\x81'\nimport caf\xc3\xa9\n";
    let got = imported_modules(src, "pkg.mod", false);
    assert!(got.contains(&"os".to_string()));
    assert!(got.contains(&"caf\u{e9}".to_string()));
    for len in 0..src.len() {
        let _ = imported_modules(&src[..len], "pkg.mod", false);
    }
}

#[test]
fn byte_order_mark_skipped() {
    assert_eq!(
        imported_modules(b"\xEF\xBB\xBFimport os\n", "m", false),
        v(&["os"])
    );
}

#[test]
fn windows_line_endings() {
    let src = "import a\r\nfrom b import (c,\r\n    d)\r\nfrom e import f, \\\r\n    g\r\n# import no\r\nx = 'y'\r\nimport h\r\n";
    assert_eq!(m(src), v(&["a", "b", "b.c", "b.d", "e", "e.f", "e.g", "h"]));
}

#[test]
fn realistic_module() {
    let src = r#"# -*- coding: utf-8 -*-
"""Sample module.

Usage::

    >>> from sample.tests import helpers
    >>> import sample.testing
"""
from __future__ import annotations

import os, sys
import typing as t
from collections.abc import (
    Mapping,
    Sequence,  # trailing comment: import nothing
)
from . import _compat
from .utils import (slugify as _slug,
                    memoize)
from ..core.models import Model

if t.TYPE_CHECKING:
    from .types import Config

try:
    import simplejson as json
except ImportError:  # pragma: no cover
    import json

_PATTERN = r"^from (\w+) import \*$"
_QUERY = f"SELECT * FROM {os.environ['TABLE']!r} -- import rows"


class Loader:
    """Loads plugins; see ``import_module('docs.only')``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def load(self, name):
        # import_module('commented.out')
        mod = importlib.import_module(name)
        setuptools = __import__("setuptools")
        local = importlib.import_module(".plugins", __name__)
        return mod, setuptools, local

    def resources(self):
        import pkg_resources; return pkg_resources.iter_entry_points(
            "sample.plugins")


def main(argv=None):
    from sample.cli import \
        run
    return run(argv or sys.argv[1:])
"#;
    let want = v(&[
        "collections",
        "collections.abc",
        "collections.abc.Mapping",
        "collections.abc.Sequence",
        "json",
        "os",
        "pkg_resources",
        "sample",
        "sample.cli",
        "sample.cli.run",
        "sample.core",
        "sample.core.models",
        "sample.core.models.Model",
        "sample.io",
        "sample.io._compat",
        "sample.io.plugins",
        "sample.io.types",
        "sample.io.types.Config",
        "sample.io.utils",
        "sample.io.utils.memoize",
        "sample.io.utils.slugify",
        "setuptools",
        "simplejson",
        "sys",
        "typing",
    ]);
    assert_eq!(scan(src, "sample.io.reader", false), want);
}

/// Regressions found by trying to break the guard: a function body inside a `try` runs
/// elsewhere, and a handler that raises or exits makes the import a requirement.
#[test]
fn functions_in_a_try_and_handlers_that_give_up_are_required() {
    let src = "\
try:
    def f():
        import in_def
    async def g():
        import in_async_def
    class K:
        @staticmethod
        def m():
            import in_method
    hook = lambda: __import__('in_lambda')
    import optional_itself
except ImportError:
    pass
try:
    import reraised
except ImportError:
    raise
try:
    import wrapped
except ImportError as e:
    log.error('no wrapped')
    raise RuntimeError('needs wrapped') from e
try:
    import exits
except ImportError:
    sys.exit('needs exits')
try: import same_line
except ImportError: raise SystemExit(1)
try:
    import really_optional
except ImportError:
    if strict:
        raise
    really_optional = None
if TYPE_CHECKING:
    def h():
        import typed_in_def
";
    assert_eq!(
        needs(src),
        [
            "optional_itself:Optional",
            "really_optional:Optional",
            "typed_in_def:TypeOnly"
        ]
    );
}
