//! The background fetcher: reads the admin API on a timer and sends what it got over a
//! channel, so the UI never waits on the network; also carries out confirmed actions.

use std::time::{Duration, Instant};

use pdfq_client::Client;
use time::OffsetDateTime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::Event;
use super::app::{Action, FetchSettings, Update, View, ViewData};
use super::metrics::{self, Sample, Traffic};

/// What the UI tells the fetcher.
#[derive(Debug)]
pub enum Command {
    Settings(FetchSettings),
    Act(Action),
}

/// Every call is cut off after this, so a hung API shows as lost instead of a frozen screen.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs until the UI drops either end of the channels.
pub async fn run(
    api_url: String,
    mut client: Client,
    mut settings: FetchSettings,
    mut commands: UnboundedReceiver<Command>,
    events: UnboundedSender<Event>,
) {
    let mut previous: Option<(Sample, Instant)> = None;
    loop {
        if !settings.frozen {
            let mut update = fetch(&client, &settings).await;
            if let Update::Data { traffic, .. } = &mut update {
                *traffic = sample_traffic(&client, &mut previous).await;
            }
            if let Update::Lost { error, .. } = &update
                && error.contains("401")
            {
                // The access token expired while the dashboard ran: refresh it for next time.
                if let Ok(fresh) = crate::session::authenticated(&api_url).await {
                    client = fresh;
                }
            }
            if events.send(Event::Update(update)).is_err() {
                return;
            }
            // The view's own data is an extra: when it cannot be read the view keeps what it
            // has, and the overview's read says whether the API is there.
            if let Some(data) = fetch_view(&client, &settings).await
                && events.send(Event::Update(Update::View(data))).is_err()
            {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(settings.interval) => {}
            command = commands.recv() => match command {
                None => return,
                Some(Command::Settings(new)) => settings = new,
                Some(Command::Act(action)) => {
                    let message = act(&client, action).await;
                    if events.send(Event::Update(Update::Done(message))).is_err() {
                        return;
                    }
                }
            },
        }
    }
}

async fn fetch(client: &Client, settings: &FetchSettings) -> Update {
    // The detail is an extra: a job deleted while its detail is open must not look like a
    // lost connection, so its failure only empties the detail.
    let detail = async {
        match settings.detail {
            Some(id) => client.admin_job_timeline(id).await.ok().map(Box::new),
            None => None,
        }
    };
    let all = async {
        let (main, detail) = tokio::join!(
            async { tokio::try_join!(client.admin_overview(), client.admin_jobs(&settings.query)) },
            detail
        );
        main.map(|(overview, jobs)| (overview, jobs, detail))
    };
    let at = OffsetDateTime::now_utc();
    match tokio::time::timeout(CALL_TIMEOUT, all).await {
        Ok(Ok((overview, jobs, detail))) => Update::Data {
            overview: Box::new(overview),
            jobs,
            detail,
            detail_of: settings.detail,
            traffic: None,
            at,
        },
        Ok(Err(e)) => Update::Lost {
            error: match e.status() {
                Some(status) => format!("{status}: {e}"),
                None => e.to_string(),
            },
            at,
        },
        Err(_) => Update::Lost {
            error: format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
            at,
        },
    }
}

/// The errors view's window: the last day.
const ERRORS_WINDOW_SECS: u64 = 86_400;

/// Entries the audit view reads: the newest.
const AUDIT_SHOWN: u32 = 100;

async fn fetch_view(client: &Client, settings: &FetchSettings) -> Option<ViewData> {
    let read = async {
        match settings.view {
            View::Overview | View::Jobs | View::Workers => None,
            View::Audit => client
                .admin_audit(&pdfq_api_types::AuditQuery {
                    limit: Some(AUDIT_SHOWN),
                    ..pdfq_api_types::AuditQuery::default()
                })
                .await
                .ok()
                .map(ViewData::Audit),
            View::Errors => client
                .admin_errors(&pdfq_api_types::ErrorsQuery {
                    since_secs: Some(ERRORS_WINDOW_SECS),
                })
                .await
                .ok()
                .map(ViewData::Errors),
            View::Throughput => client
                .admin_throughput(&pdfq_api_types::ThroughputQuery {
                    window: Some(settings.throughput_window),
                })
                .await
                .ok()
                .map(ViewData::Throughput),
        }
    };
    tokio::time::timeout(CALL_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

/// Reads `/metrics` and compares it with the previous read. Traffic is an extra: when the
/// metrics cannot be read the rest of the screen still updates.
async fn sample_traffic(
    client: &Client,
    previous: &mut Option<(Sample, Instant)>,
) -> Option<Traffic> {
    let text = tokio::time::timeout(CALL_TIMEOUT, client.metrics())
        .await
        .ok()?
        .ok()?;
    let sample = metrics::parse(&text);
    let now = Instant::now();
    let traffic = previous.as_ref().map(|(before, at)| {
        metrics::traffic(before, &sample, now.duration_since(*at).as_secs_f64())
    });
    *previous = Some((sample, now));
    traffic
}

async fn act(client: &Client, action: Action) -> String {
    let result = match action {
        Action::Retry(job) => client
            .admin_retry(job.id)
            .await
            .map(|_| format!("job {} queued again", job.shown)),
        Action::Cancel(job) => client
            .admin_cancel(job.id)
            .await
            .map(|_| format!("job {} cancelled", job.shown)),
        Action::Delete(job) => client
            .admin_delete(job.id)
            .await
            .map(|()| format!("job {} deleted", job.shown)),
        Action::Pause => client
            .pause_queue()
            .await
            .map(|_| "queue paused".to_owned()),
        Action::Resume => client
            .resume_queue()
            .await
            .map(|_| "queue resumed".to_owned()),
        Action::Drain(worker) => client
            .drain_worker(&worker, false)
            .await
            .map(|_| format!("worker {worker} draining: running jobs finish, no new ones")),
        Action::Undrain(worker) => client
            .undrain_worker(&worker)
            .await
            .map(|_| format!("worker {worker} takes jobs again")),
        Action::Bulk { action, filter, .. } => {
            let request = pdfq_api_types::BulkRequest {
                action,
                filter,
                dry_run: false,
            };
            client.admin_bulk(&request).await.map(|done| {
                format!(
                    "{} of {} matching jobs done, {} skipped (their state did not allow it)",
                    done.acted, done.matched, done.skipped
                )
            })
        }
        Action::PurgeDead => client
            .purge_dead_letters()
            .await
            .map(|p| format!("{} dead letters purged", p.purged)),
    };
    result.unwrap_or_else(|e| format!("failed: {e}"))
}
