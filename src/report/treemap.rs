//! The size treemap: one rectangle per distribution, its area in proportion to the bytes it
//! keeps after slimming, split inside by kind of file (native code, Python source, bytecode,
//! data, metadata, licences, scripts), so the few distributions that make the tree's size, and
//! what they are made of, show at a glance. `slim --treemap FILE` writes it, `bench --html`
//! embeds it.
//!
//! Squarified layout (Bruls, Huizing and van Wijk, 2000): rows of rectangles laid along the
//! shorter side, a row growing while that keeps its worst aspect ratio from getting worse, so
//! rectangles stay close to squares and their areas compare by eye. Hand-written SVG with no
//! script: a `<title>` on each distribution is its tooltip; the same breakdown gives the same
//! bytes.

use std::io::{self, Write};

use crate::breakdown::{Breakdown, FileKind};

use super::chart::escape;
use super::human;

const W: f64 = 960.0;
const MAP_H: f64 = 560.0;
const TOP: f64 = 44.0;
/// Room for two lines of legend.
const LEGEND: f64 = 46.0;
/// Distributions drawn one by one; the smaller ones share one grey rectangle.
const MAX_RECTS: usize = 60;
/// Approximate width of a character of the 12px label, to fit labels into rectangles.
const CHAR_W: f64 = 7.0;

/// An axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    fn area(&self) -> f64 {
        self.w * self.h
    }
}

/// Lay `values` out in `r`, one rectangle each (same order), with areas in proportion to the
/// values; together they fill `r`. Give the values largest first for squarish rectangles. A
/// value of zero (or less) gets an empty rectangle at `r`'s corner.
pub fn squarify(values: &[f64], r: Rect) -> Vec<Rect> {
    let mut out = vec![
        Rect {
            w: 0.0,
            h: 0.0,
            ..r
        };
        values.len()
    ];
    let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
    if total <= 0.0 || r.area() <= 0.0 {
        return out;
    }
    let scale = r.area() / total;
    let items: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.0)
        .map(|(i, v)| (i, v * scale))
        .collect();
    let mut rest = r;
    let mut start = 0;
    while start < items.len() {
        let side = rest.w.min(rest.h);
        let mut end = start + 1;
        while end < items.len()
            && worst(&items[start..=end], side) <= worst(&items[start..end], side)
        {
            end += 1;
        }
        let row = &items[start..end];
        let last = end == items.len();
        rest = lay_row(row, rest, last, &mut out);
        start = end;
    }
    out
}

/// Put `row` along the shorter side of `rest` and return what is left. The last rectangle of a
/// row, and the last row, take what remains, so rounding never leaves a gap or spills over.
fn lay_row(row: &[(usize, f64)], rest: Rect, last: bool, out: &mut [Rect]) -> Rect {
    let sum: f64 = row.iter().map(|(_, a)| a).sum();
    if rest.w >= rest.h {
        // A column at the left, as tall as `rest`.
        let w = if last { rest.w } else { sum / rest.h };
        let mut y = rest.y;
        for (k, &(i, a)) in row.iter().enumerate() {
            let h = if k + 1 == row.len() {
                rest.y + rest.h - y
            } else {
                a / w
            };
            out[i] = Rect { x: rest.x, y, w, h };
            y += h;
        }
        Rect {
            x: rest.x + w,
            w: rest.w - w,
            ..rest
        }
    } else {
        // A row at the top, as wide as `rest`.
        let h = if last { rest.h } else { sum / rest.w };
        let mut x = rest.x;
        for (k, &(i, a)) in row.iter().enumerate() {
            let w = if k + 1 == row.len() {
                rest.x + rest.w - x
            } else {
                a / h
            };
            out[i] = Rect { x, y: rest.y, w, h };
            x += w;
        }
        Rect {
            y: rest.y + h,
            h: rest.h - h,
            ..rest
        }
    }
}

/// The worst aspect ratio of `row` laid along a side of length `side`.
fn worst(row: &[(usize, f64)], side: f64) -> f64 {
    let sum: f64 = row.iter().map(|(_, a)| a).sum();
    let max = row.iter().map(|(_, a)| *a).fold(0.0, f64::max);
    let min = row.iter().map(|(_, a)| *a).fold(f64::INFINITY, f64::min);
    let (s2, w2) = (sum * sum, side * side);
    (w2 * max / s2).max(s2 / (w2 * min))
}

/// The fill of each kind: light enough for dark labels, apart for common colour blindness.
fn colour(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Native => "#f4a261",
        FileKind::Source => "#8ecae6",
        FileKind::Bytecode => "#b8b3e9",
        FileKind::Data => "#a7d49b",
        FileKind::Metadata => "#e9c46a",
        FileKind::Licences => "#e5989b",
        FileKind::Scripts => "#c9ada7",
    }
}

const OTHERS: &str = "#cfcfcf";

/// The treemap of `b` as a standalone SVG document, headed by `title`.
pub fn svg(mut out: impl Write, b: &Breakdown, title: &str) -> io::Result<()> {
    let h = TOP + MAP_H + LEGEND;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(out, r#"<rect width="{W}" height="{h}" fill="white"/>"#)?;
    writeln!(
        out,
        r#"<text x="4" y="18" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    )?;
    writeln!(
        out,
        r##"<text x="4" y="36" fill="#444">{} in {} files, {} distributions; area is bytes, colour is the kind of file</text>"##,
        human(b.total_bytes),
        super::group(b.total_files),
        b.dists.iter().filter(|d| d.version.is_some()).count()
    )?;
    let map = Rect {
        x: 0.0,
        y: TOP,
        w: W,
        h: MAP_H,
    };
    let drawn: Vec<_> = b.dists.iter().filter(|d| d.bytes > 0).collect();
    let (shown, rest) = drawn.split_at(drawn.len().min(MAX_RECTS));
    let rest_bytes: u64 = rest.iter().map(|d| d.bytes).sum();
    let mut values: Vec<f64> = shown.iter().map(|d| d.bytes as f64).collect();
    if rest_bytes > 0 {
        values.push(rest_bytes as f64);
    }
    let rects = squarify(&values, map);
    let share = |bytes: u64| 100.0 * bytes as f64 / b.total_bytes.max(1) as f64;
    for (d, r) in shown.iter().zip(&rects) {
        let mut tip = format!("{}: {} ({:.1}%)", d.label(), human(d.bytes), share(d.bytes));
        let mut kinds: Vec<(FileKind, u64)> = d.kinds.iter().map(|(k, v)| (*k, *v)).collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (k, v) in &kinds {
            tip.push_str(&format!("\n{}: {}", k.label(), human(*v)));
        }
        writeln!(out, "<g><title>{}</title>", escape(&tip))?;
        let inner = inset(*r, 1.0);
        let values: Vec<f64> = kinds.iter().map(|(_, v)| *v as f64).collect();
        for ((k, _), kr) in kinds.iter().zip(squarify(&values, inner)) {
            rect(&mut out, kr, colour(*k), None)?;
        }
        rect(&mut out, *r, "none", Some("white"))?;
        label(&mut out, *r, &d.label(), d.bytes)?;
        writeln!(out, "</g>")?;
    }
    if let (true, Some(r)) = (rest_bytes > 0, rects.last()) {
        let name = format!("{} smaller distributions", rest.len());
        writeln!(
            out,
            "<g><title>{}: {} ({:.1}%)</title>",
            escape(&name),
            human(rest_bytes),
            share(rest_bytes)
        )?;
        rect(&mut out, inset(*r, 1.0), OTHERS, None)?;
        rect(&mut out, *r, "none", Some("white"))?;
        label(&mut out, *r, &name, rest_bytes)?;
        writeln!(out, "</g>")?;
    }
    legend(&mut out, b, TOP + MAP_H + 22.0)?;
    writeln!(out, "</svg>")
}

/// `r` shrunk by `by` on each side (never below nothing).
fn inset(r: Rect, by: f64) -> Rect {
    let (dx, dy) = (by.min(r.w / 2.0), by.min(r.h / 2.0));
    Rect {
        x: r.x + dx,
        y: r.y + dy,
        w: r.w - 2.0 * dx,
        h: r.h - 2.0 * dy,
    }
}

fn rect(out: &mut impl Write, r: Rect, fill: &str, stroke: Option<&str>) -> io::Result<()> {
    let stroke = stroke.map_or(String::new(), |s| {
        format!(r#" stroke="{s}" stroke-width="2""#)
    });
    writeln!(
        out,
        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"{stroke}/>"#,
        r.x, r.y, r.w, r.h
    )
}

/// Name (shortened to fit) and size in the top left corner, when the rectangle has room for
/// the size.
fn label(out: &mut impl Write, r: Rect, name: &str, bytes: u64) -> io::Result<()> {
    let fits = ((r.w - 8.0) / CHAR_W).floor();
    let size = human(bytes);
    if r.h < 32.0 || fits < size.chars().count() as f64 {
        return Ok(());
    }
    let name = super::truncate(name, fits as usize);
    let halo = r#"stroke="white" stroke-width="3" stroke-opacity="0.7" paint-order="stroke""#;
    writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-weight="bold" {halo}>{}</text>"#,
        r.x + 4.0,
        r.y + 15.0,
        escape(&name)
    )?;
    writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" {halo}>{}</text>"#,
        r.x + 4.0,
        r.y + 29.0,
        size
    )
}

/// One swatch per kind with bytes, with its total; on a second line when the first is full.
fn legend(out: &mut impl Write, b: &Breakdown, mut y: f64) -> io::Result<()> {
    let mut x = 4.0;
    for k in FileKind::ALL {
        let Some(size) = b.kinds.iter().find(|s| s.kind == k) else {
            continue;
        };
        let text = format!("{} {}", k.label(), human(size.bytes));
        let width = 16.0 + CHAR_W * text.chars().count() as f64;
        if x > 4.0 && x + width > W {
            x = 4.0;
            y += 18.0;
        }
        writeln!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            y - 10.0,
            colour(k),
            x + 16.0,
            escape(&text)
        )?;
        x += width + 14.0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANVAS: Rect = Rect {
        x: 10.0,
        y: 20.0,
        w: 300.0,
        h: 200.0,
    };

    fn overlap(a: &Rect, b: &Rect) -> f64 {
        let w = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
        let h = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
        w.max(0.0) * h.max(0.0)
    }

    fn check(values: &[f64]) {
        let rects = squarify(values, CANVAS);
        assert_eq!(rects.len(), values.len());
        let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
        let eps = 1e-6;
        for (v, r) in values.iter().zip(&rects) {
            let want = v.max(0.0) / total * CANVAS.area();
            assert!(
                (r.area() - want).abs() < eps * CANVAS.area(),
                "{v}: area {} want {want}",
                r.area()
            );
            assert!(r.w >= 0.0 && r.h >= 0.0, "{r:?}");
            assert!(r.x >= CANVAS.x - eps && r.y >= CANVAS.y - eps, "{r:?}");
            assert!(r.x + r.w <= CANVAS.x + CANVAS.w + eps, "{r:?}");
            assert!(r.y + r.h <= CANVAS.y + CANVAS.h + eps, "{r:?}");
        }
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                assert!(overlap(a, b) < eps, "{a:?} overlaps {b:?}");
            }
        }
        let covered: f64 = rects.iter().map(Rect::area).sum();
        assert!((covered - CANVAS.area()).abs() < eps * CANVAS.area());
    }

    #[test]
    fn areas_proportional_inside_and_apart() {
        check(&[6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0]);
        check(&[1.0]);
        check(&[1000.0, 1.0, 1.0, 1.0]);
        check(&[5.0, 0.0, 3.0]);
        let many: Vec<f64> = (1..=200).rev().map(|i| (i * i) as f64).collect();
        check(&many);
    }

    #[test]
    fn squarish() {
        // The paper's example: the rows it builds have no rectangle thinner than 1:3.
        let rects = squarify(
            &[6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0],
            Rect {
                x: 0.0,
                y: 0.0,
                w: 6.0,
                h: 4.0,
            },
        );
        for r in &rects {
            let ratio = (r.w / r.h).max(r.h / r.w);
            assert!(ratio <= 3.0 + 1e-9, "{r:?}");
        }
        // The first two fill the left column, side by side in height.
        assert!((rects[0].w - 3.0).abs() < 1e-9 && (rects[0].h - 2.0).abs() < 1e-9);
    }

    #[test]
    fn nothing_to_draw() {
        assert!(squarify(&[], CANVAS).is_empty());
        assert_eq!(squarify(&[0.0], CANVAS)[0].area(), 0.0);
    }
}
