//! Writing the hand-off: relocated scripts, pyvenv.cfg and links (out of place into the staging
//! tree, in place through a temporary file or link renamed over the original), then the licence
//! directory and the SBOM. Paths the user gave inside OUT are written into the staging tree, so
//! they are part of the finished, normalised tree when it is renamed onto OUT.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{replace_file, set_meta, Writer};
use crate::inventory::Entry;

/// What the hand-off wrote, for the report.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct HandoffOutcome {
    /// Licence files gathered into --licenses-dir.
    pub licenses: usize,
    /// Distributions listed in the SBOM.
    pub sbom_components: usize,
    /// Entries whose permissions changed (normalised, --chmod).
    pub modes_changed: u64,
    /// Entries given the fixed mtime.
    pub mtimes_set: u64,
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
            Ok(()) => set_meta(dst, e),
            Err(err) => w.fail(&e.path, format!("cannot write relocated file: {err}")),
        }
        return true;
    }
    if let Some(l) = h.link(&e.path) {
        match std::os::unix::fs::symlink(&l.new, dst) {
            Ok(()) => set_meta(dst, e),
            Err(err) => w.fail(&e.path, format!("cannot create relocated link: {err}")),
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
        let name = l
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.venvslim-tmp"));
        crate::fault::point("write a relocated link");
        let _ = fs::remove_file(&tmp);
        let r = std::os::unix::fs::symlink(&l.new, &tmp).and_then(|()| {
            set_meta(&tmp, e);
            fs::rename(&tmp, &path)
        });
        if let Err(err) = r {
            let _ = fs::remove_file(&tmp);
            w.fail(&l.path, err);
        }
    }
}

/// Where a user path lands now: inside OUT means inside the staging tree.
pub(super) fn placed(w: &Writer, path: &Path) -> PathBuf {
    if let (Some(out), Some(abs)) = (&w.out, crate::settings::absolute_lexical(path)) {
        if let Some(out_abs) = crate::settings::absolute_lexical(out) {
            if let Ok(rest) = abs.strip_prefix(&out_abs) {
                return w.dst.join(rest);
            }
        }
    }
    path.to_path_buf()
}

/// Gather licence files and write the SBOM. Returns (licences written, SBOM components).
pub(super) fn write_extras(w: &Writer) -> (usize, usize) {
    let h = &w.plan.handoff;
    let mut licenses = 0;
    if let Some(dir) = &h.opts.licenses_dir {
        let dir = placed(w, dir);
        for (src, rel) in &h.licenses {
            let dst = dir.join(rel);
            let r = dst
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| fs::copy(w.src(src), &dst).map(drop))
                .and_then(|()| fs::set_permissions(&dst, fs::Permissions::from_mode(0o644)));
            match r {
                Ok(()) => licenses += 1,
                Err(err) => w.fail(
                    src,
                    format!("cannot copy licence to {}: {err}", dst.display()),
                ),
            }
        }
        if h.licenses.is_empty() {
            if let Err(err) = fs::create_dir_all(&dir) {
                w.fail(&dir, err);
            }
        }
        if !dir.starts_with(&w.dst) {
            super::finalize::normalize_tree(w, &dir, false);
        }
    }
    let mut components = 0;
    if let (Some(file), Some((bytes, n))) = (&h.opts.sbom, &h.sbom) {
        let file = placed(w, file);
        let r = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&file, bytes))
            .and_then(|()| fs::set_permissions(&file, fs::Permissions::from_mode(0o644)));
        match r {
            Ok(()) => components = *n,
            Err(err) => w.fail(&file, format!("cannot write the SBOM: {err}")),
        }
        if let (false, Some(t)) = (file.starts_with(&w.dst), h.opts.mtime) {
            let t = filetime::FileTime::from_unix_time(t, 0);
            let _ = filetime::set_file_times(&file, t, t);
        }
    }
    (licenses, components)
}
