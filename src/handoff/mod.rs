//! The hand-off to the final image: what makes the slimmed tree drop straight into a distroless
//! stage whose Python lives elsewhere, that runs as nonroot on a read-only filesystem and has no
//! shell to fix anything. Relocation (`--prefix`, `--python`), licences, the SBOM, reproducible
//! and hardened metadata (mtimes, modes), deduplication and the Dockerfile snippet.
//!
//! This module decides, as data (`HandoffPlan`, part of the `Plan` a dry run prints); `apply/`
//! writes. Its planning pass (`plan`) runs last among the plan's passes, because what it
//! relocates and which licences it gathers depend on what the actions leave: it takes the
//! classification context and each entry's fate (`EntryFate`), never the plan being built. Reading the few text files that may name the venv's path (bin/ scripts, pyvenv.cfg,
//! `share/`, `.pth`) and METADATA headers is the only I/O here.

pub mod dockerfile;
pub mod relocate;
pub mod sbom;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cli::DistInfoMode;
use crate::dists::{header_value, metadata_header};
use crate::inventory::{Inventory, Kind};
use crate::rules::{distinfo, Ctx, Rule};
use crate::safepath::read_nofollow;
use crate::settings::handoff::Options;
use crate::venv::{is_python_link_name, Venv};
use relocate::ScriptChange;

/// A text file rewritten because it names the venv's old path or interpreter.
#[derive(Debug, Clone)]
pub struct TextRewrite {
    /// Relative to the root.
    pub path: PathBuf,
    /// The file's new bytes.
    pub new: Vec<u8>,
    /// What changed, one line each, for the report.
    pub changes: Vec<String>,
}

/// What the plan does to one inventory entry, as far as the hand-off needs to know: the rule of
/// its action, if it has one, and whether it leaves its place (removed, moved away or zipped).
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryFate {
    /// The rule of the entry's action, if it has one.
    pub rule: Option<&'static Rule>,
    /// Whether the entry leaves its place (removed, moved away or zipped).
    pub gone: bool,
}

impl EntryFate {
    fn by(&self, rule: &Rule) -> bool {
        self.rule.is_some_and(|r| std::ptr::eq(r, rule))
    }
}

/// A symlink pointed somewhere else.
#[derive(Debug, Clone)]
pub struct LinkRewrite {
    /// The link, relative to the root.
    pub path: PathBuf,
    /// Where it pointed.
    pub old: PathBuf,
    /// Where it will point.
    pub new: PathBuf,
}

/// What the final image needs from this tree, decided as data: part of the `Plan`, written by
/// apply.
#[derive(Debug, Default)]
pub struct HandoffPlan {
    /// The options, for apply (where the tree will live, mtimes, modes, extra outputs).
    pub opts: Options,
    /// Text files rewritten for the new location or interpreter, sorted by path.
    pub texts: Vec<TextRewrite>,
    /// Links pointed elsewhere, sorted by path.
    pub links: Vec<LinkRewrite>,
    /// What would stop the tree from starting in the final image, for the report.
    pub warnings: Vec<String>,
    /// Licence files to gather: (source relative to the venv root, destination relative to
    /// --licenses-dir).
    pub licenses: Vec<(PathBuf, PathBuf)>,
    /// The SBOM's bytes, and how many distributions it lists.
    pub sbom: Option<(Vec<u8>, usize)>,
}

impl HandoffPlan {
    /// The rewrite of the text file at `rel`, if it has one.
    pub fn text(&self, rel: &Path) -> Option<&TextRewrite> {
        self.texts
            .binary_search_by(|t| t.path.as_path().cmp(rel))
            .ok()
            .map(|i| &self.texts[i])
    }
    /// The new target of the link at `rel`, if it gets one.
    pub fn link(&self, rel: &Path) -> Option<&LinkRewrite> {
        self.links
            .binary_search_by(|l| l.path.as_path().cmp(rel))
            .ok()
            .map(|i| &self.links[i])
    }
}

/// Checks that need the venv: the --python names the venv's Python version, every --keep-bin
/// script exists.
pub fn check(venv: &Venv, inv: &Inventory, opts: &Options) -> Result<()> {
    if let Some(v) = opts.python.as_deref().and_then(relocate::named_version) {
        if v != venv.python.to_string() {
            bail!(
                "--python `{}` is Python {v}, but `{}` is a Python {} venv (its extension modules and bytecode are for {})\nhint: give the final image's python{} (distroless python3-debian12 has /usr/bin/python3.11), or build the venv with the final image's Python version",
                opts.python.as_deref().unwrap_or(Path::new("")).display(),
                venv.root.display(),
                venv.python,
                venv.python,
                venv.python
            );
        }
    }
    pyvenv_cfg_is_a_file(venv, inv, opts)?;
    let bin = venv.bin.clone().unwrap_or_else(|| PathBuf::from("bin"));
    let missing: Vec<&String> = opts
        .keep_bin
        .iter()
        .filter(|n| inv.find(&bin.join(n)).is_none())
        .collect();
    if !missing.is_empty() {
        let have: Vec<&str> = inv
            .entries
            .iter()
            .filter(|e| e.path.parent() == Some(bin.as_path()) && e.kind != Kind::Dir)
            .map(|e| e.name())
            .filter(|n| !is_python_link_name(n) && !n.starts_with("activate"))
            .collect();
        bail!(
            "--keep-bin {}: no such script in `{}`\nhint: scripts there: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            venv.root.join(&bin).display(),
            if have.is_empty() {
                "(none)".to_string()
            } else {
                have.join(", ")
            }
        );
    }
    Ok(())
}

/// `--python`, or a `--prefix` other than where the venv is, rewrites pyvenv.cfg (`home`,
/// `executable`, `command`), through a temporary file renamed over it. A pyvenv.cfg that is a
/// link, a directory or anything but a regular file is never read or replaced through: the run
/// stops before any work rather than ship a tree whose pyvenv.cfg still names the builder.
fn pyvenv_cfg_is_a_file(venv: &Venv, inv: &Inventory, opts: &Options) -> Result<()> {
    let relocates = opts
        .prefix
        .as_ref()
        .is_some_and(|p| !old_roots(venv).contains(&p.as_os_str().as_encoded_bytes().to_vec()));
    if !(opts.python.is_some() || relocates) {
        return Ok(());
    }
    match inv.find(Path::new("pyvenv.cfg")) {
        Some(e) if e.kind != Kind::File => bail!(
            "`{}` is not a regular file ({}), and --prefix/--python must rewrite it; venvslim never writes through a link\nhint: replace it by a regular file (cp --remove-destination \"$(readlink -f pyvenv.cfg)\" pyvenv.cfg), or drop --prefix/--python",
            venv.root.join("pyvenv.cfg").display(),
            match e.kind {
                Kind::Symlink => "a symlink",
                Kind::Dir => "a directory",
                _ => "not a file",
            }
        ),
        _ => Ok(()),
    }
}

/// Decide every hand-off change, once the plan's actions are known: `fates` holds one element
/// per inventory entry; `licences_kept` are the licences that stay in their dist-info because
/// their destination is taken (the plan's `licence_destinations_taken` pass), to warn about.
pub fn plan(ctx: &Ctx, fates: &[EntryFate], licences_kept: &[(PathBuf, PathBuf)]) -> HandoffPlan {
    let opts = &ctx.settings.handoff;
    let dist_info = ctx.settings.dist_info;
    let mut h = HandoffPlan {
        opts: opts.clone(),
        ..HandoffPlan::default()
    };
    relocation(ctx, fates, opts, &mut h);
    let shipped = shipped_dists(ctx, fates, dist_info);
    if opts.licenses_dir.is_some() {
        h.licenses = licence_files(ctx, &shipped, &mut h.warnings);
    }
    let moves_licences =
        dist_info == DistInfoMode::Strip || fates.iter().any(|f| f.by(&distinfo::WHOLE_DIR));
    if opts.licenses_dir.is_some() || moves_licences {
        unsafe_names(ctx, &shipped, &mut h.warnings);
    }
    for (licence, to) in licences_kept {
        h.warnings.push(format!(
            "{}: not moved, `{}` is already in the venv and a licence never overwrites a file; it stays in its dist-info",
            licence.display(),
            to.display()
        ));
    }
    for (e, _) in ctx
        .inv
        .entries
        .iter()
        .zip(fates)
        .filter(|(_, f)| f.by(&distinfo::LINK_OUTSIDE))
    {
        let target = fs::read_link(ctx.venv.root.join(&e.path)).unwrap_or_default();
        h.warnings.push(format!(
            "{}: a licence link to `{}`, outside the tree: not moved, not followed; it goes with its dist-info",
            e.path.display(),
            target.display()
        ));
    }
    if opts.sbom.is_some() {
        for &d in &shipped {
            let dist = &ctx.dists[d];
            if let Err(why) = crate::safepath::dist_dir_name(&dist.name, &dist.version) {
                h.warnings.push(format!(
                    "{}: {why}; it is listed in the SBOM as it says, with its purl percent-encoded",
                    dist.dir.display()
                ));
            }
        }
        let comps: Vec<sbom::Component> = shipped
            .iter()
            .map(|&d| {
                let dist = &ctx.dists[d];
                let meta = read_nofollow(&ctx.venv.root.join(&dist.dir).join("METADATA"))
                    .unwrap_or_default();
                let (header, _) = metadata_header(&meta);
                let header = String::from_utf8_lossy(&header);
                sbom::Component {
                    name: header_value(&header, "Name").unwrap_or_else(|| dist.name.clone()),
                    version: dist.version.clone(),
                    licenses: sbom::licenses_from_header(&header),
                }
            })
            .collect();
        let subject = match &opts.prefix {
            Some(prefix) => prefix.display().to_string(),
            None => ctx
                .venv
                .root
                .file_name()
                .map_or("venv".into(), |n| n.to_string_lossy().into_owned()),
        };
        h.sbom = Some((sbom::render(&subject, &comps, opts.mtime), comps.len()));
    }
    h
}

/// The venv's own paths as text: as given and as resolved (a symlinked /venv).
fn old_roots(venv: &Venv) -> Vec<Vec<u8>> {
    let mut olds = vec![venv.root.as_os_str().as_encoded_bytes().to_vec()];
    if let Some(given) = &venv.given_root {
        olds.push(given.as_os_str().as_encoded_bytes().to_vec());
    }
    olds.sort_by_key(|o| std::cmp::Reverse(o.len()));
    olds.dedup();
    olds
}

fn relocation(ctx: &Ctx, fates: &[EntryFate], opts: &Options, h: &mut HandoffPlan) {
    let olds = old_roots(ctx.venv);
    let new_root = opts
        .prefix
        .as_ref()
        .map(|x| x.as_os_str().as_encoded_bytes().to_vec())
        .filter(|n| !olds.contains(n));
    let bin = ctx.venv.bin.clone();
    let sp = &ctx.venv.site_packages;
    for (e, f) in ctx.inv.entries.iter().zip(fates) {
        if f.gone || f.rule.is_some() {
            continue;
        }
        let in_bin = ctx.venv.in_bin(&e.path);
        if e.kind == Kind::Symlink {
            let Ok(target) = fs::read_link(ctx.venv.root.join(&e.path)) else {
                continue;
            };
            let new = match (&opts.python, in_bin && is_python_link_name(e.name())) {
                (Some(py), true) => Some(py.clone()),
                _ => new_root.as_ref().and_then(|n| {
                    let t = target.as_os_str().as_encoded_bytes();
                    relocate::replace_root(t, &olds, n)
                        .filter(|_| target.is_absolute())
                        .map(|(b, _)| PathBuf::from(String::from_utf8_lossy(&b).into_owned()))
                }),
            };
            if let Some(new) = new.filter(|n| *n != target) {
                h.links.push(LinkRewrite {
                    path: e.path.clone(),
                    old: target,
                    new,
                });
            }
            continue;
        }
        if e.kind != Kind::File {
            continue;
        }
        if e.path == Path::new("pyvenv.cfg") {
            if opts.python.is_none() && new_root.is_none() {
                continue;
            }
            let text = read_nofollow(&ctx.venv.root.join(&e.path)).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            if let Some((new, changes)) = relocate::rewrite_pyvenv_cfg(
                &text,
                opts.python.as_deref(),
                &olds,
                new_root.as_deref(),
            ) {
                h.texts.push(TextRewrite {
                    path: e.path.clone(),
                    new,
                    changes,
                });
            }
            continue;
        }
        let Some(new_root) = &new_root else { continue };
        let outside_sp = sp.as_os_str().is_empty() || !e.path.starts_with(sp);
        let pth = e.path.parent() == Some(sp.as_path())
            && (e.name().ends_with(".pth") || e.name().ends_with(".egg-link"));
        if !(outside_sp && !sp.as_os_str().is_empty() || pth) || e.size > 1 << 20 {
            continue;
        }
        let Ok(text) = read_nofollow(&ctx.venv.root.join(&e.path)) else {
            continue;
        };
        if text.contains(&0) {
            continue;
        }
        if let Some((new, changes)) = relocate::rewrite_script(&text, &olds, new_root) {
            let changes = changes
                .into_iter()
                .map(|c| match c {
                    ScriptChange::Shebang(s) => format!("shebang -> #!{s}"),
                    ScriptChange::Trampoline(s) => format!("sh trampoline -> #!{s}"),
                    ScriptChange::TrampolineKept(s) => {
                        h.warnings.push(format!("{}: the new interpreter path `{s}` needs pip's /bin/sh trampoline, and a distroless image has no /bin/sh\nhint: pick a --prefix without spaces", e.path.display()));
                        format!("sh trampoline kept, interpreter -> {s}")
                    }
                    ScriptChange::Text(n) => format!("{n} other occurrence(s) of the venv's path"),
                })
                .collect();
            h.texts.push(TextRewrite {
                path: e.path.clone(),
                new,
                changes,
            });
        }
    }
    if let (Some(_), None) = (&opts.prefix, &opts.python) {
        interpreter_warning(ctx.venv, h);
    }
    if opts.python.is_some() {
        if let Some(b) = &bin {
            for e in ctx
                .inv
                .entries
                .iter()
                .filter(|e| e.path.parent() == Some(b.as_path()))
            {
                if e.kind == Kind::File && is_python_link_name(e.name()) {
                    h.warnings.push(format!("{} is a copy of the interpreter, not a link (a `--copies` venv); it was left as it is and will not be the final image's Python\nhint: build the venv without --copies", e.path.display()));
                }
            }
        }
    }
}

/// Without --python: say when the venv's interpreter lives where a distroless image has none.
fn interpreter_warning(venv: &Venv, h: &mut HandoffPlan) {
    let root = &venv.root;
    let from_link = venv.bin.as_ref().and_then(|b| {
        relocate::resolve_python_link(&root.join(b).join("python"), |at| fs::read_link(at).ok())
    });
    let (what, interp) = match (from_link, venv.cfg.get("home")) {
        (Some(l), _) => ("bin/python points to", l),
        (None, Some(home)) => ("pyvenv.cfg's home is", PathBuf::from(home)),
        (None, None) => return,
    };
    if let Some(why) = relocate::foreign_interpreter(&interp) {
        h.warnings.push(format!(
            "{what} `{}` ({why}), which a distroless image does not have: the tree will not start there\nhint: pass --python with the final image's interpreter, e.g. --python /usr/bin/python{} for gcr.io/distroless/python3-debian12",
            interp.display(),
            venv.python
        ));
    }
}

/// Distributions the output ships: some file of theirs stays, or (with `--dist-info strip`)
/// their dist-info went by that choice and their code stays.
fn shipped_dists(ctx: &Ctx, fates: &[EntryFate], dist_info: DistInfoMode) -> Vec<usize> {
    let mut kept = vec![false; ctx.dists.len()];
    for (e, f) in ctx.inv.entries.iter().zip(fates) {
        if e.kind == Kind::Dir {
            continue;
        }
        if let Some(d) = ctx.own.owner(&e.path) {
            let stays = !f.gone
                || (dist_info == DistInfoMode::Strip
                    && e.name() == "METADATA"
                    && f.rule
                        .is_some_and(|r| r.category == crate::rules::Category::DistInfo));
            kept[d] |= stays;
        }
    }
    (0..ctx.dists.len()).filter(|&d| kept[d]).collect()
}

/// Say which distributions keep their licences in place because their METADATA name or version
/// cannot be a directory name (`Version: 1.0/../../etc`), or because an earlier dist-info
/// claims the same name and version (`distinfo::licence_dir`).
fn unsafe_names(ctx: &Ctx, shipped: &[usize], warnings: &mut Vec<String>) {
    for &d in shipped {
        let dist = &ctx.dists[d];
        if let Err(why) = distinfo::licence_dir(ctx.dists, d) {
            warnings.push(format!(
                "{}: {why}, so its licence files were not gathered or moved (they stay in the dist-info)\nhint: the venv's metadata is damaged or hostile; reinstall this distribution from a trusted wheel",
                dist.dir.display()
            ));
        }
    }
}

/// Licence files of shipped distributions, from their dist-info in the input: regular files,
/// and links whose target is a regular file in the tree (resolved lexically; the file itself is
/// then read, never the link). A link out of the tree is skipped with a warning.
fn licence_files(
    ctx: &Ctx,
    shipped: &[usize],
    warnings: &mut Vec<String>,
) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for &d in shipped {
        let dist = &ctx.dists[d];
        let Ok(dir_name) = distinfo::licence_dir(ctx.dists, d) else {
            continue; // reported by unsafe_names
        };
        for e in ctx.inv.entries.iter() {
            if !matches!(e.kind, Kind::File | Kind::Symlink) {
                continue;
            }
            let Ok(rest) = e.path.strip_prefix(&dist.dir) else {
                continue;
            };
            let first = rest
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().to_ascii_lowercase());
            let is_licence = match first.as_deref() {
                Some("licenses") | Some("licences") => true,
                Some(_) if rest.components().count() == 1 => {
                    let lower = e.name().to_ascii_lowercase();
                    crate::rules::is_license_name(&lower)
                }
                _ => false,
            };
            if !is_licence {
                continue;
            }
            let src = if e.kind == Kind::Symlink {
                let target = fs::read_link(ctx.venv.root.join(&e.path)).ok();
                let inside = target
                    .as_deref()
                    .and_then(|t| crate::safepath::link_in_tree(&e.path, t))
                    .filter(|t| ctx.inv.find(t).is_some_and(|t| t.kind == Kind::File));
                match inside {
                    Some(t) => t,
                    None => {
                        warnings.push(format!(
                            "{}: a licence link to `{}`, not a file in the tree: skipped (links are never followed)",
                            e.path.display(),
                            target.unwrap_or_default().display()
                        ));
                        continue;
                    }
                }
            } else {
                e.path.clone()
            };
            // Its path inside the dist-info, so `LICENSE` and `licenses/LICENSE` stay two files.
            match crate::safepath::checked_join(Path::new(&dir_name), rest) {
                Ok(dst) => out.push((src, dst)),
                Err(why) => warnings.push(format!("{}: {why}: skipped", e.path.display())),
            }
        }
    }
    out.sort();
    out
}
