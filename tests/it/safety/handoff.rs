//! The hand-off outputs (`--licenses-dir DIR`, `--sbom FILE`) keep OUT's promise (docs/safety.md,
//! "Out of place is all or nothing"): they are staged beside their final path and renamed into
//! place only after OUT is published, so a failed, signalled or killed run leaves none of them
//! and a rerun converges. Licences are never silently lost: two files with one basename stay
//! two files, no licence overwrites another, and the report says what was written. Hand-off
//! rewrites never go through a link, and the SBOM never carries a raw hostile string in a purl.
//! The disk-full case needs root (`unshare -m` + tmpfs); without it it prints a SKIP note.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::util::{
    fixture_venv, is_root, names, path_str, show, site_packages, skip, slim, staging_left,
    tree_hash, venvslim, venvslim_bin, Run, TestCommand,
};

const ROOT_LICENCE: &str = "root LICENSE text of demo\n";
const SECOND_CLAIM: &str = "licence of a second dist-info claiming demo 1.0\n";

/// Relative path and content of every file and link under `root`, sorted (links as `-> target`).
fn files(root: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let rel = e.path().strip_prefix(root).expect("under root");
            let what = if e.file_type().is_symlink() {
                format!(
                    "-> {}",
                    fs::read_link(e.path()).expect("readlink").display()
                )
            } else {
                String::from_utf8_lossy(&fs::read(e.path()).expect("read")).into_owned()
            };
            (rel.display().to_string(), what)
        })
        .collect();
    v.sort();
    v
}

/// The three outputs of a hand-off run beside each other in `dir`.
struct Outputs {
    out: PathBuf,
    lic: PathBuf,
    sbom: PathBuf,
}

impl Outputs {
    fn in_dir(dir: &Path) -> Outputs {
        Outputs {
            out: dir.join("out"),
            lic: dir.join("lic"),
            sbom: dir.join("sb.json"),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--licenses-dir".into(),
            path_str(&self.lic).into(),
            "--sbom".into(),
            path_str(&self.sbom).into(),
        ]
    }

    /// None of the three exists.
    fn none(&self) -> bool {
        !self.out.exists() && !self.lic.exists() && !self.sbom.exists()
    }
}

/// F4: a full disk under OUT used to exit 2 ("OUT was not written") with the SBOM and the
/// licence directory written anyway.
#[test]
fn disk_full_writes_no_sbom_and_no_licences() {
    if !is_root() {
        return skip("disk_full_writes_no_sbom_and_no_licences", "needs root");
    }
    let (tmp, venv, _) = fixture_venv("safety-ho-enospc-");
    let side = tmp.path().join("side");
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&side).unwrap();
    fs::create_dir(&mnt).unwrap();
    let script = r#"mount -t tmpfs -o size=8k tmpfs "$1" || exit 99
"$2" slim "$3" -o "$1/out" --sbom "$4/sb.json" --licenses-dir "$4/lic"; rc=$?
echo "listing: $(ls -A "$1")"; exit $rc"#;
    let bin = venvslim_bin();
    let out = TestCommand::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args([&mnt, bin, &venv, &side])
        .env_remove("VENVSLIM_FAULT_AFTER")
        .env_remove("VENVSLIM_FAULT_STOP")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OUT was not written"), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("listing: \n"),
        "{}",
        show(&out)
    );
    assert_eq!(names(&side), Vec::<String>::new(), "{}", show(&out));
}

/// F4: the same with a file the user running venvslim cannot read (as root: run as nobody).
#[test]
fn unreadable_file_writes_no_sbom_and_no_licences() {
    let (tmp, venv, py) = fixture_venv("safety-ho-eacces-");
    let secret = site_packages(&venv, &py).join("demo/core.py");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let side = tmp.path().join("side");
    fs::create_dir(&side).unwrap();
    let mut cmd = if is_root() {
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&side, fs::Permissions::from_mode(0o777)).unwrap();
        let mut c = TestCommand::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(venvslim_bin())
            // nobody cannot enter a fresh scratch directory (mode 0700, root's)
            .current_dir("/");
        c
    } else {
        venvslim()
    };
    let o = Outputs::in_dir(&side);
    let out = cmd
        .arg("slim")
        .arg(&venv)
        .arg("-o")
        .arg(&o.out)
        .args(["--bytecode", "keep"])
        .args(o.args())
        .env_remove("VENVSLIM_FAULT_AFTER")
        .env_remove("VENVSLIM_FAULT_STOP")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("OUT was not written"),
        "{}",
        show(&out)
    );
    assert_eq!(names(&side), Vec::<String>::new(), "{}", show(&out));
}

/// Start a hand-off run that stops at fault point `n`; returns it and what the point was.
fn stopped_at(venv: &Path, o: &Outputs, extra: &[&str], n: u32) -> (Child, String) {
    let mut child = slim(venv, &o.out)
        .args(o.args())
        .args(extra)
        .env("VENVSLIM_FAULT_STOP", n.to_string())
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn venvslim");
    let stderr = child.stderr.take().expect("stderr");
    let line = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("fault injection: stopped at point"))
        .unwrap_or_else(|| panic!("venvslim never reached fault point {n}"));
    (child, line)
}

/// How many fault points a run passes.
fn count_points(venv: &Path, o: &Outputs, extra: &[&str]) -> u32 {
    slim(venv, &o.out)
        .args(o.args())
        .args(extra)
        .env("VENVSLIM_FAULT_AFTER", "count")
        .run()
        .fault_points()
}

fn sigterm(child: &Child) {
    // SAFETY: kill(2) on a child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

/// F4: SIGTERM at any point before the outputs are published used to leave `lic/` with files.
/// Stopped at every fault point up to the first publish, a SIGTERM leaves none of the three.
#[test]
fn sigterm_before_publishing_leaves_no_licences_and_no_sbom() {
    let (tmp, venv, _) = fixture_venv("safety-ho-term-");
    let reference = Outputs::in_dir(&tmp.path().join("reference"));
    let k = count_points(&venv, &reference, &[]);
    let mut tried = 0;
    for n in 1..=k {
        let dir = tmp.path().join(format!("at{n}"));
        fs::create_dir(&dir).unwrap();
        let o = Outputs::in_dir(&dir);
        let (mut child, line) = stopped_at(&venv, &o, &[], n);
        if line.contains("(publish") {
            // Publishing holds signals until all three are in place; that is tested by the kill
            // sweep. Stop here.
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        sigterm(&child);
        let status = child.wait().expect("wait");
        // Before the first staging exists no handler is installed: the signal's default action.
        let by_default = std::os::unix::process::ExitStatusExt::signal(&status)
            == Some(libc::SIGTERM)
            && tried == 0;
        assert!(
            status.code() == Some(143) || by_default,
            "point {n} ({line}): {status}"
        );
        assert!(o.none(), "point {n} ({line}): {:?}", names(&dir));
        assert_eq!(
            staging_left(&dir),
            Vec::<String>::new(),
            "point {n} ({line})"
        );
        tried += 1;
    }
    assert!(tried >= 5, "only {tried} points before publishing");
}

/// F4: a SIGKILL used to leave `lic/` behind, and every rerun then refused it ("exists and is
/// not empty"). Killed at points spread over the whole run: OUT, then the licences, then the
/// SBOM appear, each complete or not at all, and after removing what was published a rerun
/// ends with the uninterrupted run's outputs and nothing left behind.
#[test]
fn killed_at_any_point_the_outputs_are_absent_or_complete_and_a_rerun_converges() {
    let (tmp, venv, _) = fixture_venv("safety-ho-kill-");
    let before = tree_hash(&venv);
    let reference = Outputs::in_dir(&tmp.path().join("reference"));
    fs::create_dir(tmp.path().join("reference")).unwrap();
    let k = count_points(&venv, &reference, &[]);
    let want = (
        files(&reference.out),
        files(&reference.lic),
        fs::read(&reference.sbom).unwrap(),
    );
    assert!(!want.1.is_empty(), "the fixture has licences");
    // Every point of the end of the run (the publishes), and others spread over the rest.
    let mut points: Vec<u32> = (0..16).map(|i| 1 + i * (k - 1) / 15).collect();
    points.extend(k.saturating_sub(6)..=k);
    points.sort();
    points.dedup();
    let mut killed = 0;
    for &n in &points {
        let dir = tmp.path().join(format!("at{n}"));
        fs::create_dir(&dir).unwrap();
        let o = Outputs::in_dir(&dir);
        let run = slim(&venv, &o.out)
            .args(o.args())
            .env("VENVSLIM_FAULT_AFTER", n.to_string())
            .run();
        let by_kill =
            std::os::unix::process::ExitStatusExt::signal(&run.status) == Some(libc::SIGKILL);
        assert!(by_kill || run.status.success(), "point {n}: {}", show(&run));
        killed += u32::from(by_kill);
        assert_eq!(tree_hash(&venv), before, "point {n}: the input changed");
        // Published in order: OUT, licences, SBOM.
        assert!(
            !o.lic.exists() || o.out.exists(),
            "point {n}: licences before OUT"
        );
        assert!(
            !o.sbom.exists() || o.lic.exists(),
            "point {n}: SBOM before licences"
        );
        if o.out.exists() {
            assert_eq!(files(&o.out), want.0, "point {n}: OUT incomplete");
            fs::remove_dir_all(&o.out).unwrap();
        }
        if o.lic.exists() {
            assert_eq!(files(&o.lic), want.1, "point {n}: licences incomplete");
            fs::remove_dir_all(&o.lic).unwrap();
        }
        if o.sbom.exists() {
            assert_eq!(
                fs::read(&o.sbom).unwrap(),
                want.2,
                "point {n}: SBOM differs"
            );
            fs::remove_file(&o.sbom).unwrap();
        }
        let rerun = slim(&venv, &o.out).args(o.args()).run();
        assert!(rerun.status.success(), "point {n}: {}", show(&rerun));
        assert_eq!(files(&o.out), want.0, "point {n}: the rerun's OUT differs");
        assert_eq!(
            files(&o.lic),
            want.1,
            "point {n}: the rerun's licences differ"
        );
        assert_eq!(fs::read(&o.sbom).unwrap(), want.2, "point {n}");
        assert_eq!(staging_left(&dir), Vec::<String>::new(), "point {n}");
    }
    assert!(
        killed + 1 >= points.len() as u32,
        "{killed} of {points:?} killed"
    );
}

/// F5: SIGTERM during a long parallel copy used to leave files in the staging directory every
/// time (the signal thread removed it while the copy threads went on writing into it). One copy
/// thread is stopped at a fault point inside the copy and the signal is sent at once, while the
/// others still have thousands of files to write.
#[test]
fn sigterm_during_a_long_copy_leaves_no_staging() {
    let (tmp, venv, py) = fixture_venv("safety-ho-bulk-");
    let bulk = site_packages(&venv, &py).join("bulk");
    for d in 0..40 {
        let sub = bulk.join(format!("d{d:02}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..100 {
            fs::write(sub.join(format!("f{f:03}.txt")), format!("{d} {f}\n")).unwrap();
        }
    }
    let out = tmp.path().join("out");
    for n in [200, 400] {
        let mut child = slim(&venv, &out)
            .args(["--bytecode", "keep"])
            .env("VENVSLIM_FAULT_STOP", n.to_string())
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn venvslim");
        let stderr = child.stderr.take().expect("stderr");
        let line = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("fault injection: stopped at point"))
            .unwrap_or_else(|| panic!("never reached point {n}"));
        sigterm(&child);
        assert!(
            line.ends_with("(copy)"),
            "point {n} is not in the copy: {line}"
        );
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(143), "{status}");
        assert!(!out.exists());
        assert_eq!(staging_left(tmp.path()), Vec::<String>::new(), "point {n}");
    }
}

/// Add a root `LICENSE` to demo's dist-info, beside its `licenses/LICENSE`.
fn add_root_licence(venv: &Path, py: &str) {
    let di = site_packages(venv, py).join("demo-1.0.dist-info");
    fs::write(di.join("LICENSE"), ROOT_LICENCE).unwrap();
}

fn json_report(out: &Run) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

fn warnings(report: &Value) -> Vec<String> {
    report["handoff"]["warnings"]
        .as_array()
        .map(|w| w.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The `to` of every move action, by the moved path's file name relative to site-packages.
fn moves(report: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "move")
        .map(|a| {
            let path = a["path"].as_str().unwrap();
            let rel = path.split("site-packages/").nth(1).unwrap_or(path);
            (rel.to_string(), a["to"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

/// F6: `LICENSE` and `licenses/LICENSE` of one dist-info used to land on one path: one text was
/// dropped and the report claimed both moved there. Both stay, at their path relative to the
/// dist-info, in OUT (`--dist-info strip`) and in `--licenses-dir`.
#[test]
fn licences_with_one_basename_both_survive() {
    let (tmp, venv, py) = fixture_venv("safety-ho-basename-");
    add_root_licence(&venv, &py);
    let mit =
        fs::read_to_string(site_packages(&venv, &py).join("demo-1.0.dist-info/licenses/LICENSE"))
            .unwrap();
    let o = Outputs::in_dir(tmp.path());
    let out = slim(&venv, &o.out)
        .args([
            "--dist-info",
            "strip",
            "--licenses-dir",
            path_str(&o.lic),
            "--json",
        ])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let report = json_report(&out);
    let at = |p: &str| fs::read_to_string(o.out.join(p)).ok();
    assert_eq!(
        at("licenses/demo-1.0/LICENSE").as_deref(),
        Some(ROOT_LICENCE)
    );
    assert_eq!(
        at("licenses/demo-1.0/licenses/LICENSE").as_deref(),
        Some(mit.as_str())
    );
    let lic: Vec<(String, String)> = files(&o.lic)
        .into_iter()
        .filter(|(p, _)| p.starts_with("demo-1.0/"))
        .collect();
    assert_eq!(
        lic,
        vec![
            ("demo-1.0/LICENSE".into(), ROOT_LICENCE.into()),
            ("demo-1.0/licenses/LICENSE".into(), mit.clone()),
        ]
    );
    // The report's moves are exactly the files written.
    for (from, to) in moves(&report) {
        if from.starts_with("demo-1.0.dist-info/") {
            let want = fs::read_to_string(site_packages(&venv, &py).join(&from)).unwrap();
            assert_eq!(at(&to).as_deref(), Some(want.as_str()), "{from} -> {to}");
        }
    }
    let listed = report["handoff"]["licenses"]["paths"]
        .as_array()
        .expect("paths");
    assert!(
        listed.contains(&Value::from("demo-1.0/LICENSE")),
        "{listed:?}"
    );
    assert!(
        listed.contains(&Value::from("demo-1.0/licenses/LICENSE")),
        "{listed:?}"
    );
    assert_eq!(report["handoff"]["licenses"]["files"], listed.len());
}

/// F6: a second dist-info with `Name: demo`, `Version: 1.0` used to replace demo's licence in
/// `OUT/licenses` and `--licenses-dir` without a word. The first (in sorted order) keeps the
/// name; the second keeps its licences in its dist-info, and the report says so.
#[test]
fn a_second_dist_info_claiming_the_same_name_keeps_its_licences_in_place() {
    let (tmp, venv, py) = fixture_venv("safety-ho-twice-");
    let sp = site_packages(&venv, &py);
    let mit = fs::read_to_string(sp.join("demo-1.0.dist-info/licenses/LICENSE")).unwrap();
    let z = sp.join("zzz-1.0.dist-info");
    fs::create_dir_all(z.join("licenses")).unwrap();
    fs::write(
        z.join("METADATA"),
        "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    )
    .unwrap();
    fs::write(z.join("RECORD"), "").unwrap();
    fs::write(z.join("licenses/LICENSE"), SECOND_CLAIM).unwrap();
    fs::write(sp.join("zzz.py"), "X = 1\n").unwrap();
    fs::write(z.join("RECORD"), "zzz.py,,\n").unwrap();
    let o = Outputs::in_dir(tmp.path());
    let out = slim(&venv, &o.out)
        .args([
            "--dist-info",
            "strip",
            "--licenses-dir",
            path_str(&o.lic),
            "--json",
        ])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let report = json_report(&out);
    let rel_sp = sp.strip_prefix(&venv).unwrap();
    let read = |p: PathBuf| fs::read_to_string(p).ok();
    assert_eq!(
        read(o.out.join("licenses/demo-1.0/licenses/LICENSE")),
        Some(mit.clone())
    );
    assert_eq!(read(o.lic.join("demo-1.0/licenses/LICENSE")), Some(mit));
    assert_eq!(
        read(
            o.out
                .join(rel_sp)
                .join("zzz-1.0.dist-info/licenses/LICENSE")
        )
        .as_deref(),
        Some(SECOND_CLAIM),
        "kept in place"
    );
    let w = warnings(&report);
    assert!(
        w.iter()
            .any(|w| w.contains("zzz-1.0.dist-info") && w.contains("demo-1.0.dist-info")),
        "{w:?}"
    );
    let text = slim(&venv, &tmp.path().join("out2"))
        .args(["--dist-info", "strip", "-n"])
        .run();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("zzz-1.0.dist-info"),
        "{}",
        show(&text)
    );
}

/// F6: a file the venv already holds where a moved licence would go is never overwritten: the
/// licence stays in its dist-info and the report says so.
#[test]
fn a_licence_never_overwrites_a_file_of_the_venv() {
    let (tmp, venv, py) = fixture_venv("safety-ho-taken-");
    let taken = venv.join("licenses/demo-1.0/licenses");
    fs::create_dir_all(&taken).unwrap();
    fs::write(taken.join("LICENSE"), "precious\n").unwrap();
    let o = Outputs::in_dir(tmp.path());
    let out = slim(&venv, &o.out)
        .args(["--dist-info", "strip", "--json"])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let report = json_report(&out);
    assert_eq!(
        fs::read_to_string(o.out.join("licenses/demo-1.0/licenses/LICENSE")).unwrap(),
        "precious\n"
    );
    let kept = o
        .out
        .join(site_packages(&venv, &py).strip_prefix(&venv).unwrap())
        .join("demo-1.0.dist-info/licenses/LICENSE");
    assert!(kept.is_file(), "the licence stays in its dist-info");
    let w = warnings(&report);
    assert!(
        w.iter()
            .any(|w| w.contains("licenses/demo-1.0/licenses/LICENSE")),
        "{w:?}"
    );
}

/// F6: `LICENSE -> licenses/LICENSE` in a dist-info used to make `--dist-info strip` exit 2
/// (ELOOP/EEXIST, with a hint about disk space). The link moves as a link to the moved file.
#[test]
fn a_licence_link_to_a_sibling_licence_moves_with_strip() {
    let (tmp, venv, py) = fixture_venv("safety-ho-sibling-");
    let di = site_packages(&venv, &py).join("demo-1.0.dist-info");
    symlink("licenses/LICENSE", di.join("LICENSE")).unwrap();
    let mit = fs::read_to_string(di.join("licenses/LICENSE")).unwrap();
    let o = Outputs::in_dir(tmp.path());
    let out = slim(&venv, &o.out)
        .args(["--dist-info", "strip", "--licenses-dir", path_str(&o.lic)])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let link = o.out.join("licenses/demo-1.0/LICENSE");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&link).unwrap(), mit);
    assert_eq!(
        fs::read_to_string(o.lic.join("demo-1.0/LICENSE")).unwrap(),
        mit
    );
    assert_eq!(
        fs::read_to_string(o.lic.join("demo-1.0/licenses/LICENSE")).unwrap(),
        mit
    );
}

/// F7: a `pyvenv.cfg` that is a symlink used to be left as it was under `--prefix`/`--python`
/// (exit 0, `home` not rewritten, no warning). It is a usage error now, before any work.
#[test]
fn a_pyvenv_cfg_link_cannot_be_relocated() {
    let (tmp, venv, py) = fixture_venv("safety-ho-cfg-");
    fs::rename(venv.join("pyvenv.cfg"), venv.join("cfg.real")).unwrap();
    symlink("cfg.real", venv.join("pyvenv.cfg")).unwrap();
    let before = tree_hash(&venv);
    let python = format!("/usr/bin/python{py}");
    for args in [
        vec!["--prefix", "/venv", "--python", python.as_str()],
        vec!["--python", python.as_str()],
    ] {
        let out_dir = tmp.path().join("out");
        let out = slim(&venv, &out_dir).args(&args).run();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("pyvenv.cfg") && stderr.contains("hint:"),
            "{}",
            show(&out)
        );
        assert!(!out_dir.exists());
        assert_eq!(staging_left(tmp.path()), Vec::<String>::new());
    }
    assert_eq!(tree_hash(&venv), before);
    // Nothing to rewrite, nothing refused.
    let out = slim(&venv, &tmp.path().join("plain")).run();
    assert!(out.status.success(), "{}", show(&out));
}

/// F9: a distribution whose METADATA name and version venvslim itself rejects used to appear in
/// the SBOM with raw purls (`pkg:pypi//x/advz@/x/advz`). It is listed (what ships is
/// listed) with its purl percent-encoded, and the report warns.
#[test]
fn sbom_purls_of_rejected_names_are_percent_encoded() {
    let (tmp, venv, py) = fixture_venv("safety-ho-purl-");
    let d = site_packages(&venv, &py).join("advz-1.0.dist-info");
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("METADATA"),
        "Metadata-Version: 2.1\nName: /x/advz\nVersion: /x/advz\n",
    )
    .unwrap();
    fs::write(site_packages(&venv, &py).join("advz.py"), "X = 1\n").unwrap();
    fs::write(d.join("RECORD"), "advz.py,,\n").unwrap();
    let sbom = tmp.path().join("sb.json");
    let out = slim(&venv, &tmp.path().join("out"))
        .args(["--sbom", path_str(&sbom), "--json"])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    let purls: Vec<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap())
        .collect();
    assert!(
        purls.contains(&"pkg:pypi/%2Fx%2Fadvz@%2Fx%2Fadvz"),
        "{purls:?}"
    );
    for p in &purls {
        let rest = p.strip_prefix("pkg:pypi/").expect("a pypi purl");
        assert!(!rest.contains('/'), "{p}");
    }
    let w = warnings(&json_report(&out));
    assert!(
        w.iter()
            .any(|w| w.contains("advz-1.0.dist-info") && w.contains("SBOM")),
        "{w:?}"
    );
}

/// F9: the text report printed "hand-off: the tree will live" and nothing more when no
/// `--prefix` or `--python` was given.
#[test]
fn the_text_report_says_where_the_tree_will_live() {
    let (tmp, venv, _) = fixture_venv("safety-ho-text-");
    let lic = tmp.path().join("lic");
    let out = slim(&venv, &tmp.path().join("out"))
        .args(["--licenses-dir", path_str(&lic)])
        .run();
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("hand-off:"))
        .unwrap_or_else(|| panic!("{}", show(&out)));
    assert!(
        line.trim_end().ends_with(path_str(&venv)),
        "the line names where the tree lives: {line:?}"
    );
}

/// F4, in place: the licence directory and the SBOM are outside the venv there too. In place
/// the promise is convergence (docs/safety.md): they are steps of the journal, so a run stopped
/// at any of its last fault points (where they are written) and sent SIGTERM, then run again,
/// ends with both complete, as an uninterrupted run writes them, and no staging beside them.
#[test]
fn in_place_sigterm_then_a_rerun_completes_licences_and_sbom() {
    let (tmp, venv, _) = fixture_venv("safety-ho-inplace-");
    // Each copy is named `venv` (in a directory of its own): the SBOM names the tree.
    let fresh = |name: &str| {
        let v = tmp.path().join(name).join("venv");
        fs::create_dir(tmp.path().join(name)).unwrap();
        crate::util::copy_tree(&venv, &v);
        v
    };
    let side = tmp.path().join("side");
    fs::create_dir(&side).unwrap();
    let o = Outputs::in_dir(&side);
    let run = |v: &Path, env: Option<(&str, String)>| {
        let mut c = venvslim();
        c.arg("slim")
            .arg(v)
            .arg("--in-place")
            .args(["--bytecode", "keep"])
            .args(o.args());
        if let Some((k, val)) = env {
            c.env(k, val);
        }
        c
    };
    let counted = run(
        &fresh("count"),
        Some(("VENVSLIM_FAULT_AFTER", "count".into())),
    )
    .run();
    let k = counted.fault_points();
    assert!(o.lic.join("demo-1.0/licenses/LICENSE").is_file() && o.sbom.is_file());
    let want_lic = fs::read(o.lic.join("demo-1.0/licenses/LICENSE")).unwrap();
    let want_sbom = fs::read(&o.sbom).unwrap();
    let mut interrupted = 0;
    for n in k.saturating_sub(12)..=k {
        fs::remove_dir_all(&o.lic).unwrap_or_default();
        let _ = fs::remove_file(&o.sbom);
        let v = fresh(&format!("v{n}"));
        let mut child = run(&v, Some(("VENVSLIM_FAULT_STOP", n.to_string())))
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let line = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("fault injection: stopped at point"))
            .unwrap_or_else(|| panic!("never reached point {n}"));
        sigterm(&child);
        let status = child.wait().unwrap();
        let by_default =
            std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGTERM);
        assert!(status.code() == Some(143) || by_default, "{line}: {status}");
        interrupted +=
            usize::from(!o.lic.join("demo-1.0/licenses/LICENSE").is_file() || !o.sbom.is_file());
        let rerun = run(&v, None).run();
        assert!(rerun.status.success(), "{line}, rerun: {}", show(&rerun));
        assert_eq!(
            fs::read(o.lic.join("demo-1.0/licenses/LICENSE"))
                .ok()
                .as_deref(),
            Some(&want_lic[..]),
            "{line}"
        );
        assert_eq!(
            fs::read(&o.sbom).ok().as_deref(),
            Some(&want_sbom[..]),
            "{line}"
        );
        assert_eq!(staging_left(&side), Vec::<String>::new(), "{line}");
    }
    assert!(
        interrupted >= 1,
        "no stop point came before the outputs were complete"
    );
}
