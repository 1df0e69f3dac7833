//! Command-line surface. Only clap derive lives here (and serde, for `SlimOptions`, the option
//! list `[tool.venvslim]` shares): the doc comments are the help text, and nothing in this file
//! validates or interprets; `settings` merges the command line with the file and turns the raw
//! options into a checked `Settings` before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `venvslim --version`: the release, the commit it was built from and the target triple
/// (build.rs), e.g. `0.1.0 (commit 0f318d3a1b2c, x86_64-unknown-linux-gnu)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("VENVSLIM_COMMIT"),
    ", ",
    env!("VENVSLIM_TARGET"),
    ")"
);

/// Slim a built Python virtualenv for the final stage of a container image, without breaking it.
///
/// venvslim reads a venv made by a builder stage and writes a smaller tree that imports and runs
/// the same: stale bytecode, tests, docs, type stubs, C sources, installers and most of
/// `*.dist-info` go; licences and what the runtime reads stay.
#[derive(Debug, Parser)]
#[command(
    name = "venvslim",
    version = VERSION,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each variant's doc comment is its `--help` text.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a slimmed copy of a venv (or slim it in place).
    ///
    /// Exit status: 0 done (a dry run too), 1 finished but some files failed (see the report),
    /// 2 usage or fatal error (nothing was written).
    #[command(
        after_help = "Examples:\n  venvslim slim /venv -o /slim          last step of a builder stage\n  venvslim slim /venv -n                 show what would go, change nothing\n  venvslim slim /venv -o /slim --json    machine-readable report\n  venvslim rules                         every rule, why it is safe, and the evidence"
    )]
    Slim(SlimArgs),

    /// Check that a (slimmed) venv still works, with the venv's own interpreter, on a read-only
    /// mount when possible (root): import modules (each guarded: a crash or hang of one does not
    /// stop the rest), read every distribution's metadata and entry points, resolve every console
    /// script's target.
    ///
    /// With --against ORIGINAL, report only regressions (what works there and not here, each with
    /// its error and distribution), and import every module on disk, each submodule of each
    /// package: that is what finds a removed file that kept code imports. --quick imports only
    /// the top-level and extension modules (fast; the default without --against, where a deep
    /// probe would list every submodule that never imported). Importing is not running: a data
    /// file read only at run time is not checked. Exit status: 0 nothing found, 1 something
    /// found, 2 the check could not run.
    Verify(VerifyArgs),

    /// Remove debug sections and symbol tables from ELF files (shared libraries, executables) in
    /// place, with the same engine as `slim`: program headers and every loaded byte stay
    /// identical (unlike GNU strip, which breaks patchelf-edited libraries such as numpy's
    /// openblas), and each result is re-parsed and compared before it replaces the original.
    ///
    /// Exit status: 0 done, 1 some files failed, 2 usage error.
    Strip(StripArgs),

    /// Compare slimming strategies on copies of a venv: bytes, disk, files, tar.gz (what a
    /// registry transfers), cold start on a read-only mount, and what breaks (verify).
    ///
    /// Strategies: `none` (a plain copy, the baseline), `exclude-pycache-distinfo` (the usual
    /// Dockerfile COPY --exclude recipe), `sls-slim` (serverless-python-requirements' slim),
    /// `default` (venvslim slim), `max` (every size option, with --verify), `prune` (with --run:
    /// the default less what the timed command did not use), and your own with --strategy. The
    /// venv is never modified. Exit status: 0 done, 1 a strategy's tree could
    /// not be made, 2 usage or fatal error.
    #[command(
        after_help = "Examples:\n  venvslim bench /venv\n  venvslim bench /venv --strategies none,default --strategy keep-pyc='--bytecode keep'\n  venvslim bench /venv --run '$VENV/bin/python -m myapp --help' --svg bench.svg"
    )]
    Bench(BenchArgs),

    /// Print the rule table: every rule's id, what it removes, why that is safe, and what
    /// breaks if it is done wrong.
    Rules,

    /// Print a multi-stage Dockerfile for a distroless final image: a builder stage that installs
    /// requirements into /venv and runs `venvslim slim` with the options given here, and a
    /// `gcr.io/distroless/python3-debian12:nonroot` stage that copies the slim tree in and runs it
    /// (ENTRYPOINT in exec form: there is no shell there).
    Dockerfile(DockerfileArgs),
}

/// `venvslim slim`: the venv, where the result goes, and the options of this run.
#[derive(Debug, Args)]
pub struct SlimArgs {
    /// The venv to slim: a directory with pyvenv.cfg, a `--user` prefix, or a bare site-packages
    /// / `pip install --target` tree (then give --python-version).
    pub venv: PathBuf,

    /// Where to write the slimmed tree. Must not exist, or be an empty directory.
    #[arg(short, long, value_name = "OUT", conflicts_with = "in_place")]
    pub output: Option<PathBuf>,

    /// Slim VENV itself instead of writing a copy. Removed files are gone for good.
    #[arg(long)]
    pub in_place: bool,

    /// Print the plan and change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print a machine-readable JSON report (every action: path, category, rule, bytes) instead
    /// of the text summary.
    #[arg(long)]
    pub json: bool,

    /// Every option `[tool.venvslim]` may set too.
    #[command(flatten)]
    pub options: SlimOptions,

    /// Read settings from this file's `[tool.venvslim]` table (default: ./pyproject.toml if it
    /// has one). Command-line flags win; lists are merged; paths in the file are relative to its
    /// directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// After writing OUT, verify it against VENV; for each regression, restore the removed files
    /// of the distributions responsible (every removal knows its distribution) and verify again.
    /// The run ends with a tree that passes, or exit 1 with what still fails.
    #[arg(long, conflicts_with_all = ["in_place", "dry_run"])]
    pub verify: bool,

    /// List every action in the text output, not only the summary.
    #[arg(short, long)]
    pub verbose: bool,

    /// Also write where the bytes are after slimming as an SVG treemap (one rectangle per
    /// distribution, sized by its kept bytes, split by kind of file) to FILE, outside the venv
    /// and OUT, in a directory that exists. With --dry-run too (then from the plan's estimate).
    #[arg(long, value_name = "FILE")]
    pub treemap: Option<PathBuf>,
}

/// The help heading of the hand-off options.
const HANDOFF: &str = "Hand-off to the final image";

/// The options of `slim` that also have a key in `[tool.venvslim]`, each defined once: the flag
/// (clap, the doc comment is its help) and the key (serde: the flag's long name, except `zip`
/// for `--zip-pure`). `slim` and `dockerfile` flatten it; `settings` reads the file into it and
/// merges the two with `Combine` (command line over file over default). A field is an `Option`,
/// a `Vec` (lists from both are merged) or a `bool` (a flag the file can turn on).
#[derive(Debug, Default, Clone, PartialEq, Eq, Args, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SlimOptions {
    /// What to do with bytecode. `compile` (default) drops every existing .pyc and gives every
    /// kept source an unchecked-hash pyc made by the venv's own interpreter (pip's bytecode,
    /// re-headered, where the source is unchanged; compiled afresh otherwise), so start-up on a
    /// read-only filesystem is as fast as before; `keep` leaves pycs as they are; `strip` removes
    /// them (start-up on a read-only filesystem gets 2-3x slower); `sourceless` ships only
    /// `name.pyc` beside where `name.py` was (smallest; breaks packages that read their own
    /// sources, such as opencv).
    #[arg(long, value_enum, value_name = "MODE")]
    pub bytecode: Option<BytecodeMode>,

    /// What to keep of `*.dist-info`. `minimal` (default): the METADATA header, entry points,
    /// top_level.txt, a RECORD listing what is really left, direct_url.json and licence files;
    /// `keep`: everything; `licenses`: METADATA header and licence files only (entry points and
    /// importlib.metadata.files() stop working, and pip or uv can no longer uninstall a
    /// distribution: they read its RECORD); `strip`: remove the directories and move licence
    /// files to OUT/licenses/<dist>-<version>/ (importlib.metadata.version() stops working).
    #[arg(long = "dist-info", value_enum, value_name = "MODE")]
    pub dist_info: Option<DistInfoMode>,

    /// What to remove from ELF files (`.so`, `.so.N`, vendored `*.libs/`, found by content, not
    /// name). `unneeded` (default): debug sections and the static symbol table (`.symtab`); the
    /// dynamic symbols the loader uses stay. `debug`: debug sections only. `keep`: leave them.
    #[arg(long, value_enum, value_name = "MODE")]
    pub elf: Option<ElfMode>,

    /// Keep files matching GLOB (relative to site-packages), whatever a rule says. Wins over
    /// --remove. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub keep: Vec<String>,

    /// Also remove files matching GLOB (relative to site-packages). Overrides the import guard:
    /// you asked for it. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub remove: Vec<String>,

    /// Leave a distribution untouched, optionally only for versions matching a PEP 440
    /// specifier: `--keep-package numpy`, `--keep-package 'django>=5,<6'`. Repeatable.
    #[arg(long, value_name = "NAME[SPEC]")]
    pub keep_package: Vec<String>,

    /// Python version X.Y of a tree with no pyvenv.cfg (bare site-packages, --target, --user).
    #[arg(long, value_name = "X.Y")]
    pub python_version: Option<String>,

    /// Move pure distributions' files in site-packages into one zip on sys.path
    /// (`site-packages/_venvslim_pure.zip`, put there by `_venvslim_pure.pth`): `.py` plus an
    /// unchecked-hash `name.pyc` beside each, compiled by the venv's interpreter, so start-up
    /// stays fast. Distributions with native files, `.pth` files, or code that reads files next
    /// to its own `__file__` stay on disk (`--dry-run` shows why); dist-info stays on disk.
    #[arg(long)]
    #[serde(rename = "zip")]
    pub zip_pure: bool,

    /// With --zip-pure: only `name.pyc` in the zip, no `name.py` (smaller; tracebacks show no
    /// source lines, `inspect.getsource` fails).
    #[arg(long)]
    pub zip_sourceless: bool,

    /// With --zip-pure: leave this distribution on disk. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub zip_exclude: Vec<String>,

    /// Your own workload as the proof: run CMD (by `sh -c`, from the current directory, with
    /// `$VENV` set to the tree's path) on VENV, then on OUT at the path it will live at, both
    /// read-only as root, recording what it imports, opens and lists. It must pass on VENV first
    /// (else exit 2, nothing written); whatever OUT misses comes back, the smallest set first
    /// (the file, then its package, then its distribution), until CMD passes on OUT, or exit 1
    /// with its output. Implies --verify. Repeatable. `--run '$VENV/bin/python smoke.py'`,
    /// `--run '$VENV/bin/python -m pytest tests -x -q'`. With --dry-run it runs on VENV only.
    #[arg(long, value_name = "CMD")]
    pub run: Vec<String>,

    /// Remove what the --run workloads did not use: whole distributions nothing of which they
    /// used, and inside the top-level packages that stay, subpackages, data directories
    /// (botocore's service models) and module files they did not import or open. `safe` (the
    /// default level) also keeps every module a used module or a console script imports, so code
    /// paths the workloads did not reach still import; `used` keeps only what they used (and
    /// cuts console scripts that would fail). Licences, .pth files, native libraries used code
    /// loads and what kept distributions require always stay. Needs --run; OUT is then checked
    /// with the workloads and the deep verify, and what they miss comes back. With --dry-run the
    /// workloads run on VENV only and the cuts are listed. A code path no workload ran can still
    /// miss a file: cover your app with the workloads (README: "What --prune can break").
    #[arg(long, value_enum, value_name = "LEVEL", num_args = 0..=1, default_missing_value = "safe")]
    pub prune: Option<PruneLevel>,

    /// Exit 1 if the slimmed tree is larger than SIZE (`250MiB`, `300MB`, `1.5GiB`, or bytes),
    /// measured as the report's "after" (apparent bytes, each file once; after --verify's
    /// repairs). The output is still written; the report then lists the largest distributions
    /// and what --zip-pure, --bytecode sourceless (and --elf unneeded, at --elf keep) would save
    /// on this tree, estimated from alternative plans.
    #[arg(long, value_name = "SIZE")]
    #[serde(deserialize_with = "size_text")]
    pub budget: Option<String>,

    /// The absolute path the tree will live at in the final image (`COPY --from=builder /slim
    /// /venv`): shebangs of bin/ scripts, pyvenv.cfg, absolute symlinks and other text files
    /// naming the venv's path are rewritten to it, and bytecode records it as its file names.
    #[arg(long, value_name = "DIR", help_heading = HANDOFF)]
    pub prefix: Option<PathBuf>,

    /// The final image's interpreter (absolute; `/usr/bin/python3.11` on
    /// gcr.io/distroless/python3-debian12): bin/python* links point at it and pyvenv.cfg's
    /// `home` names its directory. Without it, --prefix warns when the venv's interpreter lives
    /// where a distroless image has none (/usr/local, pyenv, conda, uv, a home directory).
    #[arg(long, value_name = "PATH", help_heading = HANDOFF)]
    pub python: Option<PathBuf>,

    /// Keep only these console scripts in bin/ (and the python links); the others go.
    /// Repeatable, or comma-separated. Default: every script of a kept distribution.
    #[arg(long, value_name = "NAME", value_delimiter = ',', help_heading = HANDOFF)]
    pub keep_bin: Vec<String>,

    /// Copy every shipped distribution's licence files (LICENSE*, COPYING*, NOTICE*, AUTHORS*,
    /// `licenses/`) from its dist-info into DIR/<name>-<version>/. DIR may be inside OUT or
    /// anywhere else; it must not exist or be empty.
    #[arg(long, value_name = "DIR", help_heading = HANDOFF)]
    pub licenses_dir: Option<PathBuf>,

    /// Write a CycloneDX 1.5 JSON SBOM of the distributions in the output (name, version,
    /// licences, purl), read from their dist-info before slimming.
    #[arg(long, value_name = "FILE", help_heading = HANDOFF)]
    pub sbom: Option<PathBuf>,

    /// Set every file, directory and symlink mtime to this Unix time, for a reproducible layer
    /// digest. Default: $SOURCE_DATE_EPOCH when set, else the mtimes are kept.
    #[arg(long, value_name = "EPOCH", help_heading = HANDOFF)]
    #[serde(deserialize_with = "epoch_text")]
    pub mtime: Option<String>,

    /// Change permissions after normalising them (group/other write, setuid and setgid are
    /// always dropped), as `COPY --chmod` does: octal (`755`: every file and directory) or
    /// symbolic (`a-w`, `u=rwX,go=rX`).
    #[arg(long, value_name = "MODE", help_heading = HANDOFF)]
    pub chmod: Option<String>,

    /// Hardlink identical regular files of the output (same bytes, mode, owner and mtime): an
    /// image layer stores a hardlinked file once.
    #[arg(long, help_heading = HANDOFF)]
    pub dedupe: bool,
}

/// `mtime = 1700000000` or `mtime = "1700000000"` in the file: the text `--mtime` would get
/// (checked later, with the flag's message, as the command line's is).
fn epoch_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Epoch {
        Number(i64),
        Text(String),
    }
    let epoch = <Epoch as serde::Deserialize>::deserialize(d).map_err(|_| {
        serde::de::Error::custom("mtime must be a Unix time: an integer, or a string of one")
    })?;
    Ok(Some(match epoch {
        Epoch::Number(n) => n.to_string(),
        Epoch::Text(t) => t,
    }))
}

/// `budget = 262144000` or `budget = "250MiB"` in the file: the text `--budget` would get
/// (checked later, as the command line's is).
fn size_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }
    let size = <Size as serde::Deserialize>::deserialize(d).map_err(|_| {
        serde::de::Error::custom(
            "budget must be a size: a string such as \"250MiB\", or an integer of bytes",
        )
    })?;
    Ok(Some(match size {
        Size::Number(n) => n.to_string(),
        Size::Text(t) => t,
    }))
}

/// `venvslim dockerfile`: the stages' images and files, and the options the builder slims with.
#[derive(Debug, Clone, Args)]
pub struct DockerfileArgs {
    /// The builder stage's base image.
    #[arg(
        long = "from",
        value_name = "IMAGE",
        default_value = "python:3.11-slim-bookworm"
    )]
    pub from: String,

    /// How the builder makes the app's venv: `pip` (python -m venv + pip install -r
    /// requirements.txt), `uv` (uv sync --locked from pyproject.toml and uv.lock) or `poetry`
    /// (poetry install --only main from pyproject.toml and poetry.lock, in-project .venv).
    #[arg(long, value_enum, value_name = "INSTALLER", default_value_t = Installer::Pip)]
    pub installer: Installer,

    /// The requirements file pip installs, relative to the build context [default:
    /// requirements.txt]. Only with `--installer pip`: uv and Poetry read pyproject.toml and
    /// their lock file.
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<String>,

    /// Where the builder gets venvslim: a wheel in the build context (a path ending in .whl,
    /// globs allowed; `maturin build --out dist` writes dist/venvslim-*.whl), or a requirement
    /// pip resolves from the package index, such as `venvslim==0.1.0`.
    #[arg(
        long,
        value_name = "WHEEL|REQUIREMENT",
        default_value = "dist/venvslim-*.whl"
    )]
    pub venvslim: String,

    /// The command the final image runs, one argument per flag, in exec form (default: the
    /// first --keep-bin script, else `python -m app`). Example: `--entrypoint uvicorn
    /// --entrypoint app:api`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub entrypoint: Vec<String>,

    /// Read slim options from this file's `[tool.venvslim]` table (default: ./pyproject.toml if
    /// it has one) and write them into the builder's slim line. Command-line flags win; lists
    /// are merged. The builder's slim reads no config of its own.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The options the builder's `venvslim slim` runs with, as for `slim`.
    #[command(flatten)]
    pub options: SlimOptions,
}

/// `venvslim bench`: the venv, the strategies, and what to measure and write.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The venv to compare strategies on (never modified).
    pub venv: PathBuf,

    /// Strategies to run, comma-separated, in this order (default: every built-in one, then
    /// yours): none, exclude-pycache-distinfo, sls-slim, default, max, and prune (--prune with
    /// the --run command as its workload; only with --run).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub strategies: Vec<String>,

    /// A strategy of your own: NAME='venvslim slim flags', e.g. keep-pyc='--bytecode keep'.
    /// Repeatable; run after the built-in ones unless --strategies places it.
    #[arg(long, value_name = "NAME=FLAGS")]
    pub strategy: Vec<String>,

    /// The command to time, run by `sh -c` with $VENV set to the venv's path (default: the
    /// venv's python importing every top-level module that imports in the original). With it,
    /// the `prune` strategy joins: the default less what this command did not use.
    #[arg(long, value_name = "COMMAND")]
    pub run: Option<String>,

    /// Timed runs per strategy (interleaved across strategies, after one warm-up run).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub rounds: usize,

    /// Seconds one timed run may take before it is killed and counted as failed.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,

    /// Do not verify each tree against the original (faster; no regression counts).
    #[arg(long)]
    pub no_verify: bool,

    /// Print a JSON report instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Also write a chart of tar.gz size against start time as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Also write an HTML page with the chart and the table.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write the strategies' trees into DIR (new or empty) and keep them, instead of a scratch
    /// directory beside the venv that is removed at the end.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// `--prune`, `prune = ".."`: how much of what the workloads did not use goes.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum PruneLevel {
    #[default]
    Safe,
    Used,
}

/// `--bytecode`, `bytecode = ".."`: one spelling for both (clap's and serde's kebab-case).
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
// Each value is described in its flag's help; a doc comment on a variant would print it twice.
#[allow(missing_docs)]
pub enum BytecodeMode {
    #[default]
    Compile,
    Keep,
    Strip,
    Sourceless,
}

/// `venvslim verify`: the tree to check and what to check it against.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The venv to check (a slimmed tree works at any path).
    pub venv: std::path::PathBuf,

    /// The venv it was made from: report only what worked there and fails here.
    #[arg(long, value_name = "ORIGINAL")]
    pub against: Option<std::path::PathBuf>,

    /// Seconds one module may take to import before it counts as hung.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub timeout: u64,

    /// Import only the top-level modules and the extension modules, not every submodule: what
    /// `verify --against` did before it went deep. It misses a removed submodule that kept code
    /// imports (a tree slimmed with `--remove 'django/test/**'` passes it).
    #[arg(long)]
    pub quick: bool,

    /// Import every module on disk: the default with --against (and what `slim --verify` does);
    /// without --against it lists every submodule that fails, whether or not it ever worked.
    /// Kept so that scripts written before deep became the default still run.
    #[arg(long, hide = true, conflicts_with = "quick")]
    pub deep: bool,

    /// Do not try a read-only mount (by default, as root, the check runs on one, as
    /// `docker run --read-only` would).
    #[arg(long)]
    pub no_read_only: bool,

    /// Also run your own workload CMD (by `sh -c`, from the current directory, with `$VENV` set
    /// to the tree's path) on the tree: exit 1 if it fails. With --against, it runs first on
    /// ORIGINAL with a recording hook (it must pass there, else exit 2), then on the tree at
    /// ORIGINAL's path (mounted read-only as root), and every file, directory or module it used
    /// that the tree lacks is reported. Repeatable.
    #[arg(long, value_name = "CMD")]
    pub run: Vec<String>,

    /// Remove what the --run workloads did not use: whole distributions nothing of which they
    /// used, and inside the top-level packages that stay, subpackages, data directories
    /// (botocore's service models) and module files they did not import or open. `safe` (the
    /// default level) also keeps every module a used module or a console script imports, so code
    /// paths the workloads did not reach still import; `used` keeps only what they used (and
    /// cuts console scripts that would fail). Licences, .pth files, native libraries used code
    /// loads and what kept distributions require always stay. Needs --run; OUT is then checked
    /// with the workloads and the deep verify, and what they miss comes back. With --dry-run the
    /// workloads run on VENV only and the cuts are listed. A code path no workload ran can still
    /// miss a file: cover your app with the workloads (README: "What --prune can break").
    #[arg(long, value_enum, value_name = "LEVEL", num_args = 0..=1, default_missing_value = "safe")]
    pub prune: Option<PruneLevel>,

    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `venvslim strip`: the files and how much to strip.
#[derive(Debug, Args)]
pub struct StripArgs {
    /// ELF files to strip in place. Symlinks are refused (name the file they point to); a
    /// hardlinked file gets a new inode, so other links (a package cache) keep their bytes.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,

    /// `unneeded` (default): debug sections and `.symtab`; `debug`: debug sections only.
    #[arg(long, value_enum, default_value = "unneeded")]
    pub mode: ElfMode,

    /// Report what would be saved; change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print a JSON report (one entry per file) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--elf`, `elf = ".."`, `strip --mode`.
/// `venvslim dockerfile --installer`: the tool the builder stage makes the app's venv with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// Each value is described in its flag's help; a doc comment on a variant would print it twice.
#[allow(missing_docs)]
pub enum Installer {
    Pip,
    Uv,
    Poetry,
}

#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
// Each value is described in its flag's help; a doc comment on a variant would print it twice.
#[allow(missing_docs)]
pub enum ElfMode {
    #[default]
    Unneeded,
    Debug,
    Keep,
}

impl ElfMode {
    /// The engine's mode; None for `keep`.
    pub fn engine(self) -> Option<crate::elf::Mode> {
        match self {
            ElfMode::Unneeded => Some(crate::elf::Mode::Unneeded),
            ElfMode::Debug => Some(crate::elf::Mode::Debug),
            ElfMode::Keep => None,
        }
    }
}

/// `--dist-info`, `dist-info = ".."`.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
// Each value is described in its flag's help; a doc comment on a variant would print it twice.
#[allow(missing_docs)]
pub enum DistInfoMode {
    #[default]
    Minimal,
    Keep,
    Licenses,
    Strip,
}
