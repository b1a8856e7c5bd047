//! What one document may produce: its text and sentences, counted as they are produced so an
//! amplifying file fails early with `result_too_large` instead of filling memory and storage.

use crate::error::{ExtractError, ResultLimit};
use crate::extract::PageText;
use crate::limits::Limits;
use crate::sentences::Sentence;

/// Running totals of one document's output against its [`Limits`]. The child counts pages as
/// it extracts them, the parent counts them again as they arrive (it does not trust the child),
/// and the worker counts sentences chunk by chunk before it stores them.
#[derive(Debug, Clone)]
pub struct OutputBudget {
    max_page_text_bytes: u64,
    max_text_bytes: u64,
    max_page_sentences: u64,
    max_sentences: u64,
    text_bytes: u64,
    sentences: u64,
    /// The page the last counted sentence started on, and how many started on it.
    current_page: Option<(u32, u64)>,
}

impl OutputBudget {
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        OutputBudget {
            max_page_text_bytes: limits.max_page_text_bytes,
            max_text_bytes: limits.max_text_bytes,
            max_page_sentences: limits.max_page_sentences,
            max_sentences: limits.max_sentences,
            text_bytes: 0,
            sentences: 0,
            current_page: None,
        }
    }

    /// Counts one page's text.
    pub fn add_page(&mut self, page: &PageText) -> Result<(), ExtractError> {
        let bytes = page.text.len() as u64;
        check(ResultLimit::PageTextBytes, bytes, self.max_page_text_bytes)?;
        self.text_bytes = self.text_bytes.saturating_add(bytes);
        check(ResultLimit::TextBytes, self.text_bytes, self.max_text_bytes)
    }

    /// Counts sentences, in document order (each tagged with the page it starts on).
    pub fn add_sentences(&mut self, sentences: &[Sentence]) -> Result<(), ExtractError> {
        for sentence in sentences {
            let on_page = match self.current_page {
                Some((page, count)) if page == sentence.page => count + 1,
                _ => 1,
            };
            self.current_page = Some((sentence.page, on_page));
            check(ResultLimit::PageSentences, on_page, self.max_page_sentences)?;
        }
        self.sentences = self.sentences.saturating_add(sentences.len() as u64);
        check(ResultLimit::Sentences, self.sentences, self.max_sentences)
    }
}

fn check(limit: ResultLimit, actual: u64, max: u64) -> Result<(), ExtractError> {
    if actual > max {
        return Err(ExtractError::ResultTooLarge { limit, actual, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_page_text_bytes: 10,
            max_text_bytes: 25,
            max_page_sentences: 2,
            max_sentences: 5,
            ..Limits::default()
        }
    }

    fn page(number: u32, text: &str) -> PageText {
        PageText::new(number, text.to_owned())
    }

    fn sentences(pages: &[u32]) -> Vec<Sentence> {
        pages
            .iter()
            .map(|&page| Sentence {
                text: "A sentence.".into(),
                page,
                ..Sentence::default()
            })
            .collect()
    }

    fn limit_of(r: &Result<(), ExtractError>) -> Option<ResultLimit> {
        match r {
            Err(ExtractError::ResultTooLarge { limit, .. }) => Some(*limit),
            _ => None,
        }
    }

    #[test]
    fn one_page_over_its_text_limit_fails() {
        let mut budget = OutputBudget::new(&limits());
        assert!(budget.add_page(&page(1, "0123456789")).is_ok());
        assert_eq!(
            budget.add_page(&page(2, "0123456789a")),
            Err(ExtractError::ResultTooLarge {
                limit: ResultLimit::PageTextBytes,
                actual: 11,
                max: 10
            })
        );
    }

    #[test]
    fn the_document_text_limit_counts_every_page() {
        let mut budget = OutputBudget::new(&limits());
        assert!(budget.add_page(&page(1, "0123456789")).is_ok());
        assert!(budget.add_page(&page(2, "0123456789")).is_ok());
        assert!(budget.add_page(&page(3, "01234")).is_ok());
        assert_eq!(
            limit_of(&budget.add_page(&page(4, "x"))),
            Some(ResultLimit::TextBytes)
        );
    }

    #[test]
    fn sentences_per_page_count_across_calls() {
        let mut budget = OutputBudget::new(&limits());
        assert!(budget.add_sentences(&sentences(&[1, 1, 2])).is_ok());
        assert_eq!(
            limit_of(&budget.add_sentences(&sentences(&[2, 2]))),
            Some(ResultLimit::PageSentences)
        );
    }

    #[test]
    fn the_document_sentence_limit_counts_every_chunk() {
        let mut budget = OutputBudget::new(&limits());
        assert!(budget.add_sentences(&sentences(&[1, 2, 3])).is_ok());
        assert!(budget.add_sentences(&sentences(&[4, 5])).is_ok());
        assert_eq!(
            limit_of(&budget.add_sentences(&sentences(&[6]))),
            Some(ResultLimit::Sentences)
        );
    }
}
