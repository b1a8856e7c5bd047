//! Stream decoding under the document budget. Flate is inflated here so a truncated stream
//! still yields what precedes the damage (as other readers do); other filters go to lopdf.

use std::io::Read;

use lopdf::{DecompressError, Object, Stream};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Budget;

pub(crate) fn decode(stream: &Stream, budget: &mut Budget) -> Result<Vec<u8>, ExtractError> {
    let allowance = budget.stream_allowance();
    let over = |actual: u64| ExtractError::TooLarge { limit: SizeLimit::DecompressedBytes, actual, max: allowance };
    let filters = stream.filters().unwrap_or_default();
    let data = if filters.is_empty() {
        if stream.content.len() as u64 > allowance {
            return Err(over(stream.content.len() as u64));
        }
        stream.content.clone()
    } else if filters.len() == 1 && is_flate(filters[0]) && !has_predictor(stream) {
        inflate(&stream.content, allowance).ok_or_else(|| over(allowance.saturating_add(1)))?
    } else {
        let cap = usize::try_from(allowance).unwrap_or(usize::MAX);
        match stream.decompressed_content_with_limit(cap) {
            Ok(d) => d,
            Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                return Err(over(allowance.saturating_add(1)));
            }
            // An undecodable stream contributes nothing; the rest of the page still counts.
            Err(_) => Vec::new(),
        }
    };
    budget.add_decompressed(data.len() as u64)?;
    Ok(data)
}

fn is_flate(name: &[u8]) -> bool {
    name == b"FlateDecode" || name == b"Fl"
}

fn has_predictor(stream: &Stream) -> bool {
    match stream.dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => d.get(b"Predictor").and_then(Object::as_i64).is_ok_and(|p| p > 1),
        Ok(Object::Array(_)) => true,
        _ => false,
    }
}

/// Inflates at most `cap` bytes; `None` when the output would exceed it. Corrupt data ends
/// the output where the damage starts.
fn inflate(input: &[u8], cap: u64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).min(1 << 20));
    let zlib = flate2::read::ZlibDecoder::new(input);
    let ok = read_capped(zlib, &mut out, cap)?;
    if !ok && out.is_empty() {
        // Some writers omit the zlib header: retry as raw deflate.
        let raw = flate2::read::DeflateDecoder::new(input);
        read_capped(raw, &mut out, cap)?;
    }
    Some(out)
}

/// Reads into `out` up to `cap` bytes: `Some(true)` at a clean end, `Some(false)` on
/// corrupt input, `None` when `cap` is exceeded.
fn read_capped(mut r: impl Read, out: &mut Vec<u8>, cap: u64) -> Option<bool> {
    let mut buf = [0u8; 32 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Some(true),
            Ok(n) => {
                if out.len() as u64 + n as u64 > cap {
                    return None;
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn flate_bomb_is_rejected() {
        let bomb = deflate(&vec![0u8; 8 * 1024 * 1024]);
        let mut dict = lopdf::Dictionary::new();
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let stream = Stream::new(dict, bomb);
        let limits = Limits { max_stream_bytes: 1024 * 1024, ..Limits::default() };
        let mut budget = Budget::new(&limits);
        let err = decode(&stream, &mut budget).unwrap_err();
        assert_eq!(err.code(), "too_large");
    }

    #[test]
    fn truncated_flate_keeps_prefix() {
        let text = b"BT /F1 12 Tf (hello) Tj ET ".repeat(2000);
        let mut z = deflate(&text);
        z.truncate(z.len() / 2);
        let out = inflate(&z, 1 << 30).unwrap();
        assert!(!out.is_empty() && text.starts_with(&out[..out.len().min(100)]));
    }
}
