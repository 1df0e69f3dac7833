//! Tests of the helpers in `tests/it/util/` that the real-venv tests rely on: if `tree_hash` missed
//! a change, or the read-only mount were writable, or the recipe copy kept what Docker drops, the
//! real-venv tests would pass for the wrong reason. None of these runs venvslim.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::time::{Duration, SystemTime};

use super::*;

fn sample_tree(root: &std::path::Path) {
    fs::create_dir_all(root.join("pkg/__pycache__")).unwrap();
    fs::create_dir_all(root.join("pkg-1.0.dist-info/licenses")).unwrap();
    fs::create_dir_all(root.join("nolicense-2.0.dist-info")).unwrap();
    fs::write(root.join("pkg/__init__.py"), "x = 1\n").unwrap();
    fs::write(
        root.join("pkg/__pycache__/__init__.cpython-311.pyc"),
        b"pyc",
    )
    .unwrap();
    fs::write(
        root.join("pkg-1.0.dist-info/METADATA"),
        "Name: pkg\nVersion: 1.0\n",
    )
    .unwrap();
    fs::write(root.join("pkg-1.0.dist-info/LICENSE.txt"), "MIT").unwrap();
    fs::write(root.join("pkg-1.0.dist-info/licenses/LICENSE"), "MIT").unwrap();
    fs::write(
        root.join("nolicense-2.0.dist-info/METADATA"),
        "Name: nolicense\n",
    )
    .unwrap();
    symlink("pkg/__init__.py", root.join("link")).unwrap();
}

#[test]
fn tree_hash_sees_content_mode_mtime_symlink_and_new_files() {
    let d = scratch("support-hash-");
    let root = d.path().join("t");
    sample_tree(&root);
    let h0 = tree_hash(&root);
    assert_eq!(tree_hash(&root), h0, "hash is not stable");
    let f = root.join("pkg/__init__.py");

    type Change<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let changes: Vec<Change> = vec![
        (
            "content",
            Box::new(|| fs::write(root.join("pkg/__init__.py"), "x = 2\n").unwrap()),
        ),
        (
            "mode",
            Box::new(|| {
                fs::set_permissions(
                    root.join("pkg/__init__.py"),
                    fs::Permissions::from_mode(0o600),
                )
                .unwrap()
            }),
        ),
        (
            "mtime",
            Box::new(|| {
                let t = SystemTime::now() - Duration::from_secs(3600);
                fs::File::options()
                    .write(true)
                    .open(root.join("pkg/__init__.py"))
                    .unwrap()
                    .set_modified(t)
                    .unwrap()
            }),
        ),
        (
            "symlink target",
            Box::new(|| {
                fs::remove_file(root.join("link")).unwrap();
                symlink("pkg", root.join("link")).unwrap()
            }),
        ),
        (
            "new empty file",
            Box::new(|| fs::write(root.join("pkg/new.py"), "").unwrap()),
        ),
        (
            "removed file",
            Box::new(|| {
                fs::remove_file(root.join("pkg/__pycache__/__init__.cpython-311.pyc")).unwrap()
            }),
        ),
    ];
    let mut last = h0;
    for (what, change) in changes {
        change();
        let h = tree_hash(&root);
        assert_ne!(h, last, "tree_hash missed a change of {what}");
        last = h;
    }
    assert!(f.exists());
}

#[test]
fn docker_recipe_copy_drops_pycache_and_all_dist_info_but_top_level_license_files() {
    let d = scratch("support-recipe-");
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    sample_tree(&src);
    docker_recipe_copy(&src, &dst);
    let listing = tree_listing(&dst);
    assert_eq!(
        listing,
        vec![
            "l link -> pkg/__init__.py",
            "d pkg",
            "f 6 pkg/__init__.py",
            "d pkg-1.0.dist-info",
            "f 3 pkg-1.0.dist-info/LICENSE.txt",
        ],
        "recipe copy kept or dropped the wrong things"
    );
    // Only regular files count, each once: __init__.py (6) + LICENSE.txt (3).
    assert_eq!(unique_bytes(&dst), 9);
}

#[test]
fn unique_bytes_counts_a_hardlinked_file_once() {
    let d = scratch("support-size-");
    fs::write(d.path().join("a"), vec![0u8; 1000]).unwrap();
    fs::hard_link(d.path().join("a"), d.path().join("b")).unwrap();
    symlink("a", d.path().join("c")).unwrap();
    assert_eq!(unique_bytes(d.path()), 1000);
}

#[test]
fn ro_run_mounts_the_tree_read_only_at_the_given_path_and_only_for_the_child() {
    if !require_ro_namespace("ro_run") {
        return;
    }
    let d = scratch("support-ro-");
    let (slim, at) = (d.path().join("slim"), d.path().join("at"));
    fs::create_dir_all(&slim).unwrap();
    fs::create_dir_all(&at).unwrap();
    fs::write(slim.join("f"), "from slim").unwrap();
    fs::write(at.join("f"), "from at").unwrap();
    let script = format!(
        r#"cat '{0}/f'; if touch '{0}/new' 2>/dev/null; then echo WRITABLE; fi"#,
        path_str(&at)
    );
    let out = ro_run(&slim, &at, &["sh", "-c", &script]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from slim",
        "{}",
        show(&out)
    );
    assert_eq!(
        fs::read_to_string(at.join("f")).unwrap(),
        "from at",
        "the mount leaked out of the namespace"
    );
    assert!(!slim.join("new").exists() && !at.join("new").exists());
}

/// The probe and `compare_probes` catch each kind of breakage the real-venv tests look for: a
/// module that no longer imports, a missing pyc (compiled at start-up), a pyc naming another path,
/// a distribution whose METADATA is gone, entry points that are gone. Done on a copy of the django
/// venv, mounted read-only onto the cached venv's path like a slimmed tree.
#[test]
fn probe_detects_each_kind_of_breakage_in_a_real_venv() {
    if !require_ro_namespace("probe self-test") {
        return;
    }
    let venv = real_venv("django");
    let site = venv.join(site_packages_rel(&venv));
    let d = scratch("support-probe-");
    let broken = d.path().join("venv");
    copy_tree(&venv, &broken);
    let bsite = broken.join(site_packages_rel(&venv));
    let dist_info = |prefix: &str| -> std::path::PathBuf {
        fs::read_dir(&bsite)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_lowercase();
                n.starts_with(prefix) && n.ends_with(".dist-info")
            })
            .unwrap_or_else(|| panic!("no {prefix}*.dist-info"))
    };
    // 1. sqlparse no longer imports.
    fs::remove_file(bsite.join("sqlparse/keywords.py")).unwrap();
    fs::remove_dir_all(bsite.join("sqlparse/__pycache__")).unwrap();
    // 2. django/utils/version.py has no pyc: compiled at every start on a read-only mount.
    let version_py = site.join("django/utils/version.py");
    for e in fs::read_dir(bsite.join("django/utils/__pycache__")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("version.")
        {
            fs::remove_file(p).unwrap();
        }
    }
    // 3. django/__init__'s pyc is an unchecked-hash pyc whose code names another path.
    python(venv.join("bin/python"))
        .args(["-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile='/elsewhere/django/__init__.py', invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)"])
        .arg(bsite.join("django/__init__.py"))
        .arg(bsite.join("django/__pycache__/__init__.cpython-311.pyc"))
        .ok();
    // 4. asgiref's METADATA is gone (dist-info dir left: version() is None).
    fs::remove_file(dist_info("asgiref").join("METADATA")).unwrap();
    // 5. Django's entry points are gone.
    fs::remove_file(dist_info("django").join("entry_points.txt")).unwrap();

    let before = probe(&venv, &venv);
    let after = probe(&broken, &venv);
    let problems = compare_probes(&before, &after, &|_| false, &Default::default(), true);
    let text = problems.join("\n");
    eprintln!("{text}");
    let expect = [
        (
            "top_level sqlparse: imported before, now",
            "a module that no longer imports",
        ),
        (
            "modules were compiled from source on import",
            "a missing pyc",
        ),
        (
            path_str(&version_py),
            "the module compiled at start-up, by path",
        ),
        (
            "/elsewhere/django/__init__.py",
            "a pyc whose co_filename is another path",
        ),
        ("dist asgiref", "a distribution without METADATA"),
        ("dist django: entry_points differ", "lost entry points"),
    ];
    for (needle, what) in expect {
        assert!(
            text.contains(needle),
            "compare_probes missed {what} (no {needle:?} in):\n{text}"
        );
    }
    // The original against itself: nothing (apart from pip's timestamp pycs, which are not
    // unchecked-hash: that check is for venvslim's output only).
    assert_eq!(
        compare_probes(&before, &before, &|_| false, &Default::default(), false),
        Vec::<String>::new()
    );
}
