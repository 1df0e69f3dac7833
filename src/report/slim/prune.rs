//! The `--prune` part of slim's report: what the workloads did not use and was cut, per
//! distribution, with bytes (from the plan's actions, so a dry run shows the same figures).

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::cli::PruneLevel;
use crate::plan::Plan;
use crate::report::{group, human, truncate};
use crate::rules::prune::PRUNE_DIST;

/// One cut with what it saves.
#[derive(Serialize)]
pub(super) struct JsonCut {
    path: String,
    rule: &'static str,
    files: u64,
    bytes: u64,
}

/// One distribution's cuts.
#[derive(Serialize)]
pub(super) struct JsonPrunedDist {
    name: String,
    version: String,
    /// The whole distribution went.
    whole: bool,
    files: u64,
    bytes: u64,
    cuts: Vec<JsonCut>,
}

/// `prune` in the JSON report.
#[derive(Serialize)]
pub(super) struct JsonPrune {
    level: PruneLevel,
    files: u64,
    bytes: u64,
    dists: Vec<JsonPrunedDist>,
}

/// What each cut removes, parallel to `plan.cuts`: (files, bytes) of the plan's `--prune`
/// actions, in one pass. An action belongs to its distribution's cut (`prune.dist`), else to
/// the cut at its own path or the nearest directory above it.
fn measure(plan: &Plan) -> Vec<(u64, u64)> {
    let mut by_dist = HashMap::new();
    let mut by_path = HashMap::new();
    for (k, cut) in plan.cuts.iter().enumerate() {
        if std::ptr::eq(cut.rule, &PRUNE_DIST) {
            by_dist.extend(cut.dist.map(|d| (d, k)));
        } else {
            by_path.insert(cut.path.as_path(), k);
        }
    }
    let mut out = vec![(0, 0); plan.cuts.len()];
    for a in &plan.actions {
        if a.rule.category != crate::rules::Category::Prune {
            continue;
        }
        let cut = if std::ptr::eq(a.rule, &PRUNE_DIST) {
            a.dist.and_then(|d| by_dist.get(&d))
        } else {
            plan.path(a).ancestors().find_map(|p| by_path.get(p))
        };
        if let Some(&k) = cut {
            out[k].0 += 1;
            out[k].1 += a.bytes;
        }
    }
    out
}

/// The cuts grouped by distribution, largest first (then by name).
pub(super) fn summary(plan: &Plan) -> Option<JsonPrune> {
    let level = plan.prune?;
    let mut dists: Vec<JsonPrunedDist> = Vec::new();
    for (cut, (files, bytes)) in plan.cuts.iter().zip(measure(plan)) {
        let (name, version) = cut.dist.map_or(("(no distribution)", ""), |d| {
            (plan.dists[d].name.as_str(), plan.dists[d].version.as_str())
        });
        let row = JsonCut {
            path: cut.path.to_string_lossy().into_owned(),
            rule: cut.rule.id,
            files,
            bytes,
        };
        match dists
            .iter_mut()
            .find(|d| d.name == name && d.version == version)
        {
            Some(d) => {
                d.files += files;
                d.bytes += bytes;
                d.whole |= std::ptr::eq(cut.rule, &PRUNE_DIST);
                d.cuts.push(row);
            }
            None => dists.push(JsonPrunedDist {
                name: name.to_string(),
                version: version.to_string(),
                whole: std::ptr::eq(cut.rule, &PRUNE_DIST),
                files,
                bytes,
                cuts: vec![row],
            }),
        }
    }
    for d in &mut dists {
        d.cuts
            .sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    }
    dists.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    Some(JsonPrune {
        level,
        files: dists.iter().map(|d| d.files).sum(),
        bytes: dists.iter().map(|d| d.bytes).sum(),
        dists,
    })
}

impl Report<'_> {
    pub(super) fn text_prune(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(prune) = summary(self.plan) else {
            return Ok(());
        };
        let level = match prune.level {
            PruneLevel::Safe => "safe",
            PruneLevel::Used => "used",
        };
        writeln!(
            out,
            "\n  --prune {level}: {} file(s), {} the workloads did not use, by distribution:",
            group(prune.files),
            human(prune.bytes)
        )?;
        if prune.dists.is_empty() {
            writeln!(
                out,
                "    nothing: the workloads used something of every directory"
            )?;
        }
        let shown = if self.verbose { prune.dists.len() } else { 10 };
        for d in prune.dists.iter().take(shown) {
            let what = if d.whole {
                "the whole distribution".to_string()
            } else {
                let cuts = if self.verbose { d.cuts.len() } else { 3 };
                let mut listed: Vec<String> = d
                    .cuts
                    .iter()
                    .take(cuts)
                    .map(|c| short(&c.path, &self.plan.venv.site_packages))
                    .collect();
                if d.cuts.len() > cuts {
                    listed.push(format!("{} more", d.cuts.len() - cuts));
                }
                listed.join(", ")
            };
            writeln!(
                out,
                "    {:<32}{:>11}  {}",
                truncate(&format!("{} {}", d.name, d.version), 31),
                human(d.bytes),
                what
            )?;
        }
        if prune.dists.len() > shown {
            writeln!(
                out,
                "    ... and {} more (--verbose or --json lists them)",
                prune.dists.len() - shown
            )?;
        }
        Ok(())
    }
}

/// A cut's path relative to site-packages, when inside it.
fn short(path: &str, site_packages: &std::path::Path) -> String {
    std::path::Path::new(path)
        .strip_prefix(site_packages)
        .map_or_else(|_| path.to_string(), |p| p.to_string_lossy().into_owned())
}
