//! Static scanner for the modules a Python source file may import.
//!
//! The import guard must never delete a module that kept code still imports
//! (a `tests` package imported by the library itself, `pkg_resources` used at
//! run time, ...). This module answers "which modules could this file import?"
//! from the file's bytes alone, without running Python: a small hand-rolled
//! lexer forms logical lines (strings, comments, brackets and backslash
//! continuations handled, including PEP 701 nested f-strings) and every
//! `import` keyword, `__import__("...")` and `import_module("...")` call with
//! a literal argument is reported. Besides one token buffer reused for the
//! whole file, it allocates only for the names it reports.
//!
//! Known limits: it is purely static, so imports of computed names
//! (`__import__(name)`, f-strings, concatenation), text run through
//! `exec`/`eval`, plugin loading through entry points or `pkgutil`, and calls
//! inside f-string replacement fields are not seen. Conditions are not
//! evaluated, but each import carries its block context (`blocks.rs`): inside
//! a `try` whose handler catches import errors it is optional, under
//! `if TYPE_CHECKING:` it is for type checkers only; version checks and
//! function bodies still count as required. The names after `from x import` are reported as submodules even when they are
//! attributes. `__import__` with a relative name or a `level` argument is
//! ignored. Malformed source is scanned on a best-effort basis.

/// Nested f-string depth beyond which braces are no longer parsed.
const MAX_NEST: u8 = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok<'a> {
    Name(&'a [u8]),
    /// Body (still escaped) of a plain string literal, one that is not an
    /// f-, t- or bytes string.
    Str(&'a [u8]),
    /// Any other string literal: never a module name.
    OtherStr,
    Op(u8),
    Newline,
    Eof,
}

/// How the string being lexed is quoted.
#[derive(Clone, Copy)]
struct Quote {
    q: u8,
    triple: bool,
    fmt: bool,
    nest: u8,
}

mod blocks;

pub use blocks::Need;

/// One module a file imports, and how firmly (the strongest of its import statements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Absolute dotted name.
    pub module: String,
    /// Whether the file fails without it, copes without it, or only names it for type checkers.
    pub need: Need,
    /// A required import of it runs when the file is imported (not only in a function body).
    pub at_import: bool,
}

/// Module names a Python source file may import, absolute and dotted, however it imports them.
/// `module` is the dotted name of the file itself (e.g. "pkg.sub.mod" for pkg/sub/mod.py,
/// "pkg.sub" for pkg/sub/__init__.py) and `is_package` says whether the file is an __init__.py;
/// both are needed to resolve relative imports.
#[must_use]
pub fn imported_modules(source: &[u8], module: &str, is_package: bool) -> Vec<String> {
    imports(source, module, is_package)
        .into_iter()
        .map(|i| i.module)
        .collect()
}

/// The modules a Python source file may import, each with its strongest need, sorted by name.
/// Arguments as for [`imported_modules`].
#[must_use]
pub fn imports(source: &[u8], module: &str, is_package: bool) -> Vec<Import> {
    let package = match (is_package, module.rsplit_once('.')) {
        (true, _) => module,
        (false, Some((parent, _))) => parent,
        (false, None) => "",
    };
    let src = source.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(source);
    let mut pos = 0;
    let mut toks = Vec::new();
    let mut lines = Vec::new();
    loop {
        let start = toks.len();
        let Some(indent) = logical_line(src, &mut pos, &mut toks) else {
            break;
        };
        lines.push(blocks::Line {
            indent,
            toks: start..toks.len(),
        });
    }
    let mut found: Vec<Import> = Vec::new();
    let mut names = Vec::new();
    for (range, ctx) in blocks::segments(&lines, &toks) {
        scan_line(&toks[range], package, &mut names);
        found.extend(names.drain(..).map(|module| Import {
            module,
            need: ctx.need,
            at_import: ctx.need == Need::Required && !ctx.deferred,
        }));
    }
    // One entry per name: its strongest need, and whether any required import runs at import.
    found.sort_unstable_by(|a, b| {
        a.module
            .cmp(&b.module)
            .then(a.need.cmp(&b.need))
            .then(b.at_import.cmp(&a.at_import))
    });
    found.dedup_by(|later, first| later.module == first.module);
    found
}

/// Appends the tokens of the next logical line to `toks` and returns its indentation (columns
/// of leading blanks, a tab to the next multiple of 8); None at the end.
fn logical_line<'a>(s: &'a [u8], pos: &mut usize, toks: &mut Vec<Tok<'a>>) -> Option<usize> {
    let first = toks.len();
    let mut depth = 0usize;
    let mut line_start = *pos;
    let mut indent = 0;
    loop {
        let (tok, next) = lex_at(s, *pos, 0);
        *pos = next;
        match tok {
            Tok::Eof => return (toks.len() > first).then_some(indent),
            Tok::Newline if depth == 0 && toks.len() > first => return Some(indent),
            Tok::Newline => {
                line_start = next;
                continue;
            }
            Tok::Op(b'(' | b'[' | b'{') => depth += 1,
            Tok::Op(b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        if toks.len() == first {
            indent = columns(&s[line_start..]);
        }
        toks.push(tok);
    }
}

/// Columns of the blanks a physical line starts with.
fn columns(line: &[u8]) -> usize {
    let mut col = 0;
    for &c in line {
        match c {
            b' ' | b'\x0c' => col += 1,
            b'\t' => col = (col / 8 + 1) * 8,
            _ => break,
        }
    }
    col
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Lexes the token at or after `i`; returns it with the position past it.
fn lex_at(s: &[u8], mut i: usize, nest: u8) -> (Tok<'_>, usize) {
    while let Some(&c) = s.get(i) {
        match c {
            b' ' | b'\t' | b'\x0c' => i += 1,
            b'\r' if s.get(i + 1) == Some(&b'\n') => i += 1,
            b'\n' | b'\r' => return (Tok::Newline, i + 1),
            b'#' => i = line_end(s, i),
            b'\\' => i = skip_escape(s, i),
            b'\'' | b'"' => return string(s, i, b"", nest),
            c if is_ident(c) => {
                let start = i;
                while s.get(i).is_some_and(|&c| is_ident(c)) {
                    i += 1;
                }
                let word = &s[start..i];
                if matches!(s.get(i), Some(b'\'' | b'"')) && is_prefix(word) {
                    return string(s, i, word, nest);
                }
                return (Tok::Name(word), i);
            }
            _ => return (Tok::Op(c), i + 1),
        }
    }
    (Tok::Eof, s.len())
}

/// Position of the newline ending the line that holds `i`, or the end.
fn line_end(s: &[u8], i: usize) -> usize {
    let newline = s[i..].iter().position(|&c| c == b'\n' || c == b'\r');
    newline.map_or(s.len(), |p| i + p)
}

/// Position past a backslash and the character (or `\r\n`) it escapes.
fn skip_escape(s: &[u8], i: usize) -> usize {
    if s.get(i + 1..i + 3) == Some(b"\r\n") {
        i + 3
    } else {
        (i + 2).min(s.len())
    }
}

fn is_prefix(word: &[u8]) -> bool {
    word.len() <= 2 && word.iter().all(|c| b"rbfutRBFUT".contains(c))
}

/// Lexes the string literal whose opening quote is at `i`.
fn string<'a>(s: &'a [u8], i: usize, prefix: &[u8], nest: u8) -> (Tok<'a>, usize) {
    let q = s[i];
    let triple = s.get(i..i + 3) == Some(&[q, q, q][..]);
    let open = if triple { i + 3 } else { i + 1 };
    let has = |set: &[u8]| prefix.iter().any(|c| set.contains(&c.to_ascii_lowercase()));
    let fmt = has(b"ft") && nest < MAX_NEST;
    let qt = Quote {
        q,
        triple,
        fmt,
        nest,
    };
    let end = body_end(s, open, qt, false);
    let close = match s.get(end) {
        Some(&c) if c == q => end + if triple { 3 } else { 1 },
        _ => end,
    };
    let tok = if has(b"fbt") {
        Tok::OtherStr
    } else {
        Tok::Str(&s[open..end])
    };
    (tok, close)
}

/// Position of whatever ends a string body (or an f-string format spec when
/// `in_spec`): closing quote, newline of a one-line string, `}`, or the end.
fn body_end(s: &[u8], mut i: usize, qt: Quote, in_spec: bool) -> usize {
    while let Some(&c) = s.get(i) {
        match c {
            b'\\' => i = skip_escape(s, i),
            b'\n' | b'\r' if !qt.triple => return i,
            b'}' if in_spec => return i,
            b'{' if qt.fmt && !in_spec && s.get(i + 1) == Some(&b'{') => i += 2,
            b'{' if qt.fmt => {
                let inner = Quote {
                    nest: qt.nest + 1,
                    ..qt
                };
                i = fexpr_end(s, i + 1, inner);
            }
            _ if c == qt.q && (!qt.triple || s[i..].starts_with(&[c, c, c])) => return i,
            _ => i += 1,
        }
    }
    s.len()
}

/// Position past the `}` closing the f-string replacement field starting at
/// `i`, or of the newline/end that cuts it short.
fn fexpr_end(s: &[u8], mut i: usize, qt: Quote) -> usize {
    let mut depth = 0usize;
    loop {
        let (tok, next) = lex_at(s, i, qt.nest);
        match tok {
            Tok::Op(b'}') if depth == 0 => return next,
            Tok::Op(b'(' | b'[' | b'{') => depth += 1,
            Tok::Op(b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            Tok::Op(b':') if depth == 0 => {
                let end = body_end(s, next, qt, true);
                return end + usize::from(s.get(end) == Some(&b'}'));
            }
            Tok::Newline if !qt.triple => return next - 1,
            Tok::Eof => return next,
            _ => {}
        }
        i = next;
    }
}

/// `import` is a hard keyword, so each occurrence outside strings and
/// comments belongs to an import statement, wherever the statement starts.
fn scan_line(toks: &[Tok], package: &str, out: &mut Vec<String>) {
    for (k, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Name(b"import") => import_statement(toks, k, package, out),
            Tok::Name(b"__import__") => dynamic(&toks[k + 1..], None, out),
            Tok::Name(b"import_module") => dynamic(&toks[k + 1..], Some(package), out),
            _ => {}
        }
    }
}

fn import_statement(toks: &[Tok], k: usize, package: &str, out: &mut Vec<String>) {
    let is_spec = |t: &Tok| match t {
        Tok::Op(b'.') => true,
        Tok::Name(n) => !matches!(*n, b"from" | b"import"),
        _ => false,
    };
    match toks[..k].iter().rposition(|t| !is_spec(t)) {
        Some(f) if toks[f] == Tok::Name(b"from") => {
            from_import(&toks[f + 1..k], &toks[k + 1..], package, out);
        }
        _ => plain_import(&toks[k + 1..], out),
    }
}

/// `import a.b as c, d`
fn plain_import(mut rest: &[Tok], out: &mut Vec<String>) {
    while let Some((name, n)) = dotted(rest) {
        add_with_parents(out, name);
        rest = skip_alias(&rest[n..]);
        match rest {
            [Tok::Op(b','), tail @ ..] => rest = tail,
            _ => return,
        }
    }
}

/// `from <spec> import <rest>`
fn from_import(spec: &[Tok], rest: &[Tok], package: &str, out: &mut Vec<String>) {
    let level = spec.iter().take_while(|t| **t == Tok::Op(b'.')).count();
    let name = match dotted(&spec[level..]) {
        Some((name, n)) if level + n == spec.len() => name,
        None if level == spec.len() => String::new(),
        _ => return,
    };
    let target = match level {
        0 if name.is_empty() || name == "__future__" => return,
        0 => name,
        _ => match resolve(package, level, &name) {
            Some(target) => target,
            None => return,
        },
    };
    let mut rest = rest.strip_prefix(&[Tok::Op(b'(')]).unwrap_or(rest);
    while let [Tok::Name(n), tail @ ..] = rest {
        out.push(format!("{target}.{}", String::from_utf8_lossy(n)));
        rest = match skip_alias(tail) {
            [Tok::Op(b','), tail @ ..] => tail,
            _ => break,
        };
    }
    add_with_parents(out, target);
}

/// `__import__("a.b")` (`package` None) or `import_module("a.b")`, `import_module(".b", pkg)`.
fn dynamic(rest: &[Tok], package: Option<&str>, out: &mut Vec<String>) {
    let rest = match rest {
        [Tok::Op(b'('), Tok::Name(b"name"), Tok::Op(b'='), tail @ ..] => tail,
        [Tok::Op(b'('), tail @ ..] => tail,
        _ => return,
    };
    let (lit, after) = match rest {
        [Tok::Str(lit), after @ ..] if matches!(after.first(), Some(Tok::Op(b',' | b')'))) => {
            (*lit, after)
        }
        _ => return,
    };
    let level = lit.iter().take_while(|&&c| c == b'.').count();
    let rel = &lit[level..];
    if !((rel.is_empty() && level > 0) || valid_dotted(rel)) {
        return;
    }
    let rel = String::from_utf8_lossy(rel).into_owned();
    let name = match (level, package) {
        (0, _) => Some(rel),
        (_, None) => None,
        (_, Some(package)) => resolve(package_arg(after).unwrap_or(package), level, &rel),
    };
    if let Some(name) = name {
        add_with_parents(out, name);
    }
}

/// A literal second argument of `import_module`: `, "pkg"` or `, package="pkg"`.
fn package_arg<'a>(after: &[Tok<'a>]) -> Option<&'a str> {
    let lit = match after {
        [Tok::Op(b','), Tok::Name(b"package"), Tok::Op(b'='), Tok::Str(lit), ..] => lit,
        [Tok::Op(b','), Tok::Str(lit), ..] => lit,
        _ => return None,
    };
    std::str::from_utf8(lit)
        .ok()
        .filter(|p| valid_dotted(p.as_bytes()))
}

/// Dotted name at the start of `toks` and how many tokens it spans.
fn dotted(toks: &[Tok]) -> Option<(String, usize)> {
    let Some(Tok::Name(first)) = toks.first() else {
        return None;
    };
    let mut name = String::from_utf8_lossy(first).into_owned();
    let mut n = 1;
    while let [Tok::Op(b'.'), Tok::Name(part), ..] = &toks[n..] {
        name.push('.');
        name.push_str(&String::from_utf8_lossy(part));
        n += 2;
    }
    Some((name, n))
}

fn skip_alias<'t, 'a>(toks: &'t [Tok<'a>]) -> &'t [Tok<'a>] {
    match toks {
        [Tok::Name(b"as"), Tok::Name(_), tail @ ..] => tail,
        _ => toks,
    }
}

fn valid_dotted(name: &[u8]) -> bool {
    !name.is_empty()
        && name.split(|&c| c == b'.').all(|part| {
            part.first().is_some_and(|c| !c.is_ascii_digit()) && part.iter().all(|&c| is_ident(c))
        })
}

/// Absolute name of a relative import `level` dots up from `package`;
/// None when it climbs above the top level.
fn resolve(package: &str, level: usize, rest: &str) -> Option<String> {
    if package.is_empty() {
        return None;
    }
    let mut base = package;
    for _ in 1..level {
        base = base.rsplit_once('.')?.0;
    }
    Some(if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}.{rest}")
    })
}

fn add_with_parents(out: &mut Vec<String>, name: String) {
    out.extend(name.match_indices('.').map(|(i, _)| name[..i].to_owned()));
    out.push(name);
}

#[cfg(test)]
mod tests {
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
        assert_eq!(needs(src), ["deep:Optional", "setuptools:Optional"]);
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
        assert_eq!(at_import, ["a", "e"]);
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
        let src = "reimport x\nmy_import('y')\nx.importer('z')\nimportlib.reload(w)\nimport_modules('v')\n";
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
}
