//! One-time tickets for a job's event stream: a browser's `EventSource` cannot send an
//! Authorization header, so the page asks for a ticket with its token and puts the ticket in
//! the stream's URL. A ticket opens one job's stream once, within [`TICKET_TTL`], for the
//! login session that asked for it. The broker keeps only its SHA-256 digest (every API
//! instance accepts it, once); the request log records paths without the query string.
//!
//! A stream opened with a ticket names a resume ticket in each event id (`<seq>.<resume>`), so
//! the browser's automatic reconnect, which repeats the spent URL ticket and sends the last id
//! as `Last-Event-ID`, is let in once more, and the stream goes on where it left off.

use std::time::Duration;

use pdfq_domain::{JobId, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::auth::extract::session_ended;
use crate::error::ApiError;
use crate::settings::random_secret;
use crate::state::AppState;

/// How long a ticket from `POST /api/v1/jobs/{id}/events/ticket` can be used.
pub const TICKET_TTL: Duration = Duration::from_secs(60);

/// What a ticket stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub job: JobId,
    pub user: UserId,
    /// The login session that asked: the stream ends when it does.
    pub session: Uuid,
}

/// A new ticket for `grant`, usable once within `ttl`.
pub async fn issue(state: &AppState, grant: Grant, ttl: Duration) -> Result<String, ApiError> {
    let ticket = random_secret().expose().to_owned();
    let payload = serde_json::to_string(&grant)
        .map_err(|e| ApiError::Internal(format!("encoding a ticket: {e}")))?;
    state
        .broker
        .put_ticket(&digest(&ticket), &payload, ttl)
        .await?;
    Ok(ticket)
}

/// The grant of `ticket` for job `job`, spending the ticket. Refused when unknown, spent,
/// expired, for another job, or of a session that has ended since.
pub async fn redeem(state: &AppState, ticket: &str, job: JobId) -> Result<Grant, ApiError> {
    const REFUSED: ApiError = ApiError::Unauthorized(
        "the ticket is unknown, used or expired; ask POST /api/v1/jobs/{id}/events/ticket for a new one",
    );
    let payload = state
        .broker
        .take_ticket(&digest(ticket))
        .await?
        .ok_or(REFUSED)?;
    let grant: Grant = serde_json::from_str(&payload).map_err(|_| REFUSED)?;
    if grant.job != job {
        return Err(REFUSED);
    }
    if session_ended(state, grant.session).await {
        return Err(ApiError::Unauthorized(
            "this session has ended (logged out or revoked); log in again",
        ));
    }
    Ok(grant)
}

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}
