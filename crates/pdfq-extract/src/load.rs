//! Untrusted bytes to a lopdf document: header check, nesting pre-scan, bounded load, decryption.

use lopdf::{DecompressError, Document, LoadOptions};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Limits;

/// lopdf parses nested objects recursively; the pre-scan bounds the depth, and this stack
/// leaves ample room beyond it without reserving much of the child's address-space limit.
const PARSE_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Readers accept the header anywhere in the first KiB (PDF 32000-1, annex H).
const HEADER_WINDOW: usize = 1024;

pub(crate) fn load(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::Bytes,
            actual: bytes.len() as u64,
            max: limits.max_file_bytes,
        });
    }
    let window = &bytes[..bytes.len().min(HEADER_WINDOW)];
    if memchr::memmem::find(window, b"%PDF-").is_none() {
        return Err(ExtractError::NotAPdf {
            reason: "no %PDF- header in the first 1024 bytes".into(),
        });
    }
    let depth = max_nesting_depth(bytes, limits.max_nesting_depth);
    if depth > limits.max_nesting_depth {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::NestingDepth,
            actual: u64::from(depth),
            max: u64::from(limits.max_nesting_depth),
        });
    }
    let options = LoadOptions {
        max_decompressed_size: Some(usize::try_from(limits.max_stream_bytes).unwrap_or(usize::MAX)),
        ..LoadOptions::default()
    };
    let loaded = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("pdfq-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || Document::load_mem_with_options(bytes, options))
            .map_err(|e| ExtractError::Internal {
                reason: format!("cannot start the parser thread: {e}"),
            })?
            .join()
            .map_err(|_| ExtractError::damaged("the PDF parser failed on this file"))
    })?;
    let doc = loaded.map_err(|e| map_lopdf_error(&e, limits))?;
    if doc.trailer.has(b"Encrypt") {
        // lopdf tries the empty user password itself; an /Encrypt left in place means it failed.
        return Err(ExtractError::PasswordRequired);
    }
    let objects = doc.objects.len() as u64;
    if objects > limits.max_objects {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::Objects,
            actual: objects,
            max: limits.max_objects,
        });
    }
    if doc.objects.is_empty() {
        return Err(ExtractError::damaged("no readable objects"));
    }
    Ok(doc)
}

fn map_lopdf_error(e: &lopdf::Error, limits: &Limits) -> ExtractError {
    match e {
        lopdf::Error::InvalidPassword => ExtractError::PasswordRequired,
        lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            ExtractError::TooLarge {
                limit: SizeLimit::DecompressedBytes,
                actual: limits.max_stream_bytes.saturating_add(1),
                max: limits.max_stream_bytes,
            }
        }
        lopdf::Error::Decryption(_) => ExtractError::PasswordRequired,
        other => ExtractError::damaged(other.to_string()),
    }
}

/// Deepest `[`/`<<` nesting outside strings, comments and stream data; stops counting past
/// `cap`. A cheap guard: lopdf's recursive parser would otherwise overflow the stack.
fn max_nesting_depth(bytes: &[u8], cap: u32) -> u32 {
    let mut depth: u32 = 0;
    let mut max = 0;
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        match bytes[i] {
            b'%' => {
                while i < n && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' => {
                let mut level = 1u32;
                i += 1;
                while i < n && level > 0 {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => level += 1,
                        b')' => level -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b'<' => {
                while i < n && bytes[i] != b'>' {
                    i += 1;
                }
            }
            b'>' if bytes.get(i + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b's' if bytes[i..].starts_with(b"stream")
                && matches!(bytes.get(i + 6), Some(b'\r' | b'\n')) =>
            {
                match memchr::memmem::find(&bytes[i + 6..], b"endstream") {
                    Some(off) => i += 6 + off + 9,
                    None => return max,
                }
                continue;
            }
            b'e' if bytes[i..].starts_with(b"endobj") => depth = 0,
            _ => {}
        }
        max = max.max(depth);
        if max > cap {
            return max;
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_scan_ignores_strings_and_streams() {
        let pdf = b"1 0 obj << /A [ [ (((( [[[[ ) ] ] >> endobj 2 0 obj << /Length 5 >> stream\n[[[[[[[[ endstream endobj";
        assert_eq!(max_nesting_depth(pdf, 100), 3);
        let deep = [b"[".repeat(500), b"]".repeat(500)].concat();
        assert!(max_nesting_depth(&deep, 64) > 64);
    }
}
