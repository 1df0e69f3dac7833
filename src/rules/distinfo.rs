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

pub static METADATA_BODY: Rule = Rule {
    id: "dist-info.metadata-body",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "METADATA keeps its header block (name, version, requirements); the body is the long description (the README)",
    evidence: "importlib.metadata parses the headers only; removing METADATA breaks version() (jupyterlab, pydantic EmailStr)",
};

pub static RECORD: Rule = Rule {
    id: "dist-info.record",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "RECORD is rewritten to list what is really left, with hashes of rewritten files",
    evidence: "without RECORD and top_level.txt, importlib.metadata.packages_distributions() loses the mapping",
};

pub static INSTALL_ONLY: Rule = Rule {
    id: "dist-info.install-only",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "INSTALLER, REQUESTED, WHEEL, DESCRIPTION.rst, metadata.json and RECORD signatures are written for installers, never read at run time",
    evidence: "PEP 376, PEP 627; RECORD.jws/.p7s no longer match once RECORD is rewritten",
};

pub static LICENSES_ONLY: Rule = Rule {
    id: "dist-info.licenses-only",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "--dist-info licenses: only METADATA's header and licence files stay",
    evidence: "entry points (console scripts, plugins) and importlib.metadata.files() stop working",
};

pub static STRIP: Rule = Rule {
    id: "dist-info.strip",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "--dist-info strip: the directory goes; licence files move to licenses/<dist>-<version>/",
    evidence: "importlib.metadata.version() then fails: jupyterlab, jupyter_events, pydantic EmailStr, flask and attrs __version__",
};

pub static WHOLE_DIR: Rule = Rule {
    id: "dist-info.whole-dir",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "METADATA was removed, so the rest of the directory goes too rather than leave a half-empty dist-info",
    evidence: "a dist-info directory without METADATA makes importlib.metadata.version() return None",
};

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

pub fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
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
        DistInfoMode::Strip => match item.owner.and_then(|o| ctx.dists.get(o)) {
            // A distribution whose name or version cannot be a directory name keeps its
            // licences where they are (handoff reports it).
            Some(d) if is_license_path(rest) => match license_destination(d, rest) {
                Ok(to) => Verdict::Move(&STRIP, to),
                Err(_) => Verdict::Keep,
            },
            _ => Verdict::Remove(&STRIP),
        },
    };
    Some(verdict)
}

pub static LINK_OUTSIDE: Rule = Rule {
    id: "dist-info.licence-link-outside",
    category: Category::DistInfo,
    guard: Guard::None,
    reason: "a licence symlink whose target is outside the venv goes with its dist-info: it is never followed, so nothing it points to is read or moved",
    evidence: "any wheel can ship a link to a builder secret; docs/safety.md, no link is followed",
};

/// `licenses/<dist>-<version>/<path inside dist-info>`; a `licenses/` prefix is not doubled.
/// Err when the distribution's METADATA name or version cannot be one directory name
/// (`Version: 1.0/../../etc`): the venv's strings never become paths unchecked.
pub fn license_destination(d: &Dist, rest: &Path) -> Result<PathBuf, String> {
    let dir = safepath::dist_dir_name(&d.name, &d.version)?;
    let inner = rest.strip_prefix("licenses").unwrap_or(rest);
    safepath::checked_join(&Path::new("licenses").join(dir), inner)
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
        let d = |name: &str, version: &str| Dist {
            name: name.into(),
            normalized: crate::dists::normalize_name(name),
            version: version.into(),
            dir: PathBuf::from("x.dist-info"),
            record: vec![],
            top_levels: Default::default(),
        };
        assert_eq!(
            license_destination(&d("Foo", "1.0"), Path::new("licenses/LICENSE")).unwrap(),
            PathBuf::from("licenses/Foo-1.0/LICENSE")
        );
        let rest = Path::new("licenses/LICENSE");
        assert!(license_destination(&d("evil", "1.0/../../../victim"), rest).is_err());
        assert!(license_destination(&d("x/../../y", "1.0"), rest).is_err());
    }
}
