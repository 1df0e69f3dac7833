//! `venvslim bench` output: the table for people, JSON for machines, and an HTML page with the
//! chart and the table (the SVG itself is drawn in `chart.rs`), then the treemap of the default
//! strategy's tree (`treemap.rs`). Rows are in the order the
//! strategies ran; everything but the timings is the same for the same venv.

use std::io::{self, Write};

use crate::bench::{Bench, Outcome};
use crate::breakdown::Breakdown;

use super::{group, human};

pub use super::chart::svg;

/// One row's cells, shared by the text table and the HTML table.
fn cells(b: &Bench, o: &Outcome) -> Vec<String> {
    let base = b
        .strategies
        .iter()
        .find(|s| s.name == "none")
        .and_then(|s| s.sizes);
    let Some(sz) = &o.sizes else {
        let why = o.error.as_deref().unwrap_or("not measured");
        return vec![o.name.clone(), format!("failed: {}", first_line(why))];
    };
    let pct = |v: u64, of: Option<u64>| match of {
        Some(of) if of > 0 => format!("{:.0}%", 100.0 * v as f64 / of as f64),
        _ => "-".to_string(),
    };
    let (start, ratio) = match (&o.start, &o.start_error) {
        (Some(s), _) => (
            format!("{:.3} s", s.median_s),
            s.ratio_to_none
                .map_or("-".to_string(), |r| format!("{r:.2}x")),
        ),
        (None, Some(_)) => ("fails".to_string(), "-".to_string()),
        (None, None) => ("-".to_string(), "-".to_string()),
    };
    vec![
        o.name.clone(),
        human(sz.bytes),
        human(sz.disk_bytes),
        group(sz.files),
        human(sz.tar_gz_bytes),
        pct(sz.tar_gz_bytes, base.map(|b| b.tar_gz_bytes)),
        start,
        ratio,
        o.regressions.map_or("-".to_string(), |n| n.to_string()),
        o.build_s.map_or("-".to_string(), |s| format!("{s:.1} s")),
    ]
}

const HEADERS: [&str; 10] = [
    "strategy",
    "bytes",
    "disk",
    "files",
    "tar.gz",
    "tar.gz vs none",
    "start",
    "start vs none",
    "regressions",
    "made in",
];

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn start_line(b: &Bench) -> String {
    format!(
        "start: median of {} run(s) after a warm-up, interleaved, {}",
        b.rounds,
        if b.read_only {
            "each tree mounted read-only at the venv's path"
        } else {
            "each tree in place (not read-only)"
        }
    )
}

/// The bench as a table for a terminal, with its notes.
pub fn text(mut out: impl Write, b: &Bench) -> io::Result<()> {
    writeln!(
        out,
        "venvslim bench: {} ({})",
        b.venv,
        b.python.as_deref().unwrap_or("python unknown")
    )?;
    writeln!(out, "{}", start_line(b))?;
    writeln!(out, "command: {}", shorten(&b.run, 200))?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = b.strategies.iter().map(|o| cells(b, o)).collect();
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for r in rows.iter().filter(|r| r.len() == HEADERS.len()) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: Vec<&str>| {
        cols.iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[0])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(HEADERS.to_vec()).trim_end())?;
    for r in &rows {
        if r.len() == HEADERS.len() {
            writeln!(
                out,
                "{}",
                line(r.iter().map(String::as_str).collect()).trim_end()
            )?;
        } else {
            writeln!(out, "{:<w$}  {}", r[0], r[1], w = widths[0])?;
        }
    }
    writeln!(out)?;
    for o in &b.strategies {
        if o.how.starts_with("venvslim") {
            writeln!(out, "{}: {} ({})", o.name, o.description, o.how)?;
        } else {
            writeln!(out, "{}: {}", o.name, o.description)?;
        }
        if let Some(e) = &o.error {
            writeln!(out, "    could not be made: {}", shorten(e, 300))?;
        }
        if let Some(e) = &o.start_error {
            writeln!(out, "    start fails: {}", shorten(e, 160))?;
        }
        for r in &o.regression_examples {
            writeln!(out, "    breaks: {}", shorten(r, 160))?;
        }
        if let Some(n) = o.regressions.filter(|n| *n > 0) {
            let kinds: Vec<String> = o
                .regressions_by_kind
                .iter()
                .map(|(k, c)| format!("{k} {c}"))
                .collect();
            writeln!(out, "    {n} regression(s) in all: {}", kinds.join(", "))?;
        }
        for n in &o.notes {
            writeln!(out, "    note: {n}")?;
        }
    }
    for n in &b.notes {
        writeln!(out, "note: {n}")?;
    }
    if !b.verified {
        writeln!(out, "note: --no-verify: regressions were not checked")?;
    }
    Ok(())
}

/// The bench result as pretty JSON.
pub fn json(mut out: impl Write, b: &Bench) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, b)?;
    writeln!(out)
}

/// The strategy whose bytes the page maps: `default` (what a plain `venvslim slim` gives),
/// else the first with a breakdown.
fn mapped(b: &Bench) -> Option<(&Outcome, &Breakdown)> {
    let with = |o: &'_ Outcome| o.breakdown.as_ref().filter(|d| d.total_bytes > 0).is_some();
    let o = b
        .strategies
        .iter()
        .find(|o| o.name == "default" && with(o))
        .or_else(|| b.strategies.iter().find(|o| with(o)))?;
    Some((o, o.breakdown.as_ref()?))
}

/// The treemap of one strategy's tree, and its biggest distributions and kinds as tables.
fn sizes_html(out: &mut impl Write, b: &Bench) -> io::Result<()> {
    let Some((o, d)) = mapped(b) else {
        return Ok(());
    };
    let esc = super::chart::escape;
    writeln!(
        out,
        "<h2>Where the bytes are after <code>{}</code> (strategy {})</h2>",
        esc(&o.how),
        esc(&o.name)
    )?;
    let venv = b
        .venv
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(&b.venv);
    super::treemap::svg(&mut *out, d, &format!("{venv} after {}", o.how))?;
    let share = |bytes: u64| format!("{:.1}%", 100.0 * bytes as f64 / d.total_bytes.max(1) as f64);
    let row = |name: &str, bytes: u64| {
        format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            human(bytes),
            share(bytes)
        )
    };
    writeln!(out, "<table style=\"display:inline-table;vertical-align:top;margin-right:2em\">\n<tr><th>distribution</th><th>size</th><th>share</th></tr>")?;
    let (top, rest, others) = d.top(15);
    for x in top {
        writeln!(out, "{}", row(&x.label(), x.bytes))?;
    }
    if others > 0 {
        writeln!(out, "{}", row(&format!("{others} others"), rest))?;
    }
    writeln!(out, "</table>\n<table style=\"display:inline-table;vertical-align:top\">\n<tr><th>kind of file</th><th>size</th><th>share</th></tr>")?;
    for k in &d.kinds {
        writeln!(out, "{}", row(k.kind.label(), k.bytes))?;
    }
    writeln!(out, "{}\n</table>", row("total", d.total_bytes))
}

/// A standalone HTML page: the table and the chart, then the treemap of the default
/// strategy's tree.
pub fn html(mut out: impl Write, b: &Bench) -> io::Result<()> {
    let esc = super::chart::escape;
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(out, "<title>venvslim bench: {}</title>", esc(&b.venv))?;
    writeln!(out, "<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}code{{font-size:90%}}</style>\n</head>\n<body>")?;
    writeln!(out, "<h1>venvslim bench</h1>")?;
    writeln!(
        out,
        "<p><code>{}</code> ({})<br>{}<br>command: <code>{}</code></p>",
        esc(&b.venv),
        esc(b.python.as_deref().unwrap_or("python unknown")),
        esc(&start_line(b)),
        esc(&shorten(&b.run, 300))
    )?;
    svg(&mut out, b)?;
    writeln!(
        out,
        "<table>\n<tr>{}</tr>",
        HEADERS
            .iter()
            .map(|h| format!("<th>{}</th>", esc(h)))
            .collect::<String>()
    )?;
    for o in &b.strategies {
        let cs = cells(b, o);
        let colspan = if cs.len() < HEADERS.len() {
            format!(" colspan=\"{}\"", HEADERS.len() - 1)
        } else {
            String::new()
        };
        let mut row = format!("<tr><td>{}</td>", esc(&cs[0]));
        for (i, c) in cs.iter().enumerate().skip(1) {
            let span = if i == 1 { colspan.as_str() } else { "" };
            row.push_str(&format!("<td{span}>{}</td>", esc(c)));
        }
        writeln!(out, "{row}</tr>")?;
    }
    writeln!(out, "</table>\n<ul>")?;
    for o in &b.strategies {
        writeln!(
            out,
            "<li><b>{}</b>: {} (<code>{}</code>)",
            esc(&o.name),
            esc(&o.description),
            esc(&o.how)
        )?;
        for r in o
            .regression_examples
            .iter()
            .chain(&o.start_error)
            .chain(&o.notes)
        {
            writeln!(out, "<br>{}", esc(&shorten(r, 200)))?;
        }
        writeln!(out, "</li>")?;
    }
    writeln!(out, "</ul>")?;
    sizes_html(&mut out, b)?;
    for n in &b.notes {
        writeln!(out, "<p>note: {}</p>", esc(n))?;
    }
    writeln!(out, "</body>\n</html>")
}
