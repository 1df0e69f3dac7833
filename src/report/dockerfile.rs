//! The output of `venvslim dockerfile`: the rendered Dockerfile, as is.

use std::io::{self, Write};

/// `venvslim dockerfile`.
pub fn text(mut out: impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()
}
