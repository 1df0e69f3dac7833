//! A size as people write it (`--budget 250MiB`, `budget = "1.5GiB"`): plain bytes, or a number
//! with a decimal (`kB`, `MB`, `GB`, `TB`: powers of 1000) or binary (`KiB`, `MiB`, `GiB`, `TiB`:
//! powers of 1024) unit. Strict on purpose: a limit that is silently read as something else
//! (`250M` as bytes, `250mb` as millibits) would pass or fail a build for the wrong reason, so
//! anything else is refused with the forms that are accepted.

use anyhow::{bail, Result};

/// The units, as spelled, and their size in bytes.
const UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("kB", 1000),
    ("MB", 1000 * 1000),
    ("GB", 1000 * 1000 * 1000),
    ("TB", 1000 * 1000 * 1000 * 1000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// What the error messages suggest.
const FORMS: &str = "hint: write bytes (`262144000`) or a number with a unit: `250MiB`, `1.5GiB`, `300MB` (B, kB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB powers of 1024)";

/// Parse `raw` into bytes; errors name it as `what` (`--budget` on the command line, `budget =`
/// in `[tool.venvslim]`). A fraction must come to whole bytes (`1.5KiB` is 1536, `1.1KiB` is
/// refused), and the size must be more than 0.
pub fn parse_size(raw: &str, what: &str) -> Result<u64> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim_start());
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(fraction)) {
        bail!("{what} `{raw}` is not a size\n{FORMS}");
    }
    let multiplier = match unit {
        "" => 1,
        _ => match UNITS.iter().find(|(name, _)| *name == unit) {
            Some((_, m)) => *m,
            None => bail!("{what} `{raw}`: unknown unit `{unit}`\n{FORMS}"),
        },
    };
    let too_big = || anyhow::anyhow!("{what} `{raw}` is too large\n{FORMS}");
    let whole: u64 = whole.parse().map_err(|_| too_big())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_big)?;
    if !fraction.is_empty() {
        // fraction / 10^len of the unit, in exact integer arithmetic.
        let scale = 10u128
            .checked_pow(fraction.len() as u32)
            .ok_or_else(too_big)?;
        let part = fraction.parse::<u128>().map_err(|_| too_big())? * u128::from(multiplier);
        if part % scale != 0 {
            bail!("{what} `{raw}` is not a whole number of bytes\n{FORMS}");
        }
        let part = u64::try_from(part / scale).map_err(|_| too_big())?;
        bytes = bytes.checked_add(part).ok_or_else(too_big)?;
    }
    if bytes == 0 {
        bail!("{what} `{raw}` is zero: no tree fits\n{FORMS}");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> u64 {
        parse_size(s, "--budget").unwrap()
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(size("262144000"), 262_144_000);
        assert_eq!(size("250MiB"), 250 << 20);
        assert_eq!(size("250 MiB"), 250 << 20);
        assert_eq!(size(" 300MB "), 300_000_000);
        assert_eq!(size("1.5GiB"), 3 << 29);
        assert_eq!(size("1.5KiB"), 1536);
        assert_eq!(size("0.5kB"), 500);
        assert_eq!(size("7B"), 7);
        assert_eq!(size("2TiB"), 2 << 40);
        assert_eq!(size("1TB"), 1_000_000_000_000);
    }

    #[test]
    fn refused_forms_name_the_value_and_the_forms() {
        for (bad, why) in [
            ("", "is not a size"),
            ("MiB", "is not a size"),
            ("250M", "unknown unit `M`"),
            ("250mib", "unknown unit `mib`"),
            ("250 MiB extra", "unknown unit"),
            ("-5", "is not a size"),
            ("1e6", "unknown unit `e6`"),
            ("0x10", "unknown unit `x10`"),
            ("1.", "is not a size"),
            (".5MiB", "is not a size"),
            ("1.2.3MiB", "is not a size"),
            ("1.5", "not a whole number of bytes"),
            ("1.1KiB", "not a whole number of bytes"),
            ("0", "is zero"),
            ("0.0GiB", "is zero"),
            ("99999999999999999999", "too large"),
            ("20000000TiB", "too large"),
        ] {
            let e = format!("{:#}", parse_size(bad, "--budget").unwrap_err());
            assert!(
                e.contains(&format!("--budget `{bad}`")) && e.contains(why),
                "{bad}: {e}"
            );
            assert!(e.contains("hint:") && e.contains("250MiB"), "{bad}: {e}");
        }
    }
}
