//! The hand-off part of the report: every relocation rewrite, the licences, the SBOM, modes,
//! mtimes and dedupe, and the warnings about a final image the tree would not start in. Printed
//! only when there is something to say, so a plain run's report is unchanged.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::Report;
use crate::report::{group, human};

impl Report<'_> {
    fn handoff_active(&self) -> bool {
        let h = &self.plan.handoff;
        let o = &h.opts;
        !h.texts.is_empty()
            || !h.links.is_empty()
            || !h.warnings.is_empty()
            || o.prefix.is_some()
            || o.python.is_some()
            || o.licenses_dir.is_some()
            || o.sbom.is_some()
            || o.mtime.is_some()
            || o.chmod.is_some()
            || o.dedupe
            || self.outcome.is_some_and(|x| x.handoff.modes_changed > 0)
    }

    pub(super) fn handoff_json(&self) -> Option<Value> {
        if !self.handoff_active() {
            return None;
        }
        let h = &self.plan.handoff;
        let o = &h.opts;
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let done = self.outcome.map(|x| &x.handoff);
        Some(json!({
            "prefix": o.prefix.as_deref().map(path),
            "python": o.python.as_deref().map(path),
            "rewrites": h.texts.iter().map(|t| json!({"path": path(&t.path), "changes": t.changes})).collect::<Vec<_>>(),
            "links": h.links.iter().map(|l| json!({"path": path(&l.path), "from": path(&l.old), "to": path(&l.new)})).collect::<Vec<_>>(),
            "warnings": self.handoff_warnings(),
            "licenses": o.licenses_dir.as_deref().map(|d| json!({
                "dir": path(d),
                "files": done.map_or(h.licenses.len(), |x| x.licenses),
                "paths": match done {
                    Some(x) => x.license_paths.iter().map(|p| path(p)).collect::<Vec<_>>(),
                    None => h.licenses.iter().map(|(_, p)| path(p)).collect(),
                },
            })),
            "sbom": o.sbom.as_deref().map(|f| json!({
                "file": path(f),
                "components": h.sbom.as_ref().map_or(0, |s| s.1),
            })),
            "mtime": o.mtime,
            "mtimes_set": done.map(|x| x.mtimes_set),
            "modes_changed": done.map(|x| x.modes_changed),
            "dedupe": done.and_then(|x| x.dedupe.clone()),
        }))
    }

    /// The plan's hand-off warnings, then what the run could not write (a licence whose path
    /// was taken).
    fn handoff_warnings(&self) -> Vec<String> {
        let mut w = self.plan.handoff.warnings.clone();
        if let Some(x) = self.outcome {
            w.extend(x.handoff.not_written.iter().cloned());
        }
        w
    }

    pub(super) fn text_handoff(&self, out: &mut impl Write) -> io::Result<()> {
        if !self.handoff_active() {
            return Ok(());
        }
        let h = &self.plan.handoff;
        let o = &h.opts;
        let verb = if self.dry_run {
            "would rewrite"
        } else {
            "rewrote"
        };
        // Without --prefix the tree must live where the venv is (its scripts and bytecode say so).
        let place = o.prefix.as_ref().unwrap_or(&self.plan.venv.root);
        let place = format!(" at {}", place.display());
        let py = o
            .python
            .as_ref()
            .map_or(String::new(), |p| format!(", Python {}", p.display()));
        writeln!(out, "\n  hand-off: the tree will live{place}{py}")?;
        for t in &h.texts {
            writeln!(
                out,
                "    {verb} {}: {}",
                t.path.display(),
                t.changes.join("; ")
            )?;
        }
        for l in &h.links {
            writeln!(
                out,
                "    link {} -> {} (was {})",
                l.path.display(),
                l.new.display(),
                l.old.display()
            )?;
        }
        if let Some(d) = &o.licenses_dir {
            let n = self
                .outcome
                .map_or(h.licenses.len(), |x| x.handoff.licenses);
            writeln!(
                out,
                "    licences: {} file(s) into {}",
                group(n as u64),
                d.display()
            )?;
        }
        if let (Some(f), Some((_, n))) = (&o.sbom, &h.sbom) {
            writeln!(
                out,
                "    SBOM (CycloneDX 1.5): {} distribution(s) -> {}",
                group(*n as u64),
                f.display()
            )?;
        }
        if let Some(done) = self.outcome.map(|x| &x.handoff) {
            if done.modes_changed > 0 || o.chmod.is_some() {
                writeln!(out, "    permissions: {} entr(y/ies) changed (no group/other write, no setuid/setgid{})", group(done.modes_changed), if o.chmod.is_some() { ", --chmod" } else { "" })?;
            }
            if let Some(t) = o.mtime {
                writeln!(
                    out,
                    "    mtimes: {} entries set to {t}",
                    group(done.mtimes_set)
                )?;
            }
            if let Some(d) = &done.dedupe {
                writeln!(
                    out,
                    "    dedupe: {} file(s) hardlinked in {} group(s), {} saved",
                    group(d.linked),
                    group(d.groups),
                    human(d.saved_bytes)
                )?;
            }
        }
        for w in &self.handoff_warnings() {
            let mut lines = w.lines();
            if let Some(first) = lines.next() {
                writeln!(out, "  warning: {first}")?;
            }
            for l in lines {
                writeln!(out, "    {l}")?;
            }
        }
        Ok(())
    }
}
