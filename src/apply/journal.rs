//! The in-place journal: the steps that turn a prepared venv into the slimmed one, written to
//! `<venv>/.venvslim-journal` before the first change to the tree, so that a run killed at any
//! point is finished by the next one instead of re-planned from a half-changed tree.
//!
//! Every step is idempotent (a rename whose source is gone is done; a removal of a missing
//! file is done), so a rerun simply executes the whole list again. The format is plain text,
//! one step a line, paths relative to the venv root with every byte that is not printable
//! ASCII (and `%`, space) escaped as `%XX`: names need not be UTF-8. The file is written
//! to a temporary name, fsync-ed and renamed, so it is either absent or complete (the last line
//! is `end`). The venv is untrusted and could ship a file by this name: every path read back
//! must be plain relative (no `..`, no root) and is joined under the root without following a
//! symlink, so a forged journal can only do inside the venv what a wheel could do anyway.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use super::Failure;

/// The journal's name at the venv root.
pub const JOURNAL: &str = crate::venv::IN_PLACE_JOURNAL;
/// The staging directory at the venv root: new content waits here until the journal is written.
pub const STAGING: &str = ".venvslim-staging";
/// The staging directory's subdirectory that mirrors the tree.
pub const TREE: &str = "tree";
/// The staged SBOM, in the staging directory.
pub const SBOM: &str = "sbom";
const HEADER: &str = "venvslim in-place journal 1";

/// One step, paths relative to the venv root (licence destinations: to `--licenses-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Rename the staged `.venvslim-staging/tree/<path>` onto `<path>`.
    Replace(PathBuf),
    /// Rename a file to another path in the tree (a licence leaving a removed dist-info).
    Move(PathBuf, PathBuf),
    /// Remove a file.
    Remove(PathBuf),
    /// Remove a dist-info directory whole: rename it to a hidden sibling, then delete that.
    RemoveDir(PathBuf),
    /// Remove a directory the plan emptied, if it is empty.
    Rmdir(PathBuf),
    /// Copy a licence file of the tree into `--licenses-dir`.
    License(PathBuf, PathBuf),
    /// Write the staged SBOM (listing this many distributions) to `--sbom`.
    Sbom(usize),
}

/// What a run will do to the tree, and what went wrong while preparing it (reported again
/// by a rerun that finishes it).
#[derive(Debug, Default)]
pub struct Journal {
    pub ops: Vec<Op>,
    pub failures: Vec<Failure>,
    /// Device and inode of the staging directory the run made. A wheel can ship a journal and
    /// a staging directory, but cannot know the inode its directory will get at install time: a
    /// rerun uses staged content (files renamed into the venv, the SBOM written outside it)
    /// only from the directory this names.
    pub staging: Option<(u64, u64)>,
}

/// Device and inode of `root`'s staging directory, when it is a real directory.
pub fn staging_id(root: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(root.join(STAGING)).ok()?;
    m.is_dir().then(|| (m.dev(), m.ino()))
}

impl Journal {
    /// Write the journal at `root` (temporary file, fsync, rename, fsync of the root), after
    /// flushing everything staged so far to disk.
    pub fn write(&self, root: &Path) -> Result<()> {
        let mut text = format!("{HEADER}\n");
        if let Some((dev, ino)) = self.staging {
            text.push_str(&format!("staging {dev} {ino}\n"));
        }
        for op in &self.ops {
            let line = match op {
                Op::Replace(p) => format!("replace {}", esc(p)),
                Op::Move(a, b) => format!("move {} {}", esc(a), esc(b)),
                Op::Remove(p) => format!("remove {}", esc(p)),
                Op::RemoveDir(p) => format!("remove-dir {}", esc(p)),
                Op::Rmdir(p) => format!("rmdir {}", esc(p)),
                Op::License(a, b) => format!("license {} {}", esc(a), esc(b)),
                Op::Sbom(n) => format!("sbom {n}"),
            };
            text.push_str(&line);
            text.push('\n');
        }
        for f in &self.failures {
            text.push_str(&format!(
                "fail {} {}\n",
                esc(&f.path),
                escape(f.error.as_bytes())
            ));
        }
        text.push_str("end\n");
        sync_fs(root);
        let path = root.join(JOURNAL);
        let tmp = root.join(format!("{JOURNAL}.tmp"));
        crate::fault::point("write the journal");
        let written = (|| -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(root)?.sync_all()
        })();
        written.with_context(|| {
            // Best effort: the error is returned; a rerun overwrites the temp journal.
            let _ = fs::remove_file(&tmp);
            format!(
                "cannot write the journal `{}`; nothing in the venv was changed\nhint: is the venv writable?",
                path.display()
            )
        })
    }

    /// The journal at `root`, if there is one.
    pub fn read(root: &Path) -> Result<Option<Journal>> {
        let path = root.join(JOURNAL);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot stat `{}`", path.display())),
        };
        let corrupt = |why: &str| {
            anyhow::anyhow!(
                "`{}` is not a journal venvslim wrote ({why}); nothing was changed\nhint: if no in-place run of venvslim was interrupted here, remove the file and run again",
                path.display()
            )
        };
        if !meta.is_file() {
            return Err(corrupt("not a regular file"));
        }
        let text = fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let text = String::from_utf8(text).map_err(|_| corrupt("not text"))?;
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(corrupt("unknown header"));
        }
        let mut j = Journal::default();
        let mut ended = false;
        for line in lines {
            if ended {
                return Err(corrupt("text after `end`"));
            }
            let words: Vec<&str> = line.split(' ').collect();
            let p = |i: usize| -> Result<PathBuf> {
                let w = words.get(i).ok_or_else(|| corrupt("a step lacks a path"))?;
                unesc_path(w).ok_or_else(|| corrupt("a path is not plain and relative"))
            };
            let op = match (words[0], words.len()) {
                ("replace", 2) => Op::Replace(p(1)?),
                ("move", 3) => Op::Move(p(1)?, p(2)?),
                ("remove", 2) => Op::Remove(p(1)?),
                ("remove-dir", 2) => Op::RemoveDir(p(1)?),
                ("rmdir", 2) => Op::Rmdir(p(1)?),
                ("license", 3) => Op::License(p(1)?, p(2)?),
                ("sbom", 2) => Op::Sbom(words[1].parse().map_err(|_| corrupt("bad count"))?),
                ("staging", 3) => {
                    let n = |w: &str| w.parse::<u64>().map_err(|_| corrupt("bad staging id"));
                    j.staging = Some((n(words[1])?, n(words[2])?));
                    continue;
                }
                ("fail", 3) => {
                    // Only reported, never acted on: any path.
                    use std::os::unix::ffi::OsStringExt;
                    let bad = || corrupt("bad escape");
                    let path = unescape(words[1]).ok_or_else(bad)?;
                    let error = unescape(words[2]).ok_or_else(bad)?;
                    j.failures.push(Failure {
                        path: PathBuf::from(std::ffi::OsString::from_vec(path)),
                        error: String::from_utf8_lossy(&error).into_owned(),
                    });
                    continue;
                }
                ("end", 1) => {
                    ended = true;
                    continue;
                }
                _ => return Err(corrupt("unknown step")),
            };
            j.ops.push(op);
        }
        if !ended {
            return Err(corrupt("no `end`"));
        }
        Ok(Some(j))
    }
}

/// Flush every file system write (staged content, renames) to disk before the journal that
/// relies on them is written or removed: a power cut must not leave a journal naming staged
/// files that never reached the disk.
pub fn sync_fs(root: &Path) {
    use std::os::fd::AsRawFd;
    if let Ok(f) = fs::File::open(root) {
        // SAFETY: syncfs on a valid, open descriptor we own; no memory is passed.
        unsafe {
            libc::syncfs(f.as_raw_fd());
        }
    }
}

/// Whether `rel` is plain and relative: only normal components, at least one.
pub fn is_plain(rel: &Path) -> bool {
    rel.components().next().is_some() && rel.components().all(|c| matches!(c, Component::Normal(_)))
}

/// `root/rel` when `rel` is plain and no directory on the way is a symlink (a missing one is
/// fine: it will be created, or the step finds nothing to do).
pub fn under(root: &Path, rel: &Path) -> std::io::Result<PathBuf> {
    if !is_plain(rel) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{}` is not a plain relative path", rel.display()),
        ));
    }
    let mut at = root.to_path_buf();
    let mut parts = rel.components().peekable();
    while let Some(c) = parts.next() {
        at.push(c);
        if parts.peek().is_some() {
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("`{}` is a symlink: not followed", at.display()),
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(at)
}

fn esc(p: &Path) -> String {
    escape(p.as_os_str().as_encoded_bytes())
}

fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'%' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    if s.is_empty() {
        s.push('%');
    }
    s
}

fn unescape(s: &str) -> Option<Vec<u8>> {
    if s == "%" {
        return Some(Vec::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn unesc_path(s: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let p = PathBuf::from(std::ffi::OsString::from_vec(unescape(s)?));
    is_plain(&p).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn round_trips_any_name_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"lib/caf\xe9 %x.py"));
        let j = Journal {
            ops: vec![
                Op::Replace(odd.clone()),
                Op::Move("a/b".into(), "c d/e".into()),
                Op::RemoveDir("x.dist-info".into()),
                Op::Sbom(3),
            ],
            staging: Some((7, 42)),
            failures: vec![
                Failure {
                    path: odd.clone(),
                    error: "no way\nreally".into(),
                },
                Failure {
                    path: "/abs/licences".into(),
                    error: String::new(),
                },
            ],
        };
        j.write(dir.path()).unwrap();
        let back = Journal::read(dir.path()).unwrap().unwrap();
        assert_eq!(back.ops, j.ops);
        assert_eq!(back.staging, Some((7, 42)));
        assert_eq!(back.failures[0].path, odd);
        assert_eq!(back.failures[0].error, "no way\nreally");
        assert_eq!(back.failures[1].path, Path::new("/abs/licences"));
        assert_eq!(back.failures[1].error, "");
        for bad in ["remove ../etc/passwd", "remove /etc/passwd", "remove ./a"] {
            fs::write(dir.path().join(JOURNAL), format!("{HEADER}\n{bad}\nend\n")).unwrap();
            assert!(Journal::read(dir.path()).is_err(), "{bad}");
        }
        fs::write(dir.path().join(JOURNAL), format!("{HEADER}\nremove a\n")).unwrap();
        assert!(Journal::read(dir.path()).is_err(), "no end");
    }
}
