//! The admin API from the operator commands: an authenticated client, job ids resolved from
//! their first characters, and API errors turned into what to do next.

use anyhow::{anyhow, bail};
use pdfq_client::types::AdminJobQuery;
use pdfq_client::{Client, ClientError};
use pdfq_domain::JobId;

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
        Some(404) => "no such job; list them with `pdfctl jobs list`".to_owned(),
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

/// The job `id` names: a full id, or the first characters of exactly one job's id.
pub async fn resolve_job(client: &Client, api_url: &str, id: &str) -> anyhow::Result<JobId> {
    if let Ok(full) = id.parse::<JobId>() {
        return Ok(full);
    }
    if id.len() < 4 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        bail!(
            "{id:?} is not a job id; give the id or at least its first 4 characters (see `pdfctl jobs list`)"
        );
    }
    let query = AdminJobQuery {
        id: Some(id.to_owned()),
        per_page: Some(2),
        ..AdminJobQuery::default()
    };
    let found = client
        .admin_jobs(&query)
        .await
        .map_err(|e| explain(api_url, "looking the job up", &e))?;
    match found.jobs.as_slice() {
        [one] => Ok(one.job_id),
        [] => bail!("no job id starts with {id}; list them with `pdfctl jobs list`"),
        _ => bail!("more than one job id starts with {id}; give more characters"),
    }
}
