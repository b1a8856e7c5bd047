//! Load + extract arbitrary bytes: must return Ok or a typed error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pdfq_extract::{Limits, extract_pages};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each input fast; what is tested is that nothing escapes them.
    let limits = Limits {
        max_stream_bytes: 4 * 1024 * 1024,
        max_document_decompressed_bytes: 16 * 1024 * 1024,
        max_operators_per_page: 200_000,
        timeout_ms: 2_000,
        ..Limits::default()
    };
    if let Ok(doc) = extract_pages(data, &limits) {
        let chunks = pdfq_extract::chunk_pages(&doc.pages, 10);
        for c in &chunks {
            let _ = pdfq_extract::sentences_for_chunk(c.pages(&doc.pages));
        }
    }
});
