//! The strategies `venvslim bench` compares, as data in one place.
//!
//! A strategy is a name, one line saying what it is, and how to produce its tree: either a copy
//! recipe (what people do by hand: a Dockerfile `COPY --exclude`, serverless-python-requirements'
//! `slim: true`) or `venvslim slim` with flags. Users add their own with
//! `--strategy NAME='FLAGS'`. New size options join `max` here, and only here.

use anyhow::{bail, Context, Result};
use clap::Parser;

pub use crate::apply::recipe::CopyRecipe;

/// How a strategy's tree is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipe {
    /// A copy made without venvslim's rules.
    Copy(CopyRecipe),
    /// `venvslim slim VENV -o OUT` with these flags.
    Slim(Vec<String>),
}

/// One strategy the bench compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategy {
    /// Its name on the command line and in the report; also its tree's directory name.
    pub name: String,
    /// What it is, in one line.
    pub description: String,
    /// How its tree is made.
    pub recipe: Recipe,
}

impl Strategy {
    /// How the tree is made, in one line (`cp -a`, `venvslim slim --bytecode keep`).
    pub fn how(&self) -> String {
        match &self.recipe {
            Recipe::Copy(r) => r.how().to_string(),
            Recipe::Slim(flags) if flags.is_empty() => "venvslim slim".to_string(),
            Recipe::Slim(flags) => format!("venvslim slim {}", flags.join(" ")),
        }
    }
}

/// Every size option venvslim has, with `--verify` so the result stays correct.
pub const MAX_FLAGS: &[&str] = &[
    "--bytecode",
    "sourceless",
    "--zip-pure",
    "--dedupe",
    "--verify",
];

/// The built-in strategies, in the order they are run and shown; `prune` only when the bench
/// has a command (`--run`) to record and check it with.
pub fn builtin(run: Option<&str>) -> Vec<Strategy> {
    let s = |name: &str, description: &str, recipe| Strategy {
        name: name.to_string(),
        description: description.to_string(),
        recipe,
    };
    let mut all = vec![
        s(
            "none",
            "a plain copy (cp -a): the baseline every ratio is against",
            Recipe::Copy(CopyRecipe::Plain),
        ),
        s(
            "exclude-pycache-distinfo",
            "COPY --exclude=**/__pycache__ --exclude=**/*.dist-info --exclude=!**/*.dist-info/LICENSE*",
            Recipe::Copy(CopyRecipe::ExcludePycacheDistinfo),
        ),
        s(
            "sls-slim",
            "serverless-python-requirements slim: true: no *.py[c|o], __pycache__*, *.dist-info*; strip *.so",
            Recipe::Copy(CopyRecipe::SlsSlim),
        ),
        s(
            "default",
            "venvslim slim with its default options",
            Recipe::Slim(Vec::new()),
        ),
        s(
            "max",
            "every size option venvslim has (sourceless bytecode, zipped pure packages, hardlinked duplicates), with --verify to repair what breaks",
            Recipe::Slim(MAX_FLAGS.iter().map(|f| f.to_string()).collect()),
        ),
    ];
    if let Some(cmd) = run {
        all.push(s(
            "prune",
            "venvslim slim --prune --run CMD: the default, less what the timed command did not use (its safe level)",
            Recipe::Slim(vec!["--prune".into(), "--run".into(), cmd.to_string()]),
        ));
    }
    all
}

/// `NAME=FLAGS` from `--strategy`: FLAGS are `venvslim slim` flags, split like a shell would
/// (quotes group words), checked by the same parser `slim` uses.
pub fn parse_user(spec: &str) -> Result<Strategy> {
    let Some((name, flags)) = spec.split_once('=') else {
        bail!("--strategy `{spec}` has no `=`\nhint: write NAME='FLAGS', e.g. --strategy keep-pyc='--bytecode keep'");
    };
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!("--strategy `{spec}`: `{name}` is not a usable name\nhint: use letters, digits, `-`, `_` and `.` (it names a directory and a point on the chart)");
    }
    let flags = split_words(flags).with_context(|| format!("--strategy `{spec}`"))?;
    for f in &flags {
        let bare = f.split('=').next().unwrap_or(f);
        if matches!(
            bare,
            "-o" | "--output" | "--in-place" | "-n" | "--dry-run" | "--json"
        ) {
            bail!("--strategy `{spec}`: `{f}` is chosen by the bench itself\nhint: give only flags that change what is slimmed (--bytecode, --dist-info, --elf, --keep, --remove, --keep-package, --verify)");
        }
    }
    let argv = ["venvslim", "slim", "VENV", "-o", "OUT"]
        .into_iter()
        .map(String::from)
        .chain(flags.iter().cloned());
    if let Err(e) = crate::cli::Cli::try_parse_from(argv) {
        let first = e.to_string();
        let first = first
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        bail!("--strategy `{spec}`: {first}\nhint: FLAGS are `venvslim slim` flags; see `venvslim slim --help`");
    }
    Ok(Strategy {
        name: name.to_string(),
        description: "your strategy".to_string(),
        recipe: Recipe::Slim(flags),
    })
}

/// The strategies to run: `names` in their order (empty: every built-in), then the user's
/// strategies not already named. Unknown or repeated names are errors; so is `prune` without a
/// command (`run`) to record.
pub fn select(names: &[String], user: Vec<Strategy>, run: Option<&str>) -> Result<Vec<Strategy>> {
    let all = builtin(run);
    if run.is_none() && names.iter().any(|n| n.trim() == "prune") {
        bail!("the prune strategy removes what a recorded command did not use, and no --run was given\nhint: add --run CMD (what your app runs, `$VENV` is the tree's path); it is timed and recorded");
    }
    let mut out: Vec<Strategy> = Vec::new();
    let wanted: Vec<&str> = if names.is_empty() {
        all.iter().map(|s| s.name.as_str()).collect()
    } else {
        names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect()
    };
    for name in wanted {
        let found = user
            .iter()
            .find(|s| s.name == name)
            .or_else(|| all.iter().find(|s| s.name == name));
        let Some(s) = found else {
            let known: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
            bail!("unknown strategy `{name}`\nhint: built-in strategies are {}; add your own with --strategy NAME='FLAGS'", known.join(", "));
        };
        if out.iter().any(|o| o.name == s.name) {
            bail!(
                "strategy `{name}` is named twice\nhint: name each strategy once in --strategies"
            );
        }
        out.push(s.clone());
    }
    for s in user {
        if all.iter().any(|b| b.name == s.name) {
            bail!(
                "--strategy `{}` has the name of a built-in strategy\nhint: pick another name",
                s.name
            );
        }
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Split like a POSIX shell does for plain words: whitespace separates, '…' and "…" group,
/// a backslash outside single quotes escapes the next character. No expansion of any kind.
pub fn split_words(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => bail!("unclosed ' in `{s}`"),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => bail!("unclosed \" in `{s}`"),
                    }
                }
            }
            '\\' => cur.get_or_insert_with(String::new).extend(chars.next()),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_words(r#"--keep 'cv2/**' --remove "a b" x\ y"#).unwrap(),
            ["--keep", "cv2/**", "--remove", "a b", "x y"]
        );
        assert!(split_words("'open").is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    #[test]
    fn user_strategies_are_checked() {
        let s = parse_user("keep-pyc=--bytecode keep").unwrap();
        assert_eq!(
            s.recipe,
            Recipe::Slim(vec!["--bytecode".into(), "keep".into()])
        );
        assert!(parse_user("nope").is_err());
        assert!(parse_user("x=--bytecode never").is_err());
        assert!(parse_user("x=--in-place").is_err());
        assert!(parse_user("a/b=--verify").is_err());
    }

    #[test]
    fn selection_keeps_order_and_adds_user_strategies() {
        let user = vec![parse_user("mine=--elf keep").unwrap()];
        let names: Vec<String> = select(&["default".into(), "none".into()], user.clone(), None)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["default", "none", "mine"]);
        assert_eq!(
            select(&[], user, None).unwrap().len(),
            builtin(None).len() + 1
        );
        assert!(select(&["bogus".into()], vec![], None).is_err());
        assert!(select(&["none".into(), "none".into()], vec![], None).is_err());
        assert!(select(&[], vec![parse_user("max=--verify").unwrap()], None).is_err());
    }

    #[test]
    fn prune_joins_when_there_is_a_command() {
        let names = |run| -> Vec<String> {
            select(&[], vec![], run)
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert!(!names(None).contains(&"prune".to_string()));
        assert_eq!(
            names(Some("$VENV/bin/python app.py")).last().unwrap(),
            "prune"
        );
        assert!(select(&["prune".into()], vec![], None).is_err());
        let prune = select(&["prune".into()], vec![], Some("x")).unwrap();
        assert_eq!(
            prune[0].recipe,
            Recipe::Slim(vec!["--prune".into(), "--run".into(), "x".into()])
        );
    }
}
