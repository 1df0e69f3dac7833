//! Permissions of the output: normalised for a hardened image (no group/other write, no
//! setuid/setgid: a nonroot container must not be able to change or escalate through the venv),
//! then `--chmod MODE` in the forms Dockerfile `COPY --chmod` accepts, so the same words work in
//! both places. Pure: modes in, modes out; apply/ does the chmod. It lives in settings because a
//! `--chmod` is parsed before any work, like every other option value.

use anyhow::{bail, Result};

/// Bits dropped from every entry: group and other write, setuid, setgid.
pub const DROPPED: u32 = 0o022 | 0o4000 | 0o2000;

/// `mode` with group/other write, setuid and setgid removed (permission bits only).
pub fn normalize(mode: u32) -> u32 {
    mode & 0o7777 & !DROPPED
}

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    /// `755`: every file and directory gets exactly this.
    Octal(u32),
    /// `u=rwX,go=rX`, `a-w`: applied clause by clause.
    Symbolic(Vec<Clause>),
}

/// One comma-separated part of a symbolic mode: who, then operations (`go=rX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Bits the clause may touch (from `u`, `g`, `o`, `a`; none means all).
    who: u32,
    ops: Vec<(char, Perms)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Perms {
    r: bool,
    w: bool,
    x: bool,
    /// `X`: execute only for directories and files someone may already execute.
    big_x: bool,
    s: bool,
    t: bool,
}

impl std::str::FromStr for Chmod {
    type Err = anyhow::Error;
    fn from_str(raw: &str) -> Result<Chmod> {
        Chmod::parse(raw, "--chmod")
    }
}

impl Chmod {
    /// Parse `raw`; errors name it as `what` (`--chmod` on the command line, `chmod =` in
    /// `[tool.venvslim]`).
    pub fn parse(raw: &str, what: &str) -> Result<Chmod> {
        let s = raw.trim();
        let hint = "hint: write it as for Dockerfile `COPY --chmod`: octal (`755`, `0644`) or symbolic (`a-w`, `u=rwX,go=rX`)";
        if s.is_empty() {
            bail!("{what} is empty\n{hint}");
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return match u32::from_str_radix(s, 8) {
                Ok(m) if s.len() <= 4 && m <= 0o7777 => Ok(Chmod::Octal(m)),
                _ => bail!("{what} `{raw}` is not an octal mode of at most 4 digits 0-7\n{hint}"),
            };
        }
        s.split(',')
            .map(|c| {
                parse_clause(c)
                    .ok_or_else(|| anyhow::anyhow!("{what} `{raw}`: cannot read `{c}`\n{hint}"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Chmod::Symbolic)
    }
}

fn parse_clause(c: &str) -> Option<Clause> {
    let mut who = 0;
    let mut chars = c.chars().peekable();
    while let Some(&ch) = chars.peek() {
        who |= match ch {
            'u' => 0o4700,
            'g' => 0o2070,
            'o' => 0o1007,
            'a' => 0o7777,
            _ => break,
        };
        chars.next();
    }
    if who == 0 {
        who = 0o7777;
    }
    let mut ops = Vec::new();
    while let Some(op) = chars.next() {
        if !matches!(op, '+' | '-' | '=') {
            return None;
        }
        let mut p = Perms::default();
        while let Some(&ch) = chars.peek() {
            match ch {
                'r' => p.r = true,
                'w' => p.w = true,
                'x' => p.x = true,
                'X' => p.big_x = true,
                's' => p.s = true,
                't' => p.t = true,
                _ => break,
            }
            chars.next();
        }
        ops.push((op, p));
    }
    (!ops.is_empty()).then_some(Clause { who, ops })
}

impl Chmod {
    /// The new permission bits of an entry with `mode` (a directory when `is_dir`).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let mut m = mode & 0o7777;
        match self {
            Chmod::Octal(o) => *o,
            Chmod::Symbolic(clauses) => {
                for c in clauses {
                    for (op, p) in &c.ops {
                        let bits = c.bits(*p, m, is_dir);
                        m = match op {
                            '+' => m | bits,
                            '-' => m & !bits,
                            _ => (m & !c.who) | bits,
                        };
                    }
                }
                m
            }
        }
    }
}

impl Clause {
    fn bits(&self, p: Perms, mode: u32, is_dir: bool) -> u32 {
        let exec = p.x || (p.big_x && (is_dir || mode & 0o111 != 0));
        let mut per = 0;
        if p.r {
            per |= 0o444;
        }
        if p.w {
            per |= 0o222;
        }
        if exec {
            per |= 0o111;
        }
        if p.s {
            per |= 0o6000;
        }
        if p.t {
            per |= 0o1000;
        }
        per & self.who
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> Chmod {
        s.parse().unwrap()
    }

    #[test]
    fn normalize_drops_group_other_write_and_set_ids() {
        assert_eq!(normalize(0o100775), 0o755);
        assert_eq!(normalize(0o6777), 0o755);
        assert_eq!(normalize(0o1777), 0o1755, "sticky stays");
        assert_eq!(normalize(0o644), 0o644);
    }

    #[test]
    fn octal_sets_everything() {
        assert_eq!(ch("755").apply(0o600, false), 0o755);
        assert_eq!(ch("0644").apply(0o755, true), 0o644);
        assert!("789".parse::<Chmod>().is_err());
        assert!("77777".parse::<Chmod>().is_err());
    }

    #[test]
    fn symbolic_forms() {
        assert_eq!(ch("a-w").apply(0o755, false), 0o555);
        assert_eq!(ch("a-w").apply(0o644, true), 0o444);
        assert_eq!(ch("u=rwX,go=rX").apply(0o600, false), 0o644);
        assert_eq!(ch("u=rwX,go=rX").apply(0o700, false), 0o755);
        assert_eq!(ch("u=rwX,go=rX").apply(0o700, true), 0o755);
        assert_eq!(ch("go-rwx").apply(0o755, false), 0o700);
        assert_eq!(ch("+x").apply(0o644, false), 0o755);
        assert_eq!(ch("o=").apply(0o757, false), 0o750);
        assert_eq!(ch("u+s").apply(0o755, false), 0o4755);
        for bad in ["", "a*w", "q+r", "u", "a-w,"] {
            let e = format!("{:#}", bad.parse::<Chmod>().unwrap_err());
            assert!(e.contains("hint:"), "{bad}: {e}");
        }
    }
}
