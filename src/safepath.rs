//! Where untrusted strings meet paths. The venv is untrusted input: any wheel can write any
//! METADATA (`Version: 1.0/../../etc`), any symlink and any file name into site-packages, and
//! venvslim runs as root. So a name or version becomes a path component only through
//! `dist_dir_name` (validated, then proven to be exactly one normal component), every path built
//! from such parts goes through `checked_join` (only normal components, so the result stays under
//! its base), a licence link is followed only on paper (`link_in_tree`: resolved lexically, kept
//! only when it stays inside the tree), a venv file is read with `read_nofollow`, and a path the
//! user gives for an output is resolved once, the way the kernel will walk it, by `resolve`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// `s` as exactly one normal path component: not empty, no `/`, no NUL, not `.` or `..`.
pub fn component(s: &OsStr) -> Result<&Path, String> {
    let bytes = s.as_encoded_bytes();
    if bytes.contains(&0) {
        return Err(format!("`{}` contains a NUL byte", s.to_string_lossy()));
    }
    if bytes.contains(&b'/') {
        return Err(format!("`{}` contains `/`", s.to_string_lossy()));
    }
    let p = Path::new(s);
    let mut comps = p.components();
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(c)), None) if c == s => Ok(p),
        _ => Err(format!(
            "`{}` is not a single file name",
            s.to_string_lossy()
        )),
    }
}

/// A distribution name as PEP 508 allows it (ASCII letters, digits, `.`, `_`, `-`; starting and
/// ending with a letter or digit), the form PEP 503 normalises. Nothing else becomes a path.
pub fn is_dist_name(name: &str) -> bool {
    let b = name.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() && b.iter().all(inner)
        }
        _ => false,
    }
}

/// `<name>-<version>`, the directory a distribution's licences go to, once the name is a PEP 508
/// name and the version parses as PEP 440 (pep440_rs); Err says why not, for the report.
pub fn dist_dir_name(name: &str, version: &str) -> Result<String, String> {
    if !is_dist_name(name) {
        return Err(format!(
            "its name `{}` is not a valid distribution name",
            name.escape_debug()
        ));
    }
    if pep440_rs::Version::from_str(version).is_err() {
        return Err(format!(
            "its version `{}` is not a PEP 440 version",
            version.escape_debug()
        ));
    }
    let dir = format!("{name}-{version}");
    component(OsStr::new(&dir))?;
    Ok(dir)
}

/// `base/rel`, proven to stay under `base`: `rel` must be relative and made only of normal
/// components (no `..`, no `.`, no root), each a single name without NUL.
pub fn checked_join(base: &Path, rel: &Path) -> Result<PathBuf, String> {
    let mut out = base.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(n) => {
                component(n)?;
                out.push(n);
            }
            _ => return Err(format!("`{}` is not a plain relative path", rel.display())),
        }
    }
    if rel.as_os_str().is_empty() || !out.starts_with(base) {
        return Err(format!(
            "`{}` does not name a path under its base",
            rel.display()
        ));
    }
    Ok(out)
}

/// Where the symlink at `link` (relative to the tree's root) points, resolved lexically from
/// the link's directory; None when the target is absolute or climbs above the root.
pub fn link_in_tree(link: &Path, target: &Path) -> Option<PathBuf> {
    let out = resolve_in_tree(link.parent()?, target)?;
    (!out.as_os_str().is_empty()).then_some(out)
}

/// `rel` resolved lexically from the directory `dir` (both relative to the tree's root): `.`
/// dropped, `..` folded, links not looked at; None when `rel` is absolute or climbs above the
/// root. `sklearn/_build_utils/../__init__.py` from the root is `sklearn/__init__.py`.
pub fn resolve_in_tree(dir: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out = dir.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A path read from the venv (or from what its code wrote) as a plain relative path: not
/// empty, only normal components, no NUL; None for anything else (`checked_join`'s rule).
pub fn plain_relative(rel: &Path) -> Option<PathBuf> {
    checked_join(Path::new(""), rel).ok()
}

/// The relative target for a link at `from` (relative to the root) that points to `to` (relative
/// to the root): `../` up to the common ancestor, then down.
pub fn relative_target(from: &Path, to: &Path) -> PathBuf {
    let dir: Vec<Component> = from.parent().map_or(vec![], |p| p.components().collect());
    let to_c: Vec<Component> = to.components().collect();
    let common = dir.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..dir.len() {
        out.push("..");
    }
    for c in &to_c[common..] {
        out.push(c);
    }
    out
}

/// The content of the regular file at `path`, never through a symlink: `O_NOFOLLOW` refuses a
/// link as the last component (ELOOP), `O_NONBLOCK` keeps a FIFO from blocking the open, and the
/// opened file must be a regular file.
pub fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not a regular file", path.display()),
        ));
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// The absolute path `p` names once written, resolved the way the kernel will walk it but
/// without creating anything: `.` dropped, the existing part resolved one component at a time
/// with lstat (a symlink, dangling or not, is expanded with read_link; 40 links at most, as
/// Linux), `..` popping a resolved (link-free) directory. Once a component does not exist, the
/// rest is new and may not contain `..` (`nx/../venv` would climb out of a directory that the
/// write creates). Relative paths are taken from the current directory.
pub fn resolve(p: &Path) -> Result<PathBuf, String> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?
            .join(p)
    };
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, &abs);
    let mut cur = PathBuf::from("/");
    let mut missing: Option<OsString> = None;
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == "." {
            continue;
        }
        if c == ".." {
            if let Some(m) = &missing {
                return Err(format!(
                    "`..` follows `{}`, which does not exist yet",
                    m.to_string_lossy()
                ));
            }
            cur.pop();
            continue;
        }
        if missing.is_some() {
            cur.push(&c);
            continue;
        }
        let next = cur.join(&c);
        match fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(format!("too many levels of links at `{}`", next.display()));
                }
                let target = fs::read_link(&next)
                    .map_err(|e| format!("cannot read the link `{}`: {e}", next.display()))?;
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                push_components(&mut todo, &target);
            }
            Ok(_) => cur = next,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = Some(c.clone());
                cur = next;
            }
            Err(e) => return Err(format!("cannot check `{}`: {e}", next.display())),
        }
    }
    Ok(cur)
}

/// `p` made absolute from the current directory and `..` folded lexically, links not looked at:
/// how a path is spelled, to compare with how it resolves.
pub fn lexical(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Push `p`'s components (as names; `/` dropped) onto a stack so that they pop in order.
fn push_components(todo: &mut Vec<OsString>, p: &Path) {
    let names: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::CurDir => Some(".".into()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    todo.extend(names.into_iter().rev());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn components_are_single_names() {
        assert!(component(OsStr::new("LICENSE")).is_ok());
        assert!(component(OsStr::new("Foo-1.0")).is_ok());
        for bad in ["", ".", "..", "a/b", "/a", "a/", "a\0b", "./a"] {
            assert!(component(OsStr::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dist_names_and_versions() {
        assert_eq!(dist_dir_name("Foo", "1.0").unwrap(), "Foo-1.0");
        assert_eq!(
            dist_dir_name("zope.interface", "7.0.post1+local.7").unwrap(),
            "zope.interface-7.0.post1+local.7"
        );
        for (n, v) in [
            ("evil", "1.0/../../victim"),
            ("x/../../victim/y", "1.0"),
            ("..", "1.0"),
            ("evil", ".."),
            ("-a", "1"),
            ("a", ""),
            ("", "1"),
            ("é", "1"),
            ("a", "1\0"),
        ] {
            assert!(dist_dir_name(n, v).is_err(), "{n:?} {v:?}");
        }
    }

    #[test]
    fn joins_stay_under_base() {
        let b = Path::new("/out/licenses");
        assert_eq!(
            checked_join(b, Path::new("a-1/LICENSE")).unwrap(),
            Path::new("/out/licenses/a-1/LICENSE")
        );
        for bad in ["../x", "a/../../x", "/etc/passwd", "./a", ""] {
            assert!(checked_join(b, Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_resolve_lexically() {
        let link = Path::new("sp/d.dist-info/licenses/NOTICE");
        assert_eq!(
            link_in_tree(link, Path::new("../../pkg/NOTICE")).unwrap(),
            Path::new("sp/pkg/NOTICE")
        );
        assert_eq!(link_in_tree(link, Path::new("../../../../secret")), None);
        assert_eq!(link_in_tree(link, Path::new("/etc/shadow")), None);
        assert_eq!(
            relative_target(Path::new("licenses/d-1/NOTICE"), Path::new("sp/pkg/NOTICE")),
            Path::new("../../sp/pkg/NOTICE")
        );
        assert_eq!(
            relative_target(Path::new("a/b/L"), Path::new("a/c")),
            Path::new("../c")
        );
    }

    #[test]
    fn reads_refuse_links() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        fs::write(&f, "x").unwrap();
        std::os::unix::fs::symlink(&f, t.path().join("l")).unwrap();
        assert_eq!(read_nofollow(&f).unwrap(), b"x");
        assert!(read_nofollow(&t.path().join("l")).is_err());
        assert!(read_nofollow(t.path()).is_err());
    }

    #[test]
    fn resolve_expands_links_and_refuses_dotdot_after_a_missing_part() {
        let t = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(t.path()).unwrap();
        fs::create_dir(root.join("venv")).unwrap();
        std::os::unix::fs::symlink(root.join("venv/x.json"), root.join("dangling")).unwrap();
        std::os::unix::fs::symlink("venv", root.join("v")).unwrap();
        assert_eq!(
            resolve(&root.join("dangling")).unwrap(),
            root.join("venv/x.json")
        );
        assert_eq!(resolve(&root.join("v/a/b")).unwrap(), root.join("venv/a/b"));
        assert_eq!(
            resolve(&root.join("venv/../new/.")).unwrap(),
            root.join("new")
        );
        assert!(resolve(&root.join("nx/../venv/sub")).is_err());
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve(&root.join("loop/x")).is_err());
    }

    /// xorshift64*: a small deterministic generator, so a failing case is reproducible.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub(crate) fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }
        /// A hostile string: pieces of names, versions, separators, dots and unicode.
        pub(crate) fn hostile(&mut self) -> String {
            const PIECES: &[&str] = &[
                "a", "Z9", "1.0", ".", "..", "/", "-", "_", "+local", "é", "日本", "\u{202e}", " ",
                "\\", "post1", "~", "%2e%2e", "\t", "dev0", "!", "0",
            ];
            let n = 1 + self.next() % 6;
            (0..n).map(|_| self.pick(PIECES)).collect()
        }
        /// Half the time hostile, half the time pieces that mostly make valid names and
        /// versions (so the accepting side is exercised too).
        pub(crate) fn name_or_version(&mut self, version: bool) -> String {
            const NAME: &[&str] = &["a", "Z9", "-x", "_y", ".z", "é", ".."];
            const VERSION: &[&str] = &["1", ".0", ".post1", "rc1", "+l.7", ".dev0", "/.."];
            if self.next() % 2 == 0 {
                return self.hostile();
            }
            let first = if version { "2" } else { "n" };
            let n = self.next() % 4;
            let from = if version { VERSION } else { NAME };
            std::iter::once(first)
                .chain((0..n).map(|_| self.pick(from)))
                .collect()
        }
    }

    /// Thousands of hostile METADATA names and versions: whatever `dist_dir_name` accepts joins
    /// into exactly `base/<one component>/<inner>`, never above or beside it.
    #[test]
    fn fuzz_metadata_names_never_leave_their_base() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let base = Path::new("/out/licenses");
        let mut accepted = 0;
        for _ in 0..20_000 {
            let (name, version) = (rng.name_or_version(false), rng.name_or_version(true));
            let inner = rng.hostile();
            let Ok(dir) = dist_dir_name(&name, &version) else {
                continue;
            };
            accepted += 1;
            assert!(!dir.contains('/') && !dir.contains('\0'), "{dir:?}");
            let joined = checked_join(base, Path::new(&dir)).unwrap();
            assert_eq!(joined.parent(), Some(base), "{name:?} {version:?}");
            if let Ok(p) = checked_join(&joined, Path::new(&inner)) {
                assert!(p.starts_with(&joined), "{p:?}");
                assert!(p
                    .components()
                    .all(|c| !matches!(c, Component::ParentDir | Component::CurDir)));
            }
        }
        assert!(
            accepted > 1000,
            "the generator makes valid names too ({accepted})"
        );
    }

    /// Random output paths over a tree with links into and around a venv: whatever `resolve`
    /// returns is where the kernel really creates the directory, so a check on it is a check on
    /// the write.
    #[test]
    fn fuzz_resolve_matches_the_kernel() {
        let t = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(t.path()).unwrap();
        fs::create_dir_all(root.join("venv/lib")).unwrap();
        fs::create_dir(root.join("outside")).unwrap();
        let link = |to: &str, at: &str| std::os::unix::fs::symlink(to, root.join(at)).unwrap();
        link("venv", "v");
        link(root.join("venv/lib").to_str().unwrap(), "abs");
        link("venv/missing", "dangling");
        link("../outside", "venv/up");
        link("outside/..", "dots");
        let mut rng = Rng(0xfeed_0000_1111_2222);
        const PARTS: &[&str] = &[
            "v", "abs", "dangling", "venv", "outside", "up", "dots", "..", ".", "nx", "lib", "é",
        ];
        let mut agreed = 0;
        for _ in 0..3000 {
            let n = 1 + rng.next() % 5;
            let rel: PathBuf = (0..n).map(|_| rng.pick(PARTS)).collect();
            let given = root.join(&rel);
            let Ok(r) = resolve(&given) else { continue };
            // Only ask the kernel about paths inside the scratch tree.
            if !r.starts_with(&root) || r == root {
                continue;
            }
            if fs::create_dir_all(&given).is_ok() {
                let real = fs::canonicalize(&given).unwrap();
                assert_eq!(real, r, "{}", rel.display());
                agreed += 1;
            }
        }
        assert!(agreed > 100, "{agreed}");
    }
}
