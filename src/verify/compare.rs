//! From two probes to a list of what broke, each pinned on a distribution.
//!
//! Only a change is news: a module that already failed in the original (an optional dependency
//! missing, a Windows-only extension) is not the slim tree's fault, so `regressions` reports only
//! what worked before and does not now. One exception is deliberate: a distribution venvslim
//! removes whole (pip, setuptools, wheel) takes its modules, metadata and scripts with it, and
//! that is not a regression as long as nothing of it is left behind; what still needs it fails
//! to import and is reported under its own name. Without an original to compare with,
//! `problems` lists everything that fails.

use std::collections::BTreeSet;

use super::{Outcome, Probe};

/// One thing that broke.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Regression {
    /// "import" | "metadata" | "entry-points" | "script"
    pub kind: &'static str,
    /// Module (dotted), distribution (normalized), entry point group, or bin/ script name.
    pub name: String,
    /// The distribution it belongs to (normalized), when known.
    pub dist: Option<String>,
    /// How it fails in the slim tree, in one line (the error, or what is gone).
    pub error: String,
    /// Distributions whose restoration may repair it (normalized): its own, and the one its
    /// error names (`No module named 'beta.helper'` is beta's loss, not alpha's).
    pub suspects: BTreeSet<String>,
}

fn is_extension(original: &Probe, name: &str) -> bool {
    original.extensions.contains(name)
}

/// What worked in `original` and does not in `slim`, sorted by kind, then name.
pub fn regressions(original: &Probe, slim: &Probe) -> Vec<Regression> {
    let gone = removed_whole(original, slim);
    let covered = |dists: &[String]| !dists.is_empty() && dists.iter().all(|d| gone.contains(d));
    let mut out = Vec::new();
    for (name, _) in original.modules.iter().filter(|(_, o)| o.is_ok()) {
        let dists = owners(original, slim, name);
        let error = match slim.modules.get(name) {
            Some(Outcome::Ok) => continue,
            Some(after) => after.describe(),
            None if covered(&dists) => continue,
            // A pure submodule that is gone was removed on purpose (a docs or tests module);
            // if kept code needed it, that code fails to import and is reported itself. A
            // top-level or extension module that is gone is what an application imports.
            None if name.contains('.') && !is_extension(original, name) => continue,
            // virtualenv's install-time hook, dropped by its rule; no application imports it.
            // Only the hook: the rule removes no distribution's file, so a distribution's own
            // `_virtualenv` that is gone is news.
            None if name == crate::rules::installers::VIRTUALENV_HOOK_MODULE
                && dists.is_empty() =>
            {
                continue
            }
            None => "no longer on disk (not found among the slim tree's modules)".to_string(),
        };
        out.push(regression("import", name, dists.first(), error));
    }
    for (key, before) in original.dists.iter().filter(|(_, d)| d.error.is_none()) {
        let Some(after) = slim.dists.get(key) else {
            if !gone.contains(key) {
                let error = format!(
                    "importlib.metadata finds no distribution `{}` (its *.dist-info is gone)",
                    before.name
                );
                out.push(regression("metadata", key, Some(key), error));
            }
            continue;
        };
        if let Some(error) = &after.error {
            out.push(regression("metadata", key, Some(key), error.clone()));
        }
        for group in before
            .entry_point_groups
            .difference(&after.entry_point_groups)
        {
            let error = format!(
                "entry point group `{group}` of `{}` is gone (entry_points.txt)",
                before.name
            );
            out.push(regression("entry-points", group, Some(key), error));
        }
    }
    for (name, _) in original.scripts.iter().filter(|(_, o)| o.is_ok()) {
        let dist = script_dist(original, slim, name);
        let error = match slim.scripts.get(name) {
            Some(Outcome::Ok) => continue,
            Some(after) => after.describe(),
            None if dist.as_ref().is_some_and(|d| gone.contains(d)) => continue,
            None => "bin/ script is gone or no longer in the console-script form".to_string(),
        };
        out.push(regression("script", name, dist.as_ref(), error));
    }
    add_suspects(&mut out, original, slim);
    out.sort();
    out
}

/// Everything that fails in one tree, with no original to compare with.
pub fn problems(slim: &Probe) -> Vec<Regression> {
    let mut out = Vec::new();
    for (name, outcome) in slim.modules.iter().filter(|(_, o)| !o.is_ok()) {
        let dists = owners(slim, slim, name);
        out.push(regression(
            "import",
            name,
            dists.first(),
            outcome.describe(),
        ));
    }
    for (key, d) in &slim.dists {
        if let Some(error) = &d.error {
            out.push(regression("metadata", key, Some(key), error.clone()));
        }
    }
    for (name, outcome) in slim.scripts.iter().filter(|(_, o)| !o.is_ok()) {
        let dist = script_dist(slim, slim, name);
        out.push(regression(
            "script",
            name,
            dist.as_ref(),
            outcome.describe(),
        ));
    }
    add_suspects(&mut out, slim, slim);
    out.sort();
    out
}

/// Its own distribution, and the distribution its error message points at.
fn add_suspects(regressions: &mut [Regression], original: &Probe, slim: &Probe) {
    for r in regressions {
        r.suspects.extend(r.dist.iter().cloned());
        if let Some(module) = named_module(&r.error) {
            r.suspects.extend(owners(original, slim, &module));
        }
        if let Some(dist) = named_dist(&r.error) {
            if original.dists.contains_key(&dist) {
                r.suspects.insert(dist);
            }
        }
    }
}

/// The module an import error names: `No module named 'a.b'`, `cannot import name 'x' from 'a.b'`,
/// or a path below site-packages (`No such file or directory: '.../site-packages/a/data.json'`).
fn named_module(error: &str) -> Option<String> {
    let quoted_after = |marker: &str| {
        let rest = &error[error.find(marker)? + marker.len()..];
        let rest = rest.strip_prefix('\'').or_else(|| rest.strip_prefix('"'))?;
        Some(rest[..rest.find(['\'', '"'])?].to_string())
    };
    if let Some(m) = quoted_after("No module named ").or_else(|| quoted_after("' from ")) {
        return Some(m);
    }
    let rest = &error[error.find("site-packages/")? + "site-packages/".len()..];
    // A path inside the `--zip-pure` archive names the module after the archive's name.
    let archive = format!("{}/", crate::archive::ARCHIVE);
    let rest = rest.strip_prefix(archive.as_str()).unwrap_or(rest);
    let first: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!first.is_empty()).then_some(first)
}

/// The distribution a metadata error names: `No package metadata was found for X`.
fn named_dist(error: &str) -> Option<String> {
    let marker = "No package metadata was found for ";
    let name = error[error.find(marker)? + marker.len()..].trim();
    Some(crate::dists::normalize_name(name))
}

/// Distributions the slim tree dropped entirely: no metadata and none of their modules left.
fn removed_whole(original: &Probe, slim: &Probe) -> BTreeSet<String> {
    let still_there: BTreeSet<&String> = slim
        .modules
        .keys()
        .filter_map(|m| original.module_dists.get(m))
        .flatten()
        .collect();
    original
        .dists
        .keys()
        .filter(|d| !slim.dists.contains_key(*d) && !still_there.contains(d))
        .cloned()
        .collect()
}

/// Who owns a module: the most precise mapping (its own file in RECORD), from the original
/// tree first (the slim tree's RECORD may be gone).
fn owners(original: &Probe, slim: &Probe, module: &str) -> Vec<String> {
    let top = module.split('.').next().unwrap_or(module);
    [module, top]
        .iter()
        .find_map(|m| {
            original
                .module_dists
                .get(*m)
                .or_else(|| slim.module_dists.get(*m))
        })
        .cloned()
        .unwrap_or_default()
}

fn script_dist(original: &Probe, slim: &Probe, script: &str) -> Option<String> {
    let target = [original, slim]
        .iter()
        .find_map(|p| p.script_targets.get(script))?;
    target
        .dist
        .clone()
        .or_else(|| owners(original, slim, &target.module).into_iter().next())
}

fn regression(kind: &'static str, name: &str, dist: Option<&String>, error: String) -> Regression {
    Regression {
        kind,
        name: name.to_string(),
        dist: dist.cloned(),
        error,
        suspects: BTreeSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{DistProbe, ScriptTarget};
    use super::*;

    fn dist(name: &str, groups: &[&str]) -> DistProbe {
        DistProbe {
            name: name.into(),
            version: Some("1.0".into()),
            entry_point_groups: groups.iter().map(|g| g.to_string()).collect(),
            error: None,
        }
    }

    fn probe(modules: &[(&str, Outcome)], dists: &[(&str, DistProbe)]) -> Probe {
        Probe {
            python: "cpython 3.11.7".into(),
            read_only: false,
            modules: modules
                .iter()
                .map(|(n, o)| (n.to_string(), o.clone()))
                .collect(),
            dists: dists
                .iter()
                .map(|(n, d)| (n.to_string(), d.clone()))
                .collect(),
            scripts: BTreeMap::new(),
            module_dists: [("alpha", "alpha"), ("pip", "pip"), ("beta", "beta")]
                .iter()
                .map(|(m, d)| (m.to_string(), vec![d.to_string()]))
                .collect(),
            script_targets: BTreeMap::new(),
            extensions: ["alpha._speedups".to_string()].into(),
        }
    }

    fn failed(e: &str) -> Outcome {
        Outcome::Failed { error: e.into() }
    }

    #[test]
    fn same_probe_has_no_regressions() {
        let p = probe(
            &[("alpha", Outcome::Ok), ("beta", failed("ImportError: x"))],
            &[("alpha", dist("alpha", &["console_scripts"]))],
        );
        assert!(regressions(&p, &p).is_empty());
        assert_eq!(problems(&p).len(), 1);
        assert_eq!(problems(&p)[0].dist.as_deref(), Some("beta"));
    }

    #[test]
    fn only_what_worked_before_counts() {
        let before = probe(
            &[("alpha", Outcome::Ok), ("beta", failed("ImportError: x"))],
            &[(
                "alpha",
                dist("alpha", &["console_scripts", "alpha.plugins"]),
            )],
        );
        let after = probe(
            &[
                ("alpha", Outcome::TimedOut),
                ("beta", failed("ImportError: y")),
            ],
            &[("alpha", dist("alpha", &["console_scripts"]))],
        );
        let r = regressions(&before, &after);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            (r[0].kind, r[0].name.as_str()),
            ("entry-points", "alpha.plugins")
        );
        assert_eq!((r[1].kind, r[1].dist.as_deref()), ("import", Some("alpha")));
    }

    #[test]
    fn suspects_follow_the_error_to_the_distribution_that_lost_the_file() {
        let before = probe(
            &[("alpha", Outcome::Ok), ("beta", Outcome::Ok)],
            &[("alpha", dist("alpha", &[])), ("beta", dist("beta", &[]))],
        );
        for error in [
            "ModuleNotFoundError: No module named 'beta.helper'",
            "ImportError: cannot import name 'helper' from 'beta' (/v/site-packages/beta/__init__.py)",
            "FileNotFoundError: [Errno 2] No such file or directory: '/v/lib/python3.11/site-packages/beta/data.json'",
            "PackageNotFoundError: No package metadata was found for Beta",
        ] {
            let after = probe(
                &[("alpha", failed(error)), ("beta", Outcome::Ok)],
                &[("alpha", dist("alpha", &[])), ("beta", dist("beta", &[]))],
            );
            let r = regressions(&before, &after);
            assert_eq!(r.len(), 1, "{r:?}");
            let want: BTreeSet<String> = ["alpha".to_string(), "beta".to_string()].into();
            assert_eq!(r[0].suspects, want, "{error}");
        }
    }

    #[test]
    fn virtualenvs_hook_gone_is_no_regression_but_a_distributions_module_of_that_name_is() {
        let hook = crate::rules::installers::VIRTUALENV_HOOK_MODULE;
        let dists = [("alpha", dist("alpha", &[]))];
        let before = probe(&[("alpha", Outcome::Ok), (hook, Outcome::Ok)], &dists);
        let after = probe(&[("alpha", Outcome::Ok)], &dists);
        assert!(regressions(&before, &after).is_empty());
        // The same name, listed in alpha's RECORD (alpha stays): its loss is reported.
        let mut owned = before.clone();
        owned.module_dists.insert(hook.into(), vec!["alpha".into()]);
        let r = regressions(&owned, &after);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (r[0].name.as_str(), r[0].dist.as_deref()),
            (hook, Some("alpha"))
        );
    }

    #[test]
    fn a_distribution_removed_whole_is_not_a_regression_but_a_half_one_is() {
        let mut before = probe(
            &[("alpha", Outcome::Ok), ("pip", Outcome::Ok)],
            &[("alpha", dist("alpha", &[])), ("pip", dist("pip", &[]))],
        );
        before.scripts.insert("pip".into(), Outcome::Ok);
        before.script_targets.insert(
            "pip".into(),
            ScriptTarget {
                module: "pip._internal.cli.main".into(),
                attr: "main".into(),
                dist: Some("pip".into()),
            },
        );
        let after = probe(&[("alpha", Outcome::Ok)], &[]);
        let r = regressions(&before, &after);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!((r[0].kind, r[0].name.as_str()), ("metadata", "alpha"));
    }

    #[test]
    fn a_removed_pure_submodule_is_not_a_regression_but_a_removed_extension_or_top_level_is() {
        let ok = |n: &'static str| (n, Outcome::Ok);
        let original = probe(
            &[
                ok("alpha"),
                ok("alpha.doc"),
                ok("alpha._speedups"),
                ok("beta"),
            ],
            &[],
        );
        let slim = probe(&[ok("alpha")], &[]);
        let names: Vec<String> = regressions(&original, &slim)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(
            names,
            vec!["alpha._speedups".to_string(), "beta".to_string()]
        );
    }
}
