//! A progress bar for long runs of `slim` and `bench`, for a person watching a terminal only.
//!
//! It draws on stderr, and only when stderr is a terminal, the output is not JSON and `CI` is
//! not set: logs, pipes, CI and tests see nothing of it, so reports stay byte-for-byte the same.
//! Everything else calls these methods unconditionally; a hidden bar does nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Default)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar if a person can see it (see the module comment), else a hidden one.
    pub fn for_terminal(json: bool) -> Progress {
        if json || std::env::var_os("CI").is_some() || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// Start a phase of `len` steps (0: a spinner with a message only).
    pub fn phase(&self, msg: &str, len: u64) {
        let Some(bar) = &self.0 else { return };
        let template = if len == 0 {
            "{spinner} {msg} ({elapsed})"
        } else {
            "{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_length(len);
        bar.set_position(0);
        bar.set_message(msg.to_string());
    }

    pub fn set_message(&self, msg: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(msg.to_string());
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    /// Remove the bar, leaving the terminal as it was.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// What apply and bench tell, drawn here.
impl crate::apply::Progress for Progress {
    fn phase(&self, msg: &str, len: u64) {
        Progress::phase(self, msg, len)
    }
    fn set_message(&self, msg: &str) {
        Progress::set_message(self, msg)
    }
    fn inc(&self, n: u64) {
        Progress::inc(self, n)
    }
    fn finish(&self) {
        Progress::finish(self)
    }
}
