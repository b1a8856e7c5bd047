//! Fonts: how a shown string splits into glyphs, what text each stands for, how wide it is.

mod cid_unicode;
mod composite;
mod simple;

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::cmap::CMap;
use crate::limits::Budget;
use crate::packed::PackedObjects;
use crate::pagetree::{deref, number};
use crate::streams;

pub(crate) use composite::CompositeFont;
pub(crate) use simple::SimpleFont;

/// One decoded glyph.
#[derive(Debug)]
pub(crate) struct Glyph<'a> {
    pub text: &'a str,
    /// Advance in text space per unit of font size (horizontal: x, vertical: y, negative down).
    pub advance: f32,
    /// A single-byte code 32, which word spacing (Tw) applies to.
    pub word_space: bool,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Simple(Box<SimpleFont>),
    Composite(Box<CompositeFont>),
}

#[derive(Debug)]
pub(crate) struct Font {
    pub kind: Kind,
    pub vertical: bool,
    /// Height of the em in text space per unit of font size (1 except for odd Type 3 fonts).
    pub em: f32,
}

impl Font {
    pub fn load(doc: &Document, dict: &Dictionary, budget: &mut Budget) -> Font {
        let subtype = dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        if subtype == b"Type0" {
            let c = CompositeFont::load(doc, dict, budget);
            let vertical = c.vertical;
            return Font {
                kind: Kind::Composite(Box::new(c)),
                vertical,
                em: 1.0,
            };
        }
        let s = SimpleFont::load(doc, dict, budget);
        let em = s.em;
        Font {
            kind: Kind::Simple(Box::new(s)),
            vertical: false,
            em,
        }
    }

    /// Calls `f` for every glyph of `bytes`.
    pub fn decode(&self, bytes: &[u8], scratch: &mut String, mut f: impl FnMut(Glyph<'_>)) {
        match &self.kind {
            Kind::Simple(s) => {
                for &b in bytes {
                    f(Glyph {
                        text: s.text(b),
                        advance: s.width(b),
                        word_space: b == b' ',
                    });
                }
            }
            Kind::Composite(c) => {
                let mut rest = bytes;
                while !rest.is_empty() {
                    scratch.clear();
                    let (len, advance) = c.next_glyph(rest, scratch);
                    let word_space = len == 1 && rest[0] == b' ';
                    rest = &rest[(len as usize).min(rest.len())..];
                    f(Glyph {
                        text: scratch,
                        advance,
                        word_space,
                    });
                }
            }
        }
    }
}

/// Fonts loaded once per document, keyed by object id (or address, for inline dictionaries).
/// Fonts kept packed are also keyed by their packed dictionary: a form may give each field a
/// font object of its own, all alike, and a font loaded takes a few KiB.
#[derive(Debug, Default)]
pub(crate) struct FontCache {
    by_id: HashMap<ObjectId, std::rc::Rc<Font>>,
    by_addr: HashMap<usize, std::rc::Rc<Font>>,
    by_packed: HashMap<Box<[u8]>, std::rc::Rc<Font>>,
}

impl FontCache {
    pub fn get(
        &mut self,
        doc: &Document,
        packed: &PackedObjects,
        obj: &Object,
        budget: &mut Budget,
    ) -> Option<std::rc::Rc<Font>> {
        match obj {
            Object::Reference(id) => {
                if let Some(f) = self.by_id.get(id) {
                    return Some(f.clone());
                }
                let f = match doc.get_dictionary(*id) {
                    Ok(dict) => std::rc::Rc::new(Font::load(doc, dict, budget)),
                    Err(_) => {
                        let key = packed.dictionary_bytes(*id)?;
                        match self.by_packed.get(key) {
                            Some(f) => f.clone(),
                            None => {
                                let dict = packed.get(*id)?;
                                let f =
                                    std::rc::Rc::new(Font::load(doc, dict.as_dict().ok()?, budget));
                                self.by_packed.insert(key.into(), f.clone());
                                f
                            }
                        }
                    }
                };
                self.by_id.insert(*id, f.clone());
                Some(f)
            }
            Object::Dictionary(dict) => {
                let key = std::ptr::from_ref(dict) as usize;
                if let Some(f) = self.by_addr.get(&key) {
                    return Some(f.clone());
                }
                let f = std::rc::Rc::new(Font::load(doc, dict, budget));
                self.by_addr.insert(key, f.clone());
                Some(f)
            }
            _ => None,
        }
    }
}

/// Decodes a stream-valued entry (ToUnicode, an embedded CMap, a font program).
pub(crate) fn stream_entry(
    doc: &Document,
    dict: &Dictionary,
    key: &[u8],
    budget: &mut Budget,
) -> Option<Vec<u8>> {
    let s = deref(doc, dict.get(key).ok()?)?.as_stream().ok()?;
    streams::decode(s, budget).ok()
}

pub(crate) fn to_unicode(doc: &Document, dict: &Dictionary, budget: &mut Budget) -> Option<CMap> {
    let data = stream_entry(doc, dict, b"ToUnicode", budget)?;
    let cmap = budget.parse_cmap(&data);
    cmap.has_unicode().then_some(cmap)
}

pub(crate) fn num_array(doc: &Document, obj: Option<&Object>) -> Vec<f32> {
    obj.and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .map(|a| {
            a.iter()
                .map(|o| deref(doc, o).and_then(number).unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn dict_entry<'a>(
    doc: &'a Document,
    dict: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Dictionary> {
    match deref(doc, dict.get(key).ok()?)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use lopdf::dictionary;

    use super::*;
    use crate::limits::Limits;
    use crate::packed;

    #[test]
    fn alike_fonts_kept_packed_are_loaded_once() {
        let helvetica =
            || dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" };
        let courier =
            dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier" };
        packed::start_packing();
        for (id, font) in [
            ((5, 0), helvetica()),
            ((6, 0), helvetica()),
            ((7, 0), courier),
        ] {
            assert!(packed::pack_object(id, &mut Object::Dictionary(font)));
        }
        let packed = packed::finish_packing();
        let doc = Document::with_version("1.5");
        let mut cache = FontCache::default();
        let mut budget = Budget::new(&Limits::default());
        let mut font = |id| {
            cache
                .get(&doc, &packed, &Object::Reference(id), &mut budget)
                .expect("a font")
        };
        let (first, second, other) = (font((5, 0)), font((6, 0)), font((7, 0)));
        assert!(Rc::ptr_eq(&first, &second), "one font for two alike");
        assert!(!Rc::ptr_eq(&first, &other));
    }
}
