//! ELF stripping that never moves a loaded byte.
//!
//! Why our own: GNU strip (binutils 2.40), even `--strip-debug`, rebuilds the segment layout, and
//! libraries edited by patchelf (numpy's and scipy's bundled openblas and libgfortran) then fail
//! with "ELF load command address/offset not page-aligned". Here debug sections and the static
//! symbol table are removed while program headers and every segment's bytes stay identical; the
//! result is parsed again and compared before it is returned (see `check`).
//!
//! - `inspect`: positioned reads of the headers and tables (large files are never read whole);
//! - `select`: which sections go, by type, flags and links;
//! - `rewrite`: the output layout and the copy;
//! - `check`: the independent self-check.

mod check;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod handmade;
mod inspect;
mod layout;
mod rewrite;
mod select;
#[cfg(test)]
mod testelf;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use filetime::FileTime;
use serde::Serialize;

pub use check::{verify, CheckError};
use inspect::Reject;

/// Below this many zeroed bytes, a strip that makes the file longer is not worth it.
const WORTH_ZEROING: u64 = 4096;

/// What to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Debug sections and the static symbol table (`.symtab`, `.symtab_shndx`, and `.strtab` when
    /// nothing kept links to it). The dynamic symbols (`.dynsym`) the loader uses stay.
    #[default]
    Unneeded,
    /// Debug sections only (`.debug_*`, `.zdebug_*`, `.stab*`, `.line`, their relocations).
    Debug,
}

/// The outcome for one file: values a caller branches on, not errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Not an ELF shared object or executable (by content, never by name), or too short to be one.
    NotElf,
    /// An ELF file with nothing the mode removes (or too little to be worth a rewrite).
    NothingToStrip,
    /// An ELF file we leave untouched, and why.
    Refused {
        /// The reason, in a sentence (an unknown layout, data that would be cut).
        why: String,
    },
    /// File sizes in bytes. Sections between segments are zeroed, not cut, so `after` can equal
    /// `before` while the file compresses much better.
    Stripped {
        /// Size of the input.
        before: u64,
        /// Size of the stripped output.
        after: u64,
    },
}

/// Inspect `path`; if something can be removed, write the stripped file to `dst` (a temp path the
/// caller chooses, beside the final one), re-parse and self-check it, and return the verdict.
/// Never modifies `path`; `dst` exists afterwards only when the verdict is `Stripped`, with the
/// permission bits of `path` (set-id bits cleared).
pub fn strip_to(path: &Path, dst: &Path, mode: Mode) -> Result<Verdict> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Verdict::NotElf);
    }
    let (elf, layout) = match plan_strip(&file, path, mode)? {
        Ok(planned) => planned,
        Err(verdict) => return Ok(verdict),
    };
    refuse_same_file(path, dst)?;
    write_checked(&file, &elf, &layout, path, dst)?;
    if let Err(e) = check::verify(path, dst) {
        // Best effort: the outcome is reported either way; a stale temp file is cleared before
        // the next strip of this file, and out of place the plain copy overwrites it.
        let _ = fs::remove_file(dst);
        return match e {
            CheckError::NotFaithful(why) => Ok(Verdict::Refused {
                why: format!("self-check failed: {why}"),
            }),
            CheckError::Io(e) => Err(e).context("cannot self-check the stripped file"),
        };
    }
    // The permission bits of the original, without set-id bits (strip_in_place restores those).
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o777))
        .with_context(|| format!("cannot set the mode of `{}`", dst.display()))?;
    Ok(Verdict::Stripped {
        before: elf.file_len,
        after: layout.out_len,
    })
}

/// What stripping `path` (open as `file`) would make of it, read and planned but not written:
/// the parsed file and its output layout, or the verdict that ends it here (not ELF, nothing to
/// strip, a refusal).
fn plan_strip(
    file: &File,
    path: &Path,
    mode: Mode,
) -> Result<std::result::Result<(inspect::Elf, rewrite::Layout), Verdict>> {
    let elf = match inspect::read(file) {
        Ok(elf) => elf,
        Err(Reject::NotElf) => return Ok(Err(Verdict::NotElf)),
        Err(Reject::Refused(why)) => return Ok(Err(Verdict::Refused { why })),
        Err(Reject::Io(e)) => {
            return Err(e).with_context(|| format!("cannot read `{}`", path.display()))
        }
    };
    let removed = select::removable(&elf, mode);
    if !removed.iter().any(|&r| r) {
        return Ok(Err(Verdict::NothingToStrip));
    }
    let read_err = || format!("cannot read `{}`", path.display());
    let mut layout = match rewrite::plan(&elf, removed.clone(), true) {
        Ok(layout) => layout,
        Err(rewrite::Refusal(why)) => return Ok(Err(Verdict::Refused { why })),
    };
    let mut unknown = rewrite::unknown_bytes(file, &elf, &layout).with_context(read_err)?;
    if unknown.is_some() && layout.shift.is_some() {
        // Unknown bytes between the segments (patchelf leaves stale copies there): keep them
        // where they are and only zero the removed sections.
        layout = match rewrite::plan(&elf, removed, false) {
            Ok(layout) => layout,
            Err(rewrite::Refusal(why)) => return Ok(Err(Verdict::Refused { why })),
        };
        unknown = rewrite::unknown_bytes(file, &elf, &layout).with_context(read_err)?;
    }
    if let Some(at) = unknown {
        let why = format!(
            "unknown data at {at:#x} past the sections and segments (appended payload or signature?) would be cut"
        );
        return Ok(Err(Verdict::Refused { why }));
    }
    if layout.out_len > elf.file_len && layout.zeroed() < WORTH_ZEROING {
        // Only a new section table would be added (the old one lies inside a segment).
        return Ok(Err(Verdict::NothingToStrip));
    }
    Ok(Ok((elf, layout)))
}

/// The verdict `strip_to` would give `path`, from the planned layout alone: nothing is written,
/// so the self-check that follows a real strip (which can still refuse a file) does not run.
/// `--budget` sums these to say what `--elf unneeded` would save.
pub fn predict(path: &Path, mode: Mode) -> Result<Verdict> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    if !file.metadata()?.is_file() {
        return Ok(Verdict::NotElf);
    }
    Ok(match plan_strip(&file, path, mode)? {
        Ok((elf, layout)) => Verdict::Stripped {
            before: elf.file_len,
            after: layout.out_len,
        },
        Err(verdict) => verdict,
    })
}

/// Write the planned output to `dst`; on failure nothing is left behind.
fn write_checked(
    file: &File,
    elf: &inspect::Elf,
    layout: &rewrite::Layout,
    path: &Path,
    dst: &Path,
) -> Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dst)
        .with_context(|| format!("cannot create `{}`", dst.display()))?;
    if let Err(e) = rewrite::write(file, elf, layout, &mut out) {
        drop(out);
        // Best effort: the write error is returned, and it is what matters.
        let _ = fs::remove_file(dst);
        return Err(e).with_context(|| {
            format!(
                "cannot write `{}` (stripping `{}`)",
                dst.display(),
                path.display()
            )
        });
    }
    Ok(())
}

/// Writing `dst` must never truncate the original (same path, or a hard link to it).
fn refuse_same_file(path: &Path, dst: &Path) -> Result<()> {
    let (Ok(a), Ok(b)) = (fs::metadata(path), fs::metadata(dst)) else {
        return Ok(());
    };
    if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
        bail!(
            "`{}` is the file being stripped; the output must be a different file",
            dst.display()
        );
    }
    Ok(())
}

/// Strip `path` in place safely: write `.name.venvslim-tmp` beside it, check, rename over it
/// (preserving mode, owner, mtime). A hardlinked file gets a new inode (the other links keep the
/// old bytes). Files with an integrity file beside them (FIPS `.hmac`/`.chk`) are refused;
/// symlinks are refused (strip the target).
pub fn strip_in_place(path: &Path, mode: Mode) -> Result<Verdict> {
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("cannot stat `{}`", path.display()))?;
    if let Some(verdict) = in_place_refusal(path, &meta) {
        return Ok(verdict);
    }
    let tmp = temp_path(path)?;
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot remove stale `{}`", tmp.display()))
        }
        _ => {}
    }
    let verdict = strip_to(path, &tmp, mode)?;
    if matches!(verdict, Verdict::Stripped { .. }) {
        if let Err(e) = replace(path, &tmp, &meta) {
            // Best effort: the error is returned; a stale temp file is cleared by the next run.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    }
    Ok(verdict)
}

/// Why a file named for in-place stripping is left alone before its content is read: a
/// symlink, not an ELF file, or integrity-checked. Shared by `strip_in_place` and dry runs.
pub fn in_place_refusal(path: &Path, meta: &fs::Metadata) -> Option<Verdict> {
    if meta.file_type().is_symlink() {
        return Some(Verdict::Refused {
            why: "a symlink: strip the file it points to".into(),
        });
    }
    if !meta.is_file() || !is_elf(path) {
        return Some(Verdict::NotElf);
    }
    integrity_file(path).map(|sig| Verdict::Refused {
        why: integrity_refusal(sig.display()),
    })
}

fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("`{}` has no file name", path.display()))?;
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(".venvslim-tmp");
    Ok(path.with_file_name(tmp))
}

/// Give `tmp` the original's owner, mode and times, then rename it over `path`.
fn replace(path: &Path, tmp: &Path, meta: &fs::Metadata) -> Result<()> {
    let t = fs::metadata(tmp)?;
    if (t.uid(), t.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::chown(tmp, Some(meta.uid()), Some(meta.gid())).with_context(|| {
            format!(
                "cannot give `{}` the owner of `{}`",
                tmp.display(),
                path.display()
            )
        })?;
    }
    // After chown, which clears set-id bits.
    fs::set_permissions(tmp, meta.permissions())
        .with_context(|| format!("cannot set the mode of `{}`", tmp.display()))?;
    filetime::set_file_times(
        tmp,
        FileTime::from_last_access_time(meta),
        FileTime::from_last_modification_time(meta),
    )
    .with_context(|| format!("cannot set the times of `{}`", tmp.display()))?;
    fs::rename(tmp, path).with_context(|| format!("cannot replace `{}`", path.display()))
}

/// Names of the integrity files a FIPS module may check a library called `name` against:
/// `name.hmac` or `.name.hmac` (libgcrypt, OpenSSL builds), `name.chk` or `stem.chk` (NSS:
/// `libsoftokn3.so` -> `libsoftokn3.chk`). Rewriting such a library breaks the check.
pub fn integrity_names(name: &str) -> [String; 4] {
    let stem = name.split(".so").next().unwrap_or(name);
    [
        format!("{name}.hmac"),
        format!(".{name}.hmac"),
        format!("{name}.chk"),
        format!("{stem}.chk"),
    ]
}

/// Why a library with the integrity file `sig` beside it is left alone.
pub fn integrity_refusal(sig: impl std::fmt::Display) -> String {
    format!("integrity-checked (FIPS): `{sig}` beside it would no longer match")
}

fn integrity_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    integrity_names(&name)
        .into_iter()
        .map(|n| path.with_file_name(n))
        .find(|p| fs::symlink_metadata(p).is_ok())
}

/// Quick check of the magic and `e_type` (reads 18 bytes): true for ET_DYN/ET_EXEC ELF.
pub fn is_elf(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(inspect::IDENT_AND_TYPE);
    file.take(inspect::IDENT_AND_TYPE as u64)
        .read_to_end(&mut head)
        .is_ok()
        && inspect::ident_ok(&head)
}

/// Whether a file name is a shared object's: `.so`, or a versioned `.so.N` (`libz.so.1`). By
/// name only; the content may still not be ELF (`is_elf` reads it).
pub fn shared_object_name(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.")
}

/// The libraries an ELF file names as `DT_NEEDED` (what the dynamic loader opens with it);
/// empty for anything that is not an ELF file goblin can parse, or not a regular file (never
/// read through a symlink).
pub fn needed_libraries(path: &Path) -> Vec<String> {
    let Ok(bytes) = crate::safepath::read_nofollow(path) else {
        return Vec::new();
    };
    goblin::elf::Elf::parse(&bytes)
        .map(|elf| elf.libraries.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default()
}
