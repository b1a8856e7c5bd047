//! The sentence segmenter over arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for s in pdfq_extract::segment(&text) {
        assert!(!s.is_empty());
    }
});
