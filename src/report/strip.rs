//! The report of `venvslim strip`: one line per file, a total, or JSON.

use std::io::{self, Write};

use super::{change, human};

/// The report of `venvslim strip`.
pub fn strip(
    mut out: impl Write,
    results: &[(std::path::PathBuf, Result<crate::elf::Verdict, String>)],
    json: bool,
    dry_run: bool,
) -> io::Result<()> {
    use crate::elf::Verdict;
    if json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|(p, r)| {
                let mut v = match r {
                    Ok(verdict) => serde_json::to_value(verdict).unwrap_or_default(),
                    Err(e) => serde_json::json!({ "verdict": "failed", "error": e }),
                };
                v["path"] = p.to_string_lossy().into_owned().into();
                v
            })
            .collect();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "dry_run": dry_run, "files": rows }),
        )?;
        return writeln!(out);
    }
    let (mut before_all, mut after_all) = (0u64, 0u64);
    for (p, r) in results {
        let line = match r {
            Ok(Verdict::Stripped { before, after }) => {
                before_all += before;
                after_all += after;
                let verb = if dry_run { "would strip" } else { "stripped" };
                format!(
                    "{verb} {} -> {} ({})",
                    human(*before),
                    human(*after),
                    change(*before, *after)
                )
            }
            Ok(Verdict::NothingToStrip) => "nothing to strip".to_string(),
            Ok(Verdict::NotElf) => "not an ELF shared object or executable: left alone".to_string(),
            Ok(Verdict::Refused { why }) => format!("left untouched: {why}"),
            Err(e) => format!("failed: {e}"),
        };
        writeln!(out, "{}: {line}", p.display())?;
    }
    if results.len() > 1 && before_all > 0 {
        writeln!(
            out,
            "total: {} -> {} ({})",
            human(before_all),
            human(after_all),
            change(before_all, after_all)
        )?;
    }
    Ok(())
}
