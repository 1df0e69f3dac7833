//! How does this source reach files? A static scan, for `--zip-pure`.
//!
//! Inside a zip a module's `__file__` is `.../archive.zip/pkg/mod.pyc`: `open()`,
//! `os.path.exists()`, `os.listdir()` or `pathlib` on anything derived from it fail, because no
//! such directory exists (docs/facts.md, zipimport). `importlib.resources` (except `as_file`, which
//! copies to a temporary file: that fails on a read-only filesystem) and `pkgutil.get_data` read
//! through the loader and work from a zip. The scan reports three things per source:
//!
//! - `Needs::File`: a call that needs a real file wherever it is (`resource_filename`,
//!   `as_file`, `importlib.resources.path`), and a `files(...)` result used as a path (`str()`,
//!   `os.fspath()`, `Path()`, `os.path`, a bare `open()` within `WINDOW` lines): from a zip it is
//!   a `zipfile.Path` whose string names no file on disk;
//! - `Needs::NearFs`: a line that names a module's location within `WINDOW` lines of a
//!   file-system call;
//! - `Needs::Location`: every line that names a module's location at all. `select.rs` counts it
//!   when the distribution ships data files: the path can travel anywhere from there.
//!
//! A module's location is `__file__` of any module object (`__file__`, `pkg.__file__`, `v.__file__`
//! of a module passed as a parameter, as nbformat's validator does), `__path__`,
//! `submodule_search_locations`, a spec's `origin` (`__spec__.origin`, `find_spec(...).origin`),
//! `inspect.getfile`/`getsourcefile`/`getabsfile`, a loader's `get_filename`, and
//! site-packages itself (`site.getsitepackages`, `sysconfig.get_path`). Comments and string
//! contents (not f-strings) are ignored, and so is a top-level `if __name__ == "__main__":` block
//! (it runs only as a script: pygments' data modules regenerate themselves there). The scan is
//! conservative: a false alarm only keeps a distribution on disk; what it misses (a path built
//! from something it cannot see) is what `--verify` and `--run` are for.

/// Lines either side of an anchor searched for a file-system call.
pub const WINDOW: usize = 3;

/// What a line of evidence needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needs {
    /// A real file, wherever the distribution is and whatever it ships.
    File,
    /// Its module's location, with a file-system call near it.
    NearFs,
    /// Its module's location, with no file-system call near it: evidence only for a
    /// distribution that ships data files.
    Location,
}

/// One piece of evidence: a 1-based line number, the line (trimmed, shortened) and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line number.
    pub line: usize,
    /// The line, trimmed and shortened.
    pub code: String,
    /// What it needs.
    pub needs: Needs,
    /// Why the line needs a real file.
    pub what: &'static str,
}

/// The scan of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Every line that reaches files other than through the loader, in line order.
    pub hits: Vec<Hit>,
    /// Whether the source reads anything through the loader (`importlib.resources`,
    /// `pkgutil.get_data`, jinja2's `PackageLoader`, `pkg_resources.resource_string`).
    pub loader_read: bool,
}

/// Names of a module's own location (matched in code, strings blanked).
const ANCHORS: &[&str] = &[
    "__file__",
    "__path__",
    "submodule_search_locations",
    "spec.origin",
    "__spec__.origin",
    ").origin",
    "getfile(",
    "getsourcefile(",
    "getabsfile(",
    "get_filename(",
    "getsitepackages(",
    "getusersitepackages(",
    "sysconfig.get_path",
];

/// Calls that work on paths (checked near an anchor).
const FS_CALLS: &[&str] = &[
    "os.path",
    "open(",
    "Path(",
    "pathlib",
    "listdir(",
    "scandir(",
    "walk(",
    "glob(",
    "iglob(",
    "rglob(",
    "dirname(",
    "abspath(",
    "realpath(",
    "exists(",
    "isfile(",
    "isdir(",
    "shutil",
    ".parent",
    "stat(",
    "chdir(",
    "fspath(",
    "join(",
    "sys.path",
    "iterdir(",
];

/// Calls that need a real file on disk wherever they are.
const NEEDS_FILE: &[(&str, &str)] = &[
    (
        "resource_filename(",
        "pkg_resources.resource_filename() needs a real file (it extracts from a zip into a cache directory, which fails on a read-only filesystem)",
    ),
    (
        "as_file(",
        "importlib.resources.as_file() needs a real file (from a zip it copies to a temporary file, which fails on a read-only filesystem)",
    ),
    (
        "resources.path(",
        "importlib.resources.path() needs a real file (from a zip it copies to a temporary file, which fails on a read-only filesystem)",
    ),
];

/// Reads through the loader: evidence that a distribution's data is read the zip-safe way.
const LOADER_READS: &[&str] = &[
    "files(",
    "get_data(",
    "resources.read_text(",
    "resources.read_binary(",
    "open_text(",
    "open_binary(",
    "PackageLoader(",
    "resource_string(",
    "resource_stream(",
];

/// Uses of a value as a file-system path, checked near `files(`.
const AS_PATH: &[&str] = &["str(", "fspath(", "Path(", "os.path", "shutil"];

const NEAR_FILE: &str = "uses a module's location (__file__, __path__, a spec's origin, inspect.getfile) with a file-system call";
const LOCATION: &str = "names a module's location (__file__, __path__, a spec's origin, inspect.getfile): a path from there names no file inside a zip";
const FILES_AS_PATH: &str = "uses an importlib.resources.files() result as a file-system path (str(), os.fspath(), Path(), open()): from a zip it names no file on disk";

/// Every line of `source` that reaches files other than through the loader, and whether it
/// reads through the loader at all.
pub fn scan(source: &[u8]) -> Scan {
    let text = String::from_utf8_lossy(source);
    let raw: Vec<&str> = text.lines().collect();
    let code = code_only(&raw);
    let near = |i: usize, calls: &[&str]| {
        let (lo, hi) = (i.saturating_sub(WINDOW), (i + WINDOW + 1).min(code.len()));
        code[lo..hi]
            .iter()
            .any(|l| calls.iter().any(|c| has_call(l, c)))
    };
    let mut out = Scan::default();
    for (i, line) in code.iter().enumerate() {
        let loader = LOADER_READS.iter().any(|c| has_call(line, c));
        out.loader_read |= loader;
        if let Some((_, what)) = NEEDS_FILE.iter().find(|(n, _)| line.contains(n)) {
            out.hits.push(hit(&raw, i, Needs::File, what));
        } else if names_location(line) {
            let (needs, what) = if near(i, FS_CALLS) {
                (Needs::NearFs, NEAR_FILE)
            } else {
                (Needs::Location, LOCATION)
            };
            out.hits.push(hit(&raw, i, needs, what));
        } else if has_call(line, "files(") && (near(i, AS_PATH) || near(i, &["open("])) {
            out.hits.push(hit(&raw, i, Needs::File, FILES_AS_PATH));
        }
    }
    out
}

/// Whether `line` calls or names `call` as a name of its own: not the tail of a longer
/// identifier (`get_files(` is not `files(`), and for `open(` not a method (`.open(` is the
/// loader's `Traversable.open`).
fn has_call(line: &str, call: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    if !call.starts_with(|c: char| ident(c)) {
        return line.contains(call);
    }
    line.match_indices(call).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        match before {
            Some(c) if ident(c) => false,
            Some('.') => call != "open(",
            _ => true,
        }
    })
}

/// Whether `line` names a module's location (see `ANCHORS`): `x.__file__` of any `x` counts.
fn names_location(line: &str) -> bool {
    ANCHORS.iter().any(|a| {
        line.match_indices(a).any(|(at, _)| {
            let ident = |c: char| c.is_alphanumeric() || c == '_';
            // `my__file__` and `__file__s` are names of their own.
            let longer_before = a.starts_with("__") && line[..at].ends_with(ident);
            let longer_after = a.ends_with(ident) && line[at + a.len()..].starts_with(ident);
            !(longer_before || longer_after)
        })
    })
}

fn hit(raw: &[&str], i: usize, needs: Needs, what: &'static str) -> Hit {
    let line = raw[i].trim();
    let code = if line.chars().count() > 120 {
        line.chars().take(119).collect::<String>() + "…"
    } else {
        line.to_string()
    };
    Hit {
        line: i + 1,
        code,
        needs,
        what,
    }
}

/// Each line with comments removed and the text of string literals blanked (the replacement
/// fields of f-strings stay: `f"{__file__}"` is code). Lines of a top-level
/// `if __name__ == "__main__":` block become empty.
fn code_only(raw: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(raw.len());
    // An open triple-quoted string: its quote character and whether it is an f-string.
    let mut open: Option<(char, bool)> = None;
    let mut in_main = false;
    for line in raw {
        if open.is_none() {
            let top_level = !line.starts_with([' ', '\t']) && !line.trim().is_empty();
            if top_level && !line.trim_start().starts_with('#') {
                in_main = is_main_guard(line);
            }
        }
        let (cleaned, still_open) = clean_line(line, open);
        open = still_open;
        out.push(if in_main { String::new() } else { cleaned });
    }
    out
}

fn is_main_guard(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact.replace('\'', "\"");
    compact.starts_with("if__name__==\"__main__\":")
        || compact.starts_with("if\"__main__\"==__name__:")
}

/// One physical line: comments dropped, plain string contents replaced by spaces. `open` is a
/// triple-quoted string left open by the previous line; returns the one this line leaves open.
fn clean_line(line: &str, mut open: Option<(char, bool)>) -> (String, Option<(char, bool)>) {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    // A single-line string: quote and whether it is an f-string.
    let mut single: Option<(char, bool)> = None;
    // Depth of `{` in the current f-string: text at depth 0 is literal.
    let mut depth = 0u32;
    while i < chars.len() {
        let c = chars[i];
        if let Some((q, fmt)) = open.or(single) {
            let triple = open.is_some();
            let code = fmt && depth > 0;
            if c == '\\' {
                out.push_str(if code { "\\" } else { " " });
                if let Some(&n) = chars.get(i + 1) {
                    out.push(if code { n } else { ' ' });
                }
                i += 2;
                continue;
            }
            if fmt && c == '{' {
                depth += 1;
            } else if fmt && c == '}' {
                depth = depth.saturating_sub(1);
            }
            let closes = if triple {
                chars.get(i..i + 3) == Some(&[q, q, q][..])
            } else {
                c == q
            };
            if closes {
                let n = if triple { 3 } else { 1 };
                out.extend(std::iter::repeat_n(q, n));
                i += n;
                open = None;
                single = None;
                depth = 0;
                continue;
            }
            out.push(if code || (fmt && matches!(c, '{' | '}')) {
                c
            } else {
                ' '
            });
            i += 1;
            continue;
        }
        match c {
            '#' => break,
            '"' | '\'' => {
                let fmt = string_prefix(&chars[..i]).contains(['f', 'F']);
                if chars.get(i..i + 3) == Some(&[c, c, c][..]) {
                    out.extend([c, c, c]);
                    open = Some((c, fmt));
                    i += 3;
                } else {
                    out.push(c);
                    single = Some((c, fmt));
                    i += 1;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    (out, open)
}

/// The letters right before a quote (`rb`, `f`, `Rf`), if they form a string prefix.
fn string_prefix(before: &[char]) -> String {
    let letters: String = before
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let boundary = before
        .len()
        .checked_sub(letters.len() + 1)
        .is_none_or(|j| !(before[j].is_alphanumeric() || before[j] == '_'));
    let valid = ["r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt"];
    if boundary && valid.contains(&letters.to_ascii_lowercase().as_str()) {
        letters
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of evidence that count whatever the distribution ships.
    fn lines(src: &str) -> Vec<usize> {
        scan(src.as_bytes())
            .hits
            .iter()
            .filter(|h| h.needs != Needs::Location)
            .map(|h| h.line)
            .collect()
    }

    /// Lines that name a location without a file-system call near them.
    fn located(src: &str) -> Vec<usize> {
        scan(src.as_bytes())
            .hits
            .iter()
            .filter(|h| h.needs == Needs::Location)
            .map(|h| h.line)
            .collect()
    }

    #[test]
    fn any_modules_file_is_a_location() {
        // nbformat/validator.py: `v` is a module passed as a parameter.
        let src = "def _get_schema_json(v, version=None):\n    schema_path = str(Path(v.__file__).parent / v.nbformat_schema[(version, 0)])\n";
        assert_eq!(lines(src), [2]);
        let src = "import os, pkg.sub\nd = os.path.dirname(pkg.sub.__file__)\n";
        assert_eq!(lines(src), [2]);
        assert_eq!(
            lines("import os\nx = os.path.dirname(my__file__)\n"),
            Vec::<usize>::new()
        );
        for src in [
            "import inspect, os\nd = os.path.dirname(inspect.getfile(mod))\n",
            "import importlib.util, os\nd = os.path.dirname(importlib.util.find_spec('x').origin)\n",
            "import os\nfor p in __spec__.submodule_search_locations:\n    os.listdir(p)\n",
            "import os\nnames = os.listdir(__path__[0])\n",
            "import os, site\nd = os.path.join(site.getsitepackages()[0], 'pkg')\n",
            "import os\nd = os.path.join(spec.origin, '..')\n",
        ] {
            assert_eq!(lines(src).len(), 1, "{src}");
        }
    }

    #[test]
    fn a_location_far_from_any_call_is_kept_apart() {
        let src = "import os\nbase = __spec__.origin\n\n\nx = 1\n\n\n\nopen(base)\n";
        assert_eq!(lines(src), Vec::<usize>::new(), "further than WINDOW lines");
        assert_eq!(located(src), [2]);
        assert_eq!(located("print(__file__)\n"), [1]);
        assert_eq!(located("__path__ = extend_path(__path__, __name__)\n"), [1]);
        assert_eq!(located("f = __file__s\n"), Vec::<usize>::new());
        // six turns itself into a package: an assignment, and `globals()` is no `glob(`.
        let src = "__path__ = []\nif globals().get('__spec__') is not None:\n    pass\n";
        assert_eq!((lines(src), located(src)), (vec![], vec![1]));
    }

    #[test]
    fn file_next_to_module_is_evidence() {
        let src = "import os\n\nHERE = os.path.dirname(__file__)\nDATA = os.path.join(HERE, 'data.json')\n";
        let found = scan(src.as_bytes());
        assert_eq!(found.hits.len(), 1);
        assert_eq!(found.hits[0].line, 3);
        assert_eq!(found.hits[0].code, "HERE = os.path.dirname(__file__)");
        assert_eq!(found.hits[0].needs, Needs::NearFs);
        assert_eq!(found.hits[0].what, NEAR_FILE);
        assert!(!found.loader_read);
        assert_eq!(
            lines("from pathlib import Path\nROOT = Path(__file__).parent\n"),
            [2]
        );
    }

    #[test]
    fn loader_based_reads_are_not_evidence() {
        let src = "import importlib.resources, pkgutil\n\
                   DATA = importlib.resources.files(__package__).joinpath('a.json').read_text()\n\
                   RAW = pkgutil.get_data(__name__, 'b.bin')\n\
                   with files('pkg').joinpath('c').open('rb') as f:\n    f.read()\n";
        let found = scan(src.as_bytes());
        assert_eq!(found.hits, []);
        assert!(found.loader_read);
        assert!(!scan(b"x = get_files()\ny = 1\n").loader_read);
    }

    #[test]
    fn a_files_result_used_as_a_path_is_evidence() {
        for src in [
            "p = str(files(__package__) / 'data.json')\n",
            "import os\np = os.path.join(files('pkg'), 'x')\n",
            "res = files('pkg') / 'x'\nwith open(res) as f:\n    pass\n",
        ] {
            let found = scan(src.as_bytes());
            assert_eq!(found.hits.len(), 1, "{src}");
            assert_eq!(found.hits[0].what, FILES_AS_PATH, "{src}");
        }
    }

    #[test]
    fn calls_that_need_a_real_file_are_evidence_anywhere() {
        let src = "from importlib.resources import as_file, files\n\n\
                   with as_file(files('certifi') / 'cacert.pem') as p:\n    pass\n\
                   import pkg_resources\nF = pkg_resources.resource_filename(__name__, 'x')\n";
        let hits = scan(src.as_bytes()).hits;
        assert_eq!(hits.iter().map(|h| h.line).collect::<Vec<_>>(), [3, 6]);
        assert!(hits[0].what.contains("as_file"), "{:?}", hits[0]);
        assert_eq!(hits[1].needs, Needs::File);
    }

    #[test]
    fn comments_strings_and_main_blocks_are_not_code() {
        let src = "# os.path.dirname(__file__) in a comment\n\
                   DOC = '''\nopen(__file__) in a docstring\n'''\n\
                   MSG = 'open(__file__)'\n\
                   x = 1  # open(__file__)\n\
                   if __name__ == '__main__':\n    import os\n    open(os.path.join(os.path.dirname(__file__), 'x'))\n\
                   y = 2\n";
        assert_eq!(scan(src.as_bytes()).hits, []);
        // After the main block, code counts again; f-strings are code.
        let src = "if __name__ == \"__main__\":\n    pass\nP = f\"{__file__}/../data\"\nopen(P)\n";
        assert_eq!(lines(src), [3]);
        let src = "import os\nassert x, f\"{x!r} must have a '__file__' attribute\"\n";
        assert_eq!(scan(src.as_bytes()).hits, [], "f-string text is not code");
    }

    #[test]
    fn escapes_and_prefixes() {
        assert_eq!(
            clean_line(r#"s = "a\"b" + rb'x' + open(__file__)"#, None).0,
            r#"s = "    " + rb' ' + open(__file__)"#
        );
        assert_eq!(string_prefix(&['x', ' ', 'r', 'b']), "rb");
        assert_eq!(string_prefix(&['o', 'f']), "", "`of` is not a prefix");
        assert_eq!(string_prefix(&['x', 'f']), "", "`xf` is a name");
        let (_, open) = clean_line("x = \"\"\"start", None);
        assert_eq!(open, Some(('"', false)));
        let (rest, open) = clean_line("end\"\"\" + open(__file__)", open);
        assert_eq!(open, None);
        assert!(rest.ends_with("+ open(__file__)"), "{rest}");
    }
}
