//! The only module that prints: the text summary for people, JSON for machines, one renderer
//! per command (`slim/`, `verify`, `strip`, `rules`, `bench`, `dockerfile`), the size treemap
//! (`treemap`), and the number formats they share.
//!
//! Each renderer takes the command's result as data and writes it to the `impl Write` it is
//! given; everything is sorted, so the same input gives the same report.

pub mod bench;
mod chart;
pub mod dockerfile;
pub mod rules;
pub mod slim;
pub mod strip;
pub mod treemap;
pub mod verify;

pub use rules::rules;
pub use slim::{resumed, Report, Runs};
pub use strip::strip;

/// `-1.2 MiB`, or `+2.2 KiB` when a file grew (a section header table that sat inside a segment
/// is written anew at the end: the file grows, its compressed size still drops).
pub(crate) fn change(before: u64, after: u64) -> String {
    if after > before {
        format!("+{}", human(after - before))
    } else {
        format!("-{}", human(before - after))
    }
}

/// Bytes in binary units for people: `512 B`, `1.5 MiB`.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `s` as a table cell of at most `n` characters (shortened with `…`), every unprintable
/// character (`unprintable`) shown as U+FFFD: a distribution's name comes from its METADATA,
/// and an escape sequence there would reach the terminal (clear it, rewrite the lines above).
pub(crate) fn truncate(s: &str, n: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if unprintable(c) { '\u{fffd}' } else { c })
        .collect();
    if s.chars().count() <= n {
        s
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// A character no XML 1.0 document may hold, escaped or not (C0 controls, U+FFFE, U+FFFF: one
/// makes a whole SVG unreadable), a C1 control (a terminal reads some as escapes), or a
/// bidirectional override or isolate, which reorders the text shown after it. Tab and newline
/// are not: the treemap's tooltips are lines.
pub(crate) fn unprintable(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t'))
        || matches!(
            c,
            '\u{fffe}' | '\u{ffff}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(group(12), "12");
        assert_eq!(change(110_617, 112_920), "+2.2 KiB");
        assert_eq!(change(2048, 1024), "-1.0 KiB");
        // A METADATA name's escape sequence and bidi override never reach the terminal.
        assert_eq!(
            truncate("a\x1b[2Jb\u{202e}c\x07", 40),
            "a\u{fffd}[2Jb\u{fffd}c\u{fffd}"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
