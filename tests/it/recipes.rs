//! The builder-stage recipes `venvslim dockerfile --installer pip|uv|poetry` prints, run as
//! written without Docker.
//!
//! Each Dockerfile's builder stage is read instruction by instruction and replayed in a scratch
//! root: a private mount namespace binds the machine's `/usr` and `/etc` read-only into it,
//! the machine's Python installation becomes `/usr/local` (as in `python:3.11-slim`), the
//! build context is the scratch context directory, `RUN --mount=type=cache` gets a cache
//! directory under `target/`, and the commands run under `chroot` with a clean environment:
//! the tools venv is installed from the wheel `.ci/wheel` built, the installer makes the app's
//! venv from PyPI, venvslim slims it. Then the final stage: the slim tree is mounted read-only
//! at the path `COPY --from=builder` puts it, the builder's Python hidden, and the image's
//! `ENTRYPOINT` runs the web request workload with Debian's `/usr/bin/python3.11` (the
//! interpreter distroless ships) as the image's user (65532) in the image's environment (the
//! final stage's ENV, nothing of the caller's), and a console script runs by its bare name.
//! The builder's image must name the final interpreter's Python version: the replay cannot see
//! that tag, it runs this machine's.
//!
//! Linux and root only (`unshare -m`, `chroot`, `mount`); without root each test prints a SKIP
//! note.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::real_handoff::{distroless_run, mount_point, FINAL_PYTHON};
use crate::real_poetry_pdm::{poetry_command, POETRY_TABLE};
use crate::real_uv::{uv, web_project};
use crate::util::{
    python, repo_root, require_ro_namespace, scratch, show, skip, target_dir, venvslim, FileLock,
    TestCommand,
};

const TIMEOUT: Duration = Duration::from_secs(1200);

/// One Dockerfile instruction: its keyword and the rest of its (joined) line.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            continue;
        }
        current.push_str(line);
        let (word, rest) = current
            .trim()
            .split_once(' ')
            .unwrap_or((current.trim(), ""));
        out.push((word.to_ascii_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

/// The words of a COPY: the JSON form (`["a b", "c"]`) or whitespace-separated.
fn copy_words(rest: &str) -> Vec<String> {
    if rest.starts_with('[') {
        serde_json::from_str(rest).expect("COPY in JSON form")
    } else {
        rest.split_whitespace().map(str::to_string).collect()
    }
}

/// What the test needs of a Dockerfile: the builder stage as a shell script, its cache mounts,
/// the Python version of its base image, and the final stage's tree path, environment and
/// entrypoint.
struct Recipe {
    script: String,
    caches: Vec<String>,
    builder_python: String,
    slim_at: String,
    env: Vec<(String, String)>,
    entrypoint: Vec<String>,
}

/// The PATH of the final stage's base image (distroless sets Docker's default), before the
/// final stage's ENV lines.
const DISTROLESS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The final image's environment as `env -i` arguments: distroless's PATH, then each ENV
/// `KEY=VALUE` in order, `$KEY` and `${KEY}` expanded from what is set so far.
fn image_env(env: &[(String, String)]) -> Vec<String> {
    let mut set: Vec<(String, String)> = vec![("PATH".into(), DISTROLESS_PATH.into())];
    for (k, v) in env {
        let mut value = v.clone();
        for (name, old) in &set {
            value = value
                .replace(&format!("${{{name}}}"), old)
                .replace(&format!("${name}"), old);
        }
        set.retain(|(name, _)| name != k);
        set.push((k.clone(), value));
    }
    set.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn recipe(dockerfile: &str) -> Recipe {
    let mut stage = 0;
    let mut script = String::from("set -eu\ncd /\n");
    let mut caches = Vec::new();
    let (mut builder_python, mut slim_at) = (None, None);
    let (mut env, mut entrypoint) = (Vec::new(), Vec::new());
    for (word, rest) in instructions(dockerfile) {
        match (stage, word.as_str()) {
            (_, "FROM") => {
                stage += 1;
                if stage == 1 {
                    // `python:3.11-slim-bookworm AS builder`: the venv is made with this Python.
                    let tag = rest
                        .strip_prefix("python:")
                        .expect("a python: builder image");
                    let version = tag.split(['-', ' ']).next().unwrap_or_default();
                    builder_python = Some(version.to_string());
                }
                if stage == 2 {
                    // `:nonroot`: the replay runs the image as its user, 65532.
                    assert!(
                        rest.starts_with("gcr.io/distroless/python3-debian12")
                            && rest.ends_with(":nonroot"),
                        "{rest}"
                    );
                }
            }
            (1, "COPY") => {
                let words = copy_words(&rest);
                let (dest, sources) = words.split_last().expect("COPY words");
                if dest.ends_with('/') {
                    script.push_str(&format!("mkdir -p {dest}\n"));
                }
                // A glob stays unquoted for the shell to expand; a name with a space is quoted.
                let sources: Vec<String> = sources
                    .iter()
                    .map(|s| match s.contains(char::is_whitespace) {
                        true => format!("'/context/{s}'"),
                        false => format!("/context/{s}"),
                    })
                    .collect();
                script.push_str(&format!("cp -R {} {dest}\n", sources.join(" ")));
            }
            (1, "WORKDIR") => script.push_str(&format!("mkdir -p {rest} && cd {rest}\n")),
            (1, "ENV") => script.push_str(&format!("export {rest}\n")),
            (1, "ARG") => {}
            (1, "RUN") => {
                let mut cmd = rest.as_str();
                while let Some(flag) = cmd.strip_prefix("--mount=") {
                    let (spec, more) = flag.split_once(' ').expect("RUN command after --mount");
                    let target = spec
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("target="))
                        .expect("a cache mount's target");
                    assert!(spec.starts_with("type=cache,"), "{spec}");
                    caches.push(target.to_string());
                    cmd = more.trim_start();
                }
                // Each RUN stops the build when it fails, as Docker's does (`set -e` alone lets
                // the left side of a `&&` fail on).
                script.push_str(&format!(
                    "echo '+ {}'\n( {cmd} ) || exit $?\n",
                    cmd.replace('\'', "")
                ));
            }
            (2, "COPY") => {
                let words = copy_words(&rest);
                assert_eq!(words[..2], ["--from=builder", "/slim"], "{rest}");
                slim_at = Some(words[2].clone());
            }
            (2, "ENV") => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
                    env.push((k.to_string(), v.to_string()));
                }
            }
            (2, "ENTRYPOINT") => entrypoint = serde_json::from_str(&rest).expect("exec form"),
            (s, w) => panic!("stage {s}: no replay for {w} {rest}"),
        }
    }
    Recipe {
        script,
        caches,
        builder_python: builder_python.expect("a builder stage"),
        slim_at: slim_at.expect("a COPY --from=builder in the final stage"),
        env,
        entrypoint,
    }
}

/// Replays the builder stage in `root` (a scratch directory): see the module comment.
const BUILDER: &str = r#"set -e
R="$1"; ctx="$2"; base="$3"; shift 3
mount --make-rprivate /
for d in usr etc; do
  mkdir -p "$R/$d"; mount --rbind "/$d" "$R/$d"; mount -o remount,bind,ro "$R/$d"
done
for l in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$l" ]; then ln -sfn "$(readlink "/$l")" "$R/$l"
  elif [ -d "/$l" ]; then mkdir -p "$R/$l"; mount --rbind "/$l" "$R/$l"; fi
done
mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/root" "$R/context" "$R$base"
chmod 1777 "$R/tmp"
mount --rbind /dev "$R/dev"; mount --rbind /proc "$R/proc"
mount --bind "$ctx" "$R/context"; mount -o remount,bind,ro "$R/context"
# A Python installed elsewhere (not Debian's /usr) becomes /usr/local, as in python:3.11-slim;
# it also stays at its own path, which its RUNPATH may name.
if [ "$base" != /usr ]; then
  for at in "$base" /usr/local; do mount --bind "$base" "$R$at"; mount -o remount,bind,ro "$R$at"; done
fi
while [ $# -gt 0 ]; do mkdir -p "$R$2"; mount --bind "$1" "$R$2"; shift 2; done
exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
  PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin /bin/sh /context/.recipe.sh"#;

/// How this machine reaches the package index (proxies, CA certificates, an index mirror), as
/// `export` lines: a `docker build` here would need the same, as build arguments. Nothing else
/// of the caller's environment enters the builder.
fn network_env() -> String {
    const PASS: [&str; 8] = [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "UV_INDEX_URL",
        "UV_DEFAULT_INDEX",
    ];
    std::env::vars()
        .filter(|(k, _)| PASS.contains(&k.as_str()) || k.to_ascii_lowercase().ends_with("_proxy"))
        .map(|(k, v)| format!("export {k}='{}'\n", v.replace('\'', r"'\''")))
        .collect()
}

/// The wheel `.ci/wheel` builds, built now when it is missing.
fn wheel() -> PathBuf {
    let dir = target_dir().join("wheels");
    let _lock = FileLock::acquire(&target_dir().join("wheels.lock"));
    let find = || {
        fs::read_dir(&dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
        })
    };
    if let Some(w) = find() {
        return w;
    }
    TestCommand::new(repo_root().join(".ci/wheel"))
        .current_dir(repo_root())
        .timeout(TIMEOUT)
        .ok();
    find().expect("a wheel in target/wheels after .ci/wheel")
}

/// Runs `venvslim dockerfile --installer INSTALLER` with `context` as the build context, then
/// the image: the web request workload through the ENTRYPOINT, read-only, builder Python hidden.
fn replay(installer: &str, context: &Path, scratch_dir: &Path) {
    let Some(dir) = mount_point() else {
        eprintln!("\n*** SKIP: needs an existing /srv, /mnt or /opt ***\n");
        return;
    };
    let prefix = format!("{dir}/venv");
    let dockerfile = venvslim()
        .args(["dockerfile", "--installer", installer, "--prefix", &prefix])
        .args(["--entrypoint", "python"])
        .ok()
        .stdout();
    let r = recipe(&dockerfile);
    // The venv is made by the builder's Python and run by the final image's: same X.Y, or its
    // site-packages and extension modules are not the final Python's. (The replay itself runs
    // the machine's Python in the builder, whatever the FROM line names.)
    assert_eq!(
        format!("/usr/bin/python{}", r.builder_python),
        FINAL_PYTHON,
        "the builder's image"
    );
    fs::write(
        context.join(".recipe.sh"),
        format!("{}{}", network_env(), r.script),
    )
    .unwrap();
    let dist = context.join("dist");
    fs::create_dir_all(&dist).unwrap();
    let wheel = wheel();
    fs::copy(&wheel, dist.join(wheel.file_name().unwrap())).unwrap();

    let base = python("python3")
        .args(["-I", "-c", "import sys; print(sys.base_prefix)"])
        .ok()
        .stdout();
    let base = fs::canonicalize(base.trim()).expect("the machine's Python prefix");
    let root = scratch_dir.join("root");
    fs::create_dir_all(&root).unwrap();
    let mut cmd = TestCommand::new("unshare");
    cmd.args(["-m", "sh", "-c", BUILDER, "sh"])
        .arg(&root)
        .arg(context)
        .arg(&base);
    for c in &r.caches {
        let host = target_dir()
            .join("test-venvs/recipe-cache")
            .join(c.trim_start_matches('/').replace('/', "_"));
        fs::create_dir_all(&host).unwrap();
        cmd.arg(host).arg(c);
    }
    let built = cmd.current_dir("/").timeout(TIMEOUT).run();
    assert!(
        built.status.success(),
        "{installer} builder stage:\n{}",
        show(&built)
    );

    // The final stage: only the slim tree, at the path the COPY names.
    assert_eq!(r.slim_at, prefix);
    let slim = root.join("slim");
    let dists: Vec<String> = fs::read_dir(slim.join("lib/python3.11/site-packages"))
        .expect("the slim tree's site-packages")
        .map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase())
        .filter(|n| n.ends_with(".dist-info"))
        .collect();
    assert!(dists.iter().any(|d| d.starts_with("fastapi-")), "{dists:?}");
    for tool in ["venvslim-", "uv-", "poetry-", "pip-", "setuptools-"] {
        assert!(
            !dists.iter().any(|d| d.starts_with(tool)),
            "{tool} shipped: {dists:?}"
        );
    }
    let script = repo_root().join("tests/workloads/web_request.py");
    // The image's user (the `:nonroot` tag runs as 65532) and environment (distroless's, then
    // the final stage's ENV), nothing else.
    let env = image_env(&r.env);
    let mut argv: Vec<&str> = vec![
        "setpriv",
        "--reuid=65532",
        "--regid=65532",
        "--clear-groups",
        "/usr/bin/env",
        "-i",
    ];
    argv.extend(env.iter().map(String::as_str));
    let entrypoint: Vec<&str> = r.entrypoint.iter().map(String::as_str).collect();
    assert_eq!(entrypoint, [format!("{prefix}/bin/python")]);
    let mut console = argv.clone();
    argv.extend(entrypoint);
    argv.push(script.to_str().unwrap());
    let builder_venv = root.join(if installer == "poetry" {
        "app/.venv".to_string()
    } else {
        prefix.trim_start_matches('/').to_string()
    });
    let hide: Vec<&Path> = [base.as_path(), builder_venv.as_path()]
        .into_iter()
        .filter(|p| *p != Path::new("/usr"))
        .collect();
    let run = distroless_run(&slim, dir, &hide, &argv);
    assert!(run.status.success(), "{installer} image:\n{}", show(&run));
    assert_eq!(run.stdout().trim(), "ok", "{}", show(&run));
    // A console script by its bare name, as `docker run --entrypoint uvicorn` starts it: the
    // image's PATH finds it and its `#!` line names the interpreter at the final path.
    console.extend(["uvicorn", "--version"]);
    let run = distroless_run(&slim, dir, &hide, &console);
    assert!(run.status.success(), "{installer} uvicorn:\n{}", show(&run));
    assert!(run.stdout().contains("uvicorn"), "{}", show(&run));
    let link = fs::read_link(slim.join("bin/python")).unwrap();
    assert_eq!(link, Path::new(FINAL_PYTHON));
}

/// A scratch directory with an empty build context in it, or None (after a SKIP note) where the
/// recipe cannot run.
fn start(installer: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let test = format!("recipes::the_{installer}_recipe_builds_and_runs_read_only");
    if !require_ro_namespace(&test) {
        return None;
    }
    if !Path::new(FINAL_PYTHON).exists() {
        skip(
            &test,
            &format!("needs {FINAL_PYTHON}, the final image's interpreter"),
        );
        return None;
    }
    let t = scratch(&format!("recipe-{installer}-"));
    let context = t.path().join("context");
    fs::create_dir_all(&context).unwrap();
    Some((t, context))
}

#[test]
fn the_pip_recipe_builds_and_runs_read_only() {
    let Some((t, context)) = start("pip") else {
        return;
    };
    fs::copy(
        repo_root().join("tests/venvs/web.lock"),
        context.join("requirements.txt"),
    )
    .unwrap();
    replay("pip", &context, t.path());
}

#[test]
fn the_uv_recipe_builds_and_runs_read_only() {
    let Some((t, context)) = start("uv") else {
        return;
    };
    web_project(&context, "[tool.uv]\npackage = false\n");
    TestCommand::new(uv())
        .args(["lock", "--quiet", "--python", "python3"])
        .current_dir(&context)
        .env("UV_CACHE_DIR", target_dir().join("test-venvs/uv-cache"))
        .env_remove("VIRTUAL_ENV")
        .ok();
    replay("uv", &context, t.path());
}

#[test]
fn the_poetry_recipe_builds_and_runs_read_only() {
    let Some((t, context)) = start("poetry") else {
        return;
    };
    web_project(&context, POETRY_TABLE);
    let home = t.path().join("home");
    poetry_command(&context, &home)
        .args(["lock", "--no-interaction"])
        .timeout(TIMEOUT)
        .ok();
    replay("poetry", &context, t.path());
}

#[test]
fn the_replay_reads_every_instruction_the_recipes_use() {
    let r = recipe(
        "FROM python:3.11 AS builder\n# c\nENV A=1\nWORKDIR /app\nCOPY [\"a b\", \"./\"]\nRUN --mount=type=cache,target=/root/.cache/uv uv \\\n    sync\nARG X\nRUN echo hi\n\nFROM gcr.io/distroless/python3-debian12:nonroot\nCOPY --from=builder /slim /srv/venv\nENV PATH=/srv/venv/bin:$PATH\nENTRYPOINT [\"/srv/venv/bin/python\"]\n",
    );
    assert_eq!(r.caches, ["/root/.cache/uv"]);
    assert_eq!(r.builder_python, "3.11");
    assert_eq!(r.slim_at, "/srv/venv");
    assert_eq!(
        r.env,
        [("PATH".to_string(), "/srv/venv/bin:$PATH".to_string())]
    );
    assert_eq!(
        image_env(&r.env),
        [format!("PATH=/srv/venv/bin:{DISTROLESS_PATH}")]
    );
    assert_eq!(r.entrypoint, ["/srv/venv/bin/python"]);
    assert!(r.script.contains("export A=1\n"), "{}", r.script);
    assert!(
        r.script.contains("cp -R '/context/a b' ./\n"),
        "{}",
        r.script
    );
    assert!(
        r.script.contains("( uv     sync ) || exit $?\n"),
        "{}",
        r.script
    );
}
