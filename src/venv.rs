//! Discover the layout of the tree we are asked to slim.
//!
//! A venv is recognised by its `pyvenv.cfg`, parsed the way CPython's `site.py` and uv do: one
//! `key = value` per line, split on the first `=` (it is not INI: no sections, values may hold
//! `=`). Trees without a pyvenv.cfg are accepted too, because `pip install --user` and
//! `pip install --target` produce them: a `--user`-style prefix (`lib/pythonX.Y/site-packages`)
//! or a bare site-packages; then the Python version must come from the user.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Layout of the input tree. All paths in `site_packages`/`bin` are relative to `root`.
#[derive(Debug, Clone)]
pub struct Venv {
    /// The tree's root, resolved (absolute, no symlinks).
    pub root: PathBuf,
    /// The root as given, made absolute, when it differs from `root` (a symlinked path): pip
    /// wrote whichever it was given into shebangs, so relocation looks for both.
    pub given_root: Option<PathBuf>,
    /// Which kind of tree it is.
    pub kind: VenvKind,
    /// The Python it was built for: `--python-version`, else pyvenv.cfg, else its one
    /// lib/pythonX.Y.
    pub python: PythonVersion,
    /// site-packages relative to root ("" for a bare site-packages tree).
    pub site_packages: PathBuf,
    /// bin/ relative to root, if there is one.
    pub bin: Option<PathBuf>,
    /// The pyvenv.cfg keys, as written (empty when there is none).
    pub cfg: BTreeMap<String, String>,
}

/// The shapes of tree accepted as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenvKind {
    /// A virtualenv with pyvenv.cfg.
    Venv,
    /// A prefix without pyvenv.cfg (`pip install --user`, `--prefix`).
    Prefix,
    /// A bare site-packages (`pip install --target`).
    SitePackages,
}

/// A Python feature version, `3.11`: what decides paths, bytecode and zipimport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PythonVersion {
    /// `3` in 3.11.
    pub major: u32,
    /// `11` in 3.11.
    pub minor: u32,
}

impl std::fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for PythonVersion {
    type Err = anyhow::Error;
    /// Accepts "3.11" and longer forms such as "3.11.7" or "3.13.0rc1".
    fn from_str(s: &str) -> Result<Self> {
        let mut parts = s.trim().split('.');
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts.next().and_then(leading_number);
        match (major, minor) {
            (Some(major), Some(minor)) => Ok(PythonVersion { major, minor }),
            _ => bail!("`{s}` is not a Python version of the form X.Y"),
        }
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl PythonVersion {
    /// `lib/pythonX.Y`
    pub fn lib_dir(&self) -> PathBuf {
        PathBuf::from(format!("lib/python{}.{}", self.major, self.minor))
    }
}

/// Parse pyvenv.cfg text: split each line on the first `=`, trim both sides, skip lines
/// without one. Later keys win, as in `site.py`.
pub fn parse_pyvenv_cfg(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

impl Venv {
    /// Whether `path` (relative to the root) is directly in bin/: a console script, a python
    /// link, an activation script.
    pub fn in_bin(&self, path: &Path) -> bool {
        self.bin
            .as_deref()
            .is_some_and(|b| path.parent() == Some(b))
    }

    /// Inspect `root`. `version_hint` is the user's `--python-version`.
    pub fn discover(root: &Path, version_hint: Option<PythonVersion>) -> Result<Venv> {
        let meta = fs::metadata(root).with_context(|| {
            format!("cannot read `{}`\nhint: give the path of a virtualenv (the directory holding pyvenv.cfg)", root.display())
        })?;
        if !meta.is_dir() {
            bail!(
                "`{}` is not a directory\nhint: give the path of a virtualenv (the directory holding pyvenv.cfg)",
                root.display()
            );
        }
        let given = std::path::absolute(root).ok();
        let root = fs::canonicalize(root)
            .with_context(|| format!("cannot resolve `{}`", root.display()))?;
        let given_root = given.filter(|g| *g != root);
        let cfg_path = root.join("pyvenv.cfg");
        if cfg_path.is_file() {
            let text = fs::read(&cfg_path)
                .with_context(|| format!("cannot read `{}`", cfg_path.display()))?;
            let cfg = parse_pyvenv_cfg(&String::from_utf8_lossy(&text));
            return Self::from_prefix(root, VenvKind::Venv, cfg, version_hint)
                .map(|v| Venv { given_root, ..v });
        }
        if lib_python_dirs(&root).next().is_some() {
            return Self::from_prefix(root, VenvKind::Prefix, BTreeMap::new(), version_hint)
                .map(|v| Venv { given_root, ..v });
        }
        if looks_like_site_packages(&root) {
            let Some(python) = version_hint else {
                bail!(
                    "`{}` looks like a bare site-packages (no pyvenv.cfg), so its Python version is unknown\nhint: add --python-version X.Y (the version that will run it)",
                    root.display()
                );
            };
            let bin = root.join("bin").is_dir().then(|| PathBuf::from("bin"));
            return Ok(Venv {
                root,
                given_root,
                kind: VenvKind::SitePackages,
                python,
                site_packages: PathBuf::new(),
                bin,
                cfg: BTreeMap::new(),
            });
        }
        bail!(
            "`{}` is not a virtualenv: it has no pyvenv.cfg, no lib/pythonX.Y/site-packages and no *.dist-info\nhint: give the venv's root (the directory holding pyvenv.cfg), or a site-packages directory with --python-version X.Y",
            root.display()
        )
    }

    fn from_prefix(
        root: PathBuf,
        kind: VenvKind,
        cfg: BTreeMap<String, String>,
        version_hint: Option<PythonVersion>,
    ) -> Result<Venv> {
        let from_cfg = cfg
            .get("version_info")
            .or_else(|| cfg.get("version"))
            .and_then(|v| v.parse::<PythonVersion>().ok());
        let on_disk: Vec<PythonVersion> = lib_python_dirs(&root).collect();
        let python = match (version_hint, from_cfg, on_disk.as_slice()) {
            (Some(v), _, _) => v,
            (None, Some(v), _) => v,
            (None, None, [only]) => *only,
            (None, None, []) => bail!(
                "`{}` has no lib/pythonX.Y/site-packages\nhint: is the venv fully created? Re-create it with `python -m venv`",
                root.display()
            ),
            (None, None, _) => bail!(
                "`{}` holds several lib/pythonX.Y directories and pyvenv.cfg names no version\nhint: add --python-version X.Y",
                root.display()
            ),
        };
        let site_packages = python.lib_dir().join("site-packages");
        if !root.join(&site_packages).is_dir() {
            bail!(
                "`{}` has no {} (pyvenv.cfg says Python {python})\nhint: add --python-version X.Y if the venv holds another version",
                root.display(),
                site_packages.display()
            );
        }
        let bin = root.join("bin").is_dir().then(|| PathBuf::from("bin"));
        Ok(Venv {
            root,
            given_root: None,
            kind,
            python,
            site_packages,
            bin,
            cfg,
        })
    }

    /// site-packages as an absolute path.
    pub fn site_packages_abs(&self) -> PathBuf {
        self.root.join(&self.site_packages)
    }

    /// The interpreter to run for compiling and verifying: the venv's own `bin/pythonX.Y`
    /// (or `bin/python3`, `bin/python`); for trees without a `pyvenv.cfg` or without `bin/`,
    /// `pythonX.Y` on PATH (None when there is none).
    ///
    /// A venv with a `bin/` never borrows a Python from PATH: its own link that dangles (the
    /// base interpreter moved, the venv copied from another machine) or a `bin/` without any is
    /// an error, because a Python from PATH has another prefix and maybe other bytes, and the
    /// report would still say "the venv's interpreter".
    pub fn interpreter(&self) -> Result<Option<PathBuf>> {
        let names = [
            format!("python{}", self.python),
            format!("python{}", self.python.major),
            "python".to_string(),
        ];
        if let (Some(bin), VenvKind::Venv) = (&self.bin, self.kind) {
            let bin = self.root.join(bin);
            let mut found = None;
            for name in &names {
                let p = bin.join(name);
                if fs::symlink_metadata(&p).is_err() {
                    continue; // not there at all: try the next name
                }
                check_resolves(&p)?;
                found.get_or_insert(p);
            }
            return match found {
                Some(p) => Ok(Some(p)),
                None => bail!(
                    "`{}` holds no {}, {} or {}: the venv has no interpreter of its own\nhint: re-create the venv with `python{} -m venv`; venvslim does not borrow a Python from PATH for a venv",
                    bin.display(),
                    names[0],
                    names[1],
                    names[2],
                    self.python
                ),
            };
        }
        let Some(path) = std::env::var_os("PATH") else {
            return Ok(None);
        };
        // Relative PATH entries name the working directory (a build context full of others'
        // files), and children run from `/` anyway: only absolute entries count.
        Ok(std::env::split_paths(&path)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(&names[0]))
            .find(|p| p.is_file()))
    }
}

/// `p` (present in the venv's bin/) must lead to a file: a link to nowhere is an error that
/// names the link and its target.
fn check_resolves(p: &Path) -> Result<()> {
    let hint = "hint: the interpreter the venv was made with is gone from here (moved, upgraded, or the venv was copied from another machine); re-create the venv, or point the link at the same Python version";
    match fs::metadata(p) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => bail!("`{}` is not a file\n{hint}", p.display()),
        Err(e) => match fs::read_link(p) {
            Ok(target) => bail!(
                "`{}` is a symlink to `{}`, which does not resolve ({e})\n{hint}",
                p.display(),
                target.display()
            ),
            Err(_) => bail!("cannot use `{}`: {e}\n{hint}", p.display()),
        },
    }
}

/// The journal an in-place run keeps at the venv's root while it changes the tree (written by
/// `apply`; named here because reading a venv has to know it: a venv holding one is half-slimmed).
pub const IN_PLACE_JOURNAL: &str = ".venvslim-journal";

/// True when an in-place run of the venv at `root` was killed after it began changing the tree.
pub fn interrupted_in_place(root: &Path) -> bool {
    fs::symlink_metadata(root.join(IN_PLACE_JOURNAL)).is_ok()
}

/// `python`, `python3`, `python3.11`: the links `python -m venv` makes to the interpreter
/// (for the rules that keep them, and for relocation, which repoints them).
pub fn is_python_link_name(name: &str) -> bool {
    let Some(v) = name.strip_prefix("python") else {
        return false;
    };
    v.is_empty()
        || v.split('.').count() <= 2
            && v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Versions X.Y for which `lib/pythonX.Y/site-packages` exists.
fn lib_python_dirs(root: &Path) -> impl Iterator<Item = PythonVersion> + '_ {
    fs::read_dir(root.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let v: PythonVersion = name.strip_prefix("python")?.parse().ok()?;
            e.path().join("site-packages").is_dir().then_some(v)
        })
}

fn looks_like_site_packages(root: &Path) -> bool {
    root.file_name()
        .is_some_and(|n| n == "site-packages" || n == "dist-packages")
        || fs::read_dir(root).into_iter().flatten().flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".dist-info") || name.ends_with(".egg-info")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyvenv_cfg_splits_on_first_equals() {
        let cfg = parse_pyvenv_cfg(
            "home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.11.7\nprompt = a=b\n[junk\n",
        );
        assert_eq!(cfg["home"], "/usr/local/bin");
        assert_eq!(cfg["version"], "3.11.7");
        assert_eq!(cfg["prompt"], "a=b");
        assert_eq!(cfg.len(), 4);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            "3.11.7".parse::<PythonVersion>().unwrap(),
            PythonVersion {
                major: 3,
                minor: 11
            }
        );
        assert_eq!("3.13.0rc1".parse::<PythonVersion>().unwrap().minor, 13);
        assert_eq!("3.9".parse::<PythonVersion>().unwrap().minor, 9);
        assert!("three".parse::<PythonVersion>().is_err());
        assert!("3".parse::<PythonVersion>().is_err());
    }

    #[test]
    fn discovers_venv_prefix_and_bare_trees() {
        let t = tempfile::tempdir().unwrap();
        let v = t.path().join("v");
        fs::create_dir_all(v.join("lib/python3.12/site-packages")).unwrap();
        fs::create_dir_all(v.join("bin")).unwrap();
        fs::write(
            v.join("pyvenv.cfg"),
            "home = /usr/bin\nversion_info = 3.12.1.final.0\n",
        )
        .unwrap();
        let venv = Venv::discover(&v, None).unwrap();
        assert_eq!(venv.kind, VenvKind::Venv);
        assert_eq!(venv.python.to_string(), "3.12");
        assert_eq!(
            venv.site_packages,
            PathBuf::from("lib/python3.12/site-packages")
        );

        fs::remove_file(v.join("pyvenv.cfg")).unwrap();
        assert_eq!(Venv::discover(&v, None).unwrap().kind, VenvKind::Prefix);

        let sp = v.join("lib/python3.12/site-packages");
        fs::create_dir_all(sp.join("x-1.0.dist-info")).unwrap();
        let err = Venv::discover(&sp, None).unwrap_err().to_string();
        assert!(err.contains("--python-version"), "{err}");
        let bare = Venv::discover(&sp, Some("3.12".parse().unwrap())).unwrap();
        assert_eq!(bare.kind, VenvKind::SitePackages);
        assert_eq!(bare.site_packages, PathBuf::new());
    }

    #[test]
    fn not_a_venv_names_the_path_and_hints() {
        let t = tempfile::tempdir().unwrap();
        let err = format!("{:#}", Venv::discover(t.path(), None).unwrap_err());
        assert!(
            err.contains(&t.path().canonicalize().unwrap().display().to_string()),
            "{err}"
        );
        assert!(err.contains("hint:"), "{err}");
        let missing = t.path().join("nope");
        let err = format!("{:#}", Venv::discover(&missing, None).unwrap_err());
        assert!(err.contains("nope") && err.contains("hint:"), "{err}");
    }
}
