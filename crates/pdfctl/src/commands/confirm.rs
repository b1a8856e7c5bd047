//! Asking before a destructive action: `--yes` skips the question, and without a terminal to
//! ask on we refuse rather than guess.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::bail;

/// Whether to go ahead with `what`: true with `yes`, else the answer to a y/N question on the
/// terminal. Refuses (an error saying to pass --yes) when stdin is not a terminal, so a script
/// never deletes things because of stray input.
pub fn confirm(what: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without confirmation: stdin is not a terminal; pass --yes");
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{what}? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
