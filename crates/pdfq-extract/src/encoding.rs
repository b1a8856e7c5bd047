//! Base encodings of simple fonts, as glyph names (the Adobe Glyph List turns them into text).

use pdfboss_encoding as enc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BaseEncoding {
    Standard,
    WinAnsi,
    MacRoman,
    /// PDFDocEncoding is meant for text strings, but some writers name it on fonts.
    PdfDoc,
    Symbol,
    ZapfDingbats,
}

impl BaseEncoding {
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"StandardEncoding" => BaseEncoding::Standard,
            b"WinAnsiEncoding" => BaseEncoding::WinAnsi,
            b"MacRomanEncoding" | b"MacExpertEncoding" => BaseEncoding::MacRoman,
            b"PDFDocEncoding" => BaseEncoding::PdfDoc,
            _ => return None,
        })
    }

    /// The glyph name this encoding gives `code`.
    pub fn glyph_name(self, code: u8) -> Option<&'static str> {
        match self {
            BaseEncoding::Standard => enc::standard_encoding_name(code),
            BaseEncoding::WinAnsi => enc::win_ansi_glyph_name(code),
            BaseEncoding::MacRoman => enc::mac_roman_glyph_name(code),
            BaseEncoding::PdfDoc => pdfdoc_glyph_name(code),
            BaseEncoding::Symbol => enc::symbol_glyph_name(code),
            BaseEncoding::ZapfDingbats => enc::zapf_dingbats_glyph_name(code),
        }
    }

    /// The text for `code` when there is no glyph name to go through.
    pub fn text(self, code: u8) -> Option<char> {
        match self {
            BaseEncoding::Standard => enc::standard(code),
            BaseEncoding::WinAnsi => enc::win_ansi(code),
            BaseEncoding::MacRoman => enc::mac_roman(code),
            BaseEncoding::PdfDoc => pdfdoc(code),
            BaseEncoding::Symbol => enc::symbol(code),
            BaseEncoding::ZapfDingbats => enc::zapf_dingbats(code),
        }
    }
}

/// PDFDocEncoding agrees with WinAnsi's names on printable ASCII and Latin-1; its own
/// 0x18..0x1F and 0x80..0x9F rows are mapped through `pdfdoc`.
fn pdfdoc_glyph_name(code: u8) -> Option<&'static str> {
    match code {
        0x20..=0x7E | 0xA1..=0xFF => enc::win_ansi_glyph_name(code),
        _ => None,
    }
}

/// PDFDocEncoding's rows that differ from Latin-1 (PDF 32000-1, annex D.2).
fn pdfdoc(code: u8) -> Option<char> {
    const HIGH: [char; 32] = [
        '\u{2022}', '\u{2020}', '\u{2021}', '\u{2026}', '\u{2014}', '\u{2013}', '\u{0192}',
        '\u{2044}', '\u{2039}', '\u{203A}', '\u{2212}', '\u{2030}', '\u{201E}', '\u{201C}',
        '\u{201D}', '\u{2018}', '\u{2019}', '\u{201A}', '\u{2122}', '\u{FB01}', '\u{FB02}',
        '\u{0141}', '\u{0152}', '\u{0160}', '\u{0178}', '\u{017D}', '\u{0131}', '\u{0142}',
        '\u{0153}', '\u{0161}', '\u{017E}', '\u{FFFD}',
    ];
    const LOW: [char; 8] = [
        '\u{02D8}', '\u{02C7}', '\u{02C6}', '\u{02D9}', '\u{02DD}', '\u{02DB}', '\u{02DA}',
        '\u{02DC}',
    ];
    match code {
        0x18..=0x1F => Some(LOW[usize::from(code - 0x18)]),
        0x20..=0x7E => Some(char::from(code)),
        0x80..=0x9F => Some(HIGH[usize::from(code - 0x80)]),
        0xA0 => Some('\u{20AC}'),
        0xA1..=0xFF => Some(char::from(code)),
        _ => None,
    }
}

/// Text for a glyph name: the Adobe Glyph List (ligatures such as f_i and uniXXXX forms
/// included), then the numeric names some writers use (`g65`, `cid65`, `a65`).
pub(crate) fn glyph_name_text(name: &str) -> Option<String> {
    if let Some(t) = enc::glyph_to_text(name) {
        return Some(t);
    }
    numeric_name(name).map(String::from)
}

/// Names like `a65`, `g41`, `cid65`, `C65`, `65` that some writers (notably of Type 3 fonts)
/// use: the number is the character code, decimal, or hexadecimal after a lone `g`/`G`.
fn numeric_name(name: &str) -> Option<char> {
    let digits_at = name.find(|c: char| c.is_ascii_digit())?;
    let (prefix, digits) = name.split_at(digits_at);
    if prefix.len() > 3 || !prefix.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let code = if matches!(prefix, "g" | "G") && digits.len() == 2 {
        u32::from_str_radix(digits, 16).ok()?
    } else if (2..=3).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    (32..=255)
        .contains(&code)
        .then(|| char::from_u32(code))
        .flatten()
        .filter(|c| !c.is_control())
}
