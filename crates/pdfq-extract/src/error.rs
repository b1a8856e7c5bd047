//! Typed extraction errors with stable codes the worker stores and the API shows.

use serde::{Deserialize, Serialize};

/// Which limit a `TooLarge` error hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeLimit {
    Bytes,
    Pages,
    DecompressedBytes,
    Objects,
    NestingDepth,
}

impl SizeLimit {
    /// What the uploader (or the operator) can do about a file over this limit.
    #[must_use]
    pub fn next_step(self) -> &'static str {
        match self {
            SizeLimit::Pages => {
                "split the PDF, or if it is genuine the operator can raise the worker's MAX_PAGES"
            }
            SizeLimit::Objects => {
                "split the PDF, or if it is genuine the operator can raise the worker's MAX_OBJECTS"
            }
            SizeLimit::Bytes | SizeLimit::DecompressedBytes => "split the PDF into smaller files",
            SizeLimit::NestingDepth => {
                "no real document nests its objects this deep; export it again from its source"
            }
        }
    }
}

impl std::fmt::Display for SizeLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SizeLimit::Bytes => "file size",
            SizeLimit::Pages => "page count",
            SizeLimit::DecompressedBytes => "decompressed size",
            SizeLimit::Objects => "object count",
            SizeLimit::NestingDepth => "nesting depth",
        })
    }
}

/// Which limit on what one document produces a `ResultTooLarge` error hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultLimit {
    PageGlyphs,
    PageTextBytes,
    TextBytes,
    PageSentences,
    Sentences,
}

impl ResultLimit {
    /// The worker setting (environment variable) that raises this limit.
    #[must_use]
    pub fn setting(self) -> &'static str {
        match self {
            ResultLimit::PageGlyphs => "MAX_PAGE_GLYPHS",
            ResultLimit::PageTextBytes => "MAX_PAGE_TEXT_BYTES",
            ResultLimit::TextBytes => "MAX_RESULT_TEXT_BYTES",
            ResultLimit::PageSentences => "MAX_PAGE_SENTENCES",
            ResultLimit::Sentences => "MAX_RESULT_SENTENCES",
        }
    }
}

impl std::fmt::Display for ResultLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ResultLimit::PageGlyphs => "glyphs on one page",
            ResultLimit::PageTextBytes => "text bytes of one page",
            ResultLimit::TextBytes => "text bytes of the document",
            ResultLimit::PageSentences => "sentences on one page",
            ResultLimit::Sentences => "sentences of the document",
        })
    }
}

/// Every way extraction can fail. `code()` is stable: the worker stores it and clients match on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ExtractError {
    #[error("not a PDF: {reason}")]
    NotAPdf { reason: String },
    #[error("the PDF is encrypted and needs a password to open")]
    PasswordRequired,
    #[error("the PDF is damaged beyond repair: {reason}")]
    Damaged { reason: String },
    /// `actual` is what was counted when the limit was found passed: at least that much.
    #[error(
        "the PDF is too large: its {limit} is over the limit of {max} (at least {actual}); {}",
        limit.next_step()
    )]
    TooLarge {
        limit: SizeLimit,
        actual: u64,
        max: u64,
    },
    /// The document produces more output than one job may store (a small file drawing the same
    /// text over and over, for example).
    #[error(
        "the extracted result is too large: {limit} reached {actual}, over the limit of {max}; \
         split the PDF, or if it is genuine the operator can raise the worker's {}",
        limit.setting()
    )]
    ResultTooLarge {
        limit: ResultLimit,
        actual: u64,
        max: u64,
    },
    #[error("the PDF has no text layer (scanned or image-only pages); OCR is needed")]
    NoTextLayer,
    #[error("extraction took longer than {seconds} s")]
    TimedOut { seconds: u64 },
    #[error("the extractor process crashed: {reason}")]
    ExtractorCrashed { reason: String },
    #[error("the extractor hit its {resource} limit")]
    ResourceLimit { resource: String },
    /// The child's isolation (its limits, no_new_privs, its environment) could not be set up:
    /// a problem of the host, so the extraction is not run at all.
    #[error(
        "the extractor's isolation could not be set up: {reason}; check the worker's own limits (ulimit -a) and its seccomp/container policy"
    )]
    IsolationFailed { reason: String },
    #[error("the extractor could not run: {reason}")]
    Internal { reason: String },
    /// The caller asked the extraction to stop (a cancel, a time limit, a shutdown).
    #[error("extraction stopped on request")]
    Stopped,
}

impl ExtractError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ExtractError::NotAPdf { .. } => "not_a_pdf",
            ExtractError::PasswordRequired => "password_required",
            ExtractError::Damaged { .. } => "damaged",
            ExtractError::TooLarge { .. } => "too_large",
            ExtractError::ResultTooLarge { .. } => "result_too_large",
            ExtractError::NoTextLayer => "no_text_layer",
            ExtractError::TimedOut { .. } => "timed_out",
            ExtractError::ExtractorCrashed { .. } => "extractor_crashed",
            ExtractError::ResourceLimit { .. } => "resource_limit",
            ExtractError::IsolationFailed { .. } => "isolation_failed",
            ExtractError::Internal { .. } => "internal",
            ExtractError::Stopped => "stopped",
        }
    }

    /// True when retrying the same bytes (with the same limits) cannot succeed. Resource
    /// limits are deterministic, so permanent; wall-clock timeouts depend on the machine's
    /// load, a crash may come from outside (the OOM killer) and internal errors are about
    /// the host: those may pass on another attempt (the caller bounds its retries).
    pub fn is_permanent(&self) -> bool {
        match self {
            ExtractError::NotAPdf { .. }
            | ExtractError::PasswordRequired
            | ExtractError::Damaged { .. }
            | ExtractError::TooLarge { .. }
            | ExtractError::ResultTooLarge { .. }
            | ExtractError::NoTextLayer
            | ExtractError::ResourceLimit { .. } => true,
            ExtractError::TimedOut { .. }
            | ExtractError::ExtractorCrashed { .. }
            | ExtractError::IsolationFailed { .. }
            | ExtractError::Internal { .. }
            | ExtractError::Stopped => false,
        }
    }

    pub(crate) fn damaged(reason: impl Into<String>) -> Self {
        ExtractError::Damaged {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_serialised_as_tag() {
        let e = ExtractError::TooLarge {
            limit: SizeLimit::Pages,
            actual: 10,
            max: 5,
        };
        assert_eq!(e.code(), "too_large");
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"code\":\"too_large\""), "{json}");
        let back: ExtractError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert!(ExtractError::PasswordRequired.is_permanent());
        assert!(!ExtractError::TimedOut { seconds: 1 }.is_permanent());
    }

    #[test]
    fn a_result_too_large_is_permanent_and_names_its_setting() {
        let e = ExtractError::ResultTooLarge {
            limit: ResultLimit::TextBytes,
            actual: 20,
            max: 10,
        };
        assert_eq!(e.code(), "result_too_large");
        assert!(e.is_permanent(), "the same bytes produce the same result");
        let message = e.to_string();
        assert!(message.contains("MAX_RESULT_TEXT_BYTES"), "{message}");
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"limit\":\"text_bytes\""), "{json}");
        assert_eq!(serde_json::from_str::<ExtractError>(&json).unwrap(), e);
    }
}
