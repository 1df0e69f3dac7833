//! `--zip-pure`, executed: compile the zipped sources, write the archive and its `.pth`, write
//! the `top_level.txt` files the plan asks for, and (in place) remove the zipped files. And the
//! way back for `slim --verify`: take distributions out of the archive again.
//!
//! Each `name.py` gets `name.pyc` beside it in the archive (zipimport never reads
//! `__pycache__/`), compiled by the venv's own interpreter as unchecked-hash, with the path
//! Python will see as its co_filename: `<site-packages where the tree will run>/<archive>/pkg/
//! mod.py`, which is also what zipimport would give a module it compiled from that source. The
//! archive is written to a temporary file beside it and renamed. In place, this runs in the
//! staging tree, and the journal removes the zipped files only once the archive is in place.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::restore::fix_dirs;
use super::{set_meta, Failure, Outcome, Restored, Writer};
use crate::archive::{self, inner_name, pyc_name, Content, Member, TopLevel};
use crate::bytecode::{Interpreter, Job};
use crate::error::at;
use crate::plan::Plan;

/// What the archive step did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ZipOutcome {
    /// Entries in the archive (directories, files, pycs).
    pub entries: usize,
    /// The archive's size on disk.
    pub archive_bytes: u64,
    /// Files moved into it.
    pub files: usize,
    /// `name.pyc` files compiled into it.
    pub compiled: usize,
    /// Distributions `slim --verify` took out of it again (normalized names).
    pub unzipped: BTreeSet<String>,
}

/// Build the archive in `w.dst` from the plan's zip members.
pub(super) fn build(w: &Writer, interp: &Interpreter, outcome: &mut Outcome) -> Result<()> {
    let plan = w.plan;
    let Some(zp) = plan.zip.as_ref().filter(|z| !z.members.is_empty()) else {
        return Ok(());
    };
    let sp = &plan.venv.site_packages;
    let sp_dst = w.dst.join(sp);
    let scratch = sp_dst.join(format!(".venvslim-zip-{}", std::process::id()));
    crate::fault::point("create the archive's scratch directory");
    fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create `{}`", scratch.display()))?;
    let result = (|| -> Result<(usize, usize)> {
        let mut members = Vec::new();
        let mut jobs = Vec::new();
        for &i in &zp.members {
            let rel = &plan.inv.entries[i].path;
            let Some(inner) = inner_name(sp, rel) else {
                continue;
            };
            if inner.ends_with(".py") {
                jobs.push((
                    rel,
                    inner.clone(),
                    Job {
                        src: w.src(rel),
                        cfile: scratch.join(pyc_name(&inner)),
                        dfile: w.final_root.join(&zp.archive).join(&inner),
                    },
                ));
            } else {
                members.push(Member {
                    name: inner,
                    content: Content::File(w.src(rel)),
                });
            }
        }
        let todo: Vec<Job> = jobs.iter().map(|(_, _, j)| j.clone()).collect();
        let mut compiled = 0;
        crate::fault::point("compile the archive's bytecode");
        for ((rel, inner, job), result) in jobs.into_iter().zip(interp.compile(&todo)) {
            let ok = result.is_ok();
            if !ok || !zp.sourceless {
                members.push(Member {
                    name: inner.clone(),
                    content: Content::File(job.src.clone()),
                });
            }
            match result {
                Ok(()) => {
                    compiled += 1;
                    members.push(Member {
                        name: pyc_name(&inner),
                        content: Content::File(job.cfile),
                    });
                }
                Err(error) => outcome.not_compiled.push(Failure {
                    path: rel.clone(),
                    error: error.to_string(),
                }),
            }
        }
        crate::fault::point("write the archive");
        let entries = install(w, &zp.archive, |tmp| {
            archive::write_archive(create(tmp)?, tmp, members)
        })?;
        Ok((entries, compiled))
    })();
    // The scratch directory lies in the tree being written: left there, it would ship.
    let cleaned = fs::remove_dir_all(&scratch).map_err(at("remove", &scratch));
    let (entries, compiled) = result?;
    cleaned?;
    let pth = format!("{}\n", archive::ARCHIVE);
    crate::fault::point("write the archive's .pth");
    install(w, &zp.pth, |tmp| {
        fs::write(tmp, &pth).map_err(anyhow::Error::from)
    })?;
    for t in &zp.top_level {
        write_top_level(w, t);
    }
    outcome.zip = Some(ZipOutcome {
        entries,
        archive_bytes: fs::metadata(w.dst.join(&zp.archive)).map_or(0, |m| m.len()),
        files: zp.members.len(),
        compiled,
        unzipped: BTreeSet::new(),
    });
    Ok(())
}

/// Fill a temporary file beside `rel` (relative to the root) and rename it there: mode 0644,
/// the owner and mtime of site-packages (no clock in the output).
fn install<T>(w: &Writer, rel: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dst = w.dst.join(rel);
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dst.with_file_name(format!(".{name}.venvslim-tmp"));
    let result = fill(&tmp).and_then(|v| {
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))?;
        if let Some(e) = w.plan.inv.find(&w.plan.venv.site_packages) {
            set_meta(&tmp, e)?;
        }
        fs::rename(&tmp, &dst).with_context(|| format!("cannot rename to `{}`", dst.display()))?;
        Ok(v)
    });
    if result.is_err() {
        // Best effort: the failure is returned; the temp file is hidden and replaced by the
        // next write of this path.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A new file for the archive to be written into (`install`'s temporary file).
fn create(path: &Path) -> Result<fs::File> {
    fs::File::create(path).with_context(|| format!("cannot create `{}`", path.display()))
}

/// A new `top_level.txt`, with the mode, owner and mtime of its METADATA.
fn write_top_level(w: &Writer, t: &TopLevel) {
    crate::fault::point("write top_level.txt");
    let metadata = t.path.with_file_name("METADATA");
    let result = match w.plan.inv.find(&metadata) {
        Some(like) => super::write_new(&w.dst.join(&t.path), t.text.as_bytes(), like),
        None => fs::write(w.dst.join(&t.path), &t.text),
    };
    if let Err(err) = result {
        w.fail(&t.path, err);
    }
}

/// `slim --verify`: take the distributions `dists` (indices into `plan.dists`, as `verify`
/// decided) out of the archive in the finished tree `out`: their files are copied back from the
/// input, compiled into `__pycache__` with `interp`, and the archive is rebuilt without them
/// (removed with its `.pth` when nothing is left). Returns what was put back, sorted by path.
/// The caller rewrites RECORD.
pub fn unzip(
    plan: &Plan,
    out: &Path,
    dists: &[usize],
    interp: Option<&Interpreter>,
    outcome: &mut Outcome,
) -> Result<Vec<Restored>> {
    let Some(zp) = plan.zip.as_ref() else {
        return Ok(Vec::new());
    };
    let done = outcome
        .zip
        .as_ref()
        .map(|z| z.unzipped.clone())
        .unwrap_or_default();
    let take: HashSet<usize> = zp
        .dists
        .iter()
        .map(|d| d.dist)
        .filter(|d| dists.contains(d) && !done.contains(&plan.dists[*d].normalized))
        .collect();
    if take.is_empty() {
        return Ok(Vec::new());
    }
    let w = Writer::new(plan, out.to_path_buf(), false, None);
    let sp = &plan.venv.site_packages;
    let mut restored = Vec::new();
    let mut gone = HashSet::new();
    for &i in &zp.members {
        let e = &plan.inv.entries[i];
        let Some(d) = plan.own.owner(&e.path).filter(|d| take.contains(d)) else {
            continue;
        };
        let dst = out.join(&e.path);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        super::replace_file(&dst, e, |tmp| fs::copy(w.src(&e.path), tmp).map(drop_len))
            .with_context(|| format!("cannot restore `{}` from the input", dst.display()))?;
        if let Some(inner) = inner_name(sp, &e.path) {
            gone.insert(pyc_name(&inner));
            gone.insert(inner);
        }
        restored.push((e.path.clone(), plan.dists[d].normalized.clone()));
    }
    fix_dirs(plan, out, restored.iter().map(|(p, _)| p.as_path()))?;
    if let Some(interp) = interp {
        let sources: Vec<PathBuf> = restored
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| p.extension().is_some_and(|x| x == "py"))
            .collect();
        let (compiled, failed) = super::post::compile_sources(&w, interp, &sources, zp.sourceless);
        outcome.compiled.extend(compiled);
        outcome.not_compiled.extend(failed);
    }
    let archive = out.join(&zp.archive);
    let entries = install(&w, &zp.archive, |tmp| {
        archive::rebuild_without(&archive, create(tmp)?, tmp, &|n: &str| gone.contains(n))
    })?;
    if entries == 0 {
        for p in [&zp.archive, &zp.pth] {
            let path = out.join(p);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(at("remove", &path)(e).into());
                }
                _ => {}
            }
        }
    }
    let z = outcome.zip.get_or_insert_with(ZipOutcome::default);
    z.entries = entries;
    z.archive_bytes = fs::metadata(&archive).map_or(0, |m| m.len());
    z.files = z.files.saturating_sub(restored.len());
    z.unzipped
        .extend(take.iter().map(|&d| plan.dists[d].normalized.clone()));
    restored.sort();
    Ok(restored
        .into_iter()
        .map(|(path, dist)| Restored {
            path,
            rule: archive::ZIPPED.id,
            dist,
        })
        .collect())
}

fn drop_len(_: u64) {}
