//! Fault injection for the kill-at-any-point tests (debug builds only).
//!
//! `venvslim` promises that out of place OUT is absent or complete, and that in place a rerun
//! converges, whatever moment the process dies at (docs/safety.md). The tests prove it by
//! killing the real binary after its Nth filesystem operation: every place that changes the
//! disk calls [`point`] first, and a debug build started with `VENVSLIM_FAULT_AFTER=N` dies
//! there with SIGKILL on the Nth call (no destructor, no signal handler runs: a real kill).
//! `VENVSLIM_FAULT_AFTER=count` instead prints how many points the run passed, on exit, so a
//! test can spread its kills over the whole run. `VENVSLIM_FAULT_STOP=N` stops at the Nth
//! point for good (after saying so on stderr), so a test can send a signal at a known moment.
//! Release builds compile [`point`] to nothing.

// Debug builds only: the fault points announce themselves on stderr, where the tests that set
// VENVSLIM_FAULT_* read them; report/ prints only the commands' results.
#[cfg(debug_assertions)]
#[allow(clippy::print_stderr)]
mod imp {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    enum Mode {
        Off,
        Count,
        KillAt(u64),
        StopAt(u64),
    }

    static PASSED: AtomicU64 = AtomicU64::new(0);

    fn mode() -> &'static Mode {
        static MODE: OnceLock<Mode> = OnceLock::new();
        MODE.get_or_init(|| {
            let stop = std::env::var("VENVSLIM_FAULT_STOP").ok();
            if let Some(n) = stop.and_then(|n| n.parse().ok()) {
                return Mode::StopAt(n);
            }
            match std::env::var("VENVSLIM_FAULT_AFTER").ok().as_deref() {
                Some("count") => Mode::Count,
                Some(n) => n.parse().map(Mode::KillAt).unwrap_or(Mode::Off),
                None => Mode::Off,
            }
        })
    }

    pub fn point(what: &str) {
        match mode() {
            Mode::Off => {}
            Mode::Count => {
                PASSED.fetch_add(1, Ordering::SeqCst);
            }
            Mode::KillAt(n) => {
                if PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
                    eprintln!("venvslim: fault injection: killed at point {n} ({what})");
                    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
                    unsafe {
                        libc::kill(libc::getpid(), libc::SIGKILL);
                    }
                }
            }
            Mode::StopAt(n) => {
                if PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
                    eprintln!("venvslim: fault injection: stopped at point {n} ({what})");
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(3600));
                    }
                }
            }
        }
    }

    pub fn report() {
        if matches!(mode(), Mode::Count) {
            eprintln!(
                "venvslim: fault points passed: {}",
                PASSED.load(Ordering::SeqCst)
            );
        }
    }
}

/// A place where the disk is about to change. Debug builds may die here (see the module doc).
#[cfg(debug_assertions)]
pub fn point(what: &str) {
    imp::point(what)
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_what: &str) {}

/// With `VENVSLIM_FAULT_AFTER=count` (debug builds), print how many points the run passed.
pub fn report() {
    #[cfg(debug_assertions)]
    imp::report()
}
