//! Writing the hand-off: relocated scripts, pyvenv.cfg and links (out of place into the staging
//! tree, in place through a temporary file or link renamed over the original), then the licence
//! directory's and the SBOM's primitives (`extras.rs` places and publishes them): every write
//! below a base is proven to stay under it, never goes through a link, and never overwrites a
//! file (a licence that finds its path taken is reported, not written).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::{replace_file, set_meta, Writer};
use crate::error::PathError;
use crate::inventory::Entry;

/// What the hand-off wrote, for the report.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct HandoffOutcome {
    /// Licence files gathered into --licenses-dir.
    pub licenses: usize,
    /// Their paths, relative to --licenses-dir.
    pub license_paths: Vec<PathBuf>,
    /// Licences not written, and why (their path was taken, never overwritten).
    pub not_written: Vec<String>,
    /// Distributions listed in the SBOM.
    pub sbom_components: usize,
    /// Entries whose permissions changed (normalised, --chmod).
    pub modes_changed: u64,
    /// Entries given the fixed mtime.
    pub mtimes_set: u64,
    /// `--dedupe`: files replaced by hardlinks, and bytes saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedupe: Option<super::finalize::Dedupe>,
}

/// Out of place: write `e` relocated if the plan rewrites it. True when it was handled.
pub(super) fn copy_relocated(w: &Writer, e: &Entry, dst: &Path) -> bool {
    let h = &w.plan.handoff;
    if let Some(t) = h.text(&e.path) {
        let r = fs::write(dst, &t.new)
            .and_then(|()| fs::set_permissions(dst, fs::Permissions::from_mode(e.mode & 0o7777)));
        match r {
            Ok(()) => w.meta_done(&e.path, set_meta(dst, e)),
            Err(err) => w.fail_io(&e.path, PathError::new("write relocated file", dst, err)),
        }
        return true;
    }
    if let Some(l) = h.link(&e.path) {
        match std::os::unix::fs::symlink(&l.new, dst) {
            Ok(()) => w.meta_done(&e.path, set_meta(dst, e)),
            Err(err) => w.fail_io(&e.path, PathError::new("create relocated link", dst, err)),
        }
        return true;
    }
    false
}

/// In place: each relocated file and link written into the staging tree (`w.dst`), through a
/// temporary beside it; the journal renames it over the original.
pub(super) fn relocate_in_place(w: &Writer) {
    let h = &w.plan.handoff;
    for t in &h.texts {
        let Some(e) = w.plan.inv.find(&t.path) else {
            continue;
        };
        let path = w.dst.join(&t.path);
        crate::fault::point("write a relocated file");
        if let Err(err) = replace_file(&path, e, |tmp| fs::write(tmp, &t.new)) {
            w.fail(&t.path, err);
        }
    }
    for l in &h.links {
        let Some(e) = w.plan.inv.find(&l.path) else {
            continue;
        };
        let path = w.dst.join(&l.path);
        let tmp = super::hidden_beside(&path, "tmp");
        crate::fault::point("write a relocated link");
        // A stale temp link of a killed run: if it cannot be removed, symlink() below fails
        // with EEXIST and that is reported.
        let _ = fs::remove_file(&tmp);
        let r = std::os::unix::fs::symlink(&l.new, &tmp).and_then(|()| {
            set_meta(&tmp, e)?;
            fs::rename(&tmp, &path)
        });
        if let Err(err) = r {
            // Best effort: the failure is reported below; the staging tree goes at the end.
            let _ = fs::remove_file(&tmp);
            w.fail(&l.path, err);
        }
    }
}

/// Create the directories of `rel` under `base`, one component at a time: each that exists must
/// be a directory, not a link to one, so no write below `base` is carried out of it.
pub(super) fn make_dirs_under(base: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut cur = base.to_path_buf();
    for c in rel.components() {
        let Component::Normal(n) = c else {
            return Err(invalid(format!(
                "`{}` is not a plain relative path",
                rel.display()
            )));
        };
        cur.push(n);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "`{}` is not a directory (links are never followed)",
                        cur.display()
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                crate::fault::point("create a licence directory");
                fs::create_dir(&cur)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// `base/rel` through `safepath::checked_join`, its parent directories made by
/// `make_dirs_under`.
pub(super) fn prepare_under(base: &Path, rel: &Path) -> io::Result<PathBuf> {
    let dst = crate::safepath::checked_join(base, rel).map_err(invalid)?;
    make_dirs_under(base, rel.parent().unwrap_or(Path::new("")))?;
    Ok(dst)
}

/// Write `bytes` to the new file `dst` with `mode`: never through a link, never over a file
/// (EEXIST when something is there).
pub(super) fn write_nofollow(
    dst: &Path,
    mode: u32,
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> io::Result<()> {
    crate::fault::point("write a licence or SBOM");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dst)?;
    fill(&mut f)?;
    f.set_permissions(fs::Permissions::from_mode(mode))
}

/// Copy the regular file `src` (a venv path, opened with O_NOFOLLOW) to `dst` with `mode`.
pub(super) fn copy_nofollow(src: &Path, dst: &Path, mode: Option<u32>) -> io::Result<()> {
    let mut from = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(src)?;
    let m = from.metadata()?;
    if !m.is_file() {
        return Err(invalid(format!(
            "`{}` is not a regular file",
            src.display()
        )));
    }
    let mode = mode.unwrap_or(m.mode() & 0o7777);
    write_nofollow(dst, mode, |to| io::copy(&mut from, to).map(drop))
}

/// The new target of a licence link moved from `from` to `to` (both relative to the root): the
/// same file, when the link resolves (lexically) inside the tree; where that file moves, when
/// it moves too (`LICENSE -> licenses/LICENSE` in one dist-info).
fn moved_link(w: &Writer, root: &Path, from: &Path, to: &Path) -> io::Result<PathBuf> {
    moved_link_with(root, from, to, &|rel| moved_to(w, rel))
}

/// `moved_link`, with `moved` telling where the plan (or an in-place journal) moves a path.
pub(super) fn moved_link_with(
    root: &Path,
    from: &Path,
    to: &Path,
    moved: &dyn Fn(&Path) -> Option<PathBuf>,
) -> io::Result<PathBuf> {
    let target = fs::read_link(root.join(from))?;
    let inside = crate::safepath::link_in_tree(from, &target).ok_or_else(|| {
        invalid(format!(
            "the link points outside the tree (`{}`): not followed",
            target.display()
        ))
    })?;
    let inside = moved(&inside).unwrap_or(inside);
    Ok(crate::safepath::relative_target(to, &inside))
}

/// Where the plan moves the entry at `rel`, if it does.
fn moved_to(w: &Writer, rel: &Path) -> Option<PathBuf> {
    let plan = w.plan;
    let i = plan.inv.index(rel)?;
    match &plan.actions[plan.fate[i]?].kind {
        crate::plan::ActionKind::Move(to) => Some(to.clone()),
        _ => None,
    }
}

/// Out of place: a licence a `--dist-info strip` run moves, copied from `from` in the venv to
/// `to` in the staging tree. A link stays a link to the same file in the tree (the plan keeps
/// only links that resolve inside it); a file is read with O_NOFOLLOW.
pub(super) fn copy_moved(w: &Writer, from: &Path, to: &Path) -> io::Result<()> {
    let dst = prepare_under(&w.dst, to)?;
    let src = w.src(from);
    if fs::symlink_metadata(&src)?.file_type().is_symlink() {
        let new = moved_link(w, &w.plan.venv.root, from, to)?;
        crate::fault::point("create a moved licence link");
        return std::os::unix::fs::symlink(new, &dst);
    }
    copy_nofollow(&src, &dst, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safepath::tests::Rng;
    use std::io::Write;

    /// Thousands of licence writes named by hostile METADATA names and versions and inner paths,
    /// into a base holding links (to a directory outside, to the base's parent, dangling, to
    /// itself): every file written lands under the base and nothing appears outside it.
    #[test]
    fn fuzz_licence_writes_stay_under_their_base() {
        let t = tempfile::tempdir().unwrap();
        let (base, outside) = (t.path().join("out"), t.path().join("outside"));
        fs::create_dir_all(base.join("licenses/a-1")).unwrap();
        fs::create_dir(&outside).unwrap();
        let link = |to: &Path, at: &str| std::os::unix::fs::symlink(to, base.join(at)).unwrap();
        link(&outside, "licenses/a-2");
        link(&outside, "licenses/a-1/sub");
        link(Path::new(".."), "licenses/up");
        link(Path::new("../../outside/x"), "licenses/dangling");
        link(Path::new("loop"), "licenses/loop");
        let mut rng = Rng(0x1ce_0000_dead_beef);
        const INNER: &[&str] = &["sub", "up", "dangling", "loop", "LICENSE", "a-2", "..", "é"];
        let mut written = 0;
        for _ in 0..5000 {
            let (name, version) = (rng.name_or_version(false), rng.name_or_version(true));
            let dir = match crate::safepath::dist_dir_name(&name, &version) {
                Ok(d) if rng.next() % 3 > 0 => d,
                _ => rng
                    .pick(&["a-1", "a-2", "up", "dangling", "loop"])
                    .to_string(),
            };
            let n = 1 + rng.next() % 3;
            let mut rel = PathBuf::from("licenses").join(dir);
            for _ in 0..n {
                rel.push(rng.pick(INNER));
            }
            let r = prepare_under(&base, &rel)
                .and_then(|dst| write_nofollow(&dst, 0o644, |f| f.write_all(b"L")));
            // A path written before is refused (a licence never overwrites): still a write
            // that stayed under the base.
            let again = r
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::AlreadyExists);
            written += usize::from(r.is_ok() || again);
        }
        assert!(written > 500, "{written}");
        assert!(
            fs::read_dir(&outside).unwrap().next().is_none(),
            "wrote outside"
        );
        for e in walkdir::WalkDir::new(t.path()).follow_links(false) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                assert!(e.path().starts_with(&base), "{}", e.path().display());
            }
        }
    }
}
