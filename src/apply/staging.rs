//! Out of place, all or nothing: the tree is built in a hidden staging directory beside OUT
//! (`.OUT.venvslim-PID`) and renamed onto OUT only when every kept file was written. The
//! hand-off outputs outside OUT are staged the same way beside their own path (`--licenses-dir`
//! as a directory, `--sbom` as a file) and renamed after OUT. Whatever ends the run early, OUT
//! is absent (or the empty directory it was), and so are they, and no staging is left:
//! - an error or a failed file: the staging is removed and the run exits 2;
//! - SIGINT or SIGTERM: a signal thread removes every live staging and exits 130 or 143. It
//!   first renames each away (to `.NAME.venvslim-PID.trash`), so copy threads still writing
//!   into the old path fail instead of keeping it alive, then removes the trash;
//! - SIGKILL or a power cut: nothing can run, so the next run into the same path removes
//!   staging (and trash) whose process is gone, and says so.
//!
//! The renames that publish (OUT, then the licences, then the SBOM) run under `hold_signals`:
//! a signal then waits until all of them are in place, so a run never ends with half of them.
//! A mount point cannot be renamed onto (EBUSY), so an output that is one is refused before any
//! work, with a hint to write one level below it. See docs/safety.md.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use anyhow::{bail, Context, Result};

/// The staging paths being filled, for the signal thread to remove.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Held while finished outputs are renamed into place; the signal thread takes it first.
static PUBLISHING: Mutex<()> = Mutex::new(());

/// A staging directory (or file); removed when dropped unless published.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    published: bool,
    /// Staging of killed runs that was removed before this one started.
    pub stale_removed: Vec<PathBuf>,
}

impl Staging {
    /// Check OUT can be published onto, clear stale staging of dead runs, create ours.
    pub fn create(out: &Path) -> Result<Staging> {
        Staging::make(out, true)
    }

    /// The same for a file output (`--sbom`): an empty `.NAME.venvslim-PID` file beside it.
    pub fn create_file(out: &Path) -> Result<Staging> {
        Staging::make(out, false)
    }

    fn make(out: &Path, dir: bool) -> Result<Staging> {
        let name = out
            .file_name()
            .with_context(|| format!("output `{}` has no name", out.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if dir {
            refuse_mount_point(out)?;
        }
        crate::fault::point("create the output's parent");
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
        let stale_removed = remove_stale(&parent, &name);
        let path = parent.join(format!(".{name}.venvslim-{}", std::process::id()));
        install_signal_cleanup();
        crate::fault::point("create staging");
        let made = if dir {
            fs::create_dir(&path)
        } else {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map(drop)
        };
        made.with_context(|| {
            format!(
                "cannot create `{}`\nhint: is its directory writable?",
                path.display()
            )
        })?;
        live().push(path.clone());
        Ok(Staging {
            path,
            published: false,
            stale_removed,
        })
    }

    /// Where the tree (or file) is being written, beside OUT.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rename the finished tree (or file) onto `out`. On failure the staging is removed.
    pub fn publish(mut self, out: &Path) -> Result<()> {
        crate::fault::point("publish");
        match fs::rename(&self.path, out) {
            Ok(()) => {
                self.published = true;
                live().retain(|p| *p != self.path);
                Ok(())
            }
            Err(e) => {
                let why = match e.raw_os_error() {
                    Some(libc::ENOTEMPTY) | Some(libc::EEXIST) => "hint: another process wrote there while this run worked; nothing of this run was kept there",
                    Some(libc::EBUSY) => "hint: it became a mount point; write one level below it (-o OUT/venv)",
                    Some(libc::EISDIR) | Some(libc::ENOTDIR) => "hint: something of another type was put there while this run worked",
                    _ => "hint: is its directory writable, and on the same filesystem as its parent?",
                };
                Err(e).with_context(|| {
                    format!(
                        "cannot move the finished output onto `{}`; nothing was written there\n{why}",
                        out.display()
                    )
                })
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            crate::fault::point("remove staging");
            // Under the lock: a signal arriving now waits until the staging is gone.
            let mut live = live();
            remove_staging(&self.path);
            live.retain(|p| *p != self.path);
        }
    }
}

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hold this while renaming finished outputs into place: a SIGINT or SIGTERM waits until it is
/// dropped, so the outputs are published all together or (before it) not at all.
pub fn hold_signals() -> MutexGuard<'static, ()> {
    PUBLISHING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove a staging directory or file: renamed away first (threads still writing into the old
/// path then fail with ENOENT rather than keep it alive), then removed, again while a write
/// that was under way when it was renamed still lands in it.
fn remove_staging(path: &Path) {
    let mut trash = path.as_os_str().to_owned();
    trash.push(".trash");
    let trash = PathBuf::from(trash);
    let gone = if fs::rename(path, &trash).is_ok() {
        trash
    } else {
        path.to_path_buf()
    };
    for _ in 0..100 {
        let r = match fs::symlink_metadata(&gone) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&gone),
            Ok(_) => fs::remove_file(&gone),
            Err(_) => return,
        };
        if r.is_ok() {
            return;
        }
        std::thread::yield_now();
    }
}

/// SIGINT and SIGTERM: remove every live staging, then exit as the signal would have (130,
/// 143). Installed once, on the first staging; child processes get the default dispositions
/// back when they exec.
fn install_signal_cleanup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return; // without a handler the default action still ends the run; a rerun cleans up
        };
        // As above: if the thread cannot start, a signal still ends the run; a rerun cleans up.
        let _ = std::thread::Builder::new()
            .name("venvslim-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let _publishing = hold_signals();
                    let mut live = live();
                    for path in live.drain(..) {
                        remove_staging(&path);
                    }
                    std::process::exit(128 + sig);
                }
            });
    });
}

/// A mount point cannot be the target of rename(2): refuse it before any work.
fn refuse_mount_point(out: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(out) else {
        return Ok(()); // does not exist yet
    };
    if !meta.is_dir() {
        return Ok(()); // settings already refused it
    }
    let parent_dev = fs::metadata(out.join("..")).map(|m| m.dev()).ok();
    let mounted = parent_dev.is_some_and(|d| d != meta.dev())
        || fs::canonicalize(out).is_ok_and(|c| listed_as_mount_point(&c));
    if mounted {
        bail!(
            "output `{}` is a mount point, and venvslim publishes by renaming a finished tree onto OUT, which a mount point cannot take\nhint: write one level below it, e.g. -o {}/venv, and COPY that",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

/// True when /proc/self/mountinfo lists `path` as a mount point (bind mounts keep st_dev).
fn listed_as_mount_point(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| Path::new(&unescape_mountinfo(m)) == path)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Remove `.NAME.venvslim-PID` directories and files (and their `.trash`) in `parent` whose
/// process no longer exists: what a killed run left. A live process's staging (a concurrent
/// run) is left alone.
fn remove_stale(parent: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!(".{name}.venvslim-");
    let mut removed = Vec::new();
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .map(|p| p.strip_suffix(".trash").unwrap_or(p))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(ft) = entry.file_type() else { continue };
        if pid == std::process::id() as i32 || process_alive(pid) {
            continue;
        }
        crate::fault::point("remove stale staging");
        let r = if ft.is_dir() {
            fs::remove_dir_all(entry.path())
        } else {
            fs::remove_file(entry.path())
        };
        if r.is_ok() {
            removed.push(entry.path());
        }
    }
    removed.sort();
    removed
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return true; // not a pid we could have written: leave it
    }
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo(r"/plain\0"), r"/plain\0");
    }

    #[test]
    fn stale_staging_of_dead_processes_only() {
        let t = tempfile::tempdir().unwrap();
        // pid 0x7ffffff0 is above pid_max on Linux: never alive.
        let dead = t.path().join(".out.venvslim-2147483632");
        let live = t
            .path()
            .join(format!(".out.venvslim-{}", std::process::id()));
        let other = t.path().join(".other.venvslim-2147483632");
        let trash = t.path().join(".out.venvslim-2147483631.trash");
        for d in [&dead, &live, &other, &trash] {
            fs::create_dir(d).unwrap();
            fs::write(d.join("f"), "x").unwrap();
        }
        let file = t.path().join(".out.venvslim-2147483630");
        fs::write(&file, "{}").unwrap();
        assert_eq!(
            remove_stale(t.path(), "out"),
            vec![file.clone(), trash.clone(), dead.clone()]
        );
        assert!(!dead.exists() && !trash.exists() && !file.exists());
        assert!(live.exists() && other.exists());
    }
}
