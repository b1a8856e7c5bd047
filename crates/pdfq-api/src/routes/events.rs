//! `GET /api/v1/jobs/{id}/events`: the job's progress as Server-Sent Events, so a frontend need
//! not poll. Each connection looks at its job every `events_poll_interval` (500 ms) and sends a
//! `progress` event when something changed, then one `end` event when the job is completed,
//! failed or cancelled (`gone` if it was deleted), and closes. Between those reads it passes on
//! the worker's live announcements ([`crate::live`]: every new percent of a running attempt),
//! so the bar moves with the work even where the job row is written at most every 250 ms. Server shutdown closes it too,
//! and so does the end of the login session it was opened with (logout, revocation). A user
//! has at most EVENT_STREAMS_PER_USER streams open in one API process.
//!
//! A browser's `EventSource` cannot send the Authorization header: it asks
//! `POST /api/v1/jobs/{id}/events/ticket` for a one-time ticket ([`crate::auth::ticket`]) and
//! opens `.../events?ticket=...`. Every event has an id (the job's last change, in ms since the
//! epoch, then `.` and a resume ticket on ticket streams); a reconnect sending it back as
//! `Last-Event-ID` is not sent the state it already has again, and gets `end` at once when the
//! job ended meanwhile.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use pdfq_api_types::{ErrorBody, EventTicket, JobView};
use pdfq_domain::{JobId, JobStatus, UserId};
use pdfq_queue::LiveProgress;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::extract::session_ended;
use crate::auth::ticket::{self, Grant, TICKET_TTL};
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::limits::PerUserSlot;
use crate::routes::jobs::owned_job;
use crate::state::AppState;
use crate::views::job_view;

/// What a client has last been told.
type Seen = (JobStatus, u8, String, u32);

struct Watch {
    state: AppState,
    id: JobId,
    owner: UserId,
    session: Uuid,
    _slot: PerUserSlot,
    seen: Option<Seen>,
    /// The job as last read, which live announcements update.
    last: Option<pdfq_store::Job>,
    /// The workers' live progress (every job's; `None` once the hub is gone).
    live: Option<broadcast::Receiver<LiveProgress>>,
    /// When the job row is read next.
    next_read: Instant,
    /// The change the client last saw (from `Last-Event-ID`), not sent again.
    resumed_from: Option<i64>,
    /// The ticket a reconnect presents in `Last-Event-ID` (ticket streams only).
    resume: Option<String>,
    first: bool,
    done: bool,
    shutdown: watch::Receiver<bool>,
}

/// The stream's query: a ticket stands in for the Authorization header.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// A one-time ticket from `POST /api/v1/jobs/{id}/events/ticket`, for a browser's
    /// `EventSource` (which cannot send the Authorization header).
    ticket: Option<String>,
}

/// A one-time ticket to open this job's event stream without the Authorization header.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/events/ticket", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 201, body = EventTicket,
               description = "a ticket for `GET /api/v1/jobs/{id}/events?ticket=...`, usable once within 60 seconds by the same login session"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's")))]
pub async fn events_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
) -> Result<impl IntoResponse, ApiError> {
    owned_job(&state, id, user.id).await?;
    let grant = Grant {
        job: id,
        user: user.id,
        session: user.session,
    };
    let ticket = ticket::issue(&state, grant, TICKET_TTL).await?;
    let body = EventTicket {
        ticket,
        expires_in: TICKET_TTL.as_secs(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    ))
}

/// Progress events until the job ends.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", security(("bearer" = []), ()),
    params(("id" = String, Path, format = "uuid", description = "job id"), EventsQuery,
           ("last-event-id" = Option<String>, Header,
            description = "the id of the last event received; sent by a reconnecting EventSource")),
    responses((status = 200, content_type = "text/event-stream",
               description = "`progress` events (a job as data), then `end`; each with an id to resume from"),
              (status = 401, body = ErrorBody, description = "`unauthorized`: no valid bearer token or ticket"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's"),
              (status = 429, body = ErrorBody, description = "`too_many_streams`: EVENT_STREAMS_PER_USER streams of this user are open",
               headers(("retry-after" = u64, description = "seconds to wait")))))]
pub async fn job_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<JobId>,
    Query(query): Query<EventsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(LastEventId::parse);
    let (grant, by_ticket) =
        caller(&state, &headers, id, query.ticket.as_deref(), last.as_ref()).await?;
    owned_job(&state, id, grant.user).await?;
    let slot = state
        .streams
        .try_acquire(grant.user)
        .ok_or(ApiError::TooManyStreams {
            max: state.streams.max(),
        })?;
    // The access token's lifetime: a stream outliving it ends with its session anyway.
    let resume = if by_ticket {
        Some(ticket::issue(&state, grant, state.settings.access_token_ttl).await?)
    } else {
        None
    };
    let shutdown = state.shutdown.clone();
    let live = Some(state.live.subscribe());
    let watch = Watch {
        state,
        id,
        owner: grant.user,
        session: grant.session,
        _slot: slot,
        seen: None,
        last: None,
        live,
        next_read: Instant::now(),
        resumed_from: last.and_then(|l| l.seq),
        resume,
        first: true,
        done: false,
        shutdown,
    };
    let stream = futures::stream::unfold(watch, next_event);
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    // Proxies (nginx, Railway's edge) must pass events on as they come, not buffer them.
    Ok((
        [
            (header::CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        sse,
    ))
}

/// Who opens the stream, and whether by ticket: the bearer token if one is sent; else the
/// resume ticket of `Last-Event-ID` (a browser's reconnect, whose URL ticket is spent); else
/// the URL's ticket.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    job: JobId,
    url_ticket: Option<&str>,
    last: Option<&LastEventId>,
) -> Result<(Grant, bool), ApiError> {
    if headers.contains_key(header::AUTHORIZATION) || url_ticket.is_none() {
        let user = AuthUser::from_headers(headers, state).await?;
        let grant = Grant {
            job,
            user: user.id,
            session: user.session,
        };
        return Ok((grant, false));
    }
    if let Some(resume) = last.and_then(|l| l.resume.as_deref()) {
        return Ok((ticket::redeem(state, resume, job).await?, true));
    }
    let url_ticket = url_ticket.unwrap_or_default();
    Ok((ticket::redeem(state, url_ticket, job).await?, true))
}

/// A `Last-Event-ID` this API sent: `<seq>` or `<seq>.<resume ticket>`.
#[derive(Debug)]
struct LastEventId {
    seq: Option<i64>,
    resume: Option<String>,
}

impl LastEventId {
    fn parse(value: &str) -> Self {
        let (seq, resume) = match value.split_once('.') {
            Some((seq, resume)) => (seq, Some(resume.to_owned())),
            None => (value, None),
        };
        Self {
            seq: seq.parse().ok(),
            resume: resume.filter(|r| !r.is_empty()),
        }
    }
}

/// What ended a wait between two reads of the job.
enum Wake {
    Read,
    Live(LiveProgress),
    Shutdown,
}

impl Watch {
    /// Until the next read of the job row, a live announcement of this job, or shutdown.
    async fn wait(&mut self) -> Wake {
        let job = self.id;
        let live = async {
            let Some(rx) = self.live.as_mut() else {
                return std::future::pending().await;
            };
            loop {
                match rx.recv().await {
                    Ok(progress) if progress.job == job => return Some(progress),
                    // Skipped announcements are covered by the next read of the row.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(self.next_read) => Wake::Read,
            progress = live => match progress {
                Some(progress) => Wake::Live(progress),
                None => {
                    self.live = None;
                    Wake::Read
                }
            },
            changed = self.shutdown.changed() => {
                if changed.is_err() || *self.shutdown.borrow() {
                    Wake::Shutdown
                } else {
                    Wake::Read
                }
            }
        }
    }

    /// The job as last read, moved on to `progress` when that is news: the same running
    /// attempt, further than the client has been told.
    fn live_event(&mut self, progress: &LiveProgress) -> Option<Event> {
        let job = self.last.as_mut()?;
        let told = self.seen.as_ref().map_or(0, |seen| seen.1);
        if job.status != JobStatus::Processing
            || job.attempts != progress.attempt
            || progress.percent.get() <= told
        {
            return None;
        }
        job.progress = progress.percent;
        job.current_step = progress.step.to_string();
        let view = job_view(job, None);
        self.seen = Some(seen_of(job));
        let id = self.event_id(sequence(progress.at));
        Some(event("progress", &view).id(id))
    }

    /// An event's id: its sequence, then the resume ticket on ticket streams.
    fn event_id(&self, seq: i64) -> String {
        match &self.resume {
            Some(resume) => format!("{seq}.{resume}"),
            None => seq.to_string(),
        }
    }
}

async fn next_event(mut w: Watch) -> Option<(Result<Event, Infallible>, Watch)> {
    loop {
        if w.done || *w.shutdown.borrow() {
            return None;
        }
        if !w.first {
            match w.wait().await {
                Wake::Shutdown => return None,
                Wake::Live(progress) => {
                    if let Some(event) = w.live_event(&progress) {
                        return Some((Ok(event), w));
                    }
                    continue;
                }
                Wake::Read => {}
            }
        }
        w.next_read = Instant::now() + w.state.settings.events_poll_interval;
        if !w.first && session_ended(&w.state, w.session).await {
            return None;
        }
        w.first = false;
        let job = match w.state.store.get_job_for_owner(w.id, w.owner).await {
            Ok(job) => job,
            Err(e) => {
                // A passing database error: the next look may succeed; the client keeps waiting.
                tracing::warn!(job = %w.id, error = %e, "progress stream could not read the job");
                continue;
            }
        };
        let Some(job) = job else {
            w.done = true;
            return Some((Ok(Event::default().event("gone").data("null")), w));
        };
        let seen = seen_of(&job);
        let terminal = job.status.is_terminal();
        let seq = sequence(job.updated_at);
        // The row lags the live announcements: an older state of the same running attempt is
        // not news (and would move the bar back).
        let behind = w.seen.as_ref().is_some_and(|told| {
            job.status == JobStatus::Processing
                && told.0 == JobStatus::Processing
                && told.3 == seen.3
                && seen.1 < told.1
        });
        w.last = Some(job.clone());
        if behind {
            continue;
        }
        let already_seen = w.seen.as_ref() == Some(&seen) || w.resumed_from.take() == Some(seq);
        w.seen = Some(seen);
        if already_seen && !terminal {
            continue;
        }
        w.done = terminal;
        let name = if terminal { "end" } else { "progress" };
        let id = w.event_id(seq);
        return Some((Ok(event(name, &job_view(&job, None)).id(id)), w));
    }
}

/// Orders a job's states: the time of a change, in ms since the epoch.
fn sequence(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What a client is told of `job`, to compare with what it was told before.
fn seen_of(job: &pdfq_store::Job) -> Seen {
    (
        job.status,
        job.progress.get(),
        job.current_step.clone(),
        job.attempts.get(),
    )
}

fn event(name: &str, view: &JobView) -> Event {
    let data = serde_json::to_string(view).unwrap_or_else(|_| "null".into());
    Event::default().event(name).data(data)
}

#[cfg(test)]
mod tests {
    use super::LastEventId;

    #[test]
    fn last_event_ids_are_read_as_sent() {
        let both = LastEventId::parse("1765000000123.abc");
        assert_eq!(both.seq, Some(1_765_000_000_123));
        assert_eq!(both.resume.as_deref(), Some("abc"));
        let plain = LastEventId::parse("42");
        assert_eq!((plain.seq, plain.resume), (Some(42), None));
        let junk = LastEventId::parse("x.");
        assert_eq!((junk.seq, junk.resume), (None, None));
    }
}
