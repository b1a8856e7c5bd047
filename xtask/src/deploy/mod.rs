//! `cargo xtask deploy`: the six-step deployment sequence of the original design (project,
//! Redis, backend, migrations, worker, verify), on Railway through its CLI or on this machine
//! (`--target local`). Every step has a check (is it done already?) and an action; a step whose
//! check passes is skipped, so re-running changes nothing and an interrupted run resumes where
//! it stopped. The first failure stops the run with what to do next.
//!
//! Redis comes before the backend, unlike the design's order: the design assumed Railway
//! injects REDIS_URL by itself, but it does not, and pdfq-api refuses to start without
//! REDIS_URL (and its health check pings Redis), so the backend cannot pass its health check
//! before Redis exists.
//!
//! One file per concern: `state` (the resumable state file), `exec` (running or printing
//! commands), `railway` (the Railway CLI driver), `steps` (the Railway target's steps),
//! `local` (the local target), `probe` (HTTP, Redis and log checks shared by both),
//! `cli_check` (every command line of the driver through the real CLI's parser).

pub mod cli_check;
mod exec;
mod local;
mod probe;
mod railway;
mod state;
mod steps;

use std::path::{Path, PathBuf};

use anyhow::bail;

use exec::Exec;
use state::State;

/// The six steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Step {
    /// Create or link the Railway project (local: create the database).
    Project,
    /// Add Redis (local: check it answers).
    Redis,
    /// The web service: variables, settings, deploy, health check.
    Backend,
    /// Run the migrations and verify the schema.
    Migrations,
    /// The worker service: variables, settings, deploy, heartbeat.
    Worker,
    /// Health 200, a real PDF upload that completes, no errors in the logs.
    Verify,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Project,
        Step::Redis,
        Step::Backend,
        Step::Migrations,
        Step::Worker,
        Step::Verify,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Project => "project",
            Step::Redis => "redis",
            Step::Backend => "backend",
            Step::Migrations => "migrations",
            Step::Worker => "worker",
            Step::Verify => "verify",
        }
    }

    fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Railway,
    Local,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Railway => "railway",
            Target::Local => "local",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to deploy.
    #[arg(long, value_enum, default_value_t = Target::Railway)]
    pub target: Target,
    /// Print every command it would run; run none.
    #[arg(long)]
    pub dry_run: bool,
    /// Start at this step (the steps before it are not checked).
    #[arg(long, value_enum, conflicts_with = "only")]
    pub from: Option<Step>,
    /// Run only this step.
    #[arg(long, value_enum)]
    pub only: Option<Step>,
    /// Do not ask before changing anything on Railway.
    #[arg(long)]
    pub yes: bool,
    /// Local target: stop the processes the deploy started (by the pids in the state file).
    #[arg(long)]
    pub down: bool,
    /// Where the state file lives (relative paths are under the repository root).
    #[arg(long, default_value = ".pdfq-deploy")]
    pub state_dir: PathBuf,
    /// Railway: the project to create when none is linked.
    #[arg(long, default_value = "pdfq")]
    pub project_name: String,
    /// Railway: link this existing project (id or name) instead of creating one.
    #[arg(long)]
    pub link: Option<String>,
    /// Railway: the workspace (name or id) to create the project in, or to find --link's
    /// project in; needed when the account has several workspaces.
    #[arg(long, env = "PDFQ_DEPLOY_WORKSPACE")]
    pub workspace: Option<String>,
    /// Railway: the environment (name or id) to link and deploy to; needed with --link when
    /// the project has several environments.
    #[arg(long, env = "PDFQ_DEPLOY_ENVIRONMENT")]
    pub environment: Option<String>,
    /// Railway: connect both services to this GitHub repository (OWNER/REPO) with `railway
    /// service source connect`, so a push deploys them.
    #[arg(long, env = "PDFQ_DEPLOY_GITHUB_REPO")]
    pub github_repo: Option<String>,
    /// Railway: the branch a push to which deploys (with --github-repo).
    #[arg(long, env = "PDFQ_DEPLOY_GITHUB_BRANCH", default_value = "main")]
    pub github_branch: String,
    /// Railway: the Supabase URL for the backend (session pooler; sslmode=require is added).
    /// Local: the PostgreSQL server to create the deployment's database on (default: the test
    /// server, as `cargo xtask ci` finds it).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Local: the Redis to use (default: the test server).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Railway: REDIS_KEY_PREFIX of the services (pdfq's default), so several deployments can
    /// share one Redis.
    #[arg(long, default_value = "pdfq")]
    pub key_prefix: String,
    /// Railway: the pdfctl run (with the service's variables, via `railway run`) for the
    /// migration step; default: target/release/pdfctl, built first.
    #[arg(long)]
    pub pdfctl: Option<PathBuf>,
    /// Longest wait for one deployment, health check or heartbeat, in seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Pause between two polls, in milliseconds.
    #[arg(long, default_value_t = 5000, hide = true)]
    pub poll_ms: u64,
    /// Local: the cargo profile of the binaries (release or dev).
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Local: use the binaries already built.
    #[arg(long)]
    pub no_build: bool,
    /// Local: a name for this deployment: its database is pdfq_deploy_NAME, its Redis key
    /// prefix pdfq-deploy-NAME, so it never touches the tests' data.
    #[arg(long, default_value = "local")]
    pub instance: String,
}

/// A step's check: done already, or what is missing.
#[derive(Debug)]
pub enum Check {
    Done(String),
    Todo(String),
}

/// What a target provides: a check and an action per step.
trait Target6 {
    fn check(&mut self, step: Step, state: &mut State) -> anyhow::Result<Check>;
    fn act(&mut self, step: Step, state: &mut State) -> anyhow::Result<()>;
}

/// The repository root: xtask lives in ROOT/xtask. Read at run time (cargo sets
/// CARGO_MANIFEST_DIR for `cargo xtask` and for tests), then from the working directory up: the
/// compile-time path is the last resort, since the target directory is shared and the binary
/// may have been built from another checkout.
pub fn repo_root() -> PathBuf {
    let is_root =
        |dir: &Path| dir.join("xtask/Cargo.toml").is_file() && dir.join("Cargo.toml").is_file();
    if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from)
        && let Some(root) = manifest.parent()
        && is_root(root)
    {
        return root.to_path_buf();
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(root) = cwd.ancestors().find(|d| is_root(d))
    {
        return root.to_path_buf();
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = repo_root();
    let state_dir = root.join(&args.state_dir);
    let exec = Exec::new(args.dry_run, root.clone());
    let state_file = match args.target {
        Target::Railway => state_dir.join("state-railway.json"),
        Target::Local => state_dir.join(format!("state-local-{}.json", args.instance)),
    };
    let mut state = State::load(&state_file, args.dry_run)?;
    if args.down {
        return match args.target {
            Target::Local => local::down(&exec, &mut state),
            Target::Railway => bail!(
                "--down stops a local deployment; a Railway deployment is removed in Railway's \
                 dashboard (project → Settings → Danger → Delete project)"
            ),
        };
    }
    let steps: Vec<Step> = match (args.only, args.from) {
        (Some(only), _) => vec![only],
        (None, Some(from)) => Step::ALL.into_iter().filter(|s| *s >= from).collect(),
        (None, None) => Step::ALL.to_vec(),
    };
    if let Some(stopped) = state.failed_step()
        && args.from.is_none()
        && args.only.is_none()
    {
        println!(
            "resuming: the last run stopped at step {stopped}; the steps before it are re-checked"
        );
    }
    let mut target: Box<dyn Target6> = match args.target {
        Target::Railway => Box::new(steps::Railway::new(args, &exec, &root, &state_dir)?),
        Target::Local => Box::new(local::Local::new(args, &exec, &root, &state_dir)?),
    };
    for step in steps {
        println!("[{}/6] {}", step.number(), step.name());
        let result = run_step(target.as_mut(), step, &mut state, args.dry_run);
        match result {
            Ok(()) => {
                state.mark_done(step);
                state.save()?;
            }
            Err(e) => {
                state.mark_failed(step);
                state.save()?;
                bail!(
                    "step {} failed: {e:#}\nfix that, then resume with: cargo xtask deploy --target {} --from {}",
                    step.name(),
                    args.target.name(),
                    step.name()
                );
            }
        }
    }
    if args.dry_run {
        println!("dry run: nothing was run");
    } else {
        println!("deployed: every step done");
    }
    Ok(())
}

fn run_step(
    target: &mut dyn Target6,
    step: Step,
    state: &mut State,
    dry_run: bool,
) -> anyhow::Result<()> {
    match target.check(step, state)? {
        Check::Done(what) => {
            println!("  done already: {what}");
            return Ok(());
        }
        Check::Todo(why) => println!("  to do: {why}"),
    }
    target.act(step, state)?;
    if dry_run {
        return Ok(());
    }
    // The action must leave the step in the state its check calls done; anything else is a
    // failure here rather than a surprise in a later step.
    match target.check(step, state)? {
        Check::Done(what) => {
            println!("  done: {what}");
            Ok(())
        }
        Check::Todo(why) => bail!("the action ran but the check still fails: {why}"),
    }
}
