//! `venvslim dockerfile`: print a multi-stage Dockerfile for the options given.

use anyhow::{bail, Result};

use super::Status;
use crate::settings::file::Combine;
use crate::{cli, handoff, report, settings};

/// `venvslim dockerfile`: print the multi-stage Dockerfile for these options.
pub fn run(given: &cli::DockerfileArgs) -> Result<Status> {
    // `[tool.venvslim]` goes into the printed slim line, where the reader of the file sees it.
    let file = settings::file::load(given.config.as_deref())?;
    let args = &cli::DockerfileArgs {
        from: given.from.clone(),
        installer: given.installer,
        requirements: given.requirements.clone(),
        venvslim: given.venvslim.clone(),
        entrypoint: given.entrypoint.clone(),
        config: None,
        options: given.options.clone().combine(file),
    };
    settings::check_dockerfile_options(&args.options)?;
    handoff::dockerfile::check(args)?;
    if args.requirements.is_some() && args.installer != cli::Installer::Pip {
        bail!("--requirements is read by pip only\nhint: uv and Poetry install from pyproject.toml and their lock file in the build context; drop --requirements, or use --installer pip");
    }
    let stdout = std::io::stdout();
    report::dockerfile::text(stdout.lock(), &handoff::dockerfile::render(args))?;
    Ok(Status::Ok)
}
