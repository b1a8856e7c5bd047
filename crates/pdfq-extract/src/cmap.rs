//! CMaps: the codespace that splits a string into codes, and code -> Unicode (ToUnicode)
//! or code -> CID (embedded encodings) mappings, with bfchar/bfrange/cidchar/cidrange.

use std::collections::HashMap;

use crate::lexer::{Lexer, Operand, Token};

/// Ranges wider than this stay ranges instead of being expanded into the map.
const EXPAND_LIMIT: u32 = 256;
/// Bounds the memory one hostile CMap can cause (real ones stay far below).
pub(crate) const MAX_ENTRIES: usize = 1 << 17;
/// Real CMaps have a handful of codespace ranges; each is tried per glyph.
const MAX_CODESPACES: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Codespace {
    len: u8,
    lo: [u8; 4],
    hi: [u8; 4],
}

#[derive(Debug, Clone)]
struct UniRange {
    lo: u32,
    hi: u32,
    len: u8,
    /// UTF-16 units of the first code's text; later codes add to the last unit.
    base: Vec<u16>,
}

#[derive(Debug, Clone, Copy)]
struct CidRange {
    lo: u32,
    hi: u32,
    len: u8,
    cid: u32,
}

/// A parsed CMap stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct CMap {
    codespaces: Vec<Codespace>,
    uni: HashMap<(u8, u32), Box<str>>,
    uni_ranges: Vec<UniRange>,
    cids: HashMap<(u8, u32), u32>,
    cid_ranges: Vec<CidRange>,
    /// Name of a predefined CMap this one builds on (`usecmap`).
    pub use_cmap: Option<Vec<u8>>,
    pub vertical: bool,
}

fn code_of(bytes: &[u8]) -> Option<(u8, u32)> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    let mut v = 0u32;
    for &b in bytes {
        v = v << 8 | u32::from(b);
    }
    Some((bytes.len() as u8, v))
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|c| {
            if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0])
            }
        })
        .collect()
}

fn units_to_string(units: &[u16]) -> String {
    char::decode_utf16(units.iter().copied())
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

impl CMap {
    #[cfg(test)]
    pub fn parse(data: &[u8]) -> CMap {
        Self::parse_bounded(data, MAX_ENTRIES)
    }

    /// Parses keeping at most `max_entries` code mappings.
    pub fn parse_bounded(data: &[u8], max_entries: usize) -> CMap {
        let mut cmap = CMap::default();
        let mut lexer = Lexer::new(data, 4);
        let mut operands: Vec<Operand<'_>> = Vec::new();
        let mut entries = 0usize;
        while let Some(tok) = lexer.next_token() {
            match tok {
                Token::Operand(op) => {
                    if operands.len() < 3 * 10_000 {
                        operands.push(op);
                    }
                }
                Token::Operator(op) => {
                    match op {
                        b"endcodespacerange" => {
                            for pair in operands.chunks_exact(2) {
                                if let (Operand::Str(lo), Operand::Str(hi)) = (&pair[0], &pair[1])
                                    && !lo.is_empty()
                                    && lo.len() == hi.len()
                                    && lo.len() <= 4
                                {
                                    let mut cs = Codespace {
                                        len: lo.len() as u8,
                                        lo: [0; 4],
                                        hi: [0; 4],
                                    };
                                    cs.lo[..lo.len()].copy_from_slice(lo);
                                    cs.hi[..hi.len()].copy_from_slice(hi);
                                    if cmap.codespaces.len() < MAX_CODESPACES {
                                        cmap.codespaces.push(cs);
                                    }
                                }
                            }
                        }
                        b"endbfchar" => {
                            for pair in operands.chunks_exact(2) {
                                let (Operand::Str(src), dst) = (&pair[0], &pair[1]) else {
                                    continue;
                                };
                                let Some(code) = code_of(src) else { continue };
                                let text = match dst {
                                    Operand::Str(d) => units_to_string(&utf16_units(d)),
                                    Operand::Name(n) => glyph_text(n),
                                    _ => continue,
                                };
                                if entries < max_entries {
                                    cmap.uni.insert(code, text.into_boxed_str());
                                    entries += 1;
                                }
                            }
                        }
                        b"endbfrange" => {
                            for triple in operands.chunks_exact(3) {
                                let (Operand::Str(lo), Operand::Str(hi)) = (&triple[0], &triple[1])
                                else {
                                    continue;
                                };
                                let (Some((len, lo)), Some((_, hi))) = (code_of(lo), code_of(hi))
                                else {
                                    continue;
                                };
                                if hi < lo {
                                    continue;
                                }
                                match &triple[2] {
                                    Operand::Str(d) => {
                                        let base = utf16_units(d);
                                        if base.is_empty() {
                                            continue;
                                        }
                                        if hi - lo < EXPAND_LIMIT {
                                            for (i, code) in (lo..=hi).enumerate() {
                                                if entries >= max_entries {
                                                    break;
                                                }
                                                let mut units = base.clone();
                                                if let Some(last) = units.last_mut() {
                                                    *last = last.wrapping_add(i as u16);
                                                }
                                                cmap.uni.insert(
                                                    (len, code),
                                                    units_to_string(&units).into_boxed_str(),
                                                );
                                                entries += 1;
                                            }
                                        } else if cmap.uni_ranges.len() < 10_000 {
                                            cmap.uni_ranges.push(UniRange { lo, hi, len, base });
                                        }
                                    }
                                    Operand::Array(items) => {
                                        for (code, item) in (lo..=hi).zip(items) {
                                            if entries >= max_entries {
                                                break;
                                            }
                                            let text = match item {
                                                Operand::Str(d) => units_to_string(&utf16_units(d)),
                                                Operand::Name(n) => glyph_text(n),
                                                _ => continue,
                                            };
                                            cmap.uni.insert((len, code), text.into_boxed_str());
                                            entries += 1;
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                        b"endcidchar" => {
                            for pair in operands.chunks_exact(2) {
                                let (Operand::Str(src), Some(cid)) = (&pair[0], pair[1].num())
                                else {
                                    continue;
                                };
                                if let Some(code) = code_of(src)
                                    && entries < max_entries
                                {
                                    cmap.cids.insert(code, cid.max(0.0) as u32);
                                    entries += 1;
                                }
                            }
                        }
                        b"endcidrange" => {
                            for triple in operands.chunks_exact(3) {
                                let (Operand::Str(lo), Operand::Str(hi), Some(cid)) =
                                    (&triple[0], &triple[1], triple[2].num())
                                else {
                                    continue;
                                };
                                let (Some((len, lo)), Some((_, hi))) = (code_of(lo), code_of(hi))
                                else {
                                    continue;
                                };
                                if hi >= lo && cmap.cid_ranges.len() < 100_000 {
                                    cmap.cid_ranges.push(CidRange {
                                        lo,
                                        hi,
                                        len,
                                        cid: cid.max(0.0) as u32,
                                    });
                                }
                            }
                        }
                        b"usecmap" => {
                            if let Some(Operand::Name(n)) = operands.last() {
                                cmap.use_cmap = Some(n.to_vec());
                            }
                        }
                        b"def" => {
                            if let [Operand::Name(b"WMode"), Operand::Number(n)] =
                                operands.as_slice()
                            {
                                cmap.vertical = *n == 1.0;
                            }
                        }
                        _ => {}
                    }
                    operands.clear();
                }
            }
        }
        // Sorted for binary search: lookups stay cheap however many ranges a CMap has.
        cmap.uni_ranges.sort_by_key(|r| (r.len, r.lo));
        cmap.cid_ranges.sort_by_key(|r| (r.len, r.lo));
        cmap
    }

    /// How many explicit mappings were kept (the cost counted against the document).
    pub fn entry_count(&self) -> usize {
        self.uni.len() + self.cids.len()
    }

    pub fn has_codespace(&self) -> bool {
        !self.codespaces.is_empty()
    }

    pub fn has_unicode(&self) -> bool {
        !self.uni.is_empty() || !self.uni_ranges.is_empty()
    }

    /// Splits the next code off `bytes`: (code, byte length). Falls back to `default_len`
    /// when no codespace matches, as readers do for broken CMaps.
    pub fn next_code(&self, bytes: &[u8], default_len: u8) -> (u32, u8) {
        for n in 1..=4u8 {
            if bytes.len() < n as usize {
                break;
            }
            for cs in &self.codespaces {
                if cs.len == n
                    && (0..n as usize).all(|i| bytes[i] >= cs.lo[i] && bytes[i] <= cs.hi[i])
                {
                    return (code_of(&bytes[..n as usize]).map_or(0, |c| c.1), n);
                }
            }
        }
        let n = (default_len as usize).min(bytes.len()).max(1);
        (code_of(&bytes[..n]).map_or(0, |c| c.1), n as u8)
    }

    pub fn unicode(&self, code: u32, len: u8) -> Option<String> {
        if let Some(s) = self.uni.get(&(len, code)) {
            return Some(s.to_string());
        }
        if let Some(r) = find_range(&self.uni_ranges, len, code, |r| (r.len, r.lo, r.hi)) {
            let mut units = r.base.clone();
            if let Some(last) = units.last_mut() {
                *last = last.wrapping_add((code - r.lo) as u16);
            }
            return Some(units_to_string(&units));
        }
        // Some writers key 1-byte codes as 2-byte entries or the reverse.
        if len == 1 {
            if let Some(s) = self.uni.get(&(2, code)) {
                return Some(s.to_string());
            }
        } else if len == 2
            && code < 256
            && let Some(s) = self.uni.get(&(1, code))
        {
            return Some(s.to_string());
        }
        None
    }

    pub fn cid(&self, code: u32, len: u8) -> Option<u32> {
        if let Some(&c) = self.cids.get(&(len, code)) {
            return Some(c);
        }
        find_range(&self.cid_ranges, len, code, |r| (r.len, r.lo, r.hi))
            .map(|r| r.cid.wrapping_add(code - r.lo))
    }
}

/// The range (sorted by length, then start) holding `code`: the last one starting at or
/// before it, if it reaches that far.
fn find_range<T>(
    ranges: &[T],
    len: u8,
    code: u32,
    key: impl Fn(&T) -> (u8, u32, u32),
) -> Option<&T> {
    let idx = ranges.partition_point(|r| {
        let (l, lo, _) = key(r);
        (l, lo) <= (len, code)
    });
    let r = ranges.get(idx.checked_sub(1)?)?;
    let (l, lo, hi) = key(r);
    (l == len && code >= lo && code <= hi).then_some(r)
}

fn glyph_text(name: &[u8]) -> String {
    std::str::from_utf8(name)
        .ok()
        .and_then(pdfboss_encoding::glyph_to_text)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tounicode() {
        let data = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap
            1 begincodespacerange <0000> <FFFF> endcodespacerange
            2 beginbfchar <0003> <0020> <0010> <00660069> endbfchar
            2 beginbfrange <0020> <0022> <0041> <0030> <0031> [<0061> /b] endbfrange
            endcmap CMapName currentdict /CMap defineresource pop end end";
        let c = CMap::parse(data);
        assert_eq!(c.next_code(&[0, 0x21, 5], 1), (0x21, 2));
        assert_eq!(c.unicode(3, 2).as_deref(), Some(" "));
        assert_eq!(c.unicode(0x10, 2).as_deref(), Some("fi"));
        assert_eq!(c.unicode(0x22, 2).as_deref(), Some("C"));
        assert_eq!(c.unicode(0x31, 2).as_deref(), Some("b"));
        assert_eq!(c.unicode(0x99, 2), None);
    }

    #[test]
    fn many_ranges_are_found_by_binary_search() {
        let mut data =
            b"begincodespacerange <0000> <ffff> endcodespacerange begincidrange ".to_vec();
        for k in 0..500u32 {
            data.extend(
                format!("<{:04x}> <{:04x}> {} ", k * 100, k * 100 + 49, k * 1000).as_bytes(),
            );
        }
        data.extend(b"endcidrange");
        let c = CMap::parse(&data);
        assert_eq!(c.cid(0, 2), Some(0));
        assert_eq!(c.cid(49, 2), Some(49));
        assert_eq!(c.cid(50, 2), None);
        assert_eq!(c.cid(49_910, 2), Some(499_010));
        assert_eq!(c.cid(49_910, 1), None);
    }

    #[test]
    fn parses_cid_ranges_and_big_ranges() {
        let data = b"begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange
            begincidrange <8140> <817e> 633 endcidrange
            beginbfrange <0000> <ffff> <0000> endbfrange";
        let c = CMap::parse(data);
        assert_eq!(c.next_code(&[0x41, 0x81], 2), (0x41, 1));
        assert_eq!(c.next_code(&[0x81, 0x41], 2), (0x8141, 2));
        assert_eq!(c.cid(0x8141, 2), Some(634));
        assert_eq!(c.unicode(0x4e00, 2).as_deref(), Some("\u{4e00}"));
    }
}
