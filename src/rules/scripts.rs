//! `--keep-bin NAME...`: a final image runs one or two entry points; every other console script
//! in bin/ (and its shebang naming the venv) is surface nobody calls. The python links stay: the
//! kept scripts' shebangs go through them.

use super::{Category, Ctx, Guard, Item, Rule, Verdict};
use crate::venv::is_python_link_name;

/// A console script in bin/ that `--keep-bin` did not name.
pub static NOT_KEPT: Rule = Rule {
    id: "scripts.not-kept",
    category: Category::Scripts,
    guard: Guard::None,
    reason: "a bin/ entry not named by --keep-bin (the python links always stay)",
    evidence: "you chose the entry points; the modules behind a removed script stay importable",
};

/// This file's rules, in table order, for `venvslim rules`.
pub static RULES: &[&Rule] = &[&NOT_KEPT];

/// This file's verdict for one item, or `None` to let the next check decide.
pub(crate) fn classify(ctx: &Ctx, item: &Item) -> Option<Verdict> {
    let keep = &ctx.settings.handoff.keep_bin;
    let name = item.name();
    (!keep.is_empty()
        && ctx.venv.in_bin(&item.entry.path)
        && !is_python_link_name(name)
        && keep.binary_search_by(|k| k.as_str().cmp(name)).is_err())
    .then_some(Verdict::Remove(&NOT_KEPT))
}
