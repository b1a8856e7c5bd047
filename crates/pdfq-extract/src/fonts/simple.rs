//! Simple (single-byte) fonts: Type 1, TrueType, Type 3.

use lopdf::{Dictionary, Document, Object};

use super::{dict_entry, num_array, stream_entry, stream_entry_prefix, to_unicode};
use crate::encoding::{BaseEncoding, glyph_name_text};
use crate::limits::Budget;
use crate::pagetree::{deref, number};

/// Width used when a font states none and is not one of the standard 14.
const FALLBACK_WIDTH: f32 = 0.5;

#[derive(Debug)]
pub(crate) struct SimpleFont {
    text: Vec<Box<str>>,
    /// Advance per code, in text space per unit font size.
    widths: Vec<f32>,
    pub em: f32,
}

impl SimpleFont {
    pub fn text(&self, code: u8) -> &str {
        &self.text[usize::from(code)]
    }

    pub fn width(&self, code: u8) -> f32 {
        self.widths[usize::from(code)]
    }

    pub fn load(doc: &Document, dict: &Dictionary, budget: &mut Budget) -> SimpleFont {
        let subtype = dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let type3 = subtype == b"Type3";
        let base_font = dict
            .get(b"BaseFont")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_name().ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let bare_name = base_font
            .split_once('+')
            .map_or(base_font.as_str(), |(_, n)| n);
        let descriptor = dict_entry(doc, dict, b"FontDescriptor");
        let flags = descriptor
            .and_then(|d| d.get(b"Flags").ok())
            .and_then(number)
            .unwrap_or(0.0) as u32;
        let symbolic = flags & 4 != 0 && flags & 32 == 0;

        // 1. Glyph names per code: the base encoding, then /Differences.
        let mut names: Vec<Option<String>> = vec![None; 256];
        let enc_obj = dict.get(b"Encoding").ok().and_then(|o| deref(doc, o));
        let mut base = None;
        let mut differences: Option<&Vec<Object>> = None;
        match enc_obj {
            Some(Object::Name(n)) => base = BaseEncoding::from_name(n),
            Some(Object::Dictionary(d)) => {
                base = d
                    .get(b"BaseEncoding")
                    .and_then(Object::as_name)
                    .ok()
                    .and_then(BaseEncoding::from_name);
                differences = d
                    .get(b"Differences")
                    .ok()
                    .and_then(|o| deref(doc, o))
                    .and_then(|o| o.as_array().ok());
            }
            _ => {}
        }
        let lower = bare_name.to_ascii_lowercase();
        let builtin = if base.is_none() && !type3 {
            if lower.starts_with("symbol") {
                base = Some(BaseEncoding::Symbol);
                None
            } else if lower.starts_with("zapfdingbats") || lower.starts_with("dingbats") {
                base = Some(BaseEncoding::ZapfDingbats);
                None
            } else {
                descriptor.and_then(|d| builtin_encoding(doc, d, budget))
            }
        } else {
            None
        };
        let default_base = if subtype == b"TrueType" {
            BaseEncoding::WinAnsi
        } else {
            BaseEncoding::Standard
        };
        let base_or_default = base.unwrap_or(default_base);
        for (code, slot) in names.iter_mut().enumerate() {
            *slot = match &builtin {
                Some(table) => table[code].clone(),
                None => base_or_default.glyph_name(code as u8).map(str::to_string),
            };
        }
        let mut from_differences = [false; 256];
        if let Some(diffs) = differences {
            let mut code: i64 = 0;
            for item in diffs {
                match deref(doc, item) {
                    Some(Object::Integer(i)) => code = *i,
                    Some(Object::Name(n)) => {
                        if (0..256).contains(&code) {
                            names[code as usize] = Some(String::from_utf8_lossy(n).into_owned());
                            from_differences[code as usize] = true;
                        }
                        code += 1;
                    }
                    _ => {}
                }
            }
        }

        // 2. Text per code: ToUnicode first, then glyph names, then the encoding itself.
        let tounicode = to_unicode(doc, dict, budget);
        let mut text: Vec<Box<str>> = Vec::with_capacity(256);
        for code in 0..256usize {
            let mapped = tounicode
                .as_ref()
                .and_then(|c| c.unicode(code as u32, 1))
                .filter(|s| !is_junk(s));
            // Symbol and ZapfDingbats name their glyphs a1, a2...: the table is read directly.
            let symbol_table = matches!(
                base,
                Some(BaseEncoding::Symbol | BaseEncoding::ZapfDingbats)
            ) && builtin.is_none()
                && !from_differences[code];
            let t = mapped
                .or_else(|| {
                    if symbol_table {
                        base_or_default.text(code as u8).map(String::from)
                    } else {
                        None
                    }
                })
                .or_else(|| names[code].as_deref().and_then(glyph_name_text))
                .or_else(|| {
                    if from_differences[code] {
                        None
                    } else if builtin.is_none() && (base.is_some() || !symbolic) {
                        base_or_default.text(code as u8).map(String::from)
                    } else if symbolic && (0x20..0x7f).contains(&code) && builtin.is_none() {
                        // A symbolic TrueType font addressed by its own codes: ASCII is the
                        // best guess, as other readers make.
                        Some(char::from(code as u8).to_string())
                    } else {
                        None
                    }
                })
                .unwrap_or_default();
            text.push(t.into_boxed_str());
        }
        // Names the glyph list cannot read (`g18`, subset-specific names): the embedded
        // program's own encoding may still name the glyph at that code.
        let unreadable = (0..256).any(|c| text[c].is_empty() && from_differences[c]);
        if unreadable && !type3 {
            let table = match builtin {
                Some(t) => Some(t),
                None => descriptor.and_then(|d| builtin_encoding(doc, d, budget)),
            };
            if let Some(table) = table {
                for code in 0..256usize {
                    if text[code].is_empty()
                        && let Some(t) = table[code].as_deref().and_then(glyph_name_text)
                    {
                        text[code] = t.into_boxed_str();
                    }
                }
            }
        }

        // 3. Widths.
        let font_matrix = num_array(doc, dict.get(b"FontMatrix").ok());
        let scale = if type3 && font_matrix.len() == 6 && font_matrix[0].abs() > 1e-9 {
            font_matrix[0].abs()
        } else {
            0.001
        };
        let widths_arr = num_array(doc, dict.get(b"Widths").ok());
        let first = dict
            .get(b"FirstChar")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(number)
            .unwrap_or(0.0) as i64;
        let missing = descriptor
            .and_then(|d| d.get(b"MissingWidth").ok())
            .and_then(number)
            .unwrap_or(0.0);
        let std14 = pdfboss_encoding::is_standard_14(&base_font);
        let mut widths = vec![0.0f32; 256];
        for (code, w) in widths.iter_mut().enumerate() {
            let idx = code as i64 - first;
            let stated = if idx >= 0 {
                widths_arr.get(idx as usize).copied()
            } else {
                None
            };
            *w = match stated {
                Some(v) if v.is_finite() => v * scale,
                _ if std14 || widths_arr.is_empty() => names[code]
                    .as_deref()
                    .and_then(|n| pdfboss_encoding::standard_14_width(&base_font, n))
                    .map(|v| v * 0.001)
                    .unwrap_or(if missing > 0.0 {
                        missing * scale
                    } else {
                        FALLBACK_WIDTH
                    }),
                _ => missing * scale,
            };
        }
        let em = if type3 && font_matrix.len() == 6 {
            let bbox = num_array(doc, dict.get(b"FontBBox").ok());
            let h = if bbox.len() == 4 {
                (bbox[3] - bbox[1]).abs()
            } else {
                0.0
            };
            let em = if h > 0.0 {
                h * font_matrix[3].abs()
            } else {
                1.0
            };
            if em.is_finite() {
                em.clamp(0.05, 20.0)
            } else {
                1.0
            }
        } else {
            1.0
        };
        SimpleFont { text, widths, em }
    }
}

/// The encoding built into an embedded Type 1 or CFF program: code -> glyph name.
fn builtin_encoding(
    doc: &Document,
    descriptor: &Dictionary,
    budget: &mut Budget,
) -> Option<Box<[Option<String>; 256]>> {
    if let Some(program) =
        stream_entry_prefix(doc, descriptor, b"FontFile", budget, &holds_clear_text)
    {
        return pdfboss_encoding::type1_builtin_encoding(&program);
    }
    let program = stream_entry(doc, descriptor, b"FontFile3", budget)?;
    let cff = ttf_parser::cff::Table::parse(&program)?;
    let mut table: Box<[Option<String>; 256]> = Box::new(std::array::from_fn(|_| None));
    for (code, slot) in table.iter_mut().enumerate() {
        *slot = cff
            .glyph_index(code as u8)
            .filter(|g| g.0 != 0)
            .and_then(|g| cff.glyph_name(g))
            .map(str::to_string);
    }
    Some(table)
}

/// Whether `program`, the head of a Type 1 font program of which the bytes from `from` are
/// new, holds the program's whole clear text, where its encoding is: as
/// `type1_builtin_encoding` reads it, the first segment of a PFB wrapper, or everything before
/// the first `eexec`.
fn holds_clear_text(program: &[u8], from: usize) -> bool {
    if program.first() == Some(&0x80) {
        return program.get(2..6).is_some_and(|n| {
            let len = u32::from_le_bytes([n[0], n[1], n[2], n[3]]);
            usize::try_from(len).is_ok_and(|len| program.len() - 6 >= len)
        });
    }
    const EEXEC: &[u8] = b"eexec";
    program[from.saturating_sub(EEXEC.len() - 1)..]
        .windows(EEXEC.len())
        .any(|w| w == EEXEC)
}

/// A ToUnicode entry that maps to nothing useful (NUL, controls) is ignored in favour of names.
fn is_junk(s: &str) -> bool {
    s.is_empty() || s.chars().all(|c| c.is_control() && c != '\t')
}
