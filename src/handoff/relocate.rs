//! Relocation, as pure text transforms: a venv is not relocatable because pip writes the venv's
//! absolute path into every console script's shebang and `python -m venv` writes the builder's
//! interpreter into pyvenv.cfg and the bin/python links. A distroless final image has the tree
//! at another path (`--prefix`) and its Python elsewhere (`--python`), and no shell to fix
//! anything, so these are rewritten at build time. Nothing here touches the disk.

use std::path::{Path, PathBuf};

use crate::venv::is_python_link_name;

/// Bytes that may continue a path name: an old root followed by one of these is another path
/// (`/venv2` is not `/venv`).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'~' | b'@')
}

/// Replace every occurrence of one of `olds` (absolute paths, longest first) standing as a path
/// of its own (not preceded by a path character, followed by `/` or a non-path byte) with `new`.
/// Returns the new text and the number of replacements, or None when there is nothing to do.
pub fn replace_root(text: &[u8], olds: &[Vec<u8>], new: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(text.len());
    let mut count = 0;
    let mut i = 0;
    'scan: while i < text.len() {
        let before_ok = i == 0 || !(is_name_byte(text[i - 1]) || text[i - 1] == b'/');
        if before_ok && text[i] == b'/' {
            for old in olds.iter().filter(|o| !o.is_empty()) {
                if text[i..].starts_with(old) {
                    let after = text.get(i + old.len()).copied();
                    if after.is_none_or(|b| b == b'/' || !is_name_byte(b)) {
                        out.extend_from_slice(new);
                        i += old.len();
                        count += 1;
                        continue 'scan;
                    }
                }
            }
        }
        out.push(text[i]);
        i += 1;
    }
    (count > 0).then_some((out, count))
}

/// What a console script's rewrite did, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptChange {
    /// `#!OLD/bin/python` -> `#!NEW/bin/python`.
    Shebang(String),
    /// pip's `#!/bin/sh` + `'''exec' "OLD/bin/python" "$0" "$@"` trampoline (written when the
    /// path was too long or had spaces) became a plain shebang: a distroless image has no sh.
    Trampoline(String),
    /// The trampoline stays (the new path still needs it); its interpreter path was rewritten.
    TrampolineKept(String),
    /// Other occurrences of the old path in the text.
    Text(usize),
}

/// Rewrite a text file that may start with a shebang. None when nothing names an old root.
pub fn rewrite_script(
    text: &[u8],
    olds: &[Vec<u8>],
    new: &[u8],
) -> Option<(Vec<u8>, Vec<ScriptChange>)> {
    let mut changes = Vec::new();
    let (head, body) = match trampoline(text) {
        Some((interp, rest)) => match replace_root(interp, olds, new) {
            Some((path, _)) => {
                let shown = String::from_utf8_lossy(&path).into_owned();
                if path.len() < 120 && !path.iter().any(u8::is_ascii_whitespace) {
                    changes.push(ScriptChange::Trampoline(shown));
                    ([b"#!".as_slice(), &path, b"\n"].concat(), rest)
                } else {
                    changes.push(ScriptChange::TrampolineKept(shown));
                    let line = [b"'''exec' \"".as_slice(), &path, b"\" \"$0\" \"$@\"\n"].concat();
                    (
                        [b"#!/bin/sh\n".as_slice(), &line, b"' '''\n"].concat(),
                        rest,
                    )
                }
            }
            None => (Vec::new(), text),
        },
        None if text.starts_with(b"#!") => {
            let end = text
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |p| p + 1);
            match replace_root(&text[..end], olds, new) {
                Some((line, _)) => {
                    let shown = String::from_utf8_lossy(&line[2..]).trim().to_string();
                    changes.push(ScriptChange::Shebang(shown));
                    (line, &text[end..])
                }
                None => (text[..end].to_vec(), &text[end..]),
            }
        }
        None => (Vec::new(), text),
    };
    let mut out = head;
    match replace_root(body, olds, new) {
        Some((b, n)) => {
            out.extend_from_slice(&b);
            changes.push(ScriptChange::Text(n));
        }
        None => out.extend_from_slice(body),
    }
    (!changes.is_empty()).then_some((out, changes))
}

/// pip's trampoline: `#!/bin/sh\n'''exec' "INTERP" "$0" "$@"\n' '''\n`. Returns INTERP and the
/// text after the three lines.
fn trampoline(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = text.strip_prefix(b"#!/bin/sh\n'''exec' \"")?;
    let close = rest.windows(2).position(|w| w == b"\" ")?;
    let interp = &rest[..close];
    let after = &rest[close..];
    let tail = after.strip_prefix(b"\" \"$0\" \"$@\"\n' '''\n")?;
    Some((interp, tail))
}

/// One pyvenv.cfg change, for the report: `key: old -> new`.
pub type CfgChange = String;

/// Rewrite pyvenv.cfg (split each line on the first `=`, as site.py does): with `python`,
/// `home` becomes its directory, `executable` it, and the first word of `command` it; with a
/// new root, the venv's old path anywhere in a value becomes `new_root`.
pub fn rewrite_pyvenv_cfg(
    text: &str,
    python: Option<&Path>,
    olds: &[Vec<u8>],
    new_root: Option<&[u8]>,
) -> Option<(Vec<u8>, Vec<CfgChange>)> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changes = Vec::new();
    for line in text.split_inclusive('\n') {
        let eol = &line[line.trim_end_matches(['\n', '\r']).len()..];
        let Some((k, v)) = line.trim_end_matches(['\n', '\r']).split_once('=') else {
            out.push_str(line);
            continue;
        };
        let (key, old) = (k.trim(), v.trim());
        let mut value = match (key.to_ascii_lowercase().as_str(), python) {
            ("home", Some(p)) => p.parent().unwrap_or(Path::new("/")).display().to_string(),
            ("executable", Some(p)) => p.display().to_string(),
            ("command", Some(p)) => match old.split_once(' ') {
                Some((_, rest)) => format!("{} {rest}", p.display()),
                None => p.display().to_string(),
            },
            _ => old.to_string(),
        };
        if let Some(new) = new_root {
            if let Some((b, _)) = replace_root(value.as_bytes(), olds, new) {
                value = String::from_utf8_lossy(&b).into_owned();
            }
        }
        if value == old {
            out.push_str(line);
        } else {
            changes.push(format!("{key}: {old} -> {value}"));
            out.push_str(&format!("{key} = {value}{eol}"));
        }
    }
    (!changes.is_empty()).then(|| (out.into_bytes(), changes))
}

/// The version a path like `/usr/bin/python3.11` names, if it names one (`3.11`).
pub fn named_version(python: &Path) -> Option<String> {
    let name = python.file_name()?.to_str()?;
    let v = name.strip_prefix("python")?;
    (v.contains('.') && is_python_link_name(name)).then(|| v.to_string())
}

/// Why an interpreter at `path` is one a distroless image will not have, if it is.
pub fn foreign_interpreter(path: &Path) -> Option<&'static str> {
    let s = path.to_string_lossy();
    let parts: Vec<&str> = s.split('/').collect();
    let has = |n: &str| parts.iter().any(|p| p.eq_ignore_ascii_case(n));
    if has(".pyenv") {
        Some("a pyenv-managed interpreter")
    } else if parts
        .iter()
        .any(|p| p.contains("conda") || *p == "mamba" || *p == "micromamba")
    {
        Some("a conda-managed interpreter")
    } else if s.contains("/uv/python/") || s.contains("/.local/share/uv/") {
        Some("a uv-managed interpreter")
    } else if s.starts_with("/usr/local/") {
        Some("under /usr/local (the python:* images' layout; distroless has /usr/bin/python3)")
    } else if s.starts_with("/root/") || s.starts_with("/home/") {
        Some("in a home directory")
    } else if s.starts_with("/opt/") {
        Some("under /opt")
    } else {
        None
    }
}

/// Follow `bin/python` links inside the venv to the interpreter path they end at (absolute,
/// outside the venv), without touching the disk: `read_link` is the caller's lookup.
pub fn resolve_python_link(
    start: &Path,
    read_link: impl Fn(&Path) -> Option<PathBuf>,
) -> Option<PathBuf> {
    let mut at = start.to_path_buf();
    for _ in 0..16 {
        let target = read_link(&at)?;
        if target.is_absolute() {
            return Some(target);
        }
        at = at.parent()?.join(target);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn olds() -> Vec<Vec<u8>> {
        vec![b"/build/venv".to_vec(), b"/b/v".to_vec()]
    }

    #[test]
    fn root_replacement_respects_boundaries() {
        let t = b"/build/venv/bin/x /build/venv2/y x/build/venv \"/build/venv\" /b/v:/b/vv";
        let (out, n) = replace_root(t, &olds(), b"/venv").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "/venv/bin/x /build/venv2/y x/build/venv \"/venv\" /venv:/b/vv"
        );
        assert_eq!(n, 3);
        assert!(replace_root(b"nothing here", &olds(), b"/venv").is_none());
    }

    #[test]
    fn shebangs_and_bodies() {
        let script = b"#!/build/venv/bin/python\n# -*- coding: utf-8 -*-\nimport sys\n";
        let (out, ch) = rewrite_script(script, &olds(), b"/venv").unwrap();
        assert!(out.starts_with(b"#!/venv/bin/python\n# -*-"));
        assert_eq!(ch, vec![ScriptChange::Shebang("/venv/bin/python".into())]);
        let other = b"#!/usr/bin/env python3\nprint(1)\n";
        assert!(rewrite_script(other, &olds(), b"/venv").is_none());
        let text = b"{\"argv\": [\"/build/venv/bin/python\", \"-m\"]}";
        let (out, ch) = rewrite_script(text, &olds(), b"/venv").unwrap();
        assert_eq!(out, b"{\"argv\": [\"/venv/bin/python\", \"-m\"]}");
        assert_eq!(ch, vec![ScriptChange::Text(1)]);
    }

    #[test]
    fn pip_trampoline_becomes_a_shebang() {
        let t = b"#!/bin/sh\n'''exec' \"/build/venv/bin/python\" \"$0\" \"$@\"\n' '''\n# -*- coding: utf-8 -*-\nimport re\n";
        let (out, ch) = rewrite_script(t, &olds(), b"/venv").unwrap();
        assert_eq!(
            out,
            b"#!/venv/bin/python\n# -*- coding: utf-8 -*-\nimport re\n"
        );
        assert_eq!(
            ch,
            vec![ScriptChange::Trampoline("/venv/bin/python".into())]
        );
        let (out, ch) = rewrite_script(t, &olds(), b"/my venv").unwrap();
        assert!(out.starts_with(b"#!/bin/sh\n'''exec' \"/my venv/bin/python\" \"$0\""));
        assert!(matches!(ch[0], ScriptChange::TrampolineKept(_)));
    }

    #[test]
    fn pyvenv_cfg() {
        let cfg = "home = /home/ci/.pyenv/versions/3.11.7/bin\ninclude-system-site-packages = false\nversion = 3.11.7\nexecutable = /home/ci/.pyenv/versions/3.11.7/bin/python3.11\ncommand = /home/ci/.pyenv/versions/3.11.7/bin/python3 -m venv /build/venv\n";
        let py = Path::new("/usr/bin/python3.11");
        let (out, ch) = rewrite_pyvenv_cfg(cfg, Some(py), &olds(), Some(b"/venv")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\nexecutable = /usr/bin/python3.11\ncommand = /usr/bin/python3.11 -m venv /venv\n"
        );
        assert_eq!(ch.len(), 3);
        let (out, ch) = rewrite_pyvenv_cfg(cfg, None, &olds(), Some(b"/venv")).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("home = /home/ci/.pyenv"));
        assert_eq!(ch, vec!["command: /home/ci/.pyenv/versions/3.11.7/bin/python3 -m venv /build/venv -> /home/ci/.pyenv/versions/3.11.7/bin/python3 -m venv /venv"]);
        assert!(rewrite_pyvenv_cfg(
            "home = /usr/bin\n",
            Some(Path::new("/usr/bin/python3")),
            &olds(),
            None
        )
        .is_none());
    }

    #[test]
    fn python_names_and_places() {
        for n in ["python", "python3", "python3.11"] {
            assert!(is_python_link_name(n), "{n}");
        }
        for n in ["python-config", "python3.11-config", "pythonw", "python3."] {
            assert!(!is_python_link_name(n), "{n}");
        }
        assert_eq!(
            named_version(Path::new("/usr/bin/python3.11")).as_deref(),
            Some("3.11")
        );
        assert_eq!(named_version(Path::new("/usr/bin/python3")), None);
        assert!(
            foreign_interpreter(Path::new("/home/ci/.pyenv/versions/3.11.7/bin/python3"))
                .unwrap()
                .contains("pyenv")
        );
        assert!(foreign_interpreter(Path::new("/usr/local/bin/python3")).is_some());
        assert!(foreign_interpreter(Path::new("/opt/conda/bin/python"))
            .unwrap()
            .contains("conda"));
        assert!(foreign_interpreter(Path::new(
            "/home/me/.local/share/uv/python/cpython-3.11/bin/python3.11"
        ))
        .unwrap()
        .contains("uv"));
        assert_eq!(foreign_interpreter(Path::new("/usr/bin/python3.11")), None);
        let links = |p: &Path| match p.to_str()? {
            "v/bin/python" => Some(PathBuf::from("python3")),
            "v/bin/python3" => Some(PathBuf::from("/usr/local/bin/python3")),
            _ => None,
        };
        assert_eq!(
            resolve_python_link(Path::new("v/bin/python"), links),
            Some(PathBuf::from("/usr/local/bin/python3"))
        );
    }
}
