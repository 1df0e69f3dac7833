//! `*.dist-info`: what the runtime reads from it, and what can go.
//!
//! importlib.metadata reads METADATA (version(), requires()), entry_points.txt (console
//! scripts, plugins: opentelemetry propagators, Markdown extensions, pluggy), top_level.txt and
//! RECORD (packages_distributions(), files()). Removing METADATA, or leaving a dist-info
//! directory without it, makes version() return None: jupyterlab, jupyter_events and pydantic's
//! EmailStr then fail at import. The long description in METADATA's body is the package's
//! README (389 KB -> 59 KB over 38 distributions) and goes; so do INSTALLER, REQUESTED and
//! WHEEL, which nothing reads at run time.

use std::path::{Path, PathBuf};

use super::{is_license_name, Category, Ctx, Guard, Item, Rewrite, Rule, Verdict};
use crate::cli::DistInfoMode;
use crate::dists::Dist;
use crate::safepath;

/// METADATA cut to its header block.
pub static METADATA_BODY: Rule = Rule {
    id: "dist-info.metadata-body",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "METADATA keeps its header block (name, version, requirements); the body is the long description (the README)",
    evidence: "importlib.metadata parses the headers only; removing METADATA breaks version() (jupyterlab, pydantic EmailStr)",
};

/// RECORD rewritten to list what is left.
pub static RECORD: Rule = Rule {
    id: "dist-info.record",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "RECORD is rewritten to list what is really left, with hashes of rewritten files; the other hashes stay: dropping every hash (spec-legal) would save 0.15-1.3% of the tar.gz (docs/facts.md) and take the file digests SBOM scanners read from RECORD",
    evidence: "without RECORD and top_level.txt, importlib.metadata.packages_distributions() loses the mapping",
};

/// INSTALLER, REQUESTED, WHEEL and other files only installers read.
pub static INSTALL_ONLY: Rule = Rule {
    id: "dist-info.install-only",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "INSTALLER, REQUESTED, WHEEL, DESCRIPTION.rst, metadata.json and RECORD signatures are written for installers, never read at run time",
    evidence: "PEP 376, PEP 627; RECORD.jws/.p7s no longer match once RECORD is rewritten",
};

/// Everything but METADATA and licences, under `--dist-info licenses`.
pub static LICENSES_ONLY: Rule = Rule {
    id: "dist-info.licenses-only",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "--dist-info licenses: only METADATA's header and licence files stay",
    evidence: "entry points (console scripts, plugins) and importlib.metadata.files() stop working",
};

/// The whole dist-info under `--dist-info strip`, licences moved out.
pub static STRIP: Rule = Rule {
    id: "dist-info.strip",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "--dist-info strip: the directory goes; licence files move to licenses/<dist>-<version>/",
    evidence: "importlib.metadata.version() then fails: jupyterlab, jupyter_events, pydantic EmailStr, flask and attrs __version__",
};

/// The rest of a dist-info whose METADATA went.
pub static WHOLE_DIR: Rule = Rule {
    id: "dist-info.whole-dir",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "METADATA was removed, so the rest of the directory goes too rather than leave a half-empty dist-info",
    evidence: "a dist-info directory without METADATA makes importlib.metadata.version() return None",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[
    &METADATA_BODY,
    &RECORD,
    &INSTALL_ONLY,
    &LICENSES_ONLY,
    &STRIP,
    &WHOLE_DIR,
    &LINK_OUTSIDE,
];

const INSTALL_ONLY_FILES: &[&str] = &[
    "INSTALLER",
    "REQUESTED",
    "WHEEL",
    "DESCRIPTION.rst",
    "metadata.json",
    "RECORD.jws",
    "RECORD.p7s",
    "zip-safe",
];

/// `(dist-info dir name, path inside it)` when `sp_rel` is inside a `*.dist-info` directory.
pub fn split(sp_rel: &Path) -> Option<(&str, &Path)> {
    let mut comps = sp_rel.components();
    let dir = comps.next()?.as_os_str().to_str()?;
    let rest = comps.as_path();
    (dir.ends_with(".dist-info") && !rest.as_os_str().is_empty()).then_some((dir, rest))
}

/// Licence, notice and SBOM files inside a dist-info directory (PEP 639 `licenses/`, PEP 770
/// `sboms/`).
pub fn is_license_path(rest: &Path) -> bool {
    rest.components().any(|c| {
        let lower = c.as_os_str().to_string_lossy().to_ascii_lowercase();
        is_license_name(&lower) || lower == "licenses" || lower == "sboms"
    })
}

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let (_, rest) = split(item.sp_rel?)?;
    let name = rest.to_str().unwrap_or("");
    let verdict = match ctx.dist_info() {
        DistInfoMode::Keep => Verdict::Keep,
        DistInfoMode::Minimal => match name {
            "METADATA" => Verdict::Rewrite(&METADATA_BODY, Rewrite::MetadataHeader),
            "RECORD" => Verdict::Rewrite(&RECORD, Rewrite::Record),
            _ if INSTALL_ONLY_FILES.contains(&name) => Verdict::Remove(&INSTALL_ONLY),
            _ => Verdict::Keep,
        },
        DistInfoMode::Licenses => match name {
            "METADATA" => Verdict::Rewrite(&METADATA_BODY, Rewrite::MetadataHeader),
            _ if is_license_path(rest) => Verdict::Keep,
            _ => Verdict::Remove(&LICENSES_ONLY),
        },
        DistInfoMode::Strip => match item.owner {
            // A distribution whose name or version cannot be a directory name, or that claims
            // another's, keeps its licences where they are (handoff reports it).
            Some(d) if is_license_path(rest) => match license_destination(ctx.dists, d, rest) {
                Ok(to) => Verdict::Move(&STRIP, to),
                Err(_) => Verdict::Keep,
            },
            _ => Verdict::Remove(&STRIP),
        },
    };
    Some(verdict)
}

/// A licence symlink pointing outside the venv, removed with its dist-info.
pub static LINK_OUTSIDE: Rule = Rule {
    id: "dist-info.licence-link-outside",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "a licence symlink whose target is outside the venv goes with its dist-info: it is never followed, so nothing it points to is read or moved",
    evidence: "any wheel can ship a link to a builder secret; docs/safety.md, no link is followed",
};

/// `licenses/<dist>-<version>/<path inside dist-info>`: each licence keeps its path inside
/// its dist-info, so `LICENSE` and `licenses/LICENSE` stay two files.
/// Err when distribution `d`'s METADATA name or version cannot be one directory name
/// (`Version: 1.0/../../etc`), or another distribution claims it (`licence_dir`).
pub fn license_destination(dists: &[Dist], d: usize, rest: &Path) -> Result<PathBuf, String> {
    let dir = licence_dir(dists, d)?;
    safepath::checked_join(&Path::new("licenses").join(dir), rest)
}

/// The licence directory name `<name>-<version>` of distribution `d` (an index into the sorted
/// `dists`), checked by `safepath::dist_dir_name`. Two dist-infos that claim one name and
/// version (same normalised name and version, or the same directory name but for case) would
/// write into one directory: the first keeps it; any later one gets Err, and keeps its
/// licences in its dist-info.
pub fn licence_dir(dists: &[Dist], d: usize) -> Result<String, String> {
    let me = dists.get(d).ok_or("no such distribution")?;
    let dir = safepath::dist_dir_name(&me.name, &me.version)?;
    let same = |o: &Dist| {
        (o.normalized == me.normalized && o.version == me.version)
            || safepath::dist_dir_name(&o.name, &o.version)
                .is_ok_and(|od| od.eq_ignore_ascii_case(&dir))
    };
    match dists[..d].iter().find(|o| same(o)) {
        Some(first) => Err(format!(
            "it claims the name and version of `{}` ({dir})",
            first.dir.display()
        )),
        None => Ok(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_dist_info_paths() {
        let (dir, rest) = split(Path::new("foo-1.0.dist-info/licenses/LICENSE")).unwrap();
        assert_eq!(dir, "foo-1.0.dist-info");
        assert_eq!(rest, Path::new("licenses/LICENSE"));
        assert!(split(Path::new("foo/METADATA")).is_none());
        assert!(split(Path::new("foo-1.0.dist-info")).is_none());
    }

    #[test]
    fn license_paths() {
        assert!(is_license_path(Path::new("LICENSE.txt")));
        assert!(is_license_path(Path::new("licenses/vendor/mit.txt")));
        assert!(is_license_path(Path::new("COPYING")));
        assert!(is_license_path(Path::new("sboms/a.cdx.json")));
        assert!(!is_license_path(Path::new("entry_points.txt")));
        let d = |name: &str, version: &str, dir: &str| Dist {
            name: name.into(),
            normalized: crate::dists::normalize_name(name),
            version: version.into(),
            dir: PathBuf::from(dir),
            record: vec![],
            top_levels: Default::default(),
        };
        let dists = [d("Foo", "1.0", "foo-1.0.dist-info")];
        assert_eq!(
            license_destination(&dists, 0, Path::new("licenses/LICENSE")).unwrap(),
            PathBuf::from("licenses/Foo-1.0/licenses/LICENSE")
        );
        assert_eq!(
            license_destination(&dists, 0, Path::new("LICENSE")).unwrap(),
            PathBuf::from("licenses/Foo-1.0/LICENSE")
        );
        let rest = Path::new("licenses/LICENSE");
        let evil = [d("evil", "1.0/../../../victim", "e")];
        assert!(license_destination(&evil, 0, rest).is_err());
        let evil = [d("x/../../y", "1.0", "e")];
        assert!(license_destination(&evil, 0, rest).is_err());
        // A second claim of one name and version (spelled alike or not) keeps its licences.
        let twice = [
            d("foo", "1.0", "foo-1.0.dist-info"),
            d("Foo", "1.0", "x.dist-info"),
            d("FOO", "1.0", "y.dist-info"),
            d("foo", "2.0", "foo-2.0.dist-info"),
        ];
        assert!(licence_dir(&twice, 0).is_ok());
        assert!(licence_dir(&twice, 1)
            .unwrap_err()
            .contains("foo-1.0.dist-info"));
        assert!(licence_dir(&twice, 2).is_err());
        assert_eq!(licence_dir(&twice, 3).unwrap(), "foo-2.0");
    }
}
