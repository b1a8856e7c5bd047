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
    #[error("the PDF is too large: {limit} is {actual}, the limit is {max}")]
    TooLarge {
        limit: SizeLimit,
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
            ExtractError::NoTextLayer => "no_text_layer",
            ExtractError::TimedOut { .. } => "timed_out",
            ExtractError::ExtractorCrashed { .. } => "extractor_crashed",
            ExtractError::ResourceLimit { .. } => "resource_limit",
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
            | ExtractError::NoTextLayer
            | ExtractError::ResourceLimit { .. } => true,
            ExtractError::TimedOut { .. }
            | ExtractError::ExtractorCrashed { .. }
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
}
