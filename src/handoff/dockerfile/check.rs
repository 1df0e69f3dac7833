//! What `venvslim dockerfile` refuses before it prints: values a Dockerfile line cannot carry,
//! a prefix the file cannot spell or the builder would trip on, hand-off paths that would stay
//! in the builder, build-context files outside the context, an entrypoint the slim removes.

use super::{
    builder_venv, context_wheel, prefix, slim_words, wheel_name, DEFAULT_PREFIX, DEFAULT_PYTHON,
    OUT, PROJECT, TOOLS, WHEELS,
};
use crate::cli::{DockerfileArgs, Installer};

/// Refuses what a Dockerfile line cannot carry: a control character (a newline would end the
/// instruction and start another) in any word the file is made of, and a wheel name the shell
/// would split (globs are kept for the shell to expand, so the name is not quoted).
pub fn check(a: &DockerfileArgs) -> anyhow::Result<()> {
    let mut words = slim_words(a);
    words.extend([a.from.clone(), a.venvslim.clone()]);
    words.extend(a.requirements.clone());
    words.extend(a.entrypoint.iter().cloned());
    if let Some(w) = words.iter().find(|w| w.chars().any(char::is_control)) {
        anyhow::bail!(
            "{w:?} has a control character (a newline, a tab), which a Dockerfile line cannot carry\nhint: pass the value without it"
        );
    }
    if a.requirements.is_some() && a.installer != Installer::Pip {
        anyhow::bail!("--requirements is read by pip only\nhint: uv and Poetry install from pyproject.toml and their lock file in the build context; drop --requirements, or use --installer pip");
    }
    check_prefix(a)?;
    check_handoff_paths(a)?;
    for (flag, w) in [("--from", &a.from), ("--venvslim", &a.venvslim)] {
        if w.trim().is_empty() {
            anyhow::bail!("{flag} is empty\nhint: leave it out for its default (see --help)");
        }
    }
    if a.entrypoint.first().is_some_and(|e| e.trim().is_empty()) {
        anyhow::bail!("--entrypoint: the command (its first word) is empty\nhint: name a script in bin/ or an absolute path, e.g. --entrypoint uvicorn --entrypoint app:api");
    }
    // A script named relative to bin/ must survive --keep-bin (the python links always do).
    let kept: Vec<&str> = a.options.keep_bin.iter().map(|s| s.trim()).collect();
    if let Some(cmd) = a.entrypoint.first().filter(|c| !c.starts_with('/')) {
        if !kept.is_empty() && !kept.contains(&cmd.as_str()) && !cmd.starts_with("python") {
            anyhow::bail!("--entrypoint `{cmd}` is a script in bin/, and --keep-bin {} removes it\nhint: add it: --keep-bin {},{cmd}", kept.join(","), kept.join(","));
        }
    }
    let context_files = [("--requirements", a.requirements.as_deref())]
        .into_iter()
        .chain(context_wheel(a).then_some(("--venvslim", Some(a.venvslim.as_str()))));
    for (flag, file) in context_files {
        let Some(file) = file else { continue };
        if file.starts_with('/') || file.split('/').any(|c| c == "..") {
            anyhow::bail!("{flag} `{file}` is not a path inside the build context: COPY reads the context only (`..` and `/` do not leave it)\nhint: give the path relative to the directory `docker build` is run with, e.g. dist/venvslim-*.whl or requirements.txt");
        }
    }
    if context_wheel(a) {
        let name = wheel_name(a);
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-*?".contains(c))
        {
            anyhow::bail!(
                "--venvslim `{}`: a wheel's file name has letters, digits and `._+-` only (a glob may add `*` and `?`)\nhint: rename the file, e.g. dist/venvslim-*.whl as maturin writes it",
                a.venvslim
            );
        }
    }
    Ok(())
}

/// Refuses a `--prefix` the file cannot carry or the builder would trip on. The prefix is
/// written unquoted where Docker reads no shell quotes (`COPY`, `ENV PATH`, where `:` separates
/// and `$` expands) and into every console script's shebang (with a space, pip's `/bin/sh`
/// trampoline stays, and distroless has no sh); and it is spelled as the kernel will walk it in
/// the final image (`/a/../b` there needs an `/a`). For pip and uv the builder makes the venv at
/// the prefix itself, so it must not be, hold or sit in a path the builder uses for something
/// else: `/` or `/opt` would ship the tools venv, `/slim` is the output, uv's `/app` the project.
fn check_prefix(a: &DockerfileArgs) -> anyhow::Result<()> {
    let p = prefix(a);
    let plain = p
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.+@/".contains(&b));
    let normal = p.len() > 1
        && !p.ends_with('/')
        && p.split('/')
            .skip(1)
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !plain || !normal {
        anyhow::bail!(
            "--prefix `{p}` is not a plain path the Dockerfile can carry: it goes unquoted into COPY, ENV PATH and every script's shebang\nhint: give an absolute path of letters, digits and `-_.+@`, without `.`, `..` or a trailing `/`, e.g. --prefix {DEFAULT_PREFIX}"
        );
    }
    let python = a
        .options
        .python
        .clone()
        .unwrap_or_else(|| DEFAULT_PYTHON.into());
    if python.parent() == Some(&std::path::Path::new(&p).join("bin")) {
        anyhow::bail!(
            "--prefix `{p}` holds the final image's interpreter `{}`: the tree's bin/ links would replace it and point at themselves\nhint: put the tree where the interpreter is not, e.g. --prefix {DEFAULT_PREFIX}",
            python.display()
        );
    }
    let venv = builder_venv(a);
    let mut used = vec![(OUT, "the slim tree"), (TOOLS, "venvslim's tools venv")];
    if context_wheel(a) {
        used.push((WHEELS, "venvslim's wheel"));
    }
    let under = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|r| r.starts_with('/'))
    };
    let clash = match a.installer {
        Installer::Poetry => None,
        Installer::Pip | Installer::Uv => used
            .into_iter()
            .find(|(x, _)| under(&venv, x) || under(x, &venv))
            // uv's venv may be in the project (its default is /app/.venv), not the project.
            .or_else(|| {
                (a.installer == Installer::Uv && under(PROJECT, &venv))
                    .then_some((PROJECT, "the uv project"))
            }),
    };
    if let Some((x, what)) = clash {
        anyhow::bail!(
            "--prefix `{p}`: the builder makes the venv there, and `{x}` is {what}\nhint: pick a directory of its own, e.g. --prefix {DEFAULT_PREFIX}"
        );
    }
    Ok(())
}

/// `--sbom` and `--licenses-dir` are paths in the builder: absolute (a relative one would land
/// in whatever directory the installer's recipe works in, and be copied nowhere), and not in the
/// venv the builder slims (slim refuses that; `/slim/...` is where they ship with the tree).
fn check_handoff_paths(a: &DockerfileArgs) -> anyhow::Result<()> {
    let h = &a.options;
    let venv = builder_venv(a);
    for (flag, p) in [("--sbom", &h.sbom), ("--licenses-dir", &h.licenses_dir)] {
        let Some(p) = p else { continue };
        let example = if flag == "--sbom" {
            "sbom.cdx.json"
        } else {
            "licenses"
        };
        if !p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
            anyhow::bail!("{flag} `{}` is a path in the builder: an absolute one without `..` (a relative one lands wherever the recipe's working directory is, and is copied nowhere)\nhint: give it under {OUT} to ship it with the tree (e.g. {flag} {OUT}/{example}, at PREFIX/{example} in the image), or another absolute path the final stage copies as it is", p.display());
        }
        if p.starts_with(&venv) || p == std::path::Path::new(OUT) {
            anyhow::bail!("{flag} `{}` is the venv the builder slims or the slim tree itself\nhint: give it under {OUT}, e.g. {flag} {OUT}/{example}", p.display());
        }
    }
    Ok(())
}
