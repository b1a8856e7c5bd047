//! `GET /api/v1/jobs/{id}/events`: the job's progress as Server-Sent Events, so a frontend need
//! not poll. Each connection looks at its job every `events_poll_interval` (500 ms) and sends a
//! `progress` event when something changed, then one `end` event when the job is completed,
//! failed or cancelled (`gone` if it was deleted), and closes. Server shutdown closes it too,
//! and so does the end of the login session it was opened with (logout, revocation). A user
//! has at most EVENT_STREAMS_PER_USER streams open in one API process.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderName, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use pdfq_client::types::{ErrorBody, JobView};
use pdfq_domain::{JobId, JobStatus, UserId};
use tokio::sync::watch;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::extract::session_ended;
use crate::error::ApiError;
use crate::extract::Path;
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
    first: bool,
    done: bool,
    shutdown: watch::Receiver<bool>,
}

/// Progress events until the job ends.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, content_type = "text/event-stream",
               description = "`progress` events (a job as data), then `end`"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's"),
              (status = 429, body = ErrorBody, description = "`too_many_streams`: EVENT_STREAMS_PER_USER streams of this user are open",
               headers(("retry-after" = u64, description = "seconds to wait")))))]
pub async fn job_events(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
) -> Result<impl IntoResponse, ApiError> {
    owned_job(&state, id, user.id).await?;
    let slot = state
        .streams
        .try_acquire(user.id)
        .ok_or(ApiError::TooManyStreams {
            max: state.streams.max(),
        })?;
    let shutdown = state.shutdown.clone();
    let watch = Watch {
        state,
        id,
        owner: user.id,
        session: user.session,
        _slot: slot,
        seen: None,
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

async fn next_event(mut w: Watch) -> Option<(Result<Event, Infallible>, Watch)> {
    loop {
        if w.done || *w.shutdown.borrow() {
            return None;
        }
        if !w.first {
            let interval = w.state.settings.events_poll_interval;
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                changed = w.shutdown.changed() => {
                    if changed.is_err() || *w.shutdown.borrow() {
                        return None;
                    }
                }
            }
        }
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
        let seen = (
            job.status,
            job.progress.get(),
            job.current_step.clone(),
            job.attempts.get(),
        );
        let terminal = job.status.is_terminal();
        if w.seen.as_ref() == Some(&seen) && !terminal {
            continue;
        }
        w.seen = Some(seen);
        w.done = terminal;
        let name = if terminal { "end" } else { "progress" };
        return Some((Ok(event(name, &job_view(&job, None))), w));
    }
}

fn event(name: &str, view: &JobView) -> Event {
    let data = serde_json::to_string(view).unwrap_or_else(|_| "null".into());
    Event::default().event(name).data(data)
}
