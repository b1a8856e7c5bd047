//! PDF text extraction: pages, chunks and sentences.
