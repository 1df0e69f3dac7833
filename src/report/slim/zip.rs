//! The `--zip-pure` part of the report: what went into the archive, what stayed on disk and
//! the evidence why, the archive as written, and the `PYTHONPATH` line for images that bypass
//! site.

use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::apply::ZipOutcome;
use crate::archive::{Refusal, TopLevel, ZipDist};
use crate::report::{group, human};

#[derive(Serialize)]
pub(super) struct JsonZip<'a> {
    archive: String,
    pth: String,
    /// For images that bypass site: `PYTHONPATH=<this>` (null when nothing is zipped).
    pythonpath: Option<&'a str>,
    sourceless: bool,
    /// Entries the plan expects at most.
    planned_entries: usize,
    dists: &'a [ZipDist],
    refused: &'a [Refusal],
    /// Written for zipped distributions without one (packages_distributions() reads it).
    top_level_written: &'a [TopLevel],
    /// RECORD of a zipped distribution lists only what is left on disk.
    record: &'static str,
    /// Every file moved into the archive (relative to the venv root).
    files: Vec<String>,
    /// After a real run: the archive as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<&'a ZipOutcome>,
}

const RECORD_NOTE: &str = "RECORD of a zipped distribution lists only the files left on disk (dist-info, bin/ scripts); the zipped files are not listed";

impl Report<'_> {
    pub(super) fn zip_json(&self) -> Option<JsonZip<'_>> {
        let z = self.plan.zip.as_ref()?;
        Some(JsonZip {
            archive: z.archive.to_string_lossy().into_owned(),
            pth: z.pth.to_string_lossy().into_owned(),
            pythonpath: (!z.dists.is_empty()).then_some(z.pythonpath.as_str()),
            sourceless: z.sourceless,
            planned_entries: z.entries,
            dists: &z.dists,
            refused: &z.refused,
            top_level_written: &z.top_level,
            record: RECORD_NOTE,
            files: z
                .members
                .iter()
                .map(|&i| self.plan.inv.entries[i].path.to_string_lossy().into_owned())
                .collect(),
            written: self.outcome.and_then(|o| o.zip.as_ref()),
        })
    }

    pub(super) fn text_zip(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(z) = self.plan.zip.as_ref() else {
            return Ok(());
        };
        if z.dists.is_empty() {
            writeln!(
                out,
                "\n  zip: no distribution can be zipped; nothing written"
            )?;
        }
        let files: u64 = z.dists.iter().map(|d| d.files).sum();
        let bytes: u64 = z.dists.iter().map(|d| d.bytes).sum();
        let verb = if self.outcome.is_some() {
            "zipped"
        } else {
            "will zip"
        };
        if !z.dists.is_empty() {
            writeln!(
                out,
                "\n  {verb} {} distributions, {} files ({}) -> {}",
                group(z.dists.len() as u64),
                group(files),
                human(bytes),
                z.archive.display()
            )?;
        }
        if let Some(w) = self.outcome.and_then(|o| o.zip.as_ref()) {
            writeln!(
                out,
                "    archive: {}, {} entries, {} unchecked-hash pycs compiled into it{}",
                human(w.archive_bytes),
                group(w.entries as u64),
                group(w.compiled as u64),
                if z.sourceless { " (no sources)" } else { "" }
            )?;
        }
        if self.verbose {
            for d in &z.dists {
                writeln!(
                    out,
                    "    {} {}: {} files, {}",
                    d.name,
                    d.version,
                    group(d.files),
                    human(d.bytes)
                )?;
            }
        }
        if !z.refused.is_empty() {
            writeln!(out, "  {} distributions stay on disk:", z.refused.len())?;
            for r in &z.refused {
                let shown = if self.verbose { r.reasons.len() } else { 1 };
                for (k, e) in r.reasons.iter().take(shown).enumerate() {
                    let who = if k == 0 {
                        format!("{} {}", r.name, r.version)
                    } else {
                        String::new()
                    };
                    writeln!(out, "    {:<30} {}", who, e.describe())?;
                }
                if r.reasons.len() > shown {
                    writeln!(
                        out,
                        "    {:<30} ... and {} more (--verbose or --json lists them)",
                        "",
                        r.reasons.len() - shown
                    )?;
                }
            }
        }
        if z.dists.is_empty() {
            return Ok(());
        }
        writeln!(out, "  {RECORD_NOTE}")?;
        if !z.top_level.is_empty() {
            writeln!(
                out,
                "  wrote top_level.txt for {} zipped distributions without one (importlib.metadata.packages_distributions() inferred it from RECORD)",
                z.top_level.len()
            )?;
        }
        writeln!(out, "  {} puts the archive on sys.path; for images that bypass site (python -S, or PYTHONPATH set to site-packages):", z.pth.display())?;
        writeln!(out, "    PYTHONPATH={}", z.pythonpath)
    }

    pub(super) fn text_unzipped(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(z) = self.outcome.and_then(|o| o.zip.as_ref()) else {
            return Ok(());
        };
        if z.unzipped.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = z.unzipped.iter().map(String::as_str).collect();
        writeln!(
            out,
            "  verify: took {} distribution(s) out of the zip, back onto disk: {}",
            names.len(),
            names.join(", ")
        )
    }
}
