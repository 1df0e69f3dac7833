//! Files no running program reads: type stubs, C sources and headers, translation sources,
//! source maps, Windows launchers, static libraries, READMEs and changelogs, documentation and
//! example directories, man pages, and the venv's activation scripts.
//!
//! Each rule is by name or extension and each has an allowlist where a real package reads such
//! files at run time. Licence and attribution files are never removed here.

use std::path::Path;

use super::{is_license_name, Category, Ctx, Guard, Item, Rule, Verdict};
use crate::safepath;
use crate::venv::VenvKind;

macro_rules! rule {
    ($name:ident, $id:literal, $cat:ident, $guard:ident, $reason:literal, $evidence:literal) => {
        #[doc = $reason]
        pub static $name: Rule = Rule {
            id: $id,
            category: Category::$cat,
            guard: Guard::$guard,
            reason: $reason,
            evidence: $evidence,
        };
    };
}

rule!(STUBS, "stubs.pyi", Stubs, None, "type stubs (.pyi) are read by type checkers, not by the interpreter",
    "PEP 484/561; up to 15 MB in a jupyter stack. Kept for mypy and jedi, which read their bundled typeshed at run time");
rule!(
    PY_TYPED,
    "stubs.py-typed",
    Stubs,
    None,
    "PEP 561 marker for type checkers",
    "PEP 561"
);
rule!(C_SOURCES, "sources.c", Sources, None, "C, C++ and Cython sources and headers were compiled when the wheel was built",
    "kept for packages that compile at run time: triton, torch (inductor and cpp_extension), cffi, Cython");
rule!(
    INCLUDE_DIR,
    "sources.include",
    Sources,
    None,
    "include/ directories hold headers for building extensions; the final image builds nothing",
    "numpy/_core/include, pyarrow/include; directories with an __init__.py are packages and stay"
);
rule!(
    TRANSLATIONS,
    "translations.po",
    Translations,
    None,
    "gettext catalog sources; the runtime reads the compiled .mo beside them",
    "Django ships 8.8 MB of .po files; gettext only opens .mo"
);
rule!(
    SOURCE_MAPS,
    "sourcemaps",
    SourceMaps,
    None,
    "source maps are for browser devtools, not served pages",
    "7 MB of *.js.map in a jupyter stack"
);
rule!(WINDOWS_EXE, "windows.exe", Windows, None, "Windows executables (setuptools/distlib launchers) cannot run on Linux",
    "1.4 MB of launchers; .dll files stay because pythonnet and clr_loader load .NET assemblies on Linux");
rule!(
    STATIC_LIBS,
    "static-libs",
    StaticLibs,
    None,
    "static libraries (.a) are only for linking new extensions",
    "numpy ships libnpymath.a"
);
rule!(
    DOC_FILES,
    "docs.files",
    Docs,
    None,
    "READMEs, changelogs and contribution guides inside packages",
    "only names such as README.md, CHANGELOG.rst with a documentation extension (or none)"
);
rule!(DOCS_DIR, "docs.dir", Docs, Module, "documentation and example directories that are not importable packages",
    "botocore/docs is code (it has an __init__.py) and stays; the import guard keeps any module kept code imports");
rule!(
    SHARE_DOCS,
    "docs.share",
    Docs,
    None,
    "man pages and docs under share/ are read by people, not programs",
    "share/man, share/doc"
);
rule!(WINDOWS_SCRIPTS, "windows.scripts", Windows, None, "Windows batch and PowerShell files in bin/ that no distribution installed: the venv tool's launchers for Windows shells",
    "uv writes bin/pydoc.bat, activate.bat, deactivate.bat and activate.ps1 into every venv; a Linux runtime runs none of them");
rule!(VENV_MARKERS, "venv.markers", Activation, None, "the venv tool's markers at the venv's root: .gitignore (keeps the venv out of git), CACHEDIR.TAG (keeps it out of backups), uv's .lock (serialises uv's own writes); no runtime reads them",
    "uv and virtualenv (so Poetry and PDM) write them into every venv they make, python -m venv 3.13+ the .gitignore; only with the content those tools write: a project's own .gitignore, where the venv was made in the project's directory (python -m venv .), stays");
rule!(ACTIVATION, "activation", Activation, None, "bin/activate* set up an interactive shell; a container runs bin/python or a console script directly",
    "python -m venv writes activate, activate.csh, activate.fish, Activate.ps1; uv and virtualenv add activate.nu, activate.xsh, activate_this.py and their .bat variants");

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[
    &STUBS,
    &PY_TYPED,
    &C_SOURCES,
    &INCLUDE_DIR,
    &TRANSLATIONS,
    &SOURCE_MAPS,
    &WINDOWS_EXE,
    &STATIC_LIBS,
    &DOC_FILES,
    &DOCS_DIR,
    &SHARE_DOCS,
    &WINDOWS_SCRIPTS,
    &ACTIVATION,
    &VENV_MARKERS,
];

/// Packages (paths relative to site-packages) that read stubs at run time.
const STUBS_NEEDED: &[&str] = &[
    "mypy/typeshed/",
    "jedi/third_party/",
    "typeshed_client/typeshed/",
    "mypy/",
];
/// Packages that compile C at run time and read their sources and headers.
const SOURCES_NEEDED: &[&str] = &[
    "triton/",
    "torch/include/",
    "torch/_inductor/",
    "cffi/",
    "Cython/",
    "pyximport/",
];

const C_EXTS: &[&str] = &[
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "pyx", "pxd", "pxi", "inl", "tcc", "cuh",
];
const DOC_STEMS: &[&str] = &[
    "readme",
    "changelog",
    "changes",
    "history",
    "news",
    "contributing",
    "code_of_conduct",
    "security",
    "release_notes",
];
const DOC_EXTS: &[&str] = &["", "md", "rst", "txt", "markdown"];
const DOCS_DIRS: &[&str] = &["docs", "doc", "examples", "example"];

fn ext(lower: &str) -> &str {
    lower.rsplit_once('.').map_or("", |(_, e)| e)
}

fn under(sp_rel: &Path, prefixes: &[&str]) -> bool {
    sp_rel
        .to_str()
        .is_some_and(|s| prefixes.iter().any(|p| s.starts_with(p)))
}

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let lower = item.lower_name();
    if is_license_name(&lower) {
        return Some(Verdict::Keep);
    }
    let Some(sp_rel) = item.sp_rel else {
        return outside_site_packages(ctx, item);
    };
    let e = ext(&lower);
    let found: Option<&'static Rule> = match e {
        "pyi" if !under(sp_rel, STUBS_NEEDED) => Some(&STUBS),
        _ if lower == "py.typed" => Some(&PY_TYPED),
        _ if C_EXTS.contains(&e) && !under(sp_rel, SOURCES_NEEDED) => Some(&C_SOURCES),
        "po" | "pot" => Some(&TRANSLATIONS),
        "map"
            if [".js.map", ".mjs.map", ".cjs.map", ".css.map"]
                .iter()
                .any(|s| lower.ends_with(s)) =>
        {
            Some(&SOURCE_MAPS)
        }
        "exe" => Some(&WINDOWS_EXE),
        "a" => Some(&STATIC_LIBS),
        _ => None,
    };
    if found.is_some() {
        return found.map(Verdict::Remove);
    }
    let is_code = matches!(e, "py" | "so" | "pyc" | "pth") || lower.contains(".so.");
    if !is_code && !under(sp_rel, SOURCES_NEEDED) && in_unimportable_dir(ctx, item, &["include"]) {
        return Some(Verdict::Remove(&INCLUDE_DIR));
    }
    let stem = lower.split('.').next().unwrap_or("");
    if DOC_STEMS.contains(&stem) && DOC_EXTS.contains(&e) && e != stem {
        return Some(Verdict::Remove(&DOC_FILES));
    }
    if DOC_STEMS.contains(&lower.as_str()) {
        return Some(Verdict::Remove(&DOC_FILES));
    }
    in_unimportable_dir(ctx, item, DOCS_DIRS).then_some(Verdict::Remove(&DOCS_DIR))
}

/// True when a directory above the item (inside site-packages) has one of `names` and is not
/// an importable package (no `__init__.py` in it).
fn in_unimportable_dir(ctx: &Ctx, item: &Item, names: &[&str]) -> bool {
    let sp = &ctx.venv.site_packages;
    let mut dir = sp.to_path_buf();
    item.sp_dirs().any(|d| {
        dir.push(d);
        names.contains(&d) && !ctx.packages.contains(&dir)
    })
}

fn outside_site_packages(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let path = &item.entry.path;
    let first = path.components().next()?.as_os_str().to_str()?;
    if first == "include" && ctx.venv.site_packages.as_os_str() != "" {
        return Some(Verdict::Remove(&INCLUDE_DIR));
    }
    if path.starts_with("share/man") || path.starts_with("share/doc") {
        return Some(Verdict::Remove(&SHARE_DOCS));
    }
    let marker = [".gitignore", "CACHEDIR.TAG", ".lock"]
        .iter()
        .any(|m| path.as_os_str() == *m);
    if marker
        && ctx.venv.kind == VenvKind::Venv
        && item.owner.is_none()
        && is_tool_marker(ctx, item)
    {
        return Some(Verdict::Remove(&VENV_MARKERS));
    }
    let in_bin = ctx.venv.in_bin(path);
    if !in_bin || item.owner.is_some() {
        return None;
    }
    let lower = item.lower_name();
    if lower.starts_with("activate") || lower.starts_with("deactivate") {
        return Some(Verdict::Remove(&ACTIVATION));
    }
    [".bat", ".cmd", ".ps1"]
        .iter()
        .any(|x| lower.ends_with(x))
        .then_some(Verdict::Remove(&WINDOWS_SCRIPTS))
}

/// The signature line every CACHEDIR.TAG begins with (the Cache Directory Tagging
/// Specification's required header).
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// Whether the root file `item` (named like a venv tool's marker) holds what the tools write:
/// a `.gitignore` whose only pattern is `*` (uv: `*`; virtualenv and python -m venv add a
/// comment line), a CACHEDIR.TAG that begins with the signature, an empty `.lock` (uv's lock
/// file). Anything else is the user's file, in a venv made in a project's own directory; it is
/// read as a regular file only (never through a symlink) and stays when it cannot be read.
fn is_tool_marker(ctx: &Ctx, item: &Item) -> bool {
    if !item.entry.is_file() || item.entry.size > 4096 {
        return false;
    }
    let Ok(bytes) = safepath::read_nofollow(&ctx.venv.root.join(&item.entry.path)) else {
        return false;
    };
    marker_content(item.name(), &bytes)
}

/// See `is_tool_marker`.
fn marker_content(name: &str, bytes: &[u8]) -> bool {
    match name {
        ".gitignore" => std::str::from_utf8(bytes).is_ok_and(|text| {
            let mut patterns = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'));
            patterns.next() == Some("*") && patterns.next().is_none()
        }),
        "CACHEDIR.TAG" => bytes.starts_with(CACHEDIR_SIGNATURE),
        ".lock" => bytes.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_known_by_what_the_tools_write() {
        for (name, bytes) in [
            (".gitignore", &b"*"[..]),
            (".gitignore", b"# created by virtualenv automatically\n*\n"),
            (
                ".gitignore",
                b"# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n",
            ),
            (".lock", b""),
            (
                "CACHEDIR.TAG",
                b"Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag.\n",
            ),
        ] {
            assert!(marker_content(name, bytes), "{name} {bytes:?}");
        }
        for (name, bytes) in [
            (".gitignore", &b"__pycache__/\n.env\n"[..]),
            (".gitignore", b"*\n!keep.txt\n"),
            (".gitignore", b""),
            (".lock", b"12345\n"),
            ("CACHEDIR.TAG", b"my notes\n"),
        ] {
            assert!(!marker_content(name, bytes), "{name} {bytes:?}");
        }
    }

    #[test]
    fn extensions() {
        assert_eq!(ext("a.tar.gz"), "gz");
        assert_eq!(ext("readme"), "");
    }

    #[test]
    fn allowlists_are_prefixes() {
        assert!(under(
            Path::new("triton/backends/nvidia/driver.c"),
            SOURCES_NEEDED
        ));
        assert!(!under(Path::new("tritonclient/x.c"), SOURCES_NEEDED));
        assert!(under(
            Path::new("mypy/typeshed/stdlib/os/__init__.pyi"),
            STUBS_NEEDED
        ));
    }
}
