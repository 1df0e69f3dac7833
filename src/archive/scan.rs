//! Does this source read files next to itself? A static scan, for `--zip-pure`.
//!
//! Inside a zip a module's `__file__` is `.../archive.zip/pkg/mod.pyc`: `open()`,
//! `os.path.exists()`, `os.listdir()` or `pathlib` on anything derived from it fail, because no
//! such directory exists (docs/facts.md, zipimport). `importlib.resources` (except `as_file`, which
//! copies to a temporary file: that fails on a read-only filesystem) and `pkgutil.get_data` read
//! through the loader and work from a zip, so they are not evidence. The scan is conservative: a
//! line that names the module's own location (`__file__`, `__path__[0]`, `__spec__.origin`)
//! counts when a file-system call is within `WINDOW` lines of it, and a call that needs a real
//! file (`resource_filename`, `as_file`, `importlib.resources.path`) counts anywhere. Comments
//! and string contents (not f-strings) are ignored. `x.__file__` is another module's location
//! and counts only when `x` is one of the distribution's own top-level names (`rich.__file__` in
//! rich): rich's traceback takes `os.path.dirname(module.__file__)` of modules the caller names,
//! to compare paths, and reads nothing there. So is a top-level
//! `if __name__ == "__main__":` block (it runs only as a script: pygments' data modules
//! regenerate themselves there). A false positive only keeps a distribution on disk; what the
//! scan misses (a path computed elsewhere) is what `--verify` is for.

/// Lines either side of an anchor searched for a file-system call.
pub const WINDOW: usize = 3;

/// One piece of evidence: a 1-based line number, the line (trimmed, shortened) and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line number.
    pub line: usize,
    /// The line, trimmed and shortened.
    pub code: String,
    /// Why the line needs a real file.
    pub what: &'static str,
}

/// Names of the module's own location.
const ANCHORS: &[&str] = &["__file__", "__path__[0]", "__spec__.origin"];

/// Calls that work on paths (checked near an anchor).
const FS_CALLS: &[&str] = &[
    "os.path",
    "open(",
    "Path(",
    "pathlib",
    "listdir(",
    "scandir(",
    "walk(",
    "glob",
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

const NEAR_FILE: &str =
    "uses its own location (__file__, __path__[0] or __spec__.origin) with a file-system call";

/// Every line of `source` that reads files next to the module, in line order. `own` are the
/// distribution's top-level import names.
pub fn file_access(source: &[u8], own: &[String]) -> Vec<Hit> {
    let text = String::from_utf8_lossy(source);
    let raw: Vec<&str> = text.lines().collect();
    let code = code_only(&raw);
    let mut hits = Vec::new();
    for (i, line) in code.iter().enumerate() {
        if let Some((_, what)) = NEEDS_FILE.iter().find(|(n, _)| line.contains(n)) {
            hits.push(hit(&raw, i, what));
            continue;
        }
        if !names_own_location(line, own) {
            continue;
        }
        let (lo, hi) = (i.saturating_sub(WINDOW), (i + WINDOW + 1).min(code.len()));
        if code[lo..hi]
            .iter()
            .any(|l| FS_CALLS.iter().any(|c| l.contains(c)))
        {
            hits.push(hit(&raw, i, NEAR_FILE));
        }
    }
    hits
}

/// Whether `line` names the module's own location: an anchor not preceded by `.`, or
/// `name.<anchor>` where the dotted chain starts with one of `own`.
fn names_own_location(line: &str, own: &[String]) -> bool {
    ANCHORS.iter().any(|a| {
        line.match_indices(a).any(|(at, _)| {
            let before = &line[..at];
            let Some(chain) = before.strip_suffix('.') else {
                return !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
            };
            let start = chain
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                .map_or(0, |i| i + 1);
            let first = chain[start..].split('.').next().unwrap_or("");
            own.iter().any(|o| o == first)
        })
    })
}

fn hit(raw: &[&str], i: usize, what: &'static str) -> Hit {
    let line = raw[i].trim();
    let code = if line.chars().count() > 120 {
        line.chars().take(119).collect::<String>() + "…"
    } else {
        line.to_string()
    };
    Hit {
        line: i + 1,
        code,
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

    fn lines(src: &str) -> Vec<usize> {
        file_access(src.as_bytes(), &["pkg".to_string()])
            .iter()
            .map(|h| h.line)
            .collect()
    }

    #[test]
    fn another_modules_file_is_not_own_location() {
        let src = "import os
path = os.path.dirname(suppress_entity.__file__)
";
        assert_eq!(lines(src), Vec::<usize>::new());
        let src = "import os, pkg.sub
d = os.path.dirname(pkg.sub.__file__)
";
        assert_eq!(lines(src), [2]);
        assert_eq!(
            lines(
                "import os
x = os.path.dirname(my__file__)
"
            ),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn file_next_to_module_is_evidence() {
        let src = "import os\n\nHERE = os.path.dirname(__file__)\nDATA = os.path.join(HERE, 'data.json')\n";
        let hits = file_access(src.as_bytes(), &[]);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 3);
        assert_eq!(hits[0].code, "HERE = os.path.dirname(__file__)");
        assert_eq!(hits[0].what, NEAR_FILE);
        assert_eq!(
            lines("from pathlib import Path\nROOT = Path(__file__).parent\n"),
            [2]
        );
        assert_eq!(
            lines("import os\nd = __path__[0]\nnames = os.listdir(d)\n"),
            [2]
        );
        assert_eq!(
            lines("import os\nbase = __spec__.origin\n\n\nx = 1\n\n\n\nopen(base)\n"),
            Vec::<usize>::new(),
            "further than WINDOW lines apart"
        );
    }

    #[test]
    fn loader_based_reads_are_not_evidence() {
        let src = "import importlib.resources, pkgutil\n\
                   DATA = importlib.resources.files(__package__).joinpath('a.json').read_text()\n\
                   RAW = pkgutil.get_data(__name__, 'b.bin')\n\
                   print(__file__)\n";
        assert_eq!(lines(src), Vec::<usize>::new());
    }

    #[test]
    fn calls_that_need_a_real_file_are_evidence_anywhere() {
        let src = "from importlib.resources import as_file, files\n\n\
                   with as_file(files('certifi') / 'cacert.pem') as p:\n    pass\n\
                   import pkg_resources\nF = pkg_resources.resource_filename(__name__, 'x')\n";
        let hits = file_access(src.as_bytes(), &[]);
        assert_eq!(hits.iter().map(|h| h.line).collect::<Vec<_>>(), [3, 6]);
        assert!(hits[0].what.contains("as_file"), "{:?}", hits[0]);
    }

    #[test]
    fn comments_strings_and_main_blocks_are_not_code() {
        let src = "# os.path.dirname(__file__) in a comment\n\
                   DOC = '''\nopen(__file__) in a docstring\n'''\n\
                   MSG = 'open(__file__)'\n\
                   x = 1  # open(__file__)\n\
                   if __name__ == '__main__':\n    import os\n    open(os.path.join(os.path.dirname(__file__), 'x'))\n\
                   y = 2\n";
        assert_eq!(lines(src), Vec::<usize>::new());
        // After the main block, code counts again; f-strings are code.
        let src = "if __name__ == \"__main__\":\n    pass\nP = f\"{__file__}/../data\"\nopen(P)\n";
        assert_eq!(lines(src), [3]);
        let src = "import os\nassert x, f\"{x!r} must have a '__file__' attribute\"\n";
        assert_eq!(lines(src), Vec::<usize>::new(), "f-string text is not code");
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
