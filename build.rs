//! Build facts for `venvslim --version`: the commit the binary was built from and its target
//! triple, so a report or a bug names exactly which build ran.
//!
//! The commit comes from `VENVSLIM_COMMIT` when set (a build from a source archive, which has
//! no `.git`), else from `git rev-parse` in the source tree; `unknown` when neither answers.

use std::path::Path;
use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=VENVSLIM_TARGET={target}");
    println!("cargo:rerun-if-env-changed=VENVSLIM_COMMIT");
    let commit = std::env::var("VENVSLIM_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=VENVSLIM_COMMIT={}", commit.trim());
    // A new commit changes HEAD's ref (or HEAD itself when detached): build again then. In a
    // linked worktree `.git` is a file; git names the worktree's own directory (HEAD) and the
    // common one (refs, packed-refs).
    if let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--git-dir"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) {
        let (dir, common) = (Path::new(&dir), Path::new(&common));
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        if let Ok(head) = std::fs::read_to_string(dir.join("HEAD")) {
            if let Some(r) = head.trim().strip_prefix("ref: ") {
                println!("cargo:rerun-if-changed={}", common.join(r).display());
            }
        }
        println!(
            "cargo:rerun-if-changed={}",
            common.join("packed-refs").display()
        );
    }
}

/// One line of `git ARGS` output, if this is a git checkout and git runs.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let line = String::from_utf8(out.stdout).ok()?;
    let line = line.trim();
    (out.status.success() && !line.is_empty()).then(|| line.to_string())
}

/// `git rev-parse --short=12 HEAD`, if this is a git checkout and git runs.
fn git_commit() -> Option<String> {
    git(&["rev-parse", "--short=12", "HEAD"]).filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
}
