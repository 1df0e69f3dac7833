//! Safety: the promises of docs/safety.md under attack and under faults, through the real
//! binary. One module per promise: crafted venvs that try to write outside OUT or read through
//! links (`paths`), interpreter isolation (`interp`), all-or-nothing output out of place
//! (`outplace`), the hand-off outputs and licences (`handoff`), and convergence after a kill in
//! place (`inplace`).

mod handoff;
mod inplace;
mod interp;
mod outplace;
mod paths;
