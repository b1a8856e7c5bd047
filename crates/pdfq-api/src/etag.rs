//! Strong ETags for job responses, so a poller sending `If-None-Match` gets 304 Not Modified
//! without the body (nor, on the database path, the sentences being read at all).
//!
//! The tag is a digest of what a response shows apart from the sentences themselves: a job's
//! sentences only change with its attempt, status and finish time, which are all in that part.

use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Authenticated, per-user answers: a cache may keep them only for this user and must ask
/// again (with the ETag) before reusing one.
const REVALIDATE: HeaderValue = HeaderValue::from_static("private, no-cache");

/// A strong entity tag: the first 128 bits of SHA-256 over the JSON of `parts`, in hex.
#[must_use]
pub fn tag_of(parts: &impl Serialize) -> HeaderValue {
    let mut hasher = Sha256::new();
    // Writing JSON into a hasher cannot fail: neither side has an error of its own.
    if let Err(e) = serde_json::to_writer(HashWriter(&mut hasher), parts) {
        tracing::warn!(error = %e, "could not digest an ETag's parts");
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Whether the request's `If-None-Match` names `tag` (or is `*`). The comparison is weak, as
/// RFC 9110 section 13.1.2 prescribes for this header: `W/"x"` matches `"x"`.
#[must_use]
pub fn not_modified(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    let Ok(tag) = tag.to_str() else {
        return false;
    };
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|candidate| {
            let candidate = candidate.trim();
            candidate.strip_prefix("W/").unwrap_or(candidate)
        })
        .any(|candidate| candidate == "*" || candidate == tag)
}

/// 304 with the tag and no body.
#[must_use]
pub fn unchanged(tag: HeaderValue) -> Response {
    (
        StatusCode::NOT_MODIFIED,
        [(ETAG, tag), (CACHE_CONTROL, REVALIDATE)],
    )
        .into_response()
}

/// `body` with its tag.
#[must_use]
pub fn tagged(tag: HeaderValue, body: impl IntoResponse) -> Response {
    ([(ETAG, tag), (CACHE_CONTROL, REVALIDATE)], body).into_response()
}

/// Feeds serde_json's output straight into the digest, without an intermediate string.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_compared_weakly_and_in_lists() {
        let tag = tag_of(&("job", 42));
        let mut headers = HeaderMap::new();
        assert!(!not_modified(&headers, &tag));
        let listed = format!("\"other\", W/{}", tag.to_str().unwrap());
        headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&listed).unwrap());
        assert!(not_modified(&headers, &tag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!not_modified(&headers, &tag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&headers, &tag));
        assert_ne!(tag, tag_of(&("job", 43)));
    }
}
