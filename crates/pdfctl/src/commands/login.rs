//! `pdfctl login` and `pdfctl logout`: keep or drop a token pair for an API URL.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use pdfq_client::Client;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account's email.
    #[arg(long, env = "PDFQ_EMAIL")]
    email: String,
    /// The password; without it, it is read from PDFQ_PASSWORD or the first line of standard
    /// input (so it stays out of the shell history).
    #[arg(long, env = "PDFQ_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

pub async fn login(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let password = match &args.password {
        Some(password) => password.clone(),
        None => read_password(&args.email)?,
    };
    let client = Client::new(api_url).with_context(|| format!("bad API URL {api_url}"))?;
    let tokens = client
        .login(&args.email, &password)
        .await
        .with_context(|| {
            format!(
                "logging in to {api_url} (is `pdfctl up` running? check the email and password)"
            )
        })?;
    let path = crate::session::save(api_url, &args.email, &tokens)?;
    eprintln!(
        "logged in to {api_url} as {} (token kept in {})",
        args.email,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The password, after a prompt. At a terminal it is typed with echo off (rpassword: the
/// terminal's own line, raw, restored afterwards, Ctrl-C still interrupts); piped, it is the
/// first line of stdin, and the prompt's line is ended here since nothing echoes the Enter.
/// An empty answer is refused: it can only be a mistake (an empty or closed stdin), and
/// sending it would read as a bad password.
fn read_password(email: &str) -> anyhow::Result<String> {
    let prompt = format!("password for {email}: ");
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        rpassword::prompt_password(&prompt).context("cannot read the password at the terminal")?
    } else {
        eprint!("{prompt}");
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password")?;
        eprintln!();
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        bail!(
            "no password given: type it at the prompt, pipe it on stdin, or set PDFQ_PASSWORD (or pass --password)"
        );
    }
    Ok(password)
}

pub async fn logout(api_url: &str) -> anyhow::Result<ExitCode> {
    match crate::session::forget(api_url)? {
        Some(saved) => {
            let client = Client::new(api_url)?.with_token(&saved.access_token);
            // The server-side revoke is best effort: the local token is gone either way.
            let _ = client.logout(Some(&saved.refresh_token)).await;
            eprintln!("logged out of {api_url}");
        }
        None => eprintln!("not logged in to {api_url}"),
    }
    Ok(ExitCode::SUCCESS)
}
