//! pdfctl: the operator's tool for pdfq.

mod broken_pipe;
mod commands;
mod dash;
mod doctor;
mod session;
mod short_id;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::api_url::ApiUrl;

/// The hidden subcommand pdfctl re-executes itself with to extract in an isolated child.
pub const EXTRACT_CHILD: &str = "extract-child";

/// pdfctl: run pdfq embedded, extract PDFs locally, submit and inspect jobs, operate a
/// deployment.
#[derive(Debug, Parser)]
#[command(name = "pdfctl", version, about, long_about = None)]
struct Cli {
    /// The pdfq API, for the commands that talk to it (also accepted after the command's
    /// name); else PDFQ_API_URL, else http://127.0.0.1:8000.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and a worker in one process: on SQLite and an in-process queue by default,
    /// or on PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set.
    Up(Box<commands::up::Args>),
    /// Extract a PDF here, with no server: its text, sentences or chunks.
    Extract(commands::extract::Args),
    /// Split plain text into sentences, one per line.
    Sentences(commands::sentences::Args),
    /// Log in to the API and keep the token for later commands (per API URL, mode 0600).
    Login {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::login::Args,
    },
    /// Forget the saved login for the API and revoke it.
    Logout {
        #[command(flatten)]
        api: ApiUrl,
    },
    /// Upload a PDF; with --wait, show its progress and print its sentences.
    Submit {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::submit::Args,
    },
    /// Apply, list or verify the database migrations (on DATABASE_URL).
    Migrate(commands::migrate::Args),
    /// Any user's jobs (admin): list, show, retry, cancel, delete, and bulk actions by filter.
    Jobs {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::jobs::Args,
    },
    /// The queue (admin): stats, pause, resume, dead letters, purge them.
    Queue {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::queue::Args,
    },
    /// The API and worker processes, from their heartbeats (admin).
    Workers {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::workers::Args,
    },
    /// Operator actions (pause, resume, retry, cancel, delete, purges, drains, bulk actions):
    /// who did what, when, to how many (admin).
    Audit {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::audit::Args,
    },
    /// Jobs completed and failed and pages per minute (last hour) or per 15 minutes (last
    /// day), overall and per worker, from the database (admin).
    Throughput {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::throughput::Args,
    },
    /// Your webhooks: add (prints the signing secret once), list, rm, and deliveries (each
    /// attempt's outcome).
    Webhooks {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: commands::webhooks::Args,
    },
    /// Size the database pools for a Railway plan and check the total against the database's
    /// connection limit (the original design's sizing rules).
    Plan(commands::plan::Args),
    /// The terminal dashboard: overview, jobs and workers, live (admin). `?` lists the keys.
    Dash {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: dash::Args,
    },
    /// Check a deployment: environment, database, Redis, queue and workers, API. Each check
    /// prints ok, warn or fail, what it saw and the fix; exits 1 on any failure.
    Doctor {
        #[command(flatten)]
        api: ApiUrl,
        #[command(flatten)]
        args: doctor::Args,
    },
    /// Print a shell completion script.
    Completions(commands::completions::Args),
}

fn main() -> ExitCode {
    // The isolated extraction child: no argument parsing, no output but the protocol.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == EXTRACT_CHILD)
    {
        return pdfq_extract::child_main();
    }
    broken_pipe::exit_quietly_on_closed_stdout();
    let cli = Cli::parse();
    let top = cli.api_url.as_deref();
    let result = match cli.command {
        Command::Login { api, args } => block_on(commands::login::login(&api.resolve(top), &args)),
        Command::Logout { api } => block_on(commands::login::logout(&api.resolve(top))),
        Command::Submit { api, args } => block_on(commands::submit::run(&api.resolve(top), &args)),
        Command::Jobs { api, args } => block_on(commands::jobs::run(&api.resolve(top), &args)),
        Command::Queue { api, args } => block_on(commands::queue::run(&api.resolve(top), &args)),
        Command::Workers { api, args } => {
            block_on(commands::workers::run(&api.resolve(top), &args))
        }
        Command::Webhooks { api, args } => {
            block_on(commands::webhooks::run(&api.resolve(top), &args))
        }
        Command::Dash { api, args } => block_on(dash::run(&api.resolve(top), &args)),
        Command::Audit { api, args } => block_on(commands::audit::run(&api.resolve(top), &args)),
        Command::Throughput { api, args } => {
            block_on(commands::throughput::run(&api.resolve(top), &args))
        }
        Command::Doctor { api, args } => block_on(doctor::run(&api.resolve(top), &args)),
        _ if top.is_some() => Err(anyhow::anyhow!(
            "--api-url is for the commands that talk to an API (login, submit, jobs, queue, workers, webhooks, dash, audit, throughput, doctor); this one does not; drop it"
        )),
        Command::Up(args) => commands::up::run(&args),
        Command::Extract(args) => commands::extract::run(&args),
        Command::Sentences(args) => commands::sentences::run(&args),
        Command::Migrate(args) => block_on(commands::migrate::run(&args)),
        Command::Plan(args) => commands::plan::run(&args),
        Command::Completions(args) => {
            commands::completions::run(&args, <Cli as clap::CommandFactory>::command())
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if broken_pipe::caused(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pdfctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that talks to the API.
fn block_on(command: impl Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(command)
}
