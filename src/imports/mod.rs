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
    /// An import of it (required or optional, not type-only) runs when the file is imported,
    /// not only in a function body: what decides which implementation a package loads.
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
            at_import: ctx.need != Need::TypeOnly && !ctx.deferred,
        }));
    }
    // One entry per name: its strongest need, and whether any import of it runs at import.
    found.sort_unstable_by(|a, b| a.module.cmp(&b.module).then(a.need.cmp(&b.need)));
    found.dedup_by(|later, first| {
        let same = later.module == first.module;
        if same {
            first.at_import |= later.at_import;
        }
        same
    });
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
mod tests;
