//! `[tool.venvslim]` in a pyproject.toml. The table is read into the same `SlimOptions` the
//! command line fills (so a key is a flag's long name, defined once, with the flag's type and
//! help), then merged under the command line by one rule, `Combine`: the command line wins over
//! the file, the file over the default, and lists are merged. Paths in the file are relative to
//! the file's directory, where the project lives, not to wherever the build happens to run.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::{DeserializeOwned, Visitor};
use serde::Deserialize;

use crate::cli::SlimOptions;

/// How a command-line value and a `[tool.venvslim]` value make one: `self` is the command line's,
/// `file` the file's.
pub trait Combine {
    /// The value the run uses.
    fn combine(self, file: Self) -> Self;
}

/// A value: the command line's when given, else the file's (else, later, the default).
impl<T> Combine for Option<T> {
    fn combine(self, file: Self) -> Self {
        self.or(file)
    }
}

/// A list (`keep`, `remove`, ...): both, the file's first.
impl<T> Combine for Vec<T> {
    fn combine(self, file: Self) -> Self {
        let mut all = file;
        all.extend(self);
        all
    }
}

/// A switch (`--zip-pure`, `--dedupe`): on when either turns it on (there is no flag to turn a
/// file's `true` off).
impl Combine for bool {
    fn combine(self, file: Self) -> Self {
        self || file
    }
}

/// Field by field, with the rule of the field's type. The struct literal names every field, so a
/// new option that is not merged here does not compile.
impl Combine for SlimOptions {
    fn combine(self, file: Self) -> Self {
        SlimOptions {
            bytecode: self.bytecode.combine(file.bytecode),
            dist_info: self.dist_info.combine(file.dist_info),
            elf: self.elf.combine(file.elf),
            keep: self.keep.combine(file.keep),
            remove: self.remove.combine(file.remove),
            keep_package: self.keep_package.combine(file.keep_package),
            python_version: self.python_version.combine(file.python_version),
            zip_pure: self.zip_pure.combine(file.zip_pure),
            zip_sourceless: self.zip_sourceless.combine(file.zip_sourceless),
            zip_exclude: self.zip_exclude.combine(file.zip_exclude),
            run: self.run.combine(file.run),
            prune: self.prune.combine(file.prune),
            budget: self.budget.combine(file.budget),
            prefix: self.prefix.combine(file.prefix),
            python: self.python.combine(file.python),
            keep_bin: self.keep_bin.combine(file.keep_bin),
            licenses_dir: self.licenses_dir.combine(file.licenses_dir),
            sbom: self.sbom.combine(file.sbom),
            mtime: self.mtime.combine(file.mtime),
            chmod: self.chmod.combine(file.chmod),
            dedupe: self.dedupe.combine(file.dedupe),
        }
    }
}

#[derive(Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}
#[derive(Deserialize)]
struct Tool {
    venvslim: Option<toml::Value>,
}

/// Load `[tool.venvslim]` from `explicit`, or from ./pyproject.toml when it has that table; no
/// file and no table are no options.
pub fn load(explicit: Option<&Path>) -> Result<SlimOptions> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            // Found, not named: the working directory of a build is a context full of others'
            // files, so a link there is not followed (its target would be read, and a TOML error
            // would echo a line of it).
            let p = PathBuf::from("pyproject.toml");
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => bail!(
                    "./pyproject.toml is a symlink; venvslim does not read a config it finds through a link\nhint: name it with --config pyproject.toml if it is yours"
                ),
                Ok(m) if m.is_file() => p,
                _ => return Ok(SlimOptions::default()),
            }
        }
    };
    let text = fs::read_to_string(&path)
        .with_context(|| format!("cannot read config `{}`", path.display()))?;
    let doc: Pyproject =
        toml::from_str(&text).with_context(|| format!("`{}` is not valid TOML", path.display()))?;
    match doc.tool.and_then(|t| t.venvslim) {
        Some(table) if !table.is_table() => bail!(
            "[tool.venvslim] in `{}` is not a table of keys (it is of type {})\nhint: write it as a [tool.venvslim] section of `key = value` lines",
            path.display(),
            table.type_str()
        ),
        Some(table) => {
            let options: SlimOptions = table.try_into().with_context(|| {
                format!(
                    "bad [tool.venvslim] in `{}`\nhint: known keys are {}",
                    path.display(),
                    keys().join(", ")
                )
            })?;
            super::handoff::check_file_values(&options)
                .with_context(|| format!("bad [tool.venvslim] in `{}`", path.display()))?;
            Ok(relative_to(options, path.parent().unwrap_or(Path::new(""))))
        }
        None if explicit.is_some() => bail!("`{}` has no [tool.venvslim] table", path.display()),
        None => Ok(SlimOptions::default()),
    }
}

/// The file's paths on this machine (`licenses-dir`, `sbom`), made relative to `dir`, the file's
/// directory. `prefix` and `python` are paths in the final image: they must be absolute, and a
/// relative one stays as written so that check refuses it.
fn relative_to(mut options: SlimOptions, dir: &Path) -> SlimOptions {
    for p in [&mut options.licenses_dir, &mut options.sbom]
        .into_iter()
        .flatten()
    {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    }
    options
}

/// Every key `[tool.venvslim]` accepts, in declaration order: read from `SlimOptions` itself, so
/// the hint cannot drift from what is accepted.
pub fn keys() -> &'static [&'static str] {
    struct_keys::<SlimOptions>()
}

/// The field names a serde-derived struct expects (renames applied). Its derived `Deserialize`
/// hands them to `Deserializer::deserialize_struct`; this deserializer keeps them and stops.
fn struct_keys<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("keys read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut keys: &'static [&'static str] = &[];
    match T::deserialize(Probe(&mut keys)) {
        // The probe fails every deserialization on purpose, once it has the keys.
        Ok(_) | Err(_) => keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{BytecodeMode, Cli, Command};
    use clap::{Args, CommandFactory, Parser};

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("pyproject.toml");
        fs::write(&p, text).unwrap();
        p
    }

    fn slim_options(argv: &[&str]) -> SlimOptions {
        let argv = ["venvslim", "slim", "/venv", "-n"].iter().chain(argv);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Slim(a) => a.options,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_config_rejects_unknown_keys() {
        let t = tempfile::tempdir().unwrap();
        let p = write(
            t.path(),
            "[tool.venvslim]\nbytecode = \"strip\"\nkeep = [\"a/**\"]\n",
        );
        let c = load(Some(&p)).unwrap();
        assert_eq!(c.bytecode, Some(BytecodeMode::Strip));
        assert_eq!(c.keep, vec!["a/**"]);
        write(t.path(), "[tool.venvslim]\nbytecod = \"strip\"\n");
        let e = format!("{:#}", load(Some(&p)).unwrap_err());
        assert!(e.contains("bytecod"), "{e}");
        assert!(
            e.contains("hint: known keys are bytecode, dist-info, elf,"),
            "{e}"
        );
        assert!(e.contains("zip, ") && e.contains("prefix") && e.contains("dedupe"));
    }

    /// Every key is a flag of `slim` with the same name (but `zip`, for `--zip-pure`), and every
    /// flag of `SlimOptions` is a key: the file and the command line cannot drift apart.
    #[test]
    fn file_values_are_checked_in_the_files_words() {
        let t = tempfile::tempdir().unwrap();
        let err = |text: &str| {
            let p = write(t.path(), text);
            format!("{:#}", load(Some(&p)).unwrap_err())
        };
        // A table written as an array is not read by position.
        let e = err("[tool]\nvenvslim = [\"strip\"]\n");
        assert!(e.contains("not a table of keys"), "{e}");
        // Errors name the key and the file, never a flag nobody typed.
        for (text, want) in [
            (
                "[tool.venvslim]\nmtime = -5\n",
                "mtime `-5` is not a Unix time",
            ),
            (
                "[tool.venvslim]\nmtime = 1.5\n",
                "mtime must be a Unix time",
            ),
            (
                "[tool.venvslim]\nprefix = \"venv\"\n",
                "prefix = \"venv\" is not an absolute path",
            ),
            ("[tool.venvslim]\nchmod = \"9\"\n", "chmod = `9`"),
        ] {
            let e = err(text);
            assert!(
                e.contains(want) && e.contains("pyproject.toml"),
                "{text}: {e}"
            );
            for flag in ["--mtime `", "--prefix `", "--chmod `", "Epoch"] {
                assert!(!e.contains(flag), "{text}: {e}");
            }
        }
    }

    #[test]
    fn keys_are_the_flags() {
        let cmd = SlimOptions::augment_args(clap::Command::new("probe"));
        let flags: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(|l| if l == "zip-pure" { "zip" } else { l }.to_string())
            .collect();
        assert_eq!(flags, keys(), "declaration order too");
        assert!(keys().len() >= 18, "{:?}", keys());
        let slim = Cli::command();
        let slim = slim.find_subcommand("slim").unwrap();
        for k in ["prefix", "licenses-dir", "sbom", "mtime", "chmod", "dedupe"] {
            assert!(keys().contains(&k), "{k}");
            assert!(slim.get_arguments().any(|a| a.get_long() == Some(k)), "{k}");
        }
    }

    #[test]
    fn command_line_over_file_over_default() {
        let t = tempfile::tempdir().unwrap();
        let p = write(
            t.path(),
            "[tool.venvslim]\nbytecode = \"strip\"\nelf = \"debug\"\nkeep = [\"a\"]\n\
             prefix = \"/app\"\nkeep-bin = [\"x\"]\nmtime = 1700000000\nchmod = \"a-w\"\n\
             dedupe = true\nzip = true\n",
        );
        let file = load(Some(&p)).unwrap();
        let cli = slim_options(&["--bytecode", "keep", "--keep", "b", "--keep-bin", "y,z"]);
        let o = cli.combine(file);
        assert_eq!(
            o.bytecode,
            Some(BytecodeMode::Keep),
            "the command line wins"
        );
        assert_eq!(o.elf, Some(crate::cli::ElfMode::Debug), "the file fills in");
        assert_eq!(o.dist_info, None, "neither: the default, later");
        assert_eq!(o.keep, ["a", "b"], "lists merge, the file's first");
        assert_eq!(o.keep_bin, ["x", "y", "z"]);
        assert_eq!(o.prefix.as_deref(), Some(Path::new("/app")));
        assert_eq!(o.mtime.as_deref(), Some("1700000000"), "a TOML integer");
        assert_eq!(o.chmod.as_deref(), Some("a-w"));
        assert!(o.dedupe && o.zip_pure);
        let o =
            slim_options(&["--prefix", "/srv", "--mtime", "5"]).combine(load(Some(&p)).unwrap());
        assert_eq!(o.prefix.as_deref(), Some(Path::new("/srv")));
        assert_eq!(o.mtime.as_deref(), Some("5"));
        assert_eq!(
            slim_options(&[]).combine(SlimOptions::default()),
            SlimOptions::default()
        );
    }

    #[test]
    fn paths_in_the_file_are_relative_to_its_directory() {
        let t = tempfile::tempdir().unwrap();
        let p = write(
            t.path(),
            "[tool.venvslim]\nsbom = \"out/sbom.json\"\nlicenses-dir = \"/abs/lic\"\nprefix = \"/app/venv\"\n",
        );
        let o = load(Some(&p)).unwrap();
        assert_eq!(o.sbom, Some(t.path().join("out/sbom.json")));
        assert_eq!(o.licenses_dir.as_deref(), Some(Path::new("/abs/lic")));
        assert_eq!(
            o.prefix.as_deref(),
            Some(Path::new("/app/venv")),
            "a path in the image is not rebased (a relative one is refused: see above)"
        );
        let o = slim_options(&["--sbom", "cli.json"]).combine(o);
        assert_eq!(
            o.sbom.as_deref(),
            Some(Path::new("cli.json")),
            "the command line's stays as given"
        );
    }

    #[test]
    fn wrong_types_name_the_file_and_the_keys() {
        let t = tempfile::tempdir().unwrap();
        let p = write(t.path(), "[tool.venvslim]\nchmod = 755\n");
        let e = format!("{:#}", load(Some(&p)).unwrap_err());
        assert!(e.contains("chmod") && e.contains("known keys are"), "{e}");
        write(t.path(), "[tool.venvslim]\nmtime = true\n");
        assert!(load(Some(&p)).is_err());
        write(t.path(), "[tool.venvslim]\nbytecode = \"sourceless\"\n");
        assert_eq!(
            load(Some(&p)).unwrap().bytecode,
            Some(BytecodeMode::Sourceless)
        );
    }

    /// A mode is spelled the same as a flag's value and as a key's value.
    #[test]
    fn one_spelling_for_flag_and_key() {
        fn check<T>()
        where
            T: clap::ValueEnum + serde::Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
        {
            for v in T::value_variants() {
                let name = v.to_possible_value().unwrap().get_name().to_string();
                assert_eq!(serde_json::to_value(v).unwrap(), name.as_str());
                let back: T = toml::Value::String(name).try_into().unwrap();
                assert_eq!(&back, v);
            }
        }
        check::<BytecodeMode>();
        check::<crate::cli::DistInfoMode>();
        check::<crate::cli::ElfMode>();
    }

    /// The README's `[tool.venvslim]` example loads, and its list names every key.
    #[test]
    fn the_readme_example_loads_and_lists_every_key() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n[tool.venvslim]")
            .expect("the example")
            + 8;
        let example = &readme[start..][..readme[start..].find("```").unwrap()];
        let t = tempfile::tempdir().unwrap();
        let o = load(Some(&write(t.path(), example))).unwrap();
        assert!(o.dedupe && o.prefix.is_some() && o.mtime.is_some());
        let section = &readme[readme
            .find("- The same settings from `[tool.venvslim]`")
            .unwrap()..start];
        for k in keys() {
            assert!(
                section.contains(&format!("`{k}`")),
                "README does not list `{k}`"
            );
        }
    }
}
