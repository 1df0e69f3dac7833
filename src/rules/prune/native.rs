//! Native libraries (`lib*.so*`) for `--prune`: which ones the used code loads.
//!
//! The dynamic loader opens a library an extension module names as `DT_NEEDED` (numpy's
//! openblas in `numpy.libs/`, a CUDA library in another distribution), and no Python audit event
//! records it. So a library counts as used when a used extension module needs it, or a used
//! library does, transitively, or when the workload loaded it with `ctypes` (recorded). A
//! distribution whose only used files would be its libraries is then cut when nothing used
//! loads them, and kept when something does.

use std::collections::{HashMap, HashSet};

use super::super::Ctx;
use super::is_native_library;

/// The native libraries by file name, and the `DT_NEEDED` names read so far.
pub(super) struct Libraries {
    by_name: HashMap<String, Vec<usize>>,
    needs: HashMap<usize, Vec<String>>,
}

impl Libraries {
    pub(super) fn new(ctx: &Ctx, kept: &[bool]) -> Libraries {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in ctx.inv.entries.iter().enumerate() {
            if kept[i] && is_native_library(e.name()) {
                by_name.entry(e.name().to_string()).or_default().push(i);
            }
        }
        Libraries {
            by_name,
            needs: HashMap::new(),
        }
    }

    /// The libraries loaded with the ELF files in `roots` (used extension modules, and
    /// libraries the workload loaded itself), transitively.
    pub(super) fn loaded_with(&mut self, ctx: &Ctx, roots: Vec<usize>) -> HashSet<usize> {
        let mut used = HashSet::new();
        let mut queue = roots;
        let mut seen = HashSet::new();
        while let Some(i) = queue.pop() {
            if !seen.insert(i) {
                continue;
            }
            let needs = self.needs.entry(i).or_insert_with(|| {
                crate::elf::needed_libraries(&ctx.venv.root.join(&ctx.inv.entries[i].path))
            });
            for name in needs.iter() {
                for &lib in self.by_name.get(name).into_iter().flatten() {
                    used.insert(lib);
                    queue.push(lib);
                }
            }
        }
        used
    }
}
