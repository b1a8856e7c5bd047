//! The admin API from the operator commands: an authenticated client, job ids resolved from
//! their short form, and API errors turned into what to do next.

use anyhow::{anyhow, bail};
use pdfq_api_types::AdminJobQuery;
use pdfq_client::{Client, ClientError};
use pdfq_domain::JobId;

use crate::short_id;

/// A client with the saved login for `api_url`.
pub async fn client(api_url: &str) -> anyhow::Result<Client> {
    crate::session::authenticated(api_url).await
}

/// `e`, from `doing` against `api_url`, with the next step for the usual causes.
#[must_use]
pub fn explain(api_url: &str, doing: &str, e: &ClientError) -> anyhow::Error {
    let hint = match e.status() {
        Some(401) => format!(
            "the saved login was refused; run `pdfctl --api-url {api_url} login --email EMAIL` again"
        ),
        Some(403) => format!(
            "this needs an admin account; log in as one with `pdfctl --api-url {api_url} login --email ADMIN_EMAIL` (`pdfctl up` creates admin@pdfq.local, its password in DATA_DIR/admin-password)"
        ),
        Some(404) if doing.contains("worker") || doing.contains("drain") => {
            "no such worker; list them with `pdfctl workers list` (a worker that stopped has no heartbeat)"
                .to_owned()
        }
        Some(404) if doing.contains("webhook") => {
            "no such webhook of yours; list them with `pdfctl webhooks list`".to_owned()
        }
        Some(404) => "no such job; list them with `pdfctl jobs list`".to_owned(),
        Some(422) if doing.contains("webhook") => {
            "fix the URL or events as the message says (`pdfctl webhooks add --help`)".to_owned()
        }
        Some(409) => {
            "the job is not in a state that allows this; see `pdfctl jobs show ID`".to_owned()
        }
        Some(503) => "the API cannot reach its database or queue; run `pdfctl doctor`".to_owned(),
        Some(_) => "see the API's logs; `pdfctl doctor` checks the deployment".to_owned(),
        None => format!(
            "is the API running at {api_url}? start one with `pdfctl up`, or pass --api-url / set PDFQ_API_URL; `pdfctl doctor` checks the rest"
        ),
    };
    anyhow!("{doing}: {e}\n  next: {hint}")
}

/// How many candidates an ambiguous short id lists.
const CANDIDATES: u32 = 10;

/// The job `typed` names: a whole id, the short id pdfctl shows (its last characters), or its
/// first characters; at least 4 hex digits. Two jobs matching is an error that lists them.
pub async fn resolve_job(client: &Client, api_url: &str, typed: &str) -> anyhow::Result<JobId> {
    if let Ok(full) = typed.parse::<JobId>() {
        return Ok(full);
    }
    let digits = typed.chars().filter(|c| *c != '-').count();
    if digits < 4 || !typed.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        bail!(
            "{typed:?} is not a job id; give the short id `pdfctl jobs list` shows, or the whole id"
        );
    }
    let query = AdminJobQuery {
        id: Some(typed.to_owned()),
        per_page: Some(CANDIDATES),
        ..AdminJobQuery::default()
    };
    let found = client
        .admin_jobs(&query)
        .await
        .map_err(|e| explain(api_url, "looking the job up", &e))?;
    // The search matches any part of the id; only its start or end counts here.
    let matching: Vec<_> = found
        .jobs
        .iter()
        .filter(|j| short_id::matches(&j.job_id, typed))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.job_id),
        [] => bail!("no job id starts or ends with {typed}; list them with `pdfctl jobs list`"),
        many => {
            let ids: Vec<JobId> = many.iter().map(|j| j.job_id).collect();
            let len = short_id::len_for(&ids);
            let listed: Vec<String> = many
                .iter()
                .map(|j| {
                    format!(
                        "  {}  {}  {}  {}",
                        short_id::show(&j.job_id, len),
                        j.job_id,
                        j.status,
                        j.file_name
                    )
                })
                .collect();
            bail!(
                "{typed} names more than one job; give one of these (or more characters):\n{}",
                listed.join("\n")
            )
        }
    }
}
