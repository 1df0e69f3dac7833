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
    // A new commit changes HEAD's ref (or HEAD itself when detached): build again then.
    let git = Path::new(".git");
    if git.is_dir() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
            if let Some(r) = head.trim().strip_prefix("ref: ") {
                println!("cargo:rerun-if-changed=.git/{r}");
            }
        }
        println!("cargo:rerun-if-changed=.git/packed-refs");
    }
}

/// `git rev-parse --short=12 HEAD`, if this is a git checkout and git runs.
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?;
    let hash = hash.trim();
    (out.status.success() && !hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hash.to_string())
}
