//! Sizes of one tree, the ways people pay for them: apparent bytes (what `du -sb` and a layer's
//! content are), disk usage (blocks: what the builder's and host's disks hold), file count (what
//! `COPY` and a layer extraction pay per file), and tar.gz bytes (what a registry stores and
//! transfers, which is what pull time follows).
//!
//! The tar.gz is computed in-process and only counted, never stored: entries sorted by path,
//! mtimes, owners and groups zeroed, gzip level 6, so the figure depends on the tree's content
//! alone and the same tree gives the same number.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

/// One tree's sizes, each the way one party pays for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sizes {
    /// Regular files' st_size, each inode once.
    pub bytes: u64,
    /// st_blocks * 512 of every entry (files, directories, symlinks), each inode once.
    pub disk_bytes: u64,
    /// Regular files (every path, as `find -type f` counts).
    pub files: u64,
    /// Bytes of `tar | gzip -6` of the tree, deterministic (see the module comment).
    pub tar_gz_bytes: u64,
}

/// Count what is written into it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Walk `root` once (never following a link) and count all four sizes.
pub fn measure(root: &Path) -> Result<Sizes> {
    let mut sizes = Sizes::default();
    let mut tar = tar::Builder::new(GzEncoder::new(Counter(0), Compression::new(6)));
    tar.follow_symlinks(false);
    let mut seen: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for item in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let e = item.with_context(|| format!("cannot walk `{}`", root.display()))?;
        let m = e
            .metadata()
            .with_context(|| format!("cannot stat `{}`", e.path().display()))?;
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap_or(e.path())
            .to_path_buf();
        let first = m.nlink() <= 1 || m.is_dir() || !seen.contains_key(&(m.dev(), m.ino()));
        if first {
            sizes.disk_bytes += m.blocks() * 512;
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(m.mode() & 0o7777);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let ft = m.file_type();
        let result = if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, &rel, io::empty())
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            let target = fs::read_link(e.path())
                .with_context(|| format!("cannot read link `{}`", e.path().display()))?;
            tar.append_link(&mut h, &rel, target)
        } else if ft.is_file() {
            sizes.files += 1;
            if let Some(leader) = (!first).then(|| seen.get(&(m.dev(), m.ino()))).flatten() {
                h.set_entry_type(tar::EntryType::Link);
                tar.append_link(&mut h, &rel, leader)
            } else {
                sizes.bytes += m.len();
                if m.nlink() > 1 {
                    seen.insert((m.dev(), m.ino()), rel.clone());
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(m.len());
                let f = File::open(e.path())
                    .with_context(|| format!("cannot read `{}`", e.path().display()))?;
                tar.append_data(&mut h, &rel, f)
            }
        } else {
            continue; // FIFOs and devices are not in a layer we would compare
        };
        result.with_context(|| format!("cannot archive `{}`", e.path().display()))?;
    }
    let gz = tar.into_inner().context("cannot finish the tar stream")?;
    sizes.tar_gz_bytes = gz.finish().context("cannot finish the gzip stream")?.0;
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardlinks_count_once_and_the_archive_is_deterministic() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("tree");
        fs::create_dir_all(d.join("a")).unwrap();
        fs::write(d.join("a/f"), vec![7u8; 5000]).unwrap();
        fs::hard_link(d.join("a/f"), d.join("g")).unwrap();
        std::os::unix::fs::symlink("a/f", d.join("l")).unwrap();
        let s = measure(&d).unwrap();
        assert_eq!((s.bytes, s.files), (5000, 2));
        assert!(s.tar_gz_bytes > 0 && s.tar_gz_bytes < 5000);
        filetime::set_file_mtime(d.join("a/f"), filetime::FileTime::from_unix_time(1, 0)).unwrap();
        assert_eq!(measure(&d).unwrap().tar_gz_bytes, s.tar_gz_bytes);
    }
}
