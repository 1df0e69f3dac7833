//! Untrusted strings never become paths, no link is followed, output paths are resolved once
//! (docs/safety.md). Each test builds a venv a hostile wheel could have produced, or an output
//! path that tries to sneak back into the input, runs the real binary, and proves nothing was
//! written outside its base and nothing was read through a link.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::util::{
    fixture_venv, path_str, show, site_packages, tree_hash, venvslim, venvslim_bin, Run,
    TestCommand,
};

const SECRET: &str = "top secret: builder credentials\n";
const PRECIOUS: &str = "precious, must not be overwritten\n";
const HOSTILE: &str = "licence text chosen by the venv\n";

/// A distribution whose METADATA says `name` and `version`, with a licence file.
fn hostile_dist(sp: &Path, dir: &str, name: &str, version: &str) -> PathBuf {
    let d = sp.join(dir);
    fs::create_dir_all(d.join("licenses")).unwrap();
    fs::write(
        d.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n"),
    )
    .unwrap();
    fs::write(d.join("RECORD"), "").unwrap();
    fs::write(d.join("licenses/LICENSE"), HOSTILE).unwrap();
    d
}

/// Every regular file under `root` (links not followed) whose content is `needle`.
fn files_holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() && fs::read_to_string(e.path()).is_ok_and(|t| t == needle) {
                found.push(e.path());
            }
        }
    }
    found.sort();
    found
}

/// The hostile licence text exists nowhere under `base` but in the venv and in OUT's copy of its
/// dist-info (kept in place), and the precious file (the write's target had the path escaped) is
/// untouched.
fn assert_contained(base: &Path, venv: &Path, precious: &Path, out: &Run) {
    assert_eq!(
        fs::read_to_string(precious).unwrap(),
        PRECIOUS,
        "{} was overwritten\n{}",
        precious.display(),
        show(out)
    );
    let stray: Vec<PathBuf> = files_holding(base, HOSTILE)
        .into_iter()
        .filter(|p| !p.starts_with(venv))
        .filter(|p| !p.ends_with("evil-1.0.dist-info/licenses/LICENSE"))
        .collect();
    assert!(
        stray.is_empty(),
        "licence written outside the venv: {stray:?}\n{}",
        show(out)
    );
}

// --- 1. writes outside OUT from package metadata ---------------------------------------------

#[test]
fn metadata_version_with_dotdot_cannot_move_licences_dir() {
    let (t, venv, py) = fixture_venv("paths-ver-lic");
    let sp = site_packages(&venv, &py);
    // --licenses-dir LIC: LIC/evil-1.0/../../victim/LICENSE is t/victim/LICENSE.
    hostile_dist(&sp, "evil-1.0.dist-info", "evil", "1.0/../../victim");
    fs::create_dir(t.path().join("victim")).unwrap();
    let precious = t.path().join("victim/LICENSE");
    fs::write(&precious, PRECIOUS).unwrap();
    let (out, lic) = (t.path().join("out"), t.path().join("lic"));
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--licenses-dir",
            path_str(&lic),
            "--json",
        ])
        .run();
    assert_contained(t.path(), &venv, &precious, &r);
    assert!(r.status.code() == Some(0), "{}", show(&r));
    assert!(
        r.stdout().contains("evil-1.0.dist-info"),
        "the skipped distribution is reported\n{}",
        show(&r)
    );
    assert!(
        lic.join("demo-1.0/licenses/LICENSE").is_file(),
        "{}",
        show(&r)
    );
}

#[test]
fn metadata_name_with_dotdot_cannot_move_licences_dir() {
    let (t, venv, py) = fixture_venv("paths-name-lic");
    let sp = site_packages(&venv, &py);
    hostile_dist(&sp, "evil-1.0.dist-info", "x/../../victim/y", "1.0");
    fs::create_dir(t.path().join("victim")).unwrap();
    // LIC/x/../../victim/y-1.0/LICENSE
    fs::create_dir(t.path().join("victim/y-1.0")).unwrap();
    let precious = t.path().join("victim/y-1.0/LICENSE");
    fs::write(&precious, PRECIOUS).unwrap();
    let (out, lic) = (t.path().join("out"), t.path().join("lic"));
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--licenses-dir",
            path_str(&lic),
        ])
        .run();
    assert_contained(t.path(), &venv, &precious, &r);
    assert!(r.status.code() == Some(0), "{}", show(&r));
    assert!(r.stdout().contains("evil-1.0.dist-info"), "{}", show(&r));
}

#[test]
fn metadata_version_with_dotdot_cannot_move_licences_out_of_out_with_strip() {
    let (t, venv, py) = fixture_venv("paths-ver-strip");
    let sp = site_packages(&venv, &py);
    // OUT/licenses/evil-1.0/../../../victim/LICENSE is t/victim/LICENSE.
    let d = hostile_dist(&sp, "evil-1.0.dist-info", "evil", "1.0/../../../victim");
    fs::create_dir(t.path().join("victim")).unwrap();
    let precious = t.path().join("victim/LICENSE");
    fs::write(&precious, PRECIOUS).unwrap();
    let out = t.path().join("out");
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--dist-info",
            "strip",
        ])
        .run();
    assert_contained(t.path(), &venv, &precious, &r);
    assert!(r.status.code() == Some(0), "{}", show(&r));
    assert!(r.stdout().contains("evil-1.0.dist-info"), "{}", show(&r));
    // Kept in place, not moved.
    let rel = d.strip_prefix(&venv).unwrap().join("licenses/LICENSE");
    assert_eq!(
        fs::read_to_string(out.join(&rel)).unwrap(),
        HOSTILE,
        "{}",
        show(&r)
    );
    assert!(out.join("licenses/demo-1.0/licenses/LICENSE").is_file());
}

#[test]
fn metadata_version_with_dotdot_cannot_move_licences_out_of_the_venv_in_place() {
    let (t, venv, py) = fixture_venv("paths-ver-inplace");
    let sp = site_packages(&venv, &py);
    // VENV/licenses/evil-1.0/../../../victim/LICENSE is t/victim/LICENSE.
    hostile_dist(&sp, "evil-1.0.dist-info", "evil", "1.0/../../../victim");
    fs::create_dir(t.path().join("victim")).unwrap();
    let precious = t.path().join("victim/LICENSE");
    fs::write(&precious, PRECIOUS).unwrap();
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "--in-place",
            "--dist-info",
            "strip",
            "--bytecode",
            "keep",
        ])
        .run();
    assert_contained(t.path(), &venv, &precious, &r);
    assert!(r.status.code() == Some(0), "{}", show(&r));
}

#[test]
fn a_link_in_the_tree_cannot_carry_moved_licences_out() {
    let (t, venv, py) = fixture_venv("paths-link-dir");
    let _ = py;
    // A wheel's data dir can put a `licenses` link at the venv's root: the copy in OUT is the
    // same link, and OUT/licenses/demo-1.0/ must not be created through it.
    let elsewhere = t.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, venv.join("licenses")).unwrap();
    let out = t.path().join("out");
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--dist-info",
            "strip",
        ])
        .run();
    assert!(
        fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "wrote through the link into {}\n{}",
        elsewhere.display(),
        show(&r)
    );
    assert!(
        fs::symlink_metadata(out.join("licenses"))
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(true),
        "{}",
        show(&r)
    );
}

// --- 2. a symlink is followed into the image -------------------------------------------------

#[test]
fn licence_link_to_a_secret_is_not_read_with_dist_info_strip() {
    let (t, venv, py) = fixture_venv("paths-secret-strip");
    let sp = site_packages(&venv, &py);
    let secret = t.path().join("secret");
    fs::write(&secret, SECRET).unwrap();
    let d = hostile_dist(&sp, "sneaky-1.0.dist-info", "sneaky", "1.0");
    symlink(&secret, d.join("licenses/COPYING")).unwrap();
    let out = t.path().join("out");
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--dist-info",
            "strip",
        ])
        .run();
    assert_eq!(
        files_holding(&out, SECRET),
        Vec::<PathBuf>::new(),
        "{}",
        show(&r)
    );
    assert!(
        fs::symlink_metadata(out.join("licenses/sneaky-1.0/licenses/COPYING")).is_err(),
        "{}",
        show(&r)
    );
    assert!(out.join("licenses/sneaky-1.0/licenses/LICENSE").is_file());
    assert!(r.status.code() == Some(0), "{}", show(&r));
    assert!(
        r.stdout().contains("COPYING"),
        "the skipped link is reported\n{}",
        show(&r)
    );
}

#[test]
fn licence_link_to_a_secret_is_reported_with_licenses_dir() {
    let (t, venv, py) = fixture_venv("paths-secret-lic");
    let sp = site_packages(&venv, &py);
    let secret = t.path().join("secret");
    fs::write(&secret, SECRET).unwrap();
    let d = hostile_dist(&sp, "sneaky-1.0.dist-info", "sneaky", "1.0");
    symlink("../../../../../../secret", d.join("licenses/COPYING")).unwrap();
    let (out, lic) = (t.path().join("out"), t.path().join("lic"));
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--licenses-dir",
            path_str(&lic),
        ])
        .run();
    assert_eq!(
        files_holding(&lic, SECRET),
        Vec::<PathBuf>::new(),
        "{}",
        show(&r)
    );
    assert!(r.status.code() == Some(0), "{}", show(&r));
    assert!(
        lic.join("sneaky-1.0/licenses/LICENSE").is_file(),
        "{}",
        show(&r)
    );
    assert!(
        r.stdout().contains("COPYING"),
        "the skipped link is reported\n{}",
        show(&r)
    );
}

#[test]
fn licence_link_inside_the_tree_moves_as_a_link() {
    let (t, venv, py) = fixture_venv("paths-link-inside");
    let sp = site_packages(&venv, &py);
    let d = hostile_dist(&sp, "linked-1.0.dist-info", "linked", "1.0");
    fs::create_dir(sp.join("linked")).unwrap();
    fs::write(sp.join("linked/__init__.py"), "").unwrap();
    fs::write(sp.join("linked/NOTICE"), "a notice\n").unwrap();
    symlink("../../linked/NOTICE", d.join("licenses/NOTICE")).unwrap();
    let out = t.path().join("out");
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            path_str(&venv),
            "-o",
            path_str(&out),
            "--dist-info",
            "strip",
        ])
        .run();
    assert!(r.status.code() == Some(0), "{}", show(&r));
    let moved = out.join("licenses/linked-1.0/licenses/NOTICE");
    let md = fs::symlink_metadata(&moved).unwrap_or_else(|e| panic!("{e}\n{}", show(&r)));
    assert!(md.file_type().is_symlink(), "{}", show(&r));
    assert_eq!(fs::read_to_string(&moved).unwrap(), "a notice\n");
}

// --- 4. path checks can be bypassed ----------------------------------------------------------

/// A refused output: exit 2, a message naming the path with a hint, the venv untouched.
fn assert_refused(venv: &Path, before: &str, r: &Run, names: &str) {
    assert_eq!(r.status.code(), Some(2), "{}", show(r));
    let err = r.stderr();
    assert!(err.contains(names) && err.contains("hint:"), "{}", show(r));
    assert_eq!(tree_hash(venv), before, "the venv changed\n{}", show(r));
}

#[test]
fn output_through_a_missing_dir_and_dotdot_into_the_venv_is_refused() {
    let (t, venv, _) = fixture_venv("paths-o-dotdot");
    let before = tree_hash(&venv);
    let r = venvslim()
        .current_dir(t.path())
        .args(["slim", "venv", "-o", "nx/../venv/sub"])
        .run();
    assert_refused(&venv, &before, &r, "nx/../venv/sub");
    assert!(!t.path().join("nx").exists());
}

#[test]
fn sbom_through_a_missing_dir_and_dotdot_into_the_venv_is_refused() {
    let (t, venv, _) = fixture_venv("paths-sbom-dotdot");
    let before = tree_hash(&venv);
    let r = venvslim()
        .current_dir(t.path())
        .args(["slim", "venv", "-o", "out", "--sbom", "nx/../venv/x.json"])
        .run();
    assert_refused(&venv, &before, &r, "nx/../venv/x.json");
    assert!(!t.path().join("out").exists());
}

#[test]
fn licenses_dir_through_a_missing_dir_and_dotdot_into_the_venv_is_refused() {
    let (t, venv, _) = fixture_venv("paths-lic-dotdot");
    let before = tree_hash(&venv);
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            "venv",
            "-o",
            "out",
            "--licenses-dir",
            "nx/../venv/lic",
        ])
        .run();
    assert_refused(&venv, &before, &r, "nx/../venv/lic");
    assert!(!t.path().join("out").exists());
}

#[test]
fn sbom_through_a_dangling_link_into_the_venv_is_refused() {
    let (t, venv, _) = fixture_venv("paths-sbom-dangling");
    symlink(venv.join("x.json"), t.path().join("sbom.json")).unwrap();
    let before = tree_hash(&venv);
    let r = venvslim()
        .current_dir(t.path())
        .args(["slim", "venv", "-o", "out", "--sbom", "sbom.json"])
        .run();
    assert_refused(&venv, &before, &r, "sbom.json");
    assert!(!venv.join("x.json").exists());
}

#[test]
fn licenses_dir_through_a_link_to_the_venv_is_refused() {
    let (t, venv, _) = fixture_venv("paths-lic-link");
    symlink(&venv, t.path().join("v")).unwrap();
    let before = tree_hash(&venv);
    let r = venvslim()
        .current_dir(t.path())
        .args(["slim", "venv", "-o", "out", "--licenses-dir", "v/lic"])
        .run();
    assert_refused(&venv, &before, &r, "v/lic");
}

/// `bench --keep KEEP` run in a fixture's directory (after `setup` there) must be refused.
fn bench_keep_refused(prefix: &str, keep: &str, setup: impl FnOnce(&Path, &Path)) {
    let (t, venv, _) = fixture_venv(prefix);
    setup(t.path(), &venv);
    let before = tree_hash(&venv);
    let args = ["bench", "venv", "--strategies", "none", "--rounds", "1"];
    let more = ["--no-verify", "--run", "true", "--keep", keep];
    let r = venvslim()
        .current_dir(t.path())
        .args([&args[..], &more[..]].concat())
        .run();
    assert_refused(&venv, &before, &r, keep);
}

#[test]
fn bench_keep_through_a_link_to_the_venv_is_refused() {
    bench_keep_refused("paths-bench-keep", "v/trees", |dir, venv| {
        symlink(venv, dir.join("v")).unwrap()
    });
}

#[test]
fn bench_keep_through_a_missing_dir_and_dotdot_is_refused() {
    bench_keep_refused("paths-bench-dotdot", "nx/../venv/trees", |_, _| {});
}

#[test]
fn in_place_licenses_dir_through_a_link_in_the_venv_is_refused() {
    let (t, venv, _) = fixture_venv("paths-inplace-link");
    let elsewhere = t.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, venv.join("share-link")).unwrap();
    let before = tree_hash(&venv);
    let r = venvslim()
        .current_dir(t.path())
        .args([
            "slim",
            "venv",
            "--in-place",
            "--licenses-dir",
            "venv/share-link/lic",
        ])
        .run();
    assert_refused(&venv, &before, &r, "venv/share-link/lic");
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
}

/// A package whose `__pycache__` is a link the venv planted: to a directory outside the tree
/// (an attacker's unchecked-hash pyc there would be trusted without its source) and to a data
/// directory of the input venv itself. Found by an adversarial pass after issue 11's first fix.
#[test]
fn bytecode_is_never_written_through_a_pycache_link() {
    let (tmp, venv, py) = fixture_venv("safety-pycache-link-");
    let sp = site_packages(&venv, &py);
    let outside = tmp.path().join("sysmod/__pycache__");
    fs::create_dir_all(&outside).unwrap();
    for (pkg, target) in [
        ("evilpkg", outside.clone()),
        ("evilpkg2", sp.join("demo/data")),
    ] {
        fs::create_dir(sp.join(pkg)).unwrap();
        fs::write(sp.join(pkg).join("__init__.py"), "").unwrap();
        fs::write(sp.join(pkg).join("victim.py"), "print('attacker')\n").unwrap();
        symlink(&target, sp.join(pkg).join("__pycache__")).unwrap();
    }
    let before = tree_hash(&venv);
    let data_before: Vec<_> = fs::read_dir(sp.join("demo/data")).unwrap().collect();
    for (i, flags) in [&[][..], &["--zip-pure"], &["--bytecode", "sourceless"]]
        .into_iter()
        .enumerate()
    {
        let out = tmp.path().join(format!("out{i}"));
        let mut args = vec!["slim", path_str(&venv), "-o", path_str(&out)];
        args.extend(flags);
        let r = venvslim().current_dir(tmp.path()).args(&args).run();
        assert!(r.status.success(), "{flags:?}: {}", show(&r));
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "{flags:?}: a pyc was written outside the tree: {}",
            show(&r)
        );
        assert_eq!(tree_hash(&venv), before, "{flags:?}: the input changed");
        // Sourceless pycs go beside their sources, where no link is in the way.
        let sourceless = flags.contains(&"sourceless");
        assert!(
            sourceless
                || r.stdout()
                    .contains("a symlink is in the way of its bytecode"),
            "{flags:?}: not reported: {}",
            show(&r)
        );
    }
    assert_eq!(
        fs::read_dir(sp.join("demo/data")).unwrap().count(),
        data_before.len()
    );
    // In place: a copy of the venv, whose links still point at the outside directory and at the
    // original venv's data.
    let copy = tmp.path().join("inplace");
    crate::util::copy_tree(&venv, &copy);
    let r = venvslim()
        .current_dir(tmp.path())
        .args(["slim", path_str(&copy), "--in-place"])
        .run();
    assert!(r.status.success(), "in place: {}", show(&r));
    assert!(
        r.stdout()
            .contains("a symlink is in the way of its bytecode"),
        "{}",
        show(&r)
    );
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "in place wrote outside"
    );
    assert_eq!(tree_hash(&venv), before, "in place changed the other venv");
}

/// The venv seen through a bind mount has another path but is the same directory: an output
/// there is inside the venv all the same (compared by device and inode, not by spelling).
#[test]
fn outputs_through_a_bind_mount_of_the_venv_are_refused() {
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "\n*** SKIP outputs_through_a_bind_mount_of_the_venv_are_refused: needs root ***\n"
        );
        return;
    }
    let (tmp, venv, _) = fixture_venv("safety-bind-alias-");
    let alias = tmp.path().join("alias");
    fs::create_dir(&alias).unwrap();
    let before = tree_hash(&venv);
    let bin = path_str(venvslim_bin());
    for extra in [
        "-o \"$1/new\"",
        "-o \"$3/o1\" --sbom \"$1/s.json\"",
        "-o \"$3/o2\" --licenses-dir \"$1/lic\"",
    ] {
        let script = format!(
            r#"mount --bind "$2" "$1" || exit 99
"$4" slim "$2" {extra}"#
        );
        let r = TestCommand::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
            .args([path_str(&alias), path_str(&venv), path_str(tmp.path()), bin])
            .run();
        assert_eq!(r.status.code(), Some(2), "{extra}: {}", show(&r));
        assert!(
            r.stderr().contains("inside the venv"),
            "{extra}: {}",
            show(&r)
        );
        assert_eq!(tree_hash(&venv), before, "{extra}: the input changed");
    }
}

/// A RECORD line in an installer's RECORD (pip's here, or a hostile wheel named `wheel`) that
/// claims a kept package's file does not take that file with the installer: installers go whole,
/// and the claim of the package that ships the file wins.
#[test]
fn an_installer_record_claiming_a_packages_file_does_not_take_it() {
    let fx = crate::util::Fixture::new("venvslim-claim-");
    let sp = fx.sp();
    let pip_record = sp.join("pip-23.0.dist-info/RECORD");
    let mut record = fs::read_to_string(&pip_record).unwrap();
    record.push_str("demo/core.py,,\n");
    fs::write(&pip_record, record).unwrap();
    let wheel = hostile_dist(&sp, "wheel-0.1.dist-info", "wheel", "0.1");
    fs::write(
        wheel.join("RECORD"),
        "demo/data/a.json,,\ndemo/unlisted_dir/x.txt,,\n",
    )
    .unwrap();
    let out = fx.path("out");
    let report = crate::util::slim(&fx.root, &out).report();
    for kept in ["demo/core.py", "demo/data/a.json"] {
        assert!(
            out.join(fx.rel(kept)).exists(),
            "{kept} went with an installer: {:?}",
            crate::util::action(&report, &fx.rel(kept))
        );
    }
    assert!(
        !out.join(fx.rel("pip")).exists(),
        "pip itself stays removed"
    );
    crate::util::python(out.join("bin/python"))
        .args(["-c", "import demo.core"])
        .ok();
}
