//! The `--run` part of slim's report: each workload on the input and on the output, round by
//! round, what the recordings showed the output missed, and a failing workload's own output.

use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::report::verify::{output_lines, read_only_mark};
use crate::workload::Run;

/// The `--run` workloads of one slim run.
pub struct Runs<'a> {
    /// Each workload's run on the input.
    pub input: &'a [Run],
    /// Each check of the output: one run per workload, in the same order.
    pub rounds: &'a [Vec<Run>],
}

impl Runs<'_> {
    /// Workload `i`'s runs on the output, one per check, in order.
    fn outputs(&self, i: usize) -> Vec<&Run> {
        self.rounds
            .iter()
            .filter_map(|round| round.get(i))
            .collect()
    }
}

#[derive(Serialize)]
pub(super) struct JsonWorkload<'a> {
    command: &'a str,
    input: &'a Run,
    /// One run on the output per check (the first finds, the others check a repair).
    output: Vec<&'a Run>,
    /// The last run on the output passed.
    passes: bool,
}

impl Report<'_> {
    pub(super) fn runs_json(&self) -> Option<Vec<JsonWorkload<'_>>> {
        let runs = self.runs.as_ref()?;
        Some(
            runs.input
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    let output = runs.outputs(i);
                    JsonWorkload {
                        command: &input.command,
                        input,
                        passes: output.last().is_some_and(|r| r.passed),
                        output,
                    }
                })
                .collect(),
        )
    }

    /// Before the verify section: how each workload went.
    pub(super) fn text_runs(&self, out: &mut impl Write) -> io::Result<()> {
        let Some(runs) = &self.runs else {
            return Ok(());
        };
        writeln!(out)?;
        for (i, input) in runs.input.iter().enumerate() {
            let output = runs.outputs(i);
            writeln!(out, "  run `{}`:", input.command)?;
            writeln!(
                out,
                "    on the input{}: {} in {:.1} s, recorded in {} Python process(es)",
                read_only_mark(input),
                input.status,
                input.seconds,
                input.processes
            )?;
            if input.processes == 0 {
                writeln!(out, "    note: the recording hook reached no Python (it runs with -I or -E, or replaced PYTHONPATH): only exit codes count")?;
            } else if input.touched == 0 {
                writeln!(out, "    note: it touched nothing under the venv, so it shows nothing about the output: does it run `$VENV/bin/python`, not `python3`?")?;
            }
            let statuses: Vec<&str> = output.iter().map(|r| r.status.as_str()).collect();
            if !statuses.is_empty() {
                writeln!(
                    out,
                    "    on the output at {}{}: {}",
                    output[0].at.display(),
                    read_only_mark(output[0]),
                    statuses.join(", then ")
                )?;
            }
            if !input.read_only {
                writeln!(out, "    note: not on a read-only mount (that needs root and `unshare -m`): the input ran where it is with PYTHONDONTWRITEBYTECODE=1, the output where it was written")?;
            }
            if let Some(last) = output.last().filter(|r| !r.passed) {
                output_lines(out, "it still fails; its output (the end):", last)?;
            }
        }
        Ok(())
    }
}
