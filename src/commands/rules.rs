//! `venvslim rules`: print the rule table.

use anyhow::Result;

use super::Status;

/// `venvslim rules`: every rule's id, what it removes, why that is safe, and the evidence.
pub fn run() -> Result<Status> {
    crate::report::rules(std::io::stdout().lock(), &crate::rules::table())?;
    Ok(Status::Ok)
}
