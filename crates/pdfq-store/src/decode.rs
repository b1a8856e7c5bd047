//! Conversions between stored values and domain types, shared by both backends.

use pdfq_domain::job::JobEvent as Event;
use pdfq_domain::{Attempt, JobStatus, Progress};

use crate::StoreError;
use crate::model::{ChunkResult, JobWarning, Role, Sentence};

pub(crate) fn status(s: &str) -> Result<JobStatus, StoreError> {
    s.parse()
        .map_err(|e: pdfq_domain::job::UnknownStatus| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn role(s: &str) -> Result<Role, StoreError> {
    s.parse().map_err(StoreError::Corrupt)
}

pub(crate) fn u32_of(n: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {n}")))
}

pub(crate) fn opt_u32(n: Option<i64>, what: &str) -> Result<Option<u32>, StoreError> {
    n.map(|n| u32_of(n, what)).transpose()
}

pub(crate) fn u64_of(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {n}")))
}

pub(crate) fn attempt(n: i64) -> Result<Attempt, StoreError> {
    u32_of(n, "attempts").map(Attempt::new)
}

pub(crate) fn progress(n: i64) -> Result<Progress, StoreError> {
    Progress::new(u32_of(n, "progress_percent")?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The `warnings` column: a JSON array, or null for none.
pub(crate) fn warnings(text: Option<String>) -> Result<Vec<JobWarning>, StoreError> {
    text.map_or_else(
        || Ok(Vec::new()),
        |text| {
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("warnings of a job: {e}")))
        },
    )
}

/// Warnings as the `warnings` column stores them: null for none.
pub(crate) fn warnings_text(warnings: &[JobWarning]) -> Result<Option<String>, StoreError> {
    if warnings.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(warnings)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("warnings of a job: {e}")))
}

/// A count or offset from the API as a bind value; beyond i64 nothing can match anyway.
pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The sentences of a whole result as the database aggregates them, a JSON array of
/// `[chunk, page, text]` in reading order (`None`: no sentences), with their chunk's index.
pub(crate) fn sentence_triples(json: Option<&str>) -> Result<Vec<(u32, Sentence)>, StoreError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let triples: Vec<(u32, u32, String)> = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("the stored sentences do not decode: {e}")))?;
    Ok(triples
        .into_iter()
        .map(|(chunk, page, text)| {
            (
                chunk,
                Sentence {
                    text,
                    page,
                    ..Sentence::default()
                },
            )
        })
        .collect())
}

/// A stored result put back together: `chunks` in index order (with no sentences yet) and
/// every sentence in reading order with its chunk's index, in one pass over each.
pub(crate) fn result_of(
    mut chunks: Vec<ChunkResult>,
    sentences: Vec<(u32, Sentence)>,
) -> Result<Vec<ChunkResult>, StoreError> {
    let mut at = 0;
    for (chunk, sentence) in sentences {
        while chunks.get(at).is_some_and(|c| c.index != chunk) {
            at += 1;
        }
        let Some(owner) = chunks.get_mut(at) else {
            return Err(StoreError::Corrupt(format!(
                "a sentence of chunk {chunk} is out of chunk order or its chunk is missing"
            )));
        };
        owner.sentences.push(sentence);
    }
    Ok(chunks)
}

/// The statuses `event` may leave, as the text the database stores.
pub(crate) fn sources(event: Event) -> Vec<&'static str> {
    JobStatus::sources_of(event)
        .into_iter()
        .map(JobStatus::as_str)
        .collect()
}

/// The same list as a JSON array, for SQLite's `in (select value from json_each(?))`.
pub(crate) fn sources_json(event: Event) -> String {
    let quoted: Vec<String> = sources(event)
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    format!("[{}]", quoted.join(","))
}

/// `text` with LIKE's wildcards escaped (escape character `\`), so user input matches literally.
pub(crate) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A case-insensitive "contains" pattern, lowercased (compare with `lower(column)`).
pub(crate) fn contains_pattern(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| format!("%{}%", escape_like(&t.to_lowercase())))
}

/// Part of a job id as a LIKE pattern on the id's text form (lowercase, hyphenated): its
/// start, or its random end, which is what pdfctl shows (UUIDv7 ids made in the same
/// millisecond share their start).
pub(crate) fn id_part_pattern(text: Option<&str>) -> Option<String> {
    contains_pattern(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_input_is_matched_literally() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(contains_pattern(Some(" Report ")).unwrap(), "%report%");
        assert_eq!(contains_pattern(Some("  ")), None);
        assert_eq!(id_part_pattern(Some("01AB")).unwrap(), "%01ab%");
    }

    #[test]
    fn a_result_is_regrouped_by_chunk_in_reading_order() {
        let chunk = |index| ChunkResult {
            index,
            first_page: index + 1,
            last_page: index + 1,
            sentences: Vec::new(),
        };
        let s = |text: &str| Sentence {
            text: text.to_owned(),
            page: 1,
            ..Sentence::default()
        };
        // Chunk 1 has no sentences: it is kept, empty, between the others.
        let whole = result_of(
            vec![chunk(0), chunk(1), chunk(2)],
            vec![(0, s("a")), (0, s("b")), (2, s("c"))],
        )
        .unwrap();
        let texts: Vec<Vec<&str>> = whole
            .iter()
            .map(|c| c.sentences.iter().map(|s| s.text.as_str()).collect())
            .collect();
        assert_eq!(texts, [vec!["a", "b"], vec![], vec!["c"]]);
        // A sentence whose chunk is missing, or that comes back after a later chunk's.
        assert!(result_of(vec![chunk(0)], vec![(1, s("x"))]).is_err());
        assert!(result_of(vec![chunk(0), chunk(1)], vec![(1, s("x")), (0, s("y"))]).is_err());
    }

    #[test]
    fn sources_follow_the_state_machine() {
        assert_eq!(sources(Event::Claim), ["pending", "retrying"]);
        assert_eq!(sources_json(Event::Retry), r#"["failed","cancelled"]"#);
    }
}
