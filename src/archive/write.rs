//! Write the archive: same input, same bytes. Into a file apply has created (apply/zip.rs, a
//! temporary file it renames into place): this module encodes, it never creates or replaces a
//! file.
//!
//! Entries are sorted by name; every directory gets its own entry (zipimport finds a PEP 420
//! namespace portion such as `opentelemetry/` only through one, before Python 3.14); every entry
//! has the zip epoch as its timestamp (1980-01-01 00:00, the DOS minimum: zip timestamps are
//! local time without a zone, so any other value reads differently under another `TZ`) and fixed
//! permissions (0644 files, 0755 directories); file data is deflated (zipimport reads only stored
//! and deflate). No extra fields, no comment.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// One archive entry's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Read from this file when writing.
    File(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

/// A file to put in the archive under `name` (`/`-separated, relative to the archive's root).
#[derive(Debug, Clone)]
pub struct Member {
    /// The entry name.
    pub name: String,
    /// What the entry holds.
    pub content: Content,
}

fn options(dir: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(if dir {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        })
        .last_modified_time(DateTime::default())
        .unix_permissions(if dir { 0o755 } else { 0o644 })
}

/// Every ancestor directory of `names`, `/`-terminated.
fn directories<'a>(names: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for name in names {
        let mut end = 0;
        while let Some(i) = name[end..].find('/') {
            end += i + 1;
            dirs.insert(name[..end].to_string());
        }
    }
    dirs
}

/// Write `members` and a directory entry for each of their ancestors to `out`, the new file
/// `dest` (named in errors), sorted by name. Returns the number of entries written. A name given
/// twice keeps its last member.
pub fn write_archive(out: File, dest: &Path, members: Vec<Member>) -> Result<usize> {
    let (mut inner, entries) = encode(BufWriter::new(out), dest, members)?;
    inner
        .flush()
        .with_context(|| format!("cannot write `{}`", dest.display()))?;
    Ok(entries)
}

/// The size in bytes of the archive `write_archive` would write from `members`: the same
/// encoding into a sink that only counts, so nothing is written (`--budget` estimates what
/// `--zip-pure` would save with it). Errors name `what`, the archive it stands for.
pub fn archive_size(what: &Path, members: Vec<Member>) -> Result<u64> {
    encode(Counter::default(), what, members).map(|(c, _)| c.len)
}

/// A writer that keeps only its length: where it is, and how far it was ever written.
#[derive(Default)]
struct Counter {
    pos: u64,
    len: u64,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Counter {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// Encode `members` (sorted, with their directories) into `out`; returns it and the number of
/// entries.
fn encode<W: Write + Seek>(out: W, dest: &Path, members: Vec<Member>) -> Result<(W, usize)> {
    let files: BTreeMap<String, Content> =
        members.into_iter().map(|m| (m.name, m.content)).collect();
    let dirs = directories(files.keys().map(String::as_str));
    let mut all: Vec<(&str, Option<&Content>)> = dirs.iter().map(|d| (d.as_str(), None)).collect();
    all.extend(files.iter().map(|(n, c)| (n.as_str(), Some(c))));
    all.sort_by(|a, b| a.0.cmp(b.0));
    let mut zip = ZipWriter::new(out);
    for (name, content) in &all {
        let result = match content {
            None => zip
                .add_directory(*name, options(true))
                .map_err(anyhow::Error::from),
            Some(c) => zip
                .start_file(*name, options(false))
                .map_err(anyhow::Error::from)
                .and_then(|()| match c {
                    Content::Bytes(b) => zip.write_all(b).map_err(anyhow::Error::from),
                    Content::File(p) => File::open(p)
                        .and_then(|mut f| std::io::copy(&mut f, &mut zip).map(drop))
                        .with_context(|| format!("cannot read `{}`", p.display())),
                }),
        };
        result.with_context(|| format!("cannot add `{name}` to `{}`", dest.display()))?;
    }
    let inner = zip
        .finish()
        .with_context(|| format!("cannot finish `{}`", dest.display()))?;
    Ok((inner, all.len()))
}

/// The entry names of an archive, in order.
pub fn read_names(archive: &Path) -> Result<Vec<String>> {
    let file =
        File::open(archive).with_context(|| format!("cannot open `{}`", archive.display()))?;
    let zip =
        ZipArchive::new(file).with_context(|| format!("`{}` is not a zip", archive.display()))?;
    Ok(zip.file_names().map(str::to_string).collect::<Vec<_>>()).map(|mut v| {
        // file_names() follows the central directory's hash order, not the file's.
        v.sort();
        v
    })
}

/// Copy the archive `src` to `out`, the new file `dest` (named in errors), without the files
/// `drop` says, and without the directories left empty; entries are copied byte for byte
/// (compressed data, timestamps) in their order. Returns the number of entries written.
pub fn rebuild_without(
    src: &Path,
    out: File,
    dest: &Path,
    drop: &dyn Fn(&str) -> bool,
) -> Result<usize> {
    let file = File::open(src).with_context(|| format!("cannot open `{}`", src.display()))?;
    let mut zip =
        ZipArchive::new(file).with_context(|| format!("`{}` is not a zip", src.display()))?;
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.name_for_index(i).unwrap_or_default().to_string())
        .collect();
    let kept_files: Vec<&str> = names
        .iter()
        .filter(|n| !n.ends_with('/') && !drop(n))
        .map(String::as_str)
        .collect();
    let dirs = directories(kept_files.iter().copied());
    let keep = |n: &str| {
        if n.ends_with('/') {
            dirs.contains(n)
        } else {
            !drop(n)
        }
    };
    let mut w = ZipWriter::new(BufWriter::new(out));
    let mut written = 0;
    for (i, name) in names.iter().enumerate() {
        if !keep(name) {
            continue;
        }
        if name.ends_with('/') {
            // Written anew: a raw copy would lose the directory bit of its mode.
            w.add_directory(name.as_str(), options(true))
                .with_context(|| format!("cannot add `{name}` to `{}`", dest.display()))?;
            written += 1;
            continue;
        }
        let entry = zip
            .by_index_raw(i)
            .with_context(|| format!("cannot read `{name}` in `{}`", src.display()))?;
        w.raw_copy_file(entry)
            .with_context(|| format!("cannot copy `{name}` to `{}`", dest.display()))?;
        written += 1;
    }
    let mut inner = w
        .finish()
        .with_context(|| format!("cannot finish `{}`", dest.display()))?;
    inner
        .flush()
        .with_context(|| format!("cannot write `{}`", dest.display()))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(p: &Path) -> File {
        File::create(p).unwrap()
    }

    fn members(dir: &Path) -> Vec<Member> {
        std::fs::write(dir.join("src.py"), "x = 1\n").unwrap();
        vec![
            Member {
                name: "ns/pkg/mod.py".into(),
                content: Content::File(dir.join("src.py")),
            },
            Member {
                name: "ns/pkg/__init__.py".into(),
                content: Content::Bytes(Vec::new()),
            },
            Member {
                name: "top.py".into(),
                content: Content::Bytes(b"y = 2\n".to_vec()),
            },
        ]
    }

    /// `--budget`'s estimate of the archive is the archive's exact length, given the same
    /// members.
    #[test]
    fn archive_size_is_the_written_length() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a.zip");
        let mut big = members(t.path());
        big.push(Member {
            name: "pkg/data.txt".into(),
            content: Content::Bytes(b"venvslim ".repeat(5000)),
        });
        write_archive(create(&a), &a, big.clone()).unwrap();
        let written = std::fs::metadata(&a).unwrap().len();
        assert_eq!(archive_size(&a, big).unwrap(), written);
        assert!(written < 5000, "deflated: {written}");
    }

    #[test]
    fn sorted_with_explicit_directories_and_fixed_metadata() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a.zip");
        assert_eq!(write_archive(create(&a), &a, members(t.path())).unwrap(), 5);
        let mut zip = ZipArchive::new(File::open(&a).unwrap()).unwrap();
        let names: Vec<String> = (0..zip.len())
            .map(|i| zip.name_for_index(i).unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "ns/",
                "ns/pkg/",
                "ns/pkg/__init__.py",
                "ns/pkg/mod.py",
                "top.py"
            ]
        );
        for i in 0..zip.len() {
            let f = zip.by_index(i).unwrap();
            let t = f.last_modified().unwrap();
            assert_eq!(
                (t.year(), t.month(), t.day(), t.hour(), t.minute()),
                (1980, 1, 1, 0, 0)
            );
            let want = if f.is_dir() { 0o755 } else { 0o644 };
            assert_eq!(f.unix_mode().unwrap() & 0o777, want, "{}", f.name());
            assert!(f.extra_data().is_none_or(|e| e.is_empty()), "{}", f.name());
        }
        let mut body = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("ns/pkg/mod.py").unwrap(), &mut body)
            .unwrap();
        assert_eq!(body, "x = 1\n");
    }

    #[test]
    fn same_input_same_bytes_whatever_the_order_or_mtime() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a.zip"), t.path().join("b.zip"));
        write_archive(create(&a), &a, members(t.path())).unwrap();
        let mut m = members(t.path());
        m.reverse();
        let src = t.path().join("src.py");
        let f = File::options().write(true).open(&src).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000))
            .unwrap();
        write_archive(create(&b), &b, m).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }

    #[test]
    fn rebuild_drops_files_and_emptied_directories() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a.zip"), t.path().join("b.zip"));
        write_archive(create(&a), &a, members(t.path())).unwrap();
        let n = rebuild_without(&a, create(&b), &b, &|n: &str| n.starts_with("ns/")).unwrap();
        assert_eq!(n, 1);
        assert_eq!(read_names(&b).unwrap(), ["top.py"]);
        // Dropping nothing copies every entry byte for byte.
        let c = t.path().join("c.zip");
        rebuild_without(&a, create(&c), &c, &|_: &str| false).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    }
}
