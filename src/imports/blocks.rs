//! The block context of each import: does the file need the module, or only cope without it?
//!
//! The import guard keeps every module that kept code imports. Two kinds of import do not show
//! that a module is needed (docs/facts.md, "Optional imports"):
//! - inside a `try:` whose handlers catch `ImportError`, `ModuleNotFoundError`, `Exception`,
//!   `BaseException`, or everything (bare `except:`), or inside `with suppress(ImportError):`:
//!   the file is written to run without the module (cffi's `_shimmed_dist_utils` imports
//!   setuptools this way, babel's `_compat` imports `pkg_resources`);
//! - inside `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`, or `if False:`): it never runs.
//!
//! Blocks are found from indentation, as Python finds them: a header line opens a block and
//! the first later line indented no deeper closes it. The handlers of a `try` come after its
//! body, so a `try` header looks ahead at the `except` clauses at its own indentation. The
//! handler's own imports (the fallback, `except ImportError: import json`) are required, and so
//! is everything under `else:` of `if TYPE_CHECKING:`. Imports in function bodies are required
//! (the function may run), and marked deferred: they do not run when the module is imported.

use std::ops::Range;

use super::Tok;

/// How firmly a file needs a module it imports, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// The import runs, and nothing catches its failure.
    Required,
    /// The import runs inside a `try` (or `suppress`) that catches its failure.
    Optional,
    /// The import is under `if TYPE_CHECKING:`: it never runs.
    TypeOnly,
}

/// One logical line: its indentation and its tokens (a range of the file's token list).
pub(super) struct Line {
    pub indent: usize,
    pub toks: Range<usize>,
}

/// Where an import statement is: how firmly it is needed, and whether it is in a function
/// body (it runs when the function is called, not when the module is imported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Context {
    pub need: Need,
    pub deferred: bool,
}

/// The token ranges of the file, each with the context of the imports it holds. A header with
/// its body on the same line (`try: import x`) gives two segments.
pub(super) fn segments(lines: &[Line], toks: &[Tok]) -> Vec<(Range<usize>, Context)> {
    // Open blocks that change the context: (header indentation, context inside).
    let mut open: Vec<(usize, Context)> = Vec::new();
    let mut out = Vec::with_capacity(lines.len());
    let top = Context {
        need: Need::Required,
        deferred: false,
    };
    for (i, line) in lines.iter().enumerate() {
        while open
            .last()
            .is_some_and(|&(indent, _)| indent >= line.indent)
        {
            open.pop();
        }
        let outer = open.last().map_or(top, |&(_, c)| c);
        let t = &toks[line.toks.clone()];
        let Some((colon, own)) = header(t, &lines[i + 1..], toks, line.indent) else {
            out.push((line.toks.clone(), in_lambda(t, outer)));
            continue;
        };
        // A function body runs when it is called, outside the try it is written in: its
        // imports are as required as they are anywhere (type-only stays type-only).
        let need = match (own.deferred, outer.need) {
            (true, Need::TypeOnly) => Need::TypeOnly,
            (true, _) => Need::Required,
            (false, _) => outer.need.max(own.need),
        };
        let inner = Context {
            need,
            deferred: outer.deferred || own.deferred,
        };
        let split = line.toks.start + colon + 1;
        out.push((line.toks.start..split, outer));
        out.push((split..line.toks.end, inner));
        open.push((line.indent, inner));
    }
    out
}

/// A line with a `lambda` in it: its `__import__("x")` calls run when the lambda is called, so
/// they are required and deferred, as in a function body.
fn in_lambda(t: &[Tok], outer: Context) -> Context {
    if outer.need == Need::TypeOnly || !t.contains(&Tok::Name(b"lambda")) {
        return outer;
    }
    Context {
        need: Need::Required,
        deferred: true,
    }
}

/// For a header that opens a block with another context (optional, type-only, a function
/// body): the index of its colon and what changes inside.
fn header(t: &[Tok], after: &[Line], toks: &[Tok], indent: usize) -> Option<(usize, Context)> {
    let colon = header_colon(t)?;
    let (need, deferred) = match t {
        [Tok::Name(b"try"), ..] if colon == 1 && try_catches_import_errors(after, toks, indent) => {
            (Need::Optional, false)
        }
        [Tok::Name(b"if"), ..] if is_type_checking(&t[1..colon]) => (Need::TypeOnly, false),
        [Tok::Name(b"with"), ..] if suppresses_import_errors(&t[1..colon]) => {
            (Need::Optional, false)
        }
        [Tok::Name(b"def"), ..] | [Tok::Name(b"async"), Tok::Name(b"def"), ..] => {
            (Need::Required, true)
        }
        _ => return None,
    };
    Some((colon, Context { need, deferred }))
}

/// The colon ending a compound statement's header: the first `:` outside brackets.
fn header_colon(t: &[Tok]) -> Option<usize> {
    let mut depth = 0usize;
    for (k, tok) in t.iter().enumerate() {
        match tok {
            Tok::Op(b'(' | b'[' | b'{') => depth += 1,
            Tok::Op(b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            // `:=` is an assignment expression, not the header's end.
            Tok::Op(b':') if depth == 0 && t.get(k + 1) != Some(&Tok::Op(b'=')) => return Some(k),
            _ => {}
        }
    }
    None
}

/// Whether one of the `except` clauses of the `try` at `indent` catches a failed import.
fn try_catches_import_errors(after: &[Line], toks: &[Tok], indent: usize) -> bool {
    for (k, line) in after.iter().enumerate() {
        if line.indent > indent {
            continue;
        }
        if line.indent < indent {
            return false;
        }
        let t = &toks[line.toks.clone()];
        match t.first() {
            Some(Tok::Name(b"except")) => {
                let end = header_colon(t).unwrap_or(t.len());
                let caught = &t[1..end];
                let caught = caught.strip_prefix(&[Tok::Op(b'*')]).unwrap_or(caught);
                let catches = caught.is_empty() || names_import_error(caught);
                if catches
                    && !handler_gives_up(
                        &t[(end + 1).min(t.len())..],
                        &after[k + 1..],
                        toks,
                        indent,
                    )
                {
                    return true;
                }
            }
            Some(Tok::Name(b"else" | b"finally")) => {}
            _ => return false,
        }
    }
    false
}

/// Whether an `except` handler ends the program's hope of going on without the module: one of
/// its statements (at the handler's own level) raises or exits. `except ImportError as e: raise
/// RuntimeError("needs setuptools") from e` makes the import a requirement with a better
/// message, not an option. `same_line` is the body after the handler's colon, if any.
fn handler_gives_up(same_line: &[Tok], after: &[Line], toks: &[Tok], indent: usize) -> bool {
    let body_indent = after.first().map(|l| l.indent).filter(|&i| i > indent);
    let body = after
        .iter()
        .take_while(|l| l.indent > indent)
        .filter(|l| Some(l.indent) == body_indent)
        .map(|l| &toks[l.toks.clone()]);
    std::iter::once(same_line)
        .filter(|t| !t.is_empty())
        .chain(body)
        .any(gives_up)
}

/// `raise ...`, `sys.exit(...)`, `exit(...)`, `quit(...)`, `os._exit(...)`.
fn gives_up(t: &[Tok]) -> bool {
    matches!(
        t,
        [Tok::Name(b"raise"), ..]
            | [
                Tok::Name(b"sys" | b"os"),
                Tok::Op(b'.'),
                Tok::Name(b"exit" | b"_exit"),
                ..
            ]
            | [Tok::Name(b"exit" | b"quit"), Tok::Op(b'('), ..]
    )
}

/// Whether an exception list (up to `as`) names a class that a failed import raises.
fn names_import_error(caught: &[Tok]) -> bool {
    caught
        .iter()
        .take_while(|t| **t != Tok::Name(b"as"))
        .any(|t| {
            matches!(
                t,
                Tok::Name(
                    b"ImportError" | b"ModuleNotFoundError" | b"Exception" | b"BaseException"
                )
            )
        })
}

/// `TYPE_CHECKING`, `typing.TYPE_CHECKING` (any dotted name ending so), or `False`.
fn is_type_checking(cond: &[Tok]) -> bool {
    match cond {
        [Tok::Name(b"False")] => true,
        [.., Tok::Name(b"TYPE_CHECKING")] => cond.iter().enumerate().all(|(k, t)| match k % 2 {
            0 => matches!(t, Tok::Name(_)),
            _ => *t == Tok::Op(b'.'),
        }),
        _ => false,
    }
}

/// `with suppress(ImportError):`, `with contextlib.suppress(ModuleNotFoundError, ...):`.
fn suppresses_import_errors(items: &[Tok]) -> bool {
    items.windows(2).enumerate().any(|(k, w)| {
        w == [Tok::Name(b"suppress"), Tok::Op(b'(')] && {
            let args = &items[k + 2..];
            let end = args
                .iter()
                .position(|t| *t == Tok::Op(b')'))
                .unwrap_or(args.len());
            names_import_error(&args[..end])
        }
    })
}
