//! PDF text extraction: pages in reading order, chunks of pages, and sentences.
//!
//! Untrusted bytes go through [`extract_pages`] (in-process, bounded by [`Limits`]) or,
//! in production, [`extract_isolated`], which runs the same code in a child process with
//! memory, CPU and wall-clock limits so a crash of the parser cannot take the caller down.

mod bidi;
mod chunks;
mod cmap;
mod content;
mod encoding;
mod error;
mod extract;
mod fonts;
mod furniture;
mod geometry;
mod isolate;
mod layout;
mod lexer;
mod limits;
mod load;
mod logical_order;
mod missing;
mod output;
mod packed;
mod pagetree;
mod pool;
mod reading_order;
mod render;
mod sandbox;
mod sbd;
mod sentences;
mod slim;
mod streams;
mod structure;

pub use chunks::{Chunk, DEFAULT_MAX_CHUNKS, chunk_pages};
pub use error::{ExtractError, ResultLimit, SizeLimit};
pub use extract::{Document, PageText, PageWarning, extract_pages, extract_pages_streaming};
pub use geometry::{MAX_PAGE_LINES, MAX_PAGE_WORDS, PageSize, SentenceBox};
pub use isolate::{
    CHILD_ENV_ALLOWED, CHILD_MAX_OPEN_FILES, CHILD_STACK_BYTES, IsolationLimits, child_main,
    extract_isolated, extract_isolated_until,
};
pub use limits::{
    DEFAULT_MAX_FORM_DRAWS_PER_PAGE, DEFAULT_MAX_OBJECTS, DEFAULT_MAX_PAGE_GLYPHS,
    DEFAULT_MAX_PAGE_SENTENCES, DEFAULT_MAX_PAGE_TEXT_BYTES, DEFAULT_MAX_PAGES,
    DEFAULT_MAX_SENTENCES, DEFAULT_MAX_TEXT_BYTES, Limits,
};
pub use output::OutputBudget;
pub use pool::ChildPool;
pub use render::{OutputFormat, render};
pub use sentences::{
    MAX_SENTENCE_BOXES, Sentence, segment, sentences_for_chunk, sentences_for_pages,
};
