//! The bench chart: one point per strategy, cold start (x) against tar.gz size (y), each
//! labelled, both axes from zero so distances are honest. People compare strategies by
//! looking; down and left is better. Hand-written SVG (no plotting crate): a few dozen
//! elements, the same bytes for the same figures.

use std::io::{self, Write};

use crate::bench::Bench;

const W: f64 = 760.0;
const H: f64 = 460.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// `s` as XML (and HTML) text or attribute value: markup escaped, unprintable characters
/// replaced.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if super::unprintable(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) for about five ticks up to `max`.
fn step(max: f64) -> f64 {
    let raw = (max / 5.0).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

struct Point<'a> {
    name: &'a str,
    x: f64,
    y: f64,
    regressions: Option<usize>,
}

/// The chart as a standalone SVG document.
pub fn svg(mut out: impl Write, b: &Bench) -> io::Result<()> {
    let points: Vec<Point> = b
        .strategies
        .iter()
        .filter_map(|o| {
            Some(Point {
                name: &o.name,
                x: o.start.as_ref()?.median_s,
                y: o.sizes?.tar_gz_bytes as f64 / 1048576.0,
                regressions: o.regressions,
            })
        })
        .collect();
    let no_start: Vec<&str> = b
        .strategies
        .iter()
        .filter(|o| o.start.is_none())
        .map(|o| o.name.as_str())
        .collect();
    let xmax = points.iter().map(|p| p.x).fold(0.0, f64::max).max(0.001) * 1.1;
    let ymax = points.iter().map(|p| p.y).fold(0.0, f64::max).max(0.001) * 1.1;
    let (xs, ys) = (step(xmax), step(ymax));
    let (xmax, ymax) = ((xmax / xs).ceil() * xs, (ymax / ys).ceil() * ys);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + x / xmax * pw;
    let py = |y: f64| TOP + ph - y / ymax * ph;

    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#)?;
    let title = format!(
        "{} — tar.gz size against cold start (lower left is better)",
        short_name(&b.venv)
    );
    writeln!(
        out,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(&title)
    )?;
    // Grid and ticks.
    let mut v = 0.0;
    while v <= xmax + xs / 2.0 {
        let x = px(v);
        writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e5e5e5"/>"##,
            TOP + ph
        )?;
        writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 18.0,
            fmt_tick(v, xs)
        )?;
        v += xs;
    }
    let mut v = 0.0;
    while v <= ymax + ys / 2.0 {
        let y = py(v);
        writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/>"##,
            LEFT + pw
        )?;
        writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 4.0,
            fmt_tick(v, ys)
        )?;
        v += ys;
    }
    writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    )?;
    let mode = if b.read_only {
        "read-only mount"
    } else {
        "in place"
    };
    writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">cold start, median of {} runs (s, {mode})</text>"#,
        LEFT + pw / 2.0,
        H - 14.0,
        b.rounds
    )?;
    writeln!(
        out,
        r#"<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">tar.gz (MiB)</text>"#,
        TOP + ph / 2.0
    )?;
    // Points, labels staggered so close points stay readable.
    let mut order: Vec<&Point> = points.iter().collect();
    order.sort_by(|a, b| py(a.y).total_cmp(&py(b.y)).then(a.name.cmp(b.name)));
    let mut placed: Vec<(f64, f64)> = Vec::new();
    for p in order {
        let (x, y) = (px(p.x), py(p.y));
        let colour = match p.regressions {
            Some(0) => "#1a7f37",
            Some(_) => "#cf222e",
            None => "#57606a",
        };
        let mut ly = y + 4.0;
        while placed
            .iter()
            .any(|(ox, oy)| (ox - x).abs() < 140.0 && (oy - ly).abs() < 14.0)
        {
            ly += 14.0;
        }
        placed.push((x, ly));
        let label = match p.regressions {
            Some(0) => p.name.to_string(),
            Some(n) => format!("{} ({n} broken)", p.name),
            None => p.name.to_string(),
        };
        writeln!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{colour}"/>"#
        )?;
        writeln!(
            out,
            r#"<text x="{:.1}" y="{ly:.1}" fill="{colour}">{}</text>"#,
            x + 9.0,
            escape(&label)
        )?;
    }
    // Legend.
    let lx = LEFT + pw + 16.0;
    writeln!(
        out,
        r##"<circle cx="{lx}" cy="{}" r="5" fill="#1a7f37"/><text x="{}" y="{}">verify: nothing broke</text>"##,
        TOP + 10.0,
        lx + 10.0,
        TOP + 14.0
    )?;
    writeln!(
        out,
        r##"<circle cx="{lx}" cy="{}" r="5" fill="#cf222e"/><text x="{}" y="{}">verify: regressions</text>"##,
        TOP + 30.0,
        lx + 10.0,
        TOP + 34.0
    )?;
    if !no_start.is_empty() {
        writeln!(
            out,
            r#"<text x="{}" y="{}">not plotted (no start time):</text>"#,
            lx - 5.0,
            TOP + 60.0
        )?;
        for (i, n) in no_start.iter().enumerate() {
            writeln!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                lx + 5.0,
                TOP + 76.0 + 14.0 * i as f64,
                escape(n)
            )?;
        }
    }
    writeln!(out, "</svg>")
}

/// The venv's directory name, for the title (the full path is in the table).
fn short_name(path: &str) -> &str {
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_is_well_formed_xml() {
        assert_eq!(escape(r#"a<b>&"c"#), "a&lt;b&gt;&amp;&quot;c");
        // A hostile METADATA Name: NUL, escape sequence, vertical tab, U+FFFE, a right-to-left
        // override; tab and newline (the tooltips' line breaks) stay.
        let name = "ev\0il\x1b[31m\x0b\u{fffe}\u{202e}lmx.\t1\n2]]>";
        let out = escape(name);
        assert_eq!(
            out,
            "ev\u{fffd}il\u{fffd}[31m\u{fffd}\u{fffd}\u{fffd}lmx.\t1\n2]]&gt;"
        );
        assert!(out
            .chars()
            .all(|c| c == '\n' || c == '\t' || !crate::report::unprintable(c)));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(step(10.0), 2.0);
        assert_eq!(step(1.3), 0.5);
        assert_eq!(step(130.0), 50.0);
        assert_eq!(fmt_tick(0.5, 0.5), "0.5");
        assert_eq!(fmt_tick(20.0, 10.0), "20");
        assert_eq!(escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }
}
