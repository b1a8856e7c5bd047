//! `pdfctl webhooks add|list|rm|deliveries`: the logged-in user's webhooks and what was sent to
//! them.

use std::fmt::Write as _;
use std::process::ExitCode;

use pdfq_api_types::{
    CreatedWebhook, DeliveryState, NewWebhookRequest, WebhookDeliveryView, WebhookView,
};
use pdfq_client::Client;

use super::admin::{client, explain};
use super::confirm::confirm;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Register an endpoint to be POSTed your jobs' status changes, signed with a secret that
    /// is printed this once (keep it: receivers check `Pdfq-Signature` with it).
    Add {
        /// http(s) URL of the receiver. Internal addresses (loopback, private, link-local)
        /// are refused unless the server runs with WEBHOOK_ALLOW_PRIVATE=true.
        #[arg(value_name = "URL")]
        endpoint: String,
        /// An event to send (repeat for more): job.pending, job.processing, job.retrying,
        /// job.completed, job.failed, job.cancelled. None given: all of them.
        #[arg(long = "event", short = 'e', value_name = "EVENT")]
        events: Vec<String>,
    },
    /// Your webhooks (never their secrets).
    List,
    /// Delete a webhook and its delivery log; deliveries not yet sent are dropped.
    Rm {
        /// The webhook's id, or its first characters as `pdfctl webhooks list` shows them.
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// A webhook's newest deliveries: event, job, status, every attempt's outcome.
    Deliveries {
        /// The webhook's id, or its first characters.
        id: String,
        /// How many of the newest (1 to 500).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = client(api_url).await?;
    match &args.action {
        Action::Add { endpoint, events } => {
            let request = NewWebhookRequest {
                url: endpoint.clone(),
                events: (!events.is_empty()).then(|| events.clone()),
            };
            let created = client
                .create_webhook(&request)
                .await
                .map_err(|e| explain(api_url, "registering the webhook", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                print!("{}", created_text(&created));
            }
        }
        Action::List => {
            let list = client
                .webhooks()
                .await
                .map_err(|e| explain(api_url, "listing the webhooks", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", list_table(&list.webhooks));
            }
        }
        Action::Rm { id, yes } => {
            let hook = find(&client, api_url, id).await?;
            let what = format!("delete the webhook to {} and its delivery log", hook.url);
            if !confirm(&what, *yes)? {
                return Ok(ExitCode::FAILURE);
            }
            client
                .delete_webhook(hook.id)
                .await
                .map_err(|e| explain(api_url, "deleting the webhook", &e))?;
            if args.json {
                println!("{}", serde_json::json!({ "deleted": hook.id }));
            } else {
                println!("deleted webhook {} ({})", hook.id, hook.url);
            }
        }
        Action::Deliveries { id, limit } => {
            let hook = find(&client, api_url, id).await?;
            let log = client
                .webhook_deliveries(hook.id, Some(*limit))
                .await
                .map_err(|e| explain(api_url, "reading the webhook's deliveries", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&log)?);
            } else {
                print!("{}", deliveries_table(&hook, &log.deliveries));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The caller's webhook whose id is `typed` or starts with it.
async fn find(client: &Client, api_url: &str, typed: &str) -> anyhow::Result<WebhookView> {
    let typed = typed.trim().to_lowercase();
    let list = client
        .webhooks()
        .await
        .map_err(|e| explain(api_url, "listing the webhooks", &e))?;
    let mut found: Vec<WebhookView> = list
        .webhooks
        .into_iter()
        .filter(|h| h.id.to_string().starts_with(&typed))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!(
            "no webhook of yours has an id starting with {typed:?}\n  next: list them with `pdfctl webhooks list`"
        ),
        n => anyhow::bail!(
            "{n} webhooks have an id starting with {typed:?}\n  next: type more of the id (see `pdfctl webhooks list`)"
        ),
    }
}

fn created_text(created: &CreatedWebhook) -> String {
    format!(
        "webhook {}\n  url:    {}\n  events: {}\n  secret: {}\n\nThe secret is shown this once: keep it where the receiver can read it. Each POST carries\nPdfq-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" keyed with the secret>.\n",
        created.id,
        created.url,
        created.events.join(", "),
        created.secret
    )
}

fn list_table(webhooks: &[WebhookView]) -> String {
    if webhooks.is_empty() {
        return "no webhooks; add one with `pdfctl webhooks add URL`\n".to_owned();
    }
    let mut out = format!("{:<36}  {:<20}  {:<40}  events\n", "id", "created", "url");
    for hook in webhooks {
        let _ = writeln!(
            out,
            "{:<36}  {:<20}  {:<40}  {}",
            hook.id,
            day_and_time(hook.created_at),
            super::format::truncate(&hook.url, 40),
            hook.events.join(",")
        );
    }
    out
}

fn deliveries_table(hook: &WebhookView, deliveries: &[WebhookDeliveryView]) -> String {
    let mut out = format!("deliveries to {} (newest first)\n", hook.url);
    if deliveries.is_empty() {
        out.push_str("none yet: a job's status change in the webhook's events sends one\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<20}  {:<15}  {:<8}  {:<9}  {:>8}  last outcome",
        "created", "event", "job", "status", "attempts"
    );
    for d in deliveries {
        let job = d.job_id.to_string();
        let last = d.attempts.last().map_or_else(
            || "not tried yet".to_owned(),
            |a| match (&a.error, a.status_code) {
                (None, Some(code)) => format!("{code} in {} ms", a.duration_ms),
                (Some(error), _) => super::format::truncate(error, 60),
                (None, None) => "-".to_owned(),
            },
        );
        let status = match d.status {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        };
        let _ = writeln!(
            out,
            "{:<20}  {:<15}  {:<8}  {:<9}  {:>8}  {last}{}",
            day_and_time(d.created_at),
            d.event,
            &job[job.len() - 8..],
            status,
            d.attempts.len(),
            d.next_attempt_at.map_or_else(String::new, |at| format!(
                "; next attempt {}",
                day_and_time(at)
            )),
        );
    }
    out
}

/// "2026-12-06 16:05:09" (UTC).
fn day_and_time(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}
