//! `venvslim dockerfile`: the multi-stage Dockerfile that uses the hand-off, for the options
//! given. A distroless final stage has no shell and no package manager, so everything that needs
//! one happens in the builder: install, slim, relocate to the final path and interpreter. The
//! final stage only copies the tree and runs it in exec form. Pure: options in, text out;
//! `check.rs` refuses, before anything is printed, what the file could not carry or run.

use crate::cli::{BytecodeMode, DistInfoMode, DockerfileArgs, ElfMode, Installer};

mod check;
pub use check::check;

/// Where the venv lives in both stages (builder and final), unless --prefix says otherwise.
pub const DEFAULT_PREFIX: &str = "/venv";
/// gcr.io/distroless/python3-debian12's interpreter (Debian 12's Python 3.11).
pub const DEFAULT_PYTHON: &str = "/usr/bin/python3.11";
/// The final stage's base image: distroless Python, running as nonroot.
pub const FINAL_IMAGE: &str = "gcr.io/distroless/python3-debian12:nonroot";
/// The builder's tools venv: venvslim and the installer, never in the app's venv (whose every
/// file ships) nor in the image's Python (Debian's refuses `pip install`, PEP 668).
pub const TOOLS: &str = "/opt/venvslim";
/// The uv the recipe pins: the version its test ran.
pub const UV: &str = "uv==0.13.9";
/// The Poetry the recipe pins: the version its test ran.
pub const POETRY: &str = "poetry==2.5.1";
/// Where Poetry puts an in-project venv: the project directory's `.venv`.
pub const PROJECT: &str = "/app";
/// Where the builder writes the slim tree the final stage copies.
pub const OUT: &str = "/slim";
/// Where the builder puts venvslim's wheel from the build context.
pub const WHEELS: &str = "/tmp/wheels";

/// Quote one word for a shell command line (the builder's `RUN`), only when needed.
fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A `COPY` of build-context `sources` to `dest`. Docker does not read shell quotes in COPY:
/// plain words go as they are, anything else in the JSON form. Globs work in both.
fn copy(sources: &[&str], dest: &str) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && !w
                .chars()
                .any(|c| c.is_whitespace() || "\"'\\$[]".contains(c))
    };
    if sources.iter().chain([&dest]).all(|w| plain(w)) {
        format!("COPY {} {dest}", sources.join(" "))
    } else {
        let words: Vec<String> = sources.iter().chain([&dest]).map(|w| json_str(w)).collect();
        format!("COPY [{}]", words.join(", "))
    }
}

/// A JSON string, for the exec-form ENTRYPOINT.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn value_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Where the builder's installer leaves the app's venv: the final path (`--prefix`), except for
/// Poetry, whose in-project venv is `/app/.venv` and is relocated by the slim.
pub fn builder_venv(a: &DockerfileArgs) -> String {
    match a.installer {
        Installer::Poetry => format!("{PROJECT}/.venv"),
        Installer::Pip | Installer::Uv => prefix(a),
    }
}

fn prefix(a: &DockerfileArgs) -> String {
    a.options
        .prefix
        .as_ref()
        .map_or(DEFAULT_PREFIX.to_string(), |p| p.display().to_string())
}

/// The `venvslim slim ...` words for these options.
pub fn slim_words(a: &DockerfileArgs) -> Vec<String> {
    let h = &a.options;
    let prefix = prefix(a);
    let python = h
        .python
        .as_ref()
        .map_or(DEFAULT_PYTHON.to_string(), |p| p.display().to_string());
    let mut w: Vec<String> = vec![format!("{TOOLS}/bin/venvslim"), "slim".into()];
    w.push(builder_venv(a));
    w.extend(["-o".into(), OUT.into(), "--prefix".into(), prefix]);
    w.extend(["--python".into(), python]);
    // A value that starts with `-` would be read as an option of its own: `--flag=value`.
    let mut opt = |flag: &str, v: String| {
        if v.starts_with('-') {
            w.push(format!("{flag}={v}"));
        } else {
            w.push(flag.to_string());
            w.push(v);
        }
    };
    if let Some(b) = h.bytecode.filter(|b| *b != BytecodeMode::default()) {
        opt("--bytecode", value_name(&b));
    }
    if let Some(d) = h.dist_info.filter(|d| *d != DistInfoMode::default()) {
        opt("--dist-info", value_name(&d));
    }
    if let Some(e) = h.elf.filter(|e| *e != ElfMode::default()) {
        opt("--elf", value_name(&e));
    }
    for g in &h.keep {
        opt("--keep", g.clone());
    }
    for g in &h.remove {
        opt("--remove", g.clone());
    }
    for k in &h.keep_package {
        opt("--keep-package", k.clone());
    }
    if let Some(v) = &h.python_version {
        opt("--python-version", v.clone());
    }
    for n in &h.zip_exclude {
        opt("--zip-exclude", n.clone());
    }
    if !h.keep_bin.is_empty() {
        opt("--keep-bin", h.keep_bin.join(","));
    }
    if let Some(d) = &h.licenses_dir {
        opt("--licenses-dir", d.display().to_string());
    }
    if let Some(f) = &h.sbom {
        opt("--sbom", f.display().to_string());
    }
    if let Some(m) = &h.mtime {
        opt("--mtime", m.clone());
    }
    if let Some(c) = &h.chmod {
        opt("--chmod", c.clone());
    }
    if let Some(b) = &h.budget {
        opt("--budget", b.clone());
    }
    for r in &h.run {
        opt("--run", r.clone());
    }
    if let Some(p) = &h.prune {
        w.push(format!("--prune={}", value_name(p)));
    }
    let switches = [
        ("--zip-pure", h.zip_pure),
        ("--zip-sourceless", h.zip_sourceless),
        ("--dedupe", h.dedupe),
    ];
    w.extend(
        switches
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| f.to_string()),
    );
    w
}

/// The SBOM and licence directory the builder writes outside the slim tree: the final stage
/// copies them to the same path (those inside `/slim` ship with the tree, under the prefix).
fn handoff_outside_out(a: &DockerfileArgs) -> Vec<String> {
    let h = &a.options;
    [&h.sbom, &h.licenses_dir]
        .into_iter()
        .flatten()
        .filter(|p| !p.starts_with(OUT))
        .map(|p| p.display().to_string())
        .collect()
}

/// `--venvslim` names a wheel in the build context (a URL ending in `.whl` is pip's to fetch:
/// COPY takes no URL).
fn context_wheel(a: &DockerfileArgs) -> bool {
    a.venvslim.ends_with(".whl") && !a.venvslim.contains("://")
}

/// The file name of the wheel `--venvslim` names in the build context (a glob, maybe).
fn wheel_name(a: &DockerfileArgs) -> &str {
    a.venvslim.rsplit('/').next().unwrap_or(&a.venvslim)
}

/// The lines that install venvslim (and the installer) into the tools venv.
fn tools_lines(a: &DockerfileArgs) -> Vec<String> {
    let mut lines = Vec::new();
    let mut packages = Vec::new();
    if context_wheel(a) {
        lines.push(copy(&[&a.venvslim], &format!("{WHEELS}/")));
        // Unquoted: the shell expands a glob such as venvslim-*.whl.
        packages.push(format!("{WHEELS}/{}", wheel_name(a)));
    } else {
        packages.push(sh_quote(&a.venvslim));
    }
    match a.installer {
        Installer::Pip => {}
        Installer::Uv => packages.push(UV.to_string()),
        Installer::Poetry => packages.push(POETRY.to_string()),
    }
    lines.push(format!(
        "RUN python3 -m venv {TOOLS} && {TOOLS}/bin/pip install --no-cache-dir {}",
        packages.join(" ")
    ));
    lines
}

/// The lines that make the app's venv with the chosen installer.
fn venv_lines(a: &DockerfileArgs) -> Vec<String> {
    let venv = sh_quote(&builder_venv(a));
    match a.installer {
        Installer::Pip => {
            let requirements = a.requirements.as_deref().unwrap_or("requirements.txt");
            vec![
                format!("RUN python3 -m venv {venv}"),
                copy(&[requirements], "/requirements.txt"),
                format!("RUN {venv}/bin/pip install --no-cache-dir -r /requirements.txt"),
            ]
        }
        Installer::Uv => vec![
            "# uv makes the venv at UV_PROJECT_ENVIRONMENT with the image's Python, copying files"
                .into(),
            "# out of its cache (the cache mount is another filesystem: uv cannot hardlink there)."
                .into(),
            format!(
                "ENV UV_PROJECT_ENVIRONMENT={venv} UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy"
            ),
            format!("WORKDIR {PROJECT}"),
            copy(&["pyproject.toml", "uv.lock"], "./"),
            format!(
                "RUN --mount=type=cache,target=/root/.cache/uv {TOOLS}/bin/uv sync --locked \\\n    --no-dev --no-install-project --python python3"
            ),
        ],
        Installer::Poetry => vec![
            "# Poetry makes the venv in the project directory (.venv) with the image's Python."
                .into(),
            "ENV POETRY_VIRTUALENVS_IN_PROJECT=true POETRY_VIRTUALENVS_CREATE=true".into(),
            format!("WORKDIR {PROJECT}"),
            copy(&["pyproject.toml", "poetry.lock"], "./"),
            format!(
                "RUN --mount=type=cache,target=/root/.cache/pypoetry {TOOLS}/bin/poetry install \\\n    --only main --no-root --no-interaction"
            ),
        ],
    }
}

/// The Dockerfile.
pub fn render(a: &DockerfileArgs) -> String {
    let prefix = prefix(a);
    let slim: Vec<String> = slim_words(a).iter().map(|w| sh_quote(w)).collect();
    let entry: Vec<String> = if !a.entrypoint.is_empty() {
        let mut e = a.entrypoint.clone();
        if !e[0].starts_with('/') {
            e[0] = format!("{prefix}/bin/{}", e[0]);
        }
        e
    } else if let Some(first) = a
        .options
        .keep_bin
        .iter()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
    {
        vec![format!("{prefix}/bin/{first}")]
    } else {
        vec![format!("{prefix}/bin/python"), "-m".into(), "app".into()]
    };
    let entry: Vec<String> = entry.iter().map(|s| json_str(s)).collect();
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line("# syntax=docker/dockerfile:1");
    line(
        "# venvslim: build the venv in a full Python image, slim and relocate it there, and run it",
    );
    line("# in a distroless image (no shell, nonroot; works with `docker run --read-only`).");
    line("");
    line(&format!("FROM {} AS builder", a.from));
    line("# venvslim and the installer live in a tools venv of their own: nothing of them ships.");
    tools_lines(a).iter().for_each(|l| line(l));
    venv_lines(a).iter().for_each(|l| line(l));
    if a.installer != Installer::Pip {
        // Out of the project directory: the slim line is whole, the project's pyproject.toml
        // (whose [tool.venvslim] `venvslim dockerfile` already wrote into it) is not read again.
        line("WORKDIR /");
    }
    line("# docker build --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct): fixed mtimes.");
    line("ARG SOURCE_DATE_EPOCH");
    line(&format!("RUN {}", slim.join(" ")));
    line("");
    line(&format!("FROM {FINAL_IMAGE}"));
    line(&format!("COPY --from=builder {OUT} {prefix}"));
    for path in handoff_outside_out(a) {
        line(&copy(&[path.as_str()], &path).replacen("COPY ", "COPY --from=builder ", 1));
    }
    line(&format!("ENV PATH={prefix}/bin:$PATH"));
    line(&format!("ENTRYPOINT [{}]", entry.join(", ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/venv"), "/venv");
        assert_eq!(sh_quote("django/test/**"), "'django/test/**'");
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
        assert_eq!(sh_quote("u=rwX,go=rX"), "u=rwX,go=rX");
        assert_eq!(copy(&["dist/v-*.whl"], "/w/"), "COPY dist/v-*.whl /w/");
        assert_eq!(
            copy(&["my reqs.txt"], "/r"),
            r#"COPY ["my reqs.txt", "/r"]"#
        );
    }
}
