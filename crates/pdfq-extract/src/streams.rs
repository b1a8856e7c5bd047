//! Stream decoding under the document budget. Flate is inflated here so a truncated stream
//! still yields what precedes the damage (as other readers do); other filters go to lopdf.

use lopdf::{DecompressError, Object, Stream};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Budget;

pub(crate) fn decode(stream: &Stream, budget: &mut Budget) -> Result<Vec<u8>, ExtractError> {
    decode_checked(stream, budget).map(|decoded| decoded.data)
}

/// A decoded stream, and whether its data ended cleanly: false when it is cut short or corrupt
/// (the data is then what preceded the damage, possibly nothing).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub data: Vec<u8>,
    pub intact: bool,
}

/// As [`decode`], telling also whether the stream was damaged, for the pages whose text is
/// lost with it.
pub(crate) fn decode_checked(
    stream: &Stream,
    budget: &mut Budget,
) -> Result<Decoded, ExtractError> {
    let allowance = budget.stream_allowance();
    let over = |actual: u64| ExtractError::TooLarge {
        limit: SizeLimit::DecompressedBytes,
        actual,
        max: allowance,
    };
    let filters = stream.filters().unwrap_or_default();
    let (data, intact) = if filters.is_empty() {
        if stream.content.len() as u64 > allowance {
            return Err(over(stream.content.len() as u64));
        }
        (stream.content.clone(), true)
    } else if filters.len() == 1 && is_flate(filters[0]) && !has_predictor(stream) {
        inflate_checked(&stream.content, allowance)
            .ok_or_else(|| over(allowance.saturating_add(1)))?
    } else {
        let cap = usize::try_from(allowance).unwrap_or(usize::MAX);
        match stream.decompressed_content_with_limit(cap) {
            Ok(d) => (d, true),
            Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                return Err(over(allowance.saturating_add(1)));
            }
            // An undecodable stream contributes nothing; the rest of the page still counts.
            Err(_) => (Vec::new(), false),
        }
    };
    budget.add_decompressed(data.len() as u64)?;
    Ok(Decoded { data, intact })
}

fn is_flate(name: &[u8]) -> bool {
    name == b"FlateDecode" || name == b"Fl"
}

fn has_predictor(stream: &Stream) -> bool {
    match stream.dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => d
            .get(b"Predictor")
            .and_then(Object::as_i64)
            .is_ok_and(|p| p > 1),
        Ok(Object::Array(_)) => true,
        _ => false,
    }
}

/// Inflates at most `cap` bytes; `None` when the output would exceed it. Corrupt or
/// truncated data ends the output where the damage starts; a bad checksum is ignored.
#[cfg(test)]
fn inflate(input: &[u8], cap: u64) -> Option<Vec<u8>> {
    inflate_checked(input, cap).map(|(out, _)| out)
}

/// As `inflate`, with whether the data ended cleanly.
fn inflate_checked(input: &[u8], cap: u64) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).min(1 << 20));
    let mut clean = inflate_into(input, true, &mut out, cap)?;
    if !clean && out.is_empty() {
        // Some writers omit the zlib header: retry as raw deflate.
        clean = inflate_into(input, false, &mut out, cap)?;
    }
    Some((out, clean))
}

/// The least an inflate's output grows by.
const INFLATE_STEP: usize = 64 * 1024;

/// `Some(true)` at a clean end, `Some(false)` on corrupt or truncated input, `None` when
/// `cap` is exceeded.
fn inflate_into(input: &[u8], zlib: bool, out: &mut Vec<u8>, cap: u64) -> Option<bool> {
    let mut d = flate2::Decompress::new(zlib);
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let at = usize::try_from(in0).unwrap_or(input.len()).min(input.len());
        // Straight into `out`, growing it by doubling but never past one byte over the cap
        // (that byte tells an output at the cap from one beyond it).
        if out.len() == out.capacity() {
            let left = cap.saturating_sub(out.len()).saturating_add(1);
            let room = out.len().max(INFLATE_STEP).min(left);
            out.reserve_exact(room);
        }
        let res = d.decompress_vec(&input[at..], out, flate2::FlushDecompress::None);
        if out.len() > cap {
            return None;
        }
        let produced = d.total_out() - out0;
        match res {
            Ok(flate2::Status::StreamEnd) => return Some(true),
            Ok(_) if produced == 0 && d.total_in() == in0 => return Some(false),
            Ok(_) => {}
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
        let limits = Limits {
            max_stream_bytes: 1024 * 1024,
            ..Limits::default()
        };
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

    #[test]
    fn damage_is_reported_and_a_clean_stream_is_intact() {
        let text = b"BT /F1 12 Tf (hello) Tj ET ".repeat(2000);
        let whole = deflate(&text);
        assert_eq!(inflate_checked(&whole, 1 << 30), Some((text, true)));
        let (prefix, intact) = inflate_checked(&whole[..whole.len() / 2], 1 << 30).unwrap();
        assert!(!intact && !prefix.is_empty());
        let (_, intact) = inflate_checked(b"this is not deflate data at all", 1 << 30).unwrap();
        assert!(!intact);
    }
}
