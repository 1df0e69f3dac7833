//! `venvslim dockerfile`: print a multi-stage Dockerfile for the options given.

use anyhow::Result;

use super::Status;
use crate::{cli, handoff, report, settings};

/// `venvslim dockerfile`: print the multi-stage Dockerfile for these options.
pub fn run(args: &cli::DockerfileArgs) -> Result<Status> {
    // The same validation as `slim` (absolute paths, mtime, chmod), against no venv.
    handoff::options::from_args(
        &cli::HandoffArgs {
            licenses_dir: None,
            sbom: None,
            ..args.handoff.clone()
        },
        std::path::Path::new("/venv"),
        &settings::Target::PlanOnly,
    )?;
    let stdout = std::io::stdout();
    report::dockerfile::text(stdout.lock(), &handoff::dockerfile::render(args))?;
    Ok(Status::Ok)
}
