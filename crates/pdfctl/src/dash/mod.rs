//! `pdfctl dash`: the operator's terminal dashboard. A background task fetches from the admin
//! API and a thread reads the keyboard; both send over one channel to the loop that owns the
//! state and draws, so neither the network nor the keyboard ever blocks the screen.

pub mod app;
mod fetch;
mod keys;
pub mod metrics;
pub mod ui;

#[cfg(test)]
mod tests;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::{App, Effect, Key, Update};
use ratatui::crossterm::event;
use tokio::sync::mpsc;

use crate::commands::admin::explain;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Views: Overview (health, queue, per-minute throughput, API traffic, database pools),
Jobs (live list, progress, ETA; Enter for the detail), Workers (heartbeats, stale ones in red),
Audit (operator actions: who, when, what, how many), Errors (failures of the last day grouped
by code and message pattern; R retries the selected group, asking with its count),
Throughput (completed, failed and pages per minute over the hour or per 15 minutes over the
day, overall and per worker, from the database; t switches the window; a chart when wide).

Keys:
  ?             help              q, Ctrl-C     quit
  Tab, 1-6      switch view       j/k, arrows   move;  g/G first/last
  space         freeze/resume     + / -         refresh more / less often
  [ / ]         previous / next page of jobs (100 a page)
  /             filter jobs by status, owner email, id or file name
  Enter         job detail        Esc           close detail / prompt
  R C D         retry, cancel, delete the selected job (asks y/N)
  P             pause or resume the queue (asks y/N)
  X             purge dead letters (asks y/N)
  W             drain the selected worker, or lift its drain (asks y/N)
  B             retry, cancel or delete every job matching the / filter (asks, naming the count)

Needs an admin login: `pdfctl login --email ADMIN_EMAIL` first.")]
pub struct Args {
    /// Seconds between refreshes (+ refreshes more often, - less, while running).
    #[arg(long, default_value_t = 2.0)]
    interval: f64,
    /// Turn the uppercase actions (retry, cancel, delete, pause, purge) off.
    #[arg(long)]
    read_only: bool,
    /// Print the overview once as JSON and exit, instead of the interactive screen.
    #[arg(long)]
    json: bool,
    /// Panic right after the first screen is drawn: lets a test check the terminal is restored.
    #[arg(long, hide = true)]
    panic_after_draw: bool,
}

/// What the drawing loop waits for.
#[derive(Debug)]
pub enum Event {
    Key(Key),
    Resize,
    Update(Update),
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = crate::session::authenticated(api_url).await?;
    // One call before taking the terminal over, so a wrong URL or a non-admin login is a plain
    // error message on a normal screen.
    let overview = client
        .admin_overview()
        .await
        .map_err(|e| explain(api_url, "reading the overview", &e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&overview)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "pdfctl dash needs a terminal; for a one-off snapshot in a script use `pdfctl dash --json`"
        );
    }
    let interval = Duration::try_from_secs_f64(args.interval)
        .map_err(|_| anyhow::anyhow!("--interval must be a positive number of seconds, e.g. 2"))?;
    let mut app = App::new(api_url, interval, args.read_only);

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let fetcher = tokio::spawn(fetch::run(
        api_url.to_owned(),
        client,
        app.settings(),
        commands_rx,
        events_tx.clone(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(events_tx, Arc::clone(&stop));

    // try_init installs a panic hook that restores the terminal before the panic message
    // prints, so a bug never leaves the operator's shell in raw mode.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            ratatui::restore();
            fetcher.abort();
            stop.store(true, Ordering::Relaxed);
            anyhow::bail!(
                "cannot take over the terminal ({e}); try another terminal, or `pdfctl dash --json`"
            );
        }
    };
    let result = async {
        loop {
            let now = time::OffsetDateTime::now_utc();
            terminal.draw(|frame| ui::draw(frame, &app, now))?;
            assert!(
                !args.panic_after_draw,
                "deliberate panic (--panic-after-draw)"
            );
            let Some(event) = events.recv().await else {
                return Ok(());
            };
            let effects = match event {
                Event::Key(key) => app.on_key(key),
                Event::Resize => Vec::new(),
                Event::Update(update) => {
                    app.update(update);
                    Vec::new()
                }
            };
            for effect in effects {
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::Settings(settings) => {
                        let _ = commands.send(fetch::Command::Settings(settings));
                    }
                    Effect::Act(action) => {
                        let _ = commands.send(fetch::Command::Act(action));
                    }
                }
            }
        }
    }
    .await;
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    fetcher.abort();
    let _ = input.join();
    result.map(|()| ExitCode::SUCCESS)
}

/// Reads the keyboard on its own thread: crossterm's reads block, and must not hold up the
/// runtime the fetcher runs on.
fn spawn_input(
    events: mpsc::UnboundedSender<Event>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            // Wake up regularly to notice `stop`.
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return,
            }
            let sent = match event::read() {
                Ok(event::Event::Key(key)) => match keys::decode(key) {
                    Some(key) => events.send(Event::Key(key)),
                    None => Ok(()),
                },
                Ok(event::Event::Resize(..)) => events.send(Event::Resize),
                Ok(_) => Ok(()),
                Err(_) => return,
            };
            if sent.is_err() {
                return;
            }
        }
    })
}
