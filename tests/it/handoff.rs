//! The hand-off options through the binary, on the small hand-made venv
//! (`fixtures/make_fixture_venv.py`): relocation (`--prefix`, `--python`) of scripts, pyvenv.cfg,
//! links, RECORD and bytecode; the warning about an interpreter a distroless image lacks;
//! `--keep-bin`; licences and SBOM; mtimes, modes and `--chmod`; `--dedupe`; in place; usage
//! errors (exit 2, a `hint:`, nothing written); and the `venvslim dockerfile` snippet (insta).
//! `tests/it/real_handoff.rs` runs real venvs this way in a distroless-like mount namespace.

use crate::util::{show, slim, unique_bytes, venvslim, Fixture, Run};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

const EPOCH: i64 = 1_700_000_000;

/// The venv's scripts name it by its real path, as pip writes them (the fixture's say
/// `/venv`): bin/demo as a plain shebang, bin/longname as pip's sh trampoline.
fn pip_style_scripts(fx: &Fixture) {
    let root = fx.root.canonicalize().unwrap();
    let body =
        "# -*- coding: utf-8 -*-\nimport sys\nfrom demo.core import main\nsys.exit(main())\n";
    let demo = format!("#!{}/bin/python{}\n{body}", root.display(), fx.py);
    fs::write(fx.root.join("bin/demo"), demo).unwrap();
    let long = format!(
        "#!/bin/sh\n'''exec' \"{}/bin/python\" \"$0\" \"$@\"\n' '''\n{body}",
        root.display()
    );
    fs::write(fx.root.join("bin/longname"), long).unwrap();
    fs::set_permissions(
        fx.root.join("bin/longname"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

/// Path -> (mode, mtime, inode, content or link target) of everything below `root`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let what = if m.file_type().is_symlink() {
                format!("-> {:?}", fs::read_link(e.path()).unwrap())
            } else if m.is_file() {
                format!("{:?}", fs::read(e.path()).unwrap())
            } else {
                "dir".into()
            };
            let desc = format!("{:o} {} {} {what}", m.mode(), m.mtime(), m.ino());
            (e.path().strip_prefix(root).unwrap().to_path_buf(), desc)
        })
        .collect()
}

fn usage_error(o: &Run, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", show(o));
    assert!(err.contains(needle) && err.contains("hint:"), "{err}");
}

#[test]
fn prefix_and_python_rewrite_scripts_cfg_links_record_and_bytecode() {
    let fx = Fixture::new("venvslim-handoff-");
    pip_style_scripts(&fx);
    let before = snapshot(&fx.root);
    let out = fx.path("out");
    let python = format!("/usr/bin/python{}", fx.py);
    let r = slim(&fx.root, &out)
        .args(["--prefix", "/app/venv", "--python", &python])
        .report();
    assert_eq!(snapshot(&fx.root), before, "the input venv was modified");

    let demo = fs::read_to_string(out.join("bin/demo")).unwrap();
    assert!(
        demo.starts_with(&format!("#!/app/venv/bin/python{}\n", fx.py)),
        "{demo}"
    );
    let long = fs::read_to_string(out.join("bin/longname")).unwrap();
    assert!(
        long.starts_with("#!/app/venv/bin/python\n# -*- coding"),
        "trampoline: {long}"
    );
    for link in ["python", "python3", &format!("python{}", fx.py)] {
        assert_eq!(
            fs::read_link(out.join("bin").join(link)).unwrap(),
            Path::new(&python)
        );
    }
    let cfg = fs::read_to_string(out.join("pyvenv.cfg")).unwrap();
    assert!(cfg.contains("home = /usr/bin\n"), "{cfg}");

    // Reported, each one.
    let h = &r["handoff"];
    let paths: Vec<&str> = h["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["bin/demo", "bin/longname", "pyvenv.cfg"], "{h:#}");
    assert_eq!(h["links"].as_array().unwrap().len(), 3, "{h:#}");
    assert!(
        h["rewrites"][1]["changes"][0]
            .as_str()
            .unwrap()
            .contains("trampoline"),
        "{h:#}"
    );

    // RECORD has the relocated script's new hash; bytecode names the final path.
    let record = fs::read_to_string(out.join(format!(
        "lib/python{}/site-packages/demo-1.0.dist-info/RECORD",
        fx.py
    )))
    .unwrap();
    let row = record
        .lines()
        .find(|l| l.starts_with("../../../bin/demo,"))
        .expect("bin/demo row");
    let size = fs::metadata(out.join("bin/demo")).unwrap().len();
    assert!(row.ends_with(&format!(",{size}")), "{row} vs {size} bytes");
    let pyc = out.join(format!(
        "lib/python{}/site-packages/demo/__pycache__/core.cpython-{}.pyc",
        fx.py,
        fx.py.replace('.', "")
    ));
    let bytes = fs::read(&pyc).unwrap();
    let want = format!("/app/venv/lib/python{}/site-packages/demo/core.py", fx.py);
    assert!(
        bytes.windows(want.len()).any(|w| w == want.as_bytes()),
        "co_filename is not {want}"
    );

    // A dry run shows the same rewrites and writes nothing.
    let o = venvslim()
        .args([
            "slim",
            fx.root.to_str().unwrap(),
            "-n",
            "--prefix",
            "/app/venv",
            "--python",
            &python,
        ])
        .run();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("would rewrite bin/demo: shebang -> #!/app/venv/bin/python"),
        "{text}"
    );
    assert!(
        text.contains(&format!("link bin/python3 -> {python}")),
        "{text}"
    );
    assert_eq!(snapshot(&fx.root), before);
}

#[test]
fn prefix_without_python_warns_about_a_foreign_interpreter() {
    let fx = Fixture::new("venvslim-handoff-");
    let link = fx.root.join(format!("bin/python{}", fx.py));
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(format!("/usr/local/bin/python{}", fx.py), &link).unwrap();
    let o = slim(&fx.root, &fx.path("out"))
        .args(["--prefix", "/venv", "--bytecode", "keep"])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("warning: bin/python points to `/usr/local/bin/python"),
        "{text}"
    );
    assert!(text.contains("hint: pass --python"), "{text}");
    let o = slim(&fx.root, &fx.path("out2"))
        .args([
            "--prefix",
            "/venv",
            "--bytecode",
            "keep",
            "--python",
            "/usr/bin/python3",
        ])
        .run();
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("warning:"),
        "{}",
        show(&o)
    );
}

#[test]
fn usage_errors_write_nothing() {
    let fx = Fixture::new("venvslim-handoff-");
    let out = fx.path("out");
    usage_error(
        &slim(&fx.root, &out)
            .args(["--python", "/usr/bin/python3.2"])
            .run(),
        "is Python 3.2",
    );
    usage_error(
        &slim(&fx.root, &out).args(["--prefix", "venv"]).run(),
        "not an absolute path",
    );
    usage_error(
        &slim(&fx.root, &out).args(["--keep-bin", "nope"]).run(),
        "no such script",
    );
    // The tree at /usr: its bin/python3.X would replace the interpreter it links to.
    let python = format!("/usr/bin/python{}", fx.py);
    usage_error(
        &slim(&fx.root, &out)
            .args(["--prefix", "/usr", "--python", &python])
            .run(),
        "point at themselves",
    );
    usage_error(
        &slim(&fx.root, &out).args(["--chmod", "a*w"]).run(),
        "--chmod",
    );
    usage_error(
        &slim(&fx.root, &out).args(["--mtime", "yesterday"]).run(),
        "not a Unix time",
    );
    let o = venvslim()
        .args([
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .env("SOURCE_DATE_EPOCH", "x")
        .run();
    usage_error(&o, "SOURCE_DATE_EPOCH");
    let lic = fx.path("lic");
    fs::create_dir(&lic).unwrap();
    fs::write(lic.join("x"), "").unwrap();
    usage_error(
        &slim(&fx.root, &out)
            .args(["--licenses-dir", lic.to_str().unwrap()])
            .run(),
        "not empty",
    );
    assert!(!out.exists());
}

#[test]
fn keep_bin_keeps_named_scripts_and_python_links() {
    let fx = Fixture::new("venvslim-handoff-");
    pip_style_scripts(&fx);
    let out = fx.path("out");
    let r = slim(&fx.root, &out).args(["--keep-bin", "demo"]).report();
    let mut names: Vec<String> = fs::read_dir(out.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let py = format!("python{}", fx.py);
    assert_eq!(names, ["demo", "python", "python3", py.as_str()]);
    let gone = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "bin/longname")
        .expect("longname removed");
    assert_eq!(gone["rule"], "scripts.not-kept");
}

#[test]
fn sbom_and_licences_of_shipped_distributions() {
    let fx = Fixture::new("venvslim-handoff-");
    let (out, lic, sbom) = (
        fx.path("out"),
        fx.path("legal/licenses"),
        fx.path("legal/sbom.json"),
    );
    let r = slim(&fx.root, &out)
        .args([
            "--licenses-dir",
            lic.to_str().unwrap(),
            "--sbom",
            sbom.to_str().unwrap(),
        ])
        .report();
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    assert_eq!(doc["specVersion"], "1.5");
    let comps = doc["components"].as_array().unwrap();
    assert_eq!(comps.len(), 1, "pip is not shipped: {doc:#}");
    assert_eq!(comps[0]["name"], "demo");
    assert_eq!(comps[0]["version"], "1.0");
    assert_eq!(comps[0]["purl"], "pkg:pypi/demo@1.0");
    assert_eq!(comps[0]["licenses"][0]["expression"], "MIT");
    assert_eq!(
        fs::read_to_string(lic.join("demo-1.0/licenses/LICENSE")).unwrap(),
        fs::read_to_string(fx.sp().join("demo-1.0.dist-info/licenses/LICENSE")).unwrap()
    );
    assert!(!lic.join("pip-23.0").exists());
    assert_eq!(r["handoff"]["licenses"]["files"], 1);
    assert_eq!(r["handoff"]["sbom"]["components"], 1);
    // Inside OUT: written into the tree before it is published.
    let out2 = fx.path("out2");
    slim(&fx.root, &out2)
        .args([
            "--licenses-dir",
            out2.join("licenses").to_str().unwrap(),
            "--sbom",
            out2.join("sbom.json").to_str().unwrap(),
        ])
        .report();
    assert!(
        out2.join("licenses/demo-1.0/licenses/LICENSE").is_file()
            && out2.join("sbom.json").is_file()
    );
}

#[test]
fn mtimes_modes_and_chmod() {
    let fx = Fixture::new("venvslim-handoff-");
    let data = fx.sp().join("demo/static/app.js");
    fs::set_permissions(&data, fs::Permissions::from_mode(0o6775)).unwrap();
    let out = fx.path("out");
    let o = venvslim()
        .args([
            "slim",
            fx.root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    for e in walkdir::WalkDir::new(&out) {
        let m = e.unwrap().path().symlink_metadata().unwrap();
        assert_eq!(m.mtime(), EPOCH);
        if !m.file_type().is_symlink() {
            assert_eq!(m.mode() & 0o6022, 0, "no g/o write, no setuid/setgid");
        }
    }
    assert_eq!(
        fs::metadata(
            out.join("lib")
                .join(format!("python{}/site-packages/demo/static/app.js", fx.py))
        )
        .unwrap()
        .mode()
            & 0o7777,
        0o755
    );

    let ro = fx.path("ro");
    slim(&fx.root, &ro)
        .args(["--chmod", "a-w", "--mtime", &EPOCH.to_string()])
        .report();
    for e in walkdir::WalkDir::new(&ro) {
        let m = e.unwrap().path().symlink_metadata().unwrap();
        if !m.file_type().is_symlink() {
            assert_eq!(m.mode() & 0o222, 0, "a-w");
        }
    }
    // Same input, same options: the same tree, byte for byte, mtimes and modes included.
    let again = fx.path("again");
    slim(&fx.root, &again)
        .args(["--chmod", "a-w", "--mtime", &EPOCH.to_string()])
        .report();
    let strip_ino = |m: BTreeMap<PathBuf, String>| -> BTreeMap<PathBuf, String> {
        m.into_iter()
            .map(|(k, v)| {
                let mut parts: Vec<&str> = v.splitn(4, ' ').collect();
                parts.remove(2);
                (k, parts.join(" "))
            })
            .collect()
    };
    assert_eq!(strip_ino(snapshot(&ro)), strip_ino(snapshot(&again)));
}

#[test]
fn dedupe_hardlinks_identical_files() {
    let fx = Fixture::new("venvslim-handoff-");
    let data = fx.sp().join("demo/data");
    fs::copy(data.join("a.json"), data.join("c.json")).unwrap();
    let t = filetime::FileTime::from_last_modification_time(
        &fs::metadata(data.join("a.json")).unwrap(),
    );
    filetime::set_file_mtime(data.join("c.json"), t).unwrap();
    let out = fx.path("out");
    let r = slim(&fx.root, &out).args(["--dedupe"]).report();
    let d = out.join(format!("lib/python{}/site-packages/demo/data", fx.py));
    let ino = |n: &str| fs::metadata(d.join(n)).unwrap().ino();
    assert_eq!(ino("a.json"), ino("c.json"));
    assert_eq!(ino("a.json"), ino("b.json"));
    // The licence text is in the package and in its dist-info: linked too.
    let sp = out.join(format!("lib/python{}/site-packages", fx.py));
    let lic = |p: &str| fs::metadata(sp.join(p)).unwrap().ino();
    assert_eq!(
        lic("demo/LICENSE"),
        lic("demo-1.0.dist-info/licenses/LICENSE")
    );
    // What the report says it saved is what the tree no longer stores.
    let plain = fx.path("plain");
    slim(&fx.root, &plain).report();
    let saved = unique_bytes(&plain) - unique_bytes(&out);
    assert!(saved > fs::metadata(d.join("a.json")).unwrap().len());
    assert_eq!(
        r["handoff"]["dedupe"]["saved_bytes"].as_u64(),
        Some(saved),
        "{:#}",
        r["handoff"]
    );
    assert!(
        fs::metadata(fx.sp().join("demo/data/c.json"))
            .unwrap()
            .nlink()
            == 1,
        "input untouched"
    );
}

#[test]
fn in_place_relocates_through_temporary_files() {
    let fx = Fixture::new("venvslim-handoff-");
    pip_style_scripts(&fx);
    let ino = fs::metadata(fx.root.join("bin/demo")).unwrap().ino();
    let python = format!("/usr/bin/python{}", fx.py);
    let o = venvslim()
        .args([
            "slim",
            fx.root.to_str().unwrap(),
            "--in-place",
            "--prefix",
            "/venv",
            "--python",
            &python,
        ])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let demo = fs::read_to_string(fx.root.join("bin/demo")).unwrap();
    assert!(
        demo.starts_with(&format!("#!/venv/bin/python{}\n", fx.py)),
        "{demo}"
    );
    assert_ne!(
        fs::metadata(fx.root.join("bin/demo")).unwrap().ino(),
        ino,
        "renamed over, not edited"
    );
    assert_eq!(
        fs::read_link(fx.root.join("bin/python")).unwrap(),
        Path::new(&python)
    );
}

#[test]
fn dockerfile_snippets() {
    let o = venvslim().args(["dockerfile"]).run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!(
        "dockerfile_default",
        String::from_utf8(o.output.stdout).unwrap()
    );
    let o = venvslim()
        .args([
            "dockerfile",
            "--keep-bin",
            "uvicorn",
            "--entrypoint",
            "uvicorn",
            "--entrypoint",
            "app.main:api",
            "--entrypoint",
            "--host=0.0.0.0",
            "--remove",
            "django/test/**",
            "--dedupe",
            "--mtime",
            "1700000000",
            "--chmod",
            "a-w",
            "--sbom",
            "/slim/sbom.cdx.json",
        ])
        .run();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!(
        "dockerfile_options",
        String::from_utf8(o.output.stdout).unwrap()
    );
    usage_error(
        &venvslim().args(["dockerfile", "--prefix", "venv"]).run(),
        "absolute",
    );
    // uv and Poetry build from pyproject.toml and their lock; tests/it/recipes.rs runs all three.
    for installer in ["uv", "poetry"] {
        let o = venvslim()
            .args([
                "dockerfile",
                "--installer",
                installer,
                "--keep-bin",
                "uvicorn",
            ])
            .run();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        insta::assert_snapshot!(
            format!("dockerfile_{installer}"),
            String::from_utf8(o.output.stdout).unwrap()
        );
        usage_error(
            &venvslim()
                .args(["dockerfile", "--installer", installer])
                .args(["--requirements", "requirements.txt"])
                .run(),
            "pip only",
        );
    }
    // A newline would start a Dockerfile instruction of its own; a wheel name with a space
    // would split in the shell.
    for (args, needle) in [
        (["--remove", "x\nRUN rm -rf /"], "control character"),
        (["--from", "python:3.11\nRUN id"], "control character"),
        (["--venvslim", "dist/my wheel.whl"], "file name"),
    ] {
        let o = venvslim().arg("dockerfile").args(args).run();
        usage_error(&o, needle);
        assert!(o.output.stdout.is_empty(), "{}", show(&o));
    }
    // The prefix goes unquoted into COPY, ENV PATH and shebangs, and for pip and uv the builder
    // makes the venv there: nothing it cannot carry, nothing the builder uses itself.
    for (args, needle) in [
        (&["--prefix", "/my venv"][..], "plain path"),
        (&["--prefix", "/srv/a:b"], "plain path"),
        (&["--prefix", "/a/../venv"], "plain path"),
        (&["--prefix", "/venv/"], "plain path"),
        (&["--prefix", "/"], "plain path"),
        (&["--prefix", "/opt"], "tools venv"),
        (&["--prefix", "/slim/venv"], "slim tree"),
        (&["--prefix", "/tmp"], "wheel"),
        (&["--prefix", "/usr"], "interpreter"),
        (&["--installer", "uv", "--prefix", "/app"], "uv project"),
    ] {
        let o = venvslim().arg("dockerfile").args(args).run();
        usage_error(&o, needle);
        assert!(o.output.stdout.is_empty(), "{}", show(&o));
    }
    // Values that printed a file Docker refuses (`FROM  AS builder`, `pip install ''`, an
    // ENTRYPOINT of bin/ itself, a COPY from outside the context).
    for (args, needle) in [
        (["--from", ""], "empty"),
        (["--venvslim", " "], "empty"),
        (["--entrypoint", ""], "empty"),
        (["--venvslim", "../dist/venvslim-*.whl"], "build context"),
        (["--venvslim", "/dist/venvslim.whl"], "build context"),
        (["--requirements", "../requirements.txt"], "build context"),
        (["--sbom", "sbom.cdx.json"], "absolute"),
        (["--licenses-dir", "licenses"], "absolute"),
        (
            ["--sbom", "/venv/sbom.cdx.json"],
            "the venv the builder slims",
        ),
        (
            ["--keep-bin=uvicorn", "--entrypoint=gunicorn"],
            "removes it",
        ),
    ] {
        let o = venvslim().arg("dockerfile").args(args).run();
        usage_error(&o, needle);
        assert!(o.output.stdout.is_empty(), "{}", show(&o));
    }
    // A wheel's URL is pip's to fetch (COPY takes none); a --keep-bin name is trimmed as slim
    // trims it before it names the entrypoint.
    let url = "https://example.org/venvslim-0.1.0-py3-none-any.whl";
    let o = venvslim()
        .args(["dockerfile", "--venvslim", url, "--keep-bin", " uvicorn"])
        .run();
    let text = o.stdout();
    assert!(
        text.contains(&format!("pip install --no-cache-dir {url}\n"))
            && !text.contains("COPY https")
            && text.contains("ENTRYPOINT [\"/venv/bin/uvicorn\"]"),
        "{}",
        show(&o)
    );
    // An SBOM or licence directory outside /slim is copied to the final stage at its path (it
    // stayed in the builder); one inside ships with the tree.
    let o = venvslim()
        .args(["dockerfile", "--sbom", "/sbom.cdx.json"])
        .args(["--licenses-dir", "/usr/share/app licenses"])
        .run();
    let text = o.stdout();
    let final_stage = &text[text.find("FROM gcr.io").expect("the final stage")..];
    assert!(
        final_stage.contains("COPY --from=builder /sbom.cdx.json /sbom.cdx.json\n")
            && final_stage.contains(
                "COPY --from=builder [\"/usr/share/app licenses\", \"/usr/share/app licenses\"]\n"
            ),
        "{}",
        show(&o)
    );
    // A value starting with `-` stays one word: the builder's slim would read it as an option.
    let o = venvslim()
        .args(["dockerfile", "--remove=-old/**", "--run=-x"])
        .run();
    assert!(
        o.stdout().contains(" '--remove=-old/**' --run=-x"),
        "{}",
        show(&o)
    );
    // The workloads and the prune level reach the builder's slim (they were dropped), and
    // --prune without a workload is refused as slim refuses it.
    let o = venvslim()
        .args(["dockerfile", "--run", "$VENV/bin/python -m app --check"])
        .args(["--prune", "used"])
        .run();
    assert!(
        o.stdout()
            .contains(" --run '$VENV/bin/python -m app --check' --prune=used\n"),
        "{}",
        show(&o)
    );
    usage_error(
        &venvslim().args(["dockerfile", "--prune", "safe"]).run(),
        "no --run",
    );
    // Poetry makes its venv in the project: the final path may be anywhere but the interpreter's.
    for prefix in ["/app", "/app/.venv", "/opt/venvslim"] {
        let o = venvslim()
            .args(["dockerfile", "--installer", "poetry", "--prefix", prefix])
            .run();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        assert!(
            o.stdout()
                .contains(&format!("COPY --from=builder /slim {prefix}\n")),
            "{}",
            show(&o)
        );
    }
    let o = venvslim()
        .args(["dockerfile", "--venvslim", "venvslim==0.1.0"])
        .run();
    let text = String::from_utf8(o.output.stdout).unwrap();
    assert!(
        text.contains("/opt/venvslim/bin/pip install --no-cache-dir venvslim==0.1.0\n")
            && !text.contains(".whl"),
        "{text}"
    );
}

/// `venvslim dockerfile` writes the project's `[tool.venvslim]` into the builder's slim line
/// (flags win, lists merge), and the uv and Poetry builders slim from `/`, so that the copied
/// pyproject.toml in /app is not read a second time.
#[test]
fn dockerfile_writes_the_projects_config_into_the_slim_line() {
    let dir = crate::util::scratch("dockerfile-config-");
    fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"app\"\n\n[tool.venvslim]\nkeep = [\"app_data/**\"]\ndedupe = true\nelf = \"debug\"\n",
    )
    .unwrap();
    for installer in ["pip", "uv", "poetry"] {
        let o = venvslim()
            .args(["dockerfile", "--installer", installer, "--elf", "keep"])
            .current_dir(dir.path())
            .run();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let text = String::from_utf8(o.output.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains("/bin/venvslim slim "))
            .expect("the slim line");
        let slim_line = lines[at];
        for want in ["--keep 'app_data/**'", "--dedupe", "--elf keep"] {
            assert!(
                slim_line.contains(want),
                "{installer}: {want} in {slim_line}"
            );
        }
        let workdir = lines[..at].iter().rev().find(|l| l.starts_with("WORKDIR "));
        assert!(
            workdir.is_none_or(|w| *w == "WORKDIR /"),
            "{installer}: slims in {workdir:?}"
        );
    }
}
