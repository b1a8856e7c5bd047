//! Composite (Type 0) fonts: CMaps split strings into codes, codes map to CIDs and widths.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object};

use super::{num_array, to_unicode};
use crate::cmap::CMap;
use crate::limits::Budget;
use crate::pagetree::{deref, number};

const MAX_WIDTH_ENTRIES: usize = 1 << 18;
/// Code points read from an embedded TrueType cmap subtable (the BMP is 65,536).
const MAX_CMAP_CODEPOINTS: u32 = 1 << 17;

/// How codes are read from a string and what they mean.
#[derive(Debug)]
enum Codes {
    /// Two-byte codes that are CIDs (Identity-H/V), the usual case.
    Identity,
    /// An embedded CMap stream.
    Embedded(CMap),
    /// Predefined Uni*-UCS2/UTF16 CMaps: the code is UTF-16.
    Utf16,
    /// Predefined CMaps named after a legacy multi-byte encoding (RKSJ, EUC, GBK, B5, UHC).
    Legacy(&'static encoding_rs::Encoding),
}

#[derive(Debug)]
pub(crate) struct CompositeFont {
    codes: Codes,
    to_unicode: Option<CMap>,
    widths: HashMap<u32, f32>,
    ranges: Vec<(u32, u32, f32)>,
    default_width: f32,
    v_advance: HashMap<u32, f32>,
    default_v_advance: f32,
    pub vertical: bool,
    /// CID -> Unicode of the font's Adobe character collection.
    collection: Option<&'static [u32]>,
    /// Glyph id -> text, from an embedded TrueType font's own cmap.
    truetype: Option<HashMap<u16, char>>,
    /// CID -> glyph id of an embedded TrueType font (`None`: identity).
    cid_to_gid: Option<Vec<u16>>,
}

impl CompositeFont {
    pub fn load(doc: &Document, dict: &Dictionary, budget: &mut Budget) -> CompositeFont {
        let mut vertical = false;
        let codes = match dict.get(b"Encoding").ok().and_then(|o| deref(doc, o)) {
            Some(Object::Name(name)) => {
                vertical = name.ends_with(b"-V");
                predefined(name)
            }
            Some(Object::Stream(s)) => {
                let cmap = crate::streams::decode(s, budget)
                    .map(|d| budget.parse_cmap(&d))
                    .unwrap_or_default();
                let use_name = cmap.use_cmap.clone();
                vertical = cmap.vertical || use_name.as_deref().is_some_and(|n| n.ends_with(b"-V"));
                if cmap.has_codespace() {
                    Codes::Embedded(cmap)
                } else {
                    use_name.as_deref().map_or(Codes::Identity, predefined)
                }
            }
            _ => Codes::Identity,
        };
        let to_unicode = to_unicode(doc, dict, budget);
        let descendant = dict
            .get(b"DescendantFonts")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
            .and_then(|a| a.first())
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok());
        let mut font = CompositeFont {
            codes,
            to_unicode,
            widths: HashMap::new(),
            ranges: Vec::new(),
            default_width: 1.0,
            v_advance: HashMap::new(),
            default_v_advance: -1.0,
            vertical,
            collection: None,
            truetype: None,
            cid_to_gid: None,
        };
        if let Some(d) = descendant {
            font.default_width = d
                .get(b"DW")
                .ok()
                .and_then(|o| deref(doc, o))
                .and_then(number)
                .map_or(1.0, |w| w * 0.001);
            font.read_widths(doc, d);
            let dw2 = num_array(doc, d.get(b"DW2").ok());
            if dw2.len() == 2 {
                font.default_v_advance = dw2[1] * 0.001;
            }
            font.read_vertical(doc, d);
            if font.to_unicode.is_none()
                && matches!(font.codes, Codes::Identity | Codes::Embedded(_))
            {
                font.unicode_fallbacks(doc, d, budget);
            }
        }
        font
    }

    /// Without a ToUnicode map, text comes from the character collection's table, or from
    /// the embedded TrueType program's cmap read backwards.
    fn unicode_fallbacks(&mut self, doc: &Document, d: &Dictionary, budget: &mut Budget) {
        let info = super::dict_entry(doc, d, b"CIDSystemInfo");
        let string = |k: &[u8]| {
            info.and_then(|i| i.get(k).ok())
                .and_then(|o| deref(doc, o))
                .and_then(|o| o.as_str().ok())
        };
        if let (Some(reg), Some(ord)) = (string(b"Registry"), string(b"Ordering"))
            && let Some(name) = super::cid_unicode::collection(reg, ord)
        {
            self.collection = super::cid_unicode::table(name);
            if self.collection.is_some() {
                return;
            }
        }
        let Some(desc) = super::dict_entry(doc, d, b"FontDescriptor") else {
            return;
        };
        let Some(program) = super::stream_entry(doc, desc, b"FontFile2", budget) else {
            return;
        };
        let Ok(face) = ttf_parser::Face::parse(&program, 0) else {
            return;
        };
        let mut reverse = HashMap::new();
        if let Some(cmap) = face.tables().cmap {
            for sub in cmap.subtables {
                if !sub.is_unicode() {
                    continue;
                }
                // A hostile subtable can claim the whole code space: look at a bounded part.
                let mut seen = 0u32;
                sub.codepoints(|cp| {
                    seen += 1;
                    if seen > MAX_CMAP_CODEPOINTS {
                        return;
                    }
                    if let (Some(g), Some(c)) = (sub.glyph_index(cp), char::from_u32(cp)) {
                        reverse.entry(g.0).or_insert(c);
                    }
                });
            }
        }
        if reverse.is_empty() {
            return;
        }
        self.truetype = Some(reverse);
        if let Some(Object::Stream(s)) = d.get(b"CIDToGIDMap").ok().and_then(|o| deref(doc, o))
            && let Ok(data) = crate::streams::decode(s, budget)
        {
            self.cid_to_gid = Some(
                data.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            );
        }
    }

    fn fallback_text(&self, cid: u32) -> Option<char> {
        if let Some(table) = self.collection {
            return table
                .get(cid as usize)
                .and_then(|&u| char::from_u32(u))
                .filter(|&c| c != '\0');
        }
        let reverse = self.truetype.as_ref()?;
        let gid = match &self.cid_to_gid {
            Some(map) => *map.get(cid as usize)?,
            None => u16::try_from(cid).ok()?,
        };
        reverse.get(&gid).copied()
    }

    fn read_widths(&mut self, doc: &Document, d: &Dictionary) {
        let Some(w) = d
            .get(b"W")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
        else {
            return;
        };
        let mut i = 0;
        let num = |o: &Object| deref(doc, o).and_then(number);
        while i < w.len() && self.widths.len() < MAX_WIDTH_ENTRIES {
            let Some(first) = num(&w[i]) else { break };
            let first = first.max(0.0) as u32;
            match w.get(i + 1).and_then(|o| deref(doc, o)) {
                Some(Object::Array(list)) => {
                    for (k, o) in list.iter().enumerate() {
                        if let Some(v) = num(o) {
                            self.widths
                                .insert(first.saturating_add(k as u32), v * 0.001);
                        }
                    }
                    i += 2;
                }
                Some(o) => {
                    let (Some(last), Some(v)) = (number(o), w.get(i + 2).and_then(num)) else {
                        break;
                    };
                    self.ranges.push((first, last.max(0.0) as u32, v * 0.001));
                    i += 3;
                }
                None => break,
            }
        }
        // Sorted for binary search in `width`.
        self.ranges.sort_by_key(|r| r.0);
    }

    fn read_vertical(&mut self, doc: &Document, d: &Dictionary) {
        let Some(w) = d
            .get(b"W2")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
        else {
            return;
        };
        let num = |o: &Object| deref(doc, o).and_then(number);
        let mut i = 0;
        while i < w.len() && self.v_advance.len() < MAX_WIDTH_ENTRIES {
            let Some(first) = num(&w[i]) else { break };
            let first = first.max(0.0) as u32;
            match w.get(i + 1).and_then(|o| deref(doc, o)) {
                Some(Object::Array(list)) => {
                    for (k, triple) in list.chunks(3).enumerate() {
                        if let Some(v) = triple.first().and_then(num) {
                            self.v_advance
                                .insert(first.saturating_add(k as u32), v * 0.001);
                        }
                    }
                    i += 2;
                }
                Some(o) => {
                    let (Some(last), Some(v)) = (number(o), w.get(i + 2).and_then(num)) else {
                        break;
                    };
                    let last = (last.max(0.0) as u32).min(first.saturating_add(65_535));
                    for cid in first..=last {
                        self.v_advance.insert(cid, v * 0.001);
                    }
                    i += 5;
                }
                None => break,
            }
        }
    }

    fn width(&self, cid: u32) -> f32 {
        if self.vertical {
            return self
                .v_advance
                .get(&cid)
                .copied()
                .unwrap_or(self.default_v_advance);
        }
        if let Some(&w) = self.widths.get(&cid) {
            return w;
        }
        let idx = self.ranges.partition_point(|r| r.0 <= cid);
        match idx.checked_sub(1).and_then(|k| self.ranges.get(k)) {
            Some(r) if cid <= r.1 => r.2,
            _ => self.default_width,
        }
    }

    /// Reads one glyph off `bytes`: appends its text to `out`, returns (byte length, advance).
    pub fn next_glyph(&self, bytes: &[u8], out: &mut String) -> (u8, f32) {
        let (code, len, cid) = match &self.codes {
            Codes::Identity | Codes::Utf16 => {
                let n = bytes.len().min(2);
                let code = bytes[..n].iter().fold(0u32, |a, &b| a << 8 | u32::from(b));
                (code, n as u8, Some(code))
            }
            Codes::Embedded(cmap) => {
                let (code, len) = cmap.next_code(bytes, 2);
                (code, len, Some(cmap.cid(code, len).unwrap_or(code)))
            }
            Codes::Legacy(enc) => {
                let len = legacy_len(enc, bytes);
                let code = bytes[..len]
                    .iter()
                    .fold(0u32, |a, &b| a << 8 | u32::from(b));
                (code, len as u8, None)
            }
        };
        let mapped = self.to_unicode.as_ref().and_then(|c| c.unicode(code, len));
        match mapped {
            Some(t) => out.push_str(&t),
            None => match &self.codes {
                Codes::Utf16 => {
                    out.extend(char::decode_utf16([code as u16]).map(|r| r.unwrap_or('\u{FFFD}')));
                }
                Codes::Legacy(enc) => {
                    let (t, _) = enc.decode_without_bom_handling(&bytes[..len as usize]);
                    out.push_str(&t);
                }
                _ => {
                    if let Some(c) = cid.and_then(|cid| self.fallback_text(cid)) {
                        out.push(c);
                    }
                }
            },
        }
        let advance = match cid {
            Some(cid) => self.width(cid),
            None if self.vertical => self.default_v_advance,
            None => {
                if len == 1 {
                    0.5
                } else {
                    1.0
                }
            }
        };
        (len.max(1), advance)
    }
}

fn predefined(name: &[u8]) -> Codes {
    let n = String::from_utf8_lossy(name);
    if n.starts_with("Identity") {
        return Codes::Identity;
    }
    if n.starts_with("Uni") && (n.contains("UCS2") || n.contains("UTF16")) {
        return Codes::Utf16;
    }
    if n.starts_with("Uni") && n.contains("UTF8") {
        return Codes::Legacy(encoding_rs::UTF_8);
    }
    let enc = if n.contains("RKSJ") {
        encoding_rs::SHIFT_JIS
    } else if n.contains("GBK2K") {
        encoding_rs::GB18030
    } else if n.starts_with("GB") {
        encoding_rs::GBK
    } else if n.starts_with("KSC") || n.starts_with("KSCms") {
        encoding_rs::EUC_KR
    } else if n.contains("B5") || n.starts_with("CNS") {
        encoding_rs::BIG5
    } else if n.starts_with("EUC") || n.starts_with("Ext-EUC") {
        encoding_rs::EUC_JP
    } else {
        return Codes::Identity;
    };
    Codes::Legacy(enc)
}

/// Byte length of the next character in a legacy multi-byte encoding.
fn legacy_len(enc: &'static encoding_rs::Encoding, bytes: &[u8]) -> usize {
    let b = bytes[0];
    let n = if enc == encoding_rs::SHIFT_JIS {
        if (0x81..=0x9f).contains(&b) || (0xe0..=0xfc).contains(&b) {
            2
        } else {
            1
        }
    } else if enc == encoding_rs::EUC_JP {
        match b {
            0x8f => 3,
            0x80..=0xff => 2,
            _ => 1,
        }
    } else if enc == encoding_rs::UTF_8 {
        match b {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        }
    } else if enc == encoding_rs::GB18030 {
        match (b, bytes.get(1)) {
            (0x81..=0xfe, Some(0x30..=0x39)) => 4,
            (0x81..=0xfe, _) => 2,
            _ => 1,
        }
    } else if b >= 0x81 {
        2
    } else {
        1
    };
    n.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_cmaps_decode_through_encoding_rs() {
        let Codes::Legacy(enc) = predefined(b"90ms-RKSJ-H") else {
            panic!("not legacy")
        };
        assert_eq!(legacy_len(enc, &[0x82, 0xa0, 0x41]), 2);
        assert_eq!(legacy_len(enc, &[0x41, 0x82]), 1);
        assert!(matches!(predefined(b"UniJIS-UCS2-H"), Codes::Utf16));
        assert!(matches!(predefined(b"Identity-V"), Codes::Identity));
    }
}
