//! Where the bytes are after slimming (`breakdown.rs` counts them): the biggest distributions
//! and the kinds of file, each with its share of the kept bytes and a bar of that share, so the
//! eye finds the few that matter before reading a number.

use std::io::{self, Write};

use super::Report;
use crate::breakdown::Basis;
use crate::report::{human, truncate};

/// How many distributions the text lists without `--verbose`.
const SHOWN: usize = 10;
/// The width of a bar at 100%.
const BAR: usize = 30;

impl Report<'_> {
    pub(super) fn text_breakdown(&self, out: &mut impl Write) -> io::Result<()> {
        let b = self.breakdown;
        if b.total_bytes == 0 {
            return Ok(());
        }
        let head = if b.basis.measured {
            "left after slimming"
        } else {
            "left after slimming (estimated)"
        };
        writeln!(out, "\n  {head:<34}{:>11}  {:>6}", "size", "share")?;
        let (top, rest, others) = b.top(if self.verbose { usize::MAX } else { SHOWN });
        for d in top {
            row(out, &d.label(), d.bytes, b.total_bytes)?;
        }
        if others > 0 {
            row(out, &format!("{others} others"), rest, b.total_bytes)?;
        }
        writeln!(out, "  by kind of file")?;
        for k in &b.kinds {
            row(out, k.kind.label(), k.bytes, b.total_bytes)?;
        }
        writeln!(out, "  {:<34}{:>11}", "total", human(b.total_bytes))?;
        writeln!(out, "  ({})", basis(&b.basis))
    }
}

/// One line: name, size, share, bar.
fn row(out: &mut impl Write, name: &str, bytes: u64, total: u64) -> io::Result<()> {
    let share = bytes as f64 / total.max(1) as f64;
    writeln!(
        out,
        "  {:<34}{:>11}  {:>5.1}%  {}",
        truncate(name, 33),
        human(bytes),
        100.0 * share,
        bar(share)
    )
}

/// `share` (0 to 1) as a bar of full blocks; a thin one for a share under one block.
fn bar(share: f64) -> String {
    let cells = (share * BAR as f64).round() as usize;
    match cells {
        0 if share > 0.0 => "▏".to_string(),
        n => "█".repeat(n.min(BAR)),
    }
}

/// What the figures are made of, in a phrase.
fn basis(b: &Basis) -> String {
    let mut parts = Vec::new();
    if b.measured {
        parts.push("bytecode and ELF files as written".to_string());
    } else {
        parts.push("from the plan: bytecode at the size of pip's pycs".to_string());
        if b.sources_without_pyc > 0 {
            parts.push(format!(
                "{} source(s) without one counted as 0",
                b.sources_without_pyc
            ));
        }
        if b.elf_saved_bytes > 0 {
            parts.push("ELF files as stripping plans them".to_string());
        }
    }
    if b.zipped_files > 0 {
        parts.push(format!("{} zipped file(s) uncompressed", b.zipped_files));
    }
    parts.push("--treemap FILE draws it".to_string());
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional() {
        assert_eq!(bar(1.0), "█".repeat(BAR));
        assert_eq!(bar(0.5).chars().count(), BAR / 2);
        assert_eq!(bar(0.001), "▏");
        assert_eq!(bar(0.0), "");
    }
}
