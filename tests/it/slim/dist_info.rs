//! `--dist-info strip | licenses | keep` (the default, minimal, is checked in `default`): what is
//! left of a dist-info, where its licences go, and that `importlib.metadata` still works.

use super::{python_ok, IMPORT_DEMO};
use crate::util::{action, actions, listing, slim, tree, tree_diff, Detail, Fixture};
use std::collections::BTreeSet;
use std::fs;

#[test]
fn dist_info_strip_moves_licences_out() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--dist-info", "strip"]).report();
    let sp_out = out.join(&fx.sp_rel);
    let left: Vec<String> = listing(&sp_out)
        .into_iter()
        .filter(|p| p.contains(".dist-info"))
        .collect();
    assert!(left.is_empty(), "dist-info left: {left:?}");
    let moved = out.join("licenses/demo-1.0/licenses/LICENSE");
    assert_eq!(
        fs::read(&moved).ok(),
        fs::read(fx.sp().join("demo-1.0.dist-info/licenses/LICENSE")).ok()
    );
    let a = action(&report, &fx.rel("demo-1.0.dist-info/licenses/LICENSE"))
        .expect("an action for the licence");
    assert_eq!(a["action"], "move");
    assert_eq!(a["to"], "licenses/demo-1.0/licenses/LICENSE");
    assert_eq!(a["rule"], "dist-info.strip");
    assert_eq!(python_ok(&out, &fx.py, IMPORT_DEMO), "hello world\n42\n");
}

#[test]
fn dist_info_licenses_keeps_metadata_header_and_licences() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    slim(&fx.root, &out)
        .args(["--dist-info", "licenses"])
        .report();
    let di = out.join(&fx.sp_rel).join("demo-1.0.dist-info");
    assert_eq!(
        listing(&di),
        BTreeSet::from([
            "METADATA".into(),
            "licenses/".into(),
            "licenses/LICENSE".into()
        ])
    );
    let meta = fs::read_to_string(di.join("METADATA")).unwrap();
    assert!(
        meta.starts_with("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
            && !meta.contains("long description"),
        "{meta}"
    );
    assert_eq!(
        python_ok(
            &out,
            &fx.py,
            "import importlib.metadata as md; print(md.version('demo'))"
        ),
        "1.0\n"
    );
}

#[test]
fn dist_info_keep_keeps_every_file_as_it_was() {
    let fx = Fixture::new("venvslim-slim-");
    let out = fx.path("out");
    let report = slim(&fx.root, &out).args(["--dist-info", "keep"]).report();
    let di = fx.sp_rel.join("demo-1.0.dist-info");
    let diff = tree_diff(
        &tree(&fx.root.join(&di), Detail::Content),
        &tree(&out.join(&di), Detail::Content),
    );
    assert!(
        diff.is_empty(),
        "--dist-info keep changed the dist-info:\n{}",
        diff.join("\n")
    );
    assert!(
        !actions(&report)
            .iter()
            .any(|a| a["category"] == "dist-info"),
        "dist-info actions with keep"
    );
}
