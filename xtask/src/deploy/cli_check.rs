//! `cargo xtask railway-cli-check`: passes every command line `cargo xtask deploy` can produce
//! (`railway::Call::every_shape`) through the real Railway CLI, with no credentials, so a
//! release that renames or drops a flag is caught before a deploy runs into it. Not part of CI:
//! building the CLI takes long.
//!
//! Without credentials every command stops after parsing its arguments ("Unauthorized...",
//! exit status 1); an argument the CLI does not accept is clap's usage error, exit status 2
//! (railwayapp 5.43.1, src/main.rs:427-431). Only the latter fails the check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::railway::{CHECKED_VERSION, Call, VersionCheck, check_version};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use this `railway` binary instead of installing the checked version.
    #[arg(long, env = "PDFQ_RAILWAY_CLI")]
    pub railway: Option<PathBuf>,
    /// Where `cargo install` puts the CLI (ROOT/bin/railway); kept between runs.
    #[arg(long, default_value = "target/railway-cli")]
    pub root: PathBuf,
    /// The CARGO_TARGET_DIR of the CLI's build, apart from the workspace's.
    #[arg(long, default_value = "target/railway-cli-build")]
    pub build_dir: PathBuf,
    /// Parallel jobs for the CLI's build (it is large; 1 leaves the machine usable).
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// Longest run of one command, in seconds: a command that waits for more fails the check.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = super::repo_root();
    let railway = match &args.railway {
        Some(path) => path.clone(),
        None => install(
            &root.join(&args.root),
            &root.join(&args.build_dir),
            args.jobs,
        )?,
    };
    let version = Command::new(&railway)
        .arg("--version")
        .output()
        .with_context(|| format!("running {}", railway.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    println!("{}: {version}", railway.display());
    if !matches!(check_version(&version), VersionCheck::Same) {
        println!("  note: the deploy was checked against {CHECKED_VERSION}");
    }
    // No credentials, no linked project, no update or telemetry traffic.
    let home = tempdir("home")?;
    let cwd = tempdir("cwd")?;
    let mut usage_errors = Vec::new();
    for (call, input) in Call::every_shape() {
        let args_list = call.args();
        let shown = format!("railway {}", args_list.join(" "));
        let result = run_one(
            &railway,
            &args_list,
            input.as_deref(),
            &home,
            &cwd,
            Duration::from_secs(args.timeout),
        )?;
        let first = result.message.lines().next().unwrap_or_default().to_owned();
        match (result.hung, result.code) {
            (true, _) => {
                println!("  HUNG         {shown} (killed after {} s)", args.timeout);
                usage_errors.push(format!("{shown} (hung)"));
            }
            (false, Some(2)) => {
                println!("  USAGE ERROR  {shown}\n    {}", result.message.trim());
                usage_errors.push(shown);
            }
            (false, code) => println!("  parsed       {shown}\n    exit {code:?}: {first}"),
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&cwd);
    if !usage_errors.is_empty() {
        bail!(
            "{} command line(s) of the deploy are not accepted by {version}:\n{}\nfix them in \
             xtask/src/deploy/railway.rs (Call::args), then re-run",
            usage_errors.len(),
            usage_errors.join("\n")
        );
    }
    println!(
        "every command line of the deploy ({}) parses with {version}",
        Call::every_shape().len()
    );
    Ok(())
}

/// Installs the checked CLI version from crates.io (crate `railwayapp`) under `root`, unless it
/// is there already; returns the binary.
fn install(root: &Path, build_dir: &Path, jobs: u32) -> anyhow::Result<PathBuf> {
    let bin = root.join("bin/railway");
    if let Ok(out) = Command::new(&bin).arg("--version").output()
        && check_version(&String::from_utf8_lossy(&out.stdout)) == VersionCheck::Same
    {
        return Ok(bin);
    }
    let spec = format!("railwayapp@{CHECKED_VERSION}");
    let info = Command::new("cargo")
        .args(["info", &spec])
        .output()
        .context("running cargo info")?;
    if !info.status.success() {
        bail!(
            "crates.io has no {spec}: {}",
            String::from_utf8_lossy(&info.stderr).trim()
        );
    }
    println!(
        "building the Railway CLI {CHECKED_VERSION} (cargo install railwayapp, {jobs} job(s)); \
         this takes a long while"
    );
    let status = Command::new("cargo")
        .args([
            "install",
            "railwayapp",
            "--version",
            CHECKED_VERSION,
            "--locked",
        ])
        .arg("--root")
        .arg(root)
        .args(["-j", &jobs.to_string()])
        .env("CARGO_TARGET_DIR", build_dir)
        .status()
        .context("running cargo install")?;
    if !status.success() {
        bail!("cargo install railwayapp --version {CHECKED_VERSION} failed ({status})");
    }
    Ok(bin)
}

struct Ran {
    /// The exit status (None: ended by a signal).
    code: Option<i32>,
    /// Killed after the timeout.
    hung: bool,
    message: String,
}

fn run_one(
    railway: &Path,
    args: &[String],
    input: Option<&str>,
    home: &Path,
    cwd: &Path,
    timeout: Duration,
) -> anyhow::Result<Ran> {
    let mut command = Command::new(railway);
    command
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("DO_NOT_TRACK", "1")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RAILWAY_") {
            command.env_remove(&key);
        }
    }
    command
        .env("RAILWAY_NO_AUTO_UPDATE", "1")
        .env("RAILWAY_NO_TELEMETRY", "1");
    let mut child = command
        .spawn()
        .with_context(|| format!("running {}", railway.display()))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write as _;
        let _ = stdin.write_all(text.as_bytes());
    }
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            let out = child.wait_with_output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let message = if stderr.trim().is_empty() {
                stdout
            } else {
                stderr
            };
            return Ok(Ran {
                code: out.status.code(),
                hung: false,
                message: message.trim().to_owned(),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ran {
                code: None,
                hung: true,
                message: String::new(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tempdir(what: &str) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "pdfq-railway-cli-check-{what}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
