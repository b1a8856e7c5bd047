//! Running commands (std::process::Command with arguments, never a shell string), printing each
//! one first with its secrets masked; in a dry run, printing only.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;

#[derive(Debug)]
pub struct Exec {
    pub dry_run: bool,
    pub cwd: PathBuf,
}

/// What a command did. A dry run returns `ran: false` and nothing else.
#[derive(Debug, Default)]
pub struct Out {
    pub ran: bool,
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stderr, or stdout when stderr is empty: where CLIs put their error message. A JSON
    /// error object on stdout (the Railway CLI's in --json mode: `{"error", "code", "hint"}`)
    /// gives its `error` and `hint`.
    pub fn message(&self) -> String {
        if let Ok(serde_json::Value::Object(json)) = serde_json::from_str(self.stdout.trim())
            && let Some(error) = json.get("error").and_then(serde_json::Value::as_str)
        {
            let hint = json.get("hint").and_then(serde_json::Value::as_str);
            return hint.map_or_else(|| error.to_owned(), |h| format!("{error} ({h})"));
        }
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        text.trim().to_owned()
    }

    /// The first line of `message`: a check's one-line reason.
    pub fn first_line(&self) -> String {
        self.message().lines().next().unwrap_or_default().to_owned()
    }
}

impl Exec {
    pub fn new(dry_run: bool, cwd: PathBuf) -> Self {
        Self { dry_run, cwd }
    }

    /// Runs `program args` in the repository root and captures its output; in a dry run only
    /// prints it. A program that cannot be started is an error; a non-zero exit is not (the
    /// caller reads `ok`).
    pub fn run<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> anyhow::Result<Out> {
        self.run_with(program, args, &[])
    }

    /// As `run`, with extra environment variables (their values are never printed).
    pub fn run_with<S: AsRef<OsStr>>(
        &self,
        program: &str,
        args: &[S],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Out> {
        println!("{}", shown(program, args, self.dry_run));
        if self.dry_run {
            return Ok(Out::default());
        }
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        let output =
            retry_while_busy(|| command.output()).with_context(|| format!("running {program}"))?;
        Ok(Out::from(output))
    }

    /// As `run`, with `input` on the command's stdin (printed after the command: it holds no
    /// secret, only settings).
    pub fn run_input<S: AsRef<OsStr>>(
        &self,
        program: &str,
        args: &[S],
        input: &str,
    ) -> anyhow::Result<Out> {
        println!(
            "{} <<'EOF'\n{input}\nEOF",
            shown(program, args, self.dry_run)
        );
        if self.dry_run {
            return Ok(Out::default());
        }
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child =
            retry_while_busy(|| command.spawn()).with_context(|| format!("running {program}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            // A program that exits without reading its input is reported by its exit status.
            let _ = stdin.write_all(input.as_bytes());
        }
        let output = child
            .wait_with_output()
            .with_context(|| format!("running {program}"))?;
        Ok(Out::from(output))
    }

    /// Prints a step of the plan that is not a command (e.g. "wait for the deployment").
    pub fn note(&self, what: &str) {
        if self.dry_run {
            println!("  [dry-run] {what}");
        } else {
            println!("  {what}");
        }
    }
}

impl From<std::process::Output> for Out {
    fn from(output: std::process::Output) -> Self {
        Self {
            ran: true,
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `start`, again while the program is "busy" (ETXTBSY): a program written just before
/// it is run (a fresh install, a test's stand-in) can still be open for writing in a process
/// forked meanwhile, for the moment before that process execs.
fn retry_while_busy<T>(mut start: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut tries = 0;
    loop {
        match start() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 40 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

fn shown<S: AsRef<OsStr>>(program: &str, args: &[S], dry_run: bool) -> String {
    let mut line = String::from(if dry_run { "  [dry-run] $ " } else { "  $ " });
    line.push_str(program);
    for arg in args {
        line.push(' ');
        let arg = mask(&arg.as_ref().to_string_lossy());
        if arg.contains('\'') {
            line.push_str(&format!("\"{}\"", arg.replace('"', "\\\"")));
        } else if arg.is_empty() || arg.contains([' ', '"', '$', '{']) {
            line.push_str(&format!("'{arg}'"));
        } else {
            line.push_str(&arg);
        }
    }
    line
}

/// Variables whose values are secrets.
const SECRET_KEYS: [&str; 4] = [
    "JWT_SECRET",
    "DATABASE_URL",
    "PDFQ_ADMIN_PASSWORD",
    "REDIS_URL",
];

/// Masks `KEY=value` for secret keys (unless the value is a `${{...}}` reference, which is no
/// secret) and the password of any `scheme://user:password@host` URL.
pub fn mask(arg: &str) -> String {
    if let Some((key, value)) = arg.split_once('=')
        && SECRET_KEYS.contains(&key)
        && !value.starts_with("${{")
    {
        return format!(
            "{key}={}",
            mask_url(value).unwrap_or_else(|| "***".to_owned())
        );
    }
    mask_url(arg).unwrap_or_else(|| arg.to_owned())
}

fn mask_url(text: &str) -> Option<String> {
    let scheme_end = text.find("://")? + 3;
    let at = text[scheme_end..].find('@')? + scheme_end;
    let colon = text[scheme_end..at].find(':')? + scheme_end;
    Some(format!("{}***{}", &text[..=colon], &text[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_error_on_stdout_is_the_message() {
        // What railway up --json printed without a login (the real 5.43.1 binary).
        let out = Out {
            ran: true,
            ok: false,
            stdout: r#"{"code":"NOT_AUTHENTICATED","error":"Not signed in.","hint":"Run `railway login` to authenticate, then re-run."}"#.to_owned(),
            stderr: String::new(),
        };
        assert_eq!(
            out.message(),
            "Not signed in. (Run `railway login` to authenticate, then re-run.)"
        );
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask("JWT_SECRET=abc"), "JWT_SECRET=***");
        assert_eq!(
            mask("DATABASE_URL=postgres://u:pw@h:5432/db"),
            "DATABASE_URL=postgres://u:***@h:5432/db"
        );
        assert_eq!(
            mask("REDIS_URL=${{Redis.REDIS_URL}}"),
            "REDIS_URL=${{Redis.REDIS_URL}}"
        );
        assert_eq!(mask("PORT=8000"), "PORT=8000");
        assert_eq!(mask("redis://default:x@h:1"), "redis://default:***@h:1");
    }
}
