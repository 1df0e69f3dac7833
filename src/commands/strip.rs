//! `venvslim strip FILE...`: the ELF engine on files the user names, in place or as a dry run.

use anyhow::Result;

use super::Status;
use crate::apply::scratch::Scratch;
use crate::{cli, elf, report};

/// `venvslim strip FILE...`: the ELF engine on files named by the user.
pub fn run(args: &cli::StripArgs) -> Result<Status> {
    use rayon::prelude::*;
    let Some(mode) = args.mode.engine() else {
        anyhow::bail!("--mode keep strips nothing\nhint: use --mode unneeded (debug sections and .symtab) or --mode debug");
    };
    let scratch = if args.dry_run {
        Some(Scratch::temp("strip")?)
    } else {
        None
    };
    let results: Vec<(
        std::path::PathBuf,
        std::result::Result<elf::Verdict, String>,
    )> = args
        .files
        .par_iter()
        .enumerate()
        .map(|(n, path)| {
            let verdict = match &scratch {
                Some(dir) => preview_strip(path, &dir.dir.join(n.to_string()), mode),
                None => elf::strip_in_place(path, mode),
            };
            (path.clone(), verdict.map_err(|e| format!("{e:#}")))
        })
        .collect();
    drop(scratch);
    let stdout = std::io::stdout();
    report::strip(stdout.lock(), &results, args.json, args.dry_run)?;
    Ok(if results.iter().any(|(_, r)| r.is_err()) {
        Status::Failures
    } else {
        Status::Ok
    })
}

/// What `strip_in_place` would do, writing the result to a scratch file instead.
fn preview_strip(
    path: &std::path::Path,
    scratch: &std::path::Path,
    mode: elf::Mode,
) -> Result<elf::Verdict> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot stat `{}`: {e}", path.display()))?;
    match elf::in_place_refusal(path, &meta) {
        Some(verdict) => Ok(verdict),
        None => elf::strip_to(path, scratch, mode),
    }
}
