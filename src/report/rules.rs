//! The rule table, for `venvslim rules`.

use std::io::{self, Write};

use crate::rules::Rule;

/// The rule table, for `venvslim rules`.
pub fn rules(mut out: impl Write, rules: &[&Rule]) -> io::Result<()> {
    for r in rules {
        writeln!(out, "{}  [{}]", r.id, r.category.label())?;
        writeln!(out, "    why:      {}", r.reason)?;
        writeln!(out, "    evidence: {}", r.evidence)?;
    }
    Ok(())
}
