//! Python tools from PyPI (uv, Poetry, ...) in venvs of their own under `target/tools/`, built
//! once behind a lock and shared by every test and later run (`.ci/wheel` uses the same place).

use std::fs;
use std::path::PathBuf;

use super::{python, target_dir, FileLock};

/// `target/tools/NAME`: a venv with `spec` installed from PyPI, built on first use.
pub fn tool_venv(name: &str, spec: &str) -> PathBuf {
    let tools = target_dir().join("tools");
    let dir = tools.join(name);
    let marker = dir.join(".complete");
    fs::create_dir_all(&tools).unwrap();
    let _lock = FileLock::acquire(&tools.join(format!("{name}.lock")));
    if !marker.exists() {
        let _ = fs::remove_dir_all(&dir);
        python("python3").args(["-m", "venv"]).arg(&dir).ok();
        python(dir.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                spec,
            ])
            .ok();
        fs::write(&marker, "").unwrap();
    }
    dir
}
