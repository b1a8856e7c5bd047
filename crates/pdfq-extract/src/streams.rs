//! Stream decoding under the document budget. Flate is inflated here so a truncated stream
//! still yields what precedes the damage (as other readers do); other filters go to lopdf.

use lopdf::{DecompressError, Object, Stream};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Budget;

pub(crate) fn decode(stream: &Stream, budget: &mut Budget) -> Result<Vec<u8>, ExtractError> {
    decode_checked(stream, budget).map(|decoded| decoded.data)
}

/// Whether a decoded prefix (the bytes so far, and where the last step's bytes start) holds
/// all a reader needs of the stream.
pub(crate) type Enough<'a> = &'a dyn Fn(&[u8], usize) -> bool;

/// As [`decode`], but a Flate stream is inflated only until `enough` accepts the output so far
/// (checked every [`PREFIX_STEP`] bytes): a font's encoding is at the head of its program, and
/// inflating the whole program for it cost a tenth of a small document's extraction. Other
/// streams are decoded whole.
pub(crate) fn decode_prefix(
    stream: &Stream,
    budget: &mut Budget,
    enough: Enough,
) -> Result<Vec<u8>, ExtractError> {
    decode_until(stream, budget, Some(enough)).map(|decoded| decoded.data)
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
    decode_until(stream, budget, None)
}

fn decode_until(
    stream: &Stream,
    budget: &mut Budget,
    enough: Option<Enough>,
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
        inflate_checked(&stream.content, allowance, enough)
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
    inflate_checked(input, cap, None).map(|(out, _)| out)
}

/// As `inflate`, with whether the data ended cleanly; with `enough`, only until it accepts the
/// output (which then counts as clean).
fn inflate_checked(input: &[u8], cap: u64, enough: Option<Enough>) -> Option<(Vec<u8>, bool)> {
    let first = if enough.is_some() {
        PREFIX_STEP
    } else {
        input.len().saturating_mul(4).min(1 << 20)
    };
    let mut out = Vec::with_capacity(first);
    let mut clean = inflate_into(input, true, &mut out, cap, enough)?;
    if !clean && out.is_empty() {
        // Some writers omit the zlib header: retry as raw deflate.
        clean = inflate_into(input, false, &mut out, cap, enough)?;
    }
    Some((out, clean))
}

/// The least an inflate's output grows by.
const INFLATE_STEP: usize = 64 * 1024;

/// How much a prefix decode ([`decode_prefix`]) inflates between two looks at its output.
const PREFIX_STEP: usize = 1024;

/// `Some(true)` at a clean end (or once `enough` accepts the output), `Some(false)` on corrupt
/// or truncated input, `None` when `cap` is exceeded.
fn inflate_into(
    input: &[u8],
    zlib: bool,
    out: &mut Vec<u8>,
    cap: u64,
    enough: Option<Enough>,
) -> Option<bool> {
    let mut d = flate2::Decompress::new(zlib);
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let at = usize::try_from(in0).unwrap_or(input.len()).min(input.len());
        // Straight into `out`, growing it by doubling (by steps of PREFIX_STEP for a prefix)
        // but never past one byte over the cap (that byte tells an output at the cap from one
        // beyond it).
        if out.len() == out.capacity() {
            let left = cap.saturating_sub(out.len()).saturating_add(1);
            let room = match enough {
                Some(_) => PREFIX_STEP,
                None => out.len().max(INFLATE_STEP),
            };
            out.reserve_exact(room.min(left));
        }
        let start = out.len();
        let res = d.decompress_vec(&input[at..], out, flate2::FlushDecompress::None);
        if out.len() > cap {
            return None;
        }
        if enough.is_some_and(|enough| enough(out, start)) {
            return Some(true);
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
        assert_eq!(inflate_checked(&whole, 1 << 30, None), Some((text, true)));
        let (prefix, intact) = inflate_checked(&whole[..whole.len() / 2], 1 << 30, None).unwrap();
        assert!(!intact && !prefix.is_empty());
        let (_, intact) =
            inflate_checked(b"this is not deflate data at all", 1 << 30, None).unwrap();
        assert!(!intact);
    }

    #[test]
    fn a_prefix_decode_stops_once_it_has_enough_and_otherwise_reads_the_whole_stream() {
        let head = b"%!PS-AdobeFont-1.0 /Encoding 256 array readonly def currentfile eexec ";
        let program = [head.as_slice(), &[0x5a; 200_000]].concat();
        let mut dict = lopdf::Dictionary::new();
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let stream = Stream::new(dict, deflate(&program));
        let limits = Limits::default();
        let has_eexec = |out: &[u8], from: usize| {
            out[from.saturating_sub(4)..]
                .windows(5)
                .any(|w| w == b"eexec")
        };

        let mut budget = Budget::new(&limits);
        let prefix = decode_prefix(&stream, &mut budget, &has_eexec).unwrap();
        assert!(program.starts_with(&prefix));
        assert!(
            prefix.len() < 2 * PREFIX_STEP,
            "inflated {} bytes",
            prefix.len()
        );
        assert!(has_eexec(&prefix, 0));

        let never = |_: &[u8], _: usize| false;
        let whole = decode_prefix(&stream, &mut Budget::new(&limits), &never).unwrap();
        assert_eq!(whole, program);
    }
}
