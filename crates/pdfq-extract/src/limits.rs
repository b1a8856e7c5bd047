//! Resource limits for untrusted input, and the per-document budget that enforces them.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{ExtractError, SizeLimit};

// Defaults of the limits on what one document produces. The densest real files measured
// (the 1,221-page LaTeX source manual: 3.0 MB of text, 40,761 sentences; the busiest page of
// 96 real PDFs: 16.5 KB, 16,454 glyphs and 186 sentences; no form drawn more than 3 times on
// a page) stay far inside them: a 2,000-page manual of the same density is about 5 MB and
// 67,000 sentences.
/// Default of [`Limits::max_pages`]: eight times the 1,221-page manual, and what a 50 MB
/// upload of ordinary pages holds (a 47 MB merge of real files has 3,663).
pub const DEFAULT_MAX_PAGES: u32 = 10_000;
/// Default of [`Limits::max_objects`]: over ten times what the biggest real files hold parsed
/// (a 50 MB, 3,600-page merge of the corpus: 13,258; a 56,000-field form: 1,400 besides those
/// packed), and few enough that a file of nothing but tiny objects is refused within 256 MiB
/// (940,000 three-number arrays in 50 MB needed more than 512 MiB).
pub const DEFAULT_MAX_OBJECTS: u64 = 150_000;
/// Default of [`Limits::max_glyphs_per_page`]: 30 times the busiest real page.
pub const DEFAULT_MAX_PAGE_GLYPHS: u64 = 500_000;
/// Default of [`Limits::max_form_draws_per_page`]: a chart drawing a marker form per point
/// loses only markers (no text) past it.
pub const DEFAULT_MAX_FORM_DRAWS_PER_PAGE: u32 = 1_000;
/// Default of [`Limits::max_page_text_bytes`]: 256 KiB, 15 times the busiest real page.
pub const DEFAULT_MAX_PAGE_TEXT_BYTES: u64 = 256 * 1024;
/// Default of [`Limits::max_text_bytes`]: 16 MiB, 3 times a 2,000-page manual.
pub const DEFAULT_MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;
/// Default of [`Limits::max_page_sentences`]: 20 times the busiest real page.
pub const DEFAULT_MAX_PAGE_SENTENCES: u64 = 4_000;
/// Default of [`Limits::max_sentences`]: 3.7 times a 2,000-page manual.
pub const DEFAULT_MAX_SENTENCES: u64 = 250_000;

/// Limits applied to one extraction. Defaults suit a worker with 512 MiB per child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest accepted input file.
    pub max_file_bytes: u64,
    /// Most pages processed; a document with more is rejected.
    pub max_pages: u32,
    /// Most objects the loader holds parsed. Those it keeps packed (a few dozen bytes each,
    /// [`crate::packed`]) and those it drops are not counted.
    pub max_objects: u64,
    /// Largest size one stream may decompress to.
    pub max_stream_bytes: u64,
    /// Largest total decompressed size over the whole document.
    pub max_document_decompressed_bytes: u64,
    /// Deepest nesting of arrays and dictionaries in the file and in content streams.
    pub max_nesting_depth: u32,
    /// Deepest page-tree and Form XObject recursion.
    pub max_recursion_depth: u32,
    /// Most content-stream operators interpreted per page (a cheap CPU bound).
    pub max_operators_per_page: u64,
    /// Wall-clock budget for the in-process extraction, in milliseconds (0: none).
    pub timeout_ms: u64,
    /// Most glyphs drawn on one page; more fail the document with `result_too_large`.
    pub max_glyphs_per_page: u64,
    /// Most times one Form XObject is drawn on one page. Later draws are skipped: they would
    /// only repeat its text (a few bytes of PDF drawing a form thousands of times is the
    /// cheapest way to multiply a result).
    pub max_form_draws_per_page: u32,
    /// Most bytes of text (UTF-8) one page may produce.
    pub max_page_text_bytes: u64,
    /// Most bytes of text the whole document may produce.
    pub max_text_bytes: u64,
    /// Most sentences starting on one page.
    pub max_page_sentences: u64,
    /// Most sentences of the whole document.
    pub max_sentences: u64,
    /// Most CMap mappings kept over all fonts of a document.
    pub max_cmap_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 * 1024 * 1024,
            max_pages: DEFAULT_MAX_PAGES,
            max_objects: DEFAULT_MAX_OBJECTS,
            max_stream_bytes: 64 * 1024 * 1024,
            max_document_decompressed_bytes: 1024 * 1024 * 1024,
            max_nesting_depth: 64,
            max_recursion_depth: 32,
            max_operators_per_page: 5_000_000,
            timeout_ms: 60_000,
            max_glyphs_per_page: DEFAULT_MAX_PAGE_GLYPHS,
            max_form_draws_per_page: DEFAULT_MAX_FORM_DRAWS_PER_PAGE,
            max_page_text_bytes: DEFAULT_MAX_PAGE_TEXT_BYTES,
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
            max_page_sentences: DEFAULT_MAX_PAGE_SENTENCES,
            max_sentences: DEFAULT_MAX_SENTENCES,
            max_cmap_entries: 4_000_000,
        }
    }
}

/// Running totals for one document, checked against its `Limits`.
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: Limits,
    started: Instant,
    decompressed: u64,
    cmap_entries: u64,
    /// A Unicode map was cut short or not read because `max_cmap_entries` were spent.
    cmap_cut: bool,
}

impl Budget {
    pub fn new(limits: &Limits) -> Self {
        Budget {
            limits: limits.clone(),
            started: Instant::now(),
            decompressed: 0,
            cmap_entries: 0,
            cmap_cut: false,
        }
    }

    /// Accounts for `n` more decompressed bytes.
    pub fn add_decompressed(&mut self, n: u64) -> Result<(), ExtractError> {
        self.decompressed = self.decompressed.saturating_add(n);
        let max = self.limits.max_document_decompressed_bytes;
        if self.decompressed > max {
            return Err(ExtractError::TooLarge {
                limit: SizeLimit::DecompressedBytes,
                actual: self.decompressed,
                max,
            });
        }
        Ok(())
    }

    /// How much one more stream may still decompress to.
    pub fn stream_allowance(&self) -> u64 {
        let left = self
            .limits
            .max_document_decompressed_bytes
            .saturating_sub(self.decompressed);
        left.min(self.limits.max_stream_bytes)
    }

    /// Parses a CMap within what is left of the document's CMap allowance.
    pub fn parse_cmap(&mut self, data: &[u8]) -> crate::cmap::CMap {
        let left = self
            .limits
            .max_cmap_entries
            .saturating_sub(self.cmap_entries);
        let cap = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(crate::cmap::MAX_ENTRIES);
        let cmap = crate::cmap::CMap::parse_bounded(data, cap);
        self.cmap_entries += cmap.entry_count() as u64;
        // Filled up to what the budget had left: the map was (most likely) cut.
        if cmap.entry_count() as u64 >= left {
            self.cmap_cut = true;
        }
        cmap
    }

    /// Whether a Unicode map has been cut short by `max_cmap_entries` so far.
    pub fn cmap_cut(&self) -> bool {
        self.cmap_cut
    }

    pub fn check_time(&self) -> Result<(), ExtractError> {
        let ms = self.limits.timeout_ms;
        if ms > 0 && self.started.elapsed() > Duration::from_millis(ms) {
            return Err(ExtractError::TimedOut {
                seconds: ms.div_ceil(1000),
            });
        }
        Ok(())
    }
}
