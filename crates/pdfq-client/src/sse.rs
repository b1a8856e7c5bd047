//! A small Server-Sent Events reader for the job progress stream: enough of the format
//! (`event:`, `data:`, blank line ends an event, `:` comments) for what the API sends.

use futures::{Stream, StreamExt};
use reqwest::Response;

use crate::ClientError;
use crate::types::{JobUpdate, JobView};

struct State<S> {
    body: S,
    buffer: String,
    done: bool,
}

/// The job updates of an event-stream answer; ends after the `end` or `gone` event, or when the
/// server closes the stream.
pub(crate) fn job_updates(
    response: Response,
) -> impl Stream<Item = Result<JobUpdate, ClientError>> + Send {
    let state = State {
        body: response.bytes_stream().boxed(),
        buffer: String::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            if let Some(raw) = take_event(&mut state.buffer) {
                let Some((event, data)) = parse_event(&raw) else {
                    continue; // a comment (keep-alive) only
                };
                let update = decode(event, &data);
                if matches!(&update, Ok(u) if u.event == "end" || u.event == "gone") {
                    state.done = true;
                }
                return Some((update, state));
            }
            match state.body.next().await {
                Some(Ok(bytes)) => {
                    // Normalised so one separator rule covers servers that send CRLF.
                    state
                        .buffer
                        .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n"));
                }
                Some(Err(e)) => {
                    state.done = true;
                    return Some((Err(ClientError::Transport(e)), state));
                }
                None => return None,
            }
        }
    })
}

fn take_event(buffer: &mut String) -> Option<String> {
    let end = buffer.find("\n\n")?;
    let raw = buffer[..end].to_owned();
    buffer.drain(..end + 2);
    Some(raw)
}

/// The event name (default `message`) and its data lines joined; `None` for comment-only blocks.
fn parse_event(raw: &str) -> Option<(String, String)> {
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    for line in raw.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    Some((event.unwrap_or_else(|| "message".into()), data.join("\n")))
}

fn decode(event: String, data: &str) -> Result<JobUpdate, ClientError> {
    let job = if data.trim().is_empty() || data.trim() == "null" {
        None
    } else {
        Some(
            serde_json::from_str::<JobView>(data).map_err(|e| ClientError::Decode {
                status: 200,
                message: format!("event {event}: {e}"),
            })?,
        )
    };
    Ok(JobUpdate { event, job })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_and_comments_skipped() {
        let mut buffer = String::from(": keep-alive\n\nevent: progress\ndata: {}\n\nevent: e");
        let first = take_event(&mut buffer).unwrap();
        assert_eq!(parse_event(&first), None);
        let second = take_event(&mut buffer).unwrap();
        assert_eq!(
            parse_event(&second),
            Some(("progress".to_owned(), "{}".to_owned()))
        );
        assert_eq!(take_event(&mut buffer), None);
        assert_eq!(buffer, "event: e");
    }

    #[test]
    fn an_event_without_data_has_no_job() {
        let update = decode("gone".into(), "").unwrap();
        assert_eq!(update.job, None);
        assert!(decode("progress".into(), "{not json").is_err());
    }
}
