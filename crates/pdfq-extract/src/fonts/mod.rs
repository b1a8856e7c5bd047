//! Fonts: how a shown string splits into glyphs, what text each stands for, how wide it is.

mod cid_unicode;
mod composite;
mod simple;

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

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
///
/// Each map holds the fonts of recent pages only ([`Recent`]): a file may hold tens of
/// thousands of fonts, one per page or per field, each with its own Unicode map (a 46 MB file
/// of 56,000 such fonts needed 853 MiB when every font stayed loaded).
#[derive(Debug, Default)]
pub(crate) struct FontCache {
    by_id: Recent<ObjectId>,
    by_addr: Recent<usize>,
    by_packed: Recent<Box<[u8]>>,
}

/// Fonts each map keeps loaded before the older half is dropped: far more than pages use.
const RECENT_FONTS: usize = 256;

/// A map of at most `2 * RECENT_FONTS` fonts in two generations: when the newer is full, the
/// older is dropped and the newer takes its place; a font found in the older moves to the newer.
/// Fonts in use stay loaded; fonts of pages long past go.
#[derive(Debug, Default)]
struct Recent<K> {
    newer: HashMap<K, Rc<Font>>,
    older: HashMap<K, Rc<Font>>,
}

impl<K: std::hash::Hash + Eq> Recent<K> {
    fn get<Q>(&mut self, key: &Q) -> Option<Rc<Font>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        if let Some(font) = self.newer.get(key) {
            return Some(font.clone());
        }
        let (key, font) = self.older.remove_entry(key)?;
        self.insert(key, font.clone());
        Some(font)
    }

    fn insert(&mut self, key: K, font: Rc<Font>) {
        if self.newer.len() >= RECENT_FONTS {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(key, font);
    }
}

impl FontCache {
    pub fn get(
        &mut self,
        doc: &Document,
        packed: &PackedObjects,
        obj: &Object,
        budget: &mut Budget,
    ) -> Option<Rc<Font>> {
        match obj {
            Object::Reference(id) => {
                if let Some(f) = self.by_id.get(id) {
                    return Some(f);
                }
                let f = match doc.get_dictionary(*id) {
                    Ok(dict) => Rc::new(Font::load(doc, dict, budget)),
                    Err(_) => {
                        let key = packed.dictionary_bytes(*id)?;
                        match self.by_packed.get(key) {
                            Some(f) => f,
                            None => {
                                let dict = packed.get(*id)?;
                                let f = Rc::new(Font::load(doc, dict.as_dict().ok()?, budget));
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
                    return Some(f);
                }
                let f = Rc::new(Font::load(doc, dict, budget));
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
    streams::decode(stream_of(doc, dict, key)?, budget).ok()
}

/// As [`stream_entry`], decoding only as much as `enough` needs ([`streams::decode_prefix`]).
pub(crate) fn stream_entry_prefix(
    doc: &Document,
    dict: &Dictionary,
    key: &[u8],
    budget: &mut Budget,
    enough: streams::Enough,
) -> Option<Vec<u8>> {
    streams::decode_prefix(stream_of(doc, dict, key)?, budget, enough).ok()
}

/// The stream `dict[key]` refers to.
fn stream_of<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Stream> {
    deref(doc, dict.get(key).ok()?)?.as_stream().ok()
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
    use lopdf::dictionary;

    use super::*;
    use crate::limits::Limits;
    use crate::packed;

    #[test]
    fn fonts_of_pages_long_past_are_dropped_and_fonts_in_use_stay() {
        let mut doc = Document::with_version("1.5");
        let ids: Vec<ObjectId> = (0..3 * RECENT_FONTS)
            .map(|i| {
                doc.add_object(dictionary! {
                    "Type" => "Font", "Subtype" => "Type1",
                    "BaseFont" => Object::Name(format!("Font{i}").into_bytes()),
                })
            })
            .collect();
        let packed = PackedObjects::default();
        let mut cache = FontCache::default();
        let mut budget = Budget::new(&Limits::default());
        let mut font = |cache: &mut FontCache, id| {
            cache
                .get(&doc, &packed, &Object::Reference(id), &mut budget)
                .expect("a font")
        };
        let first = font(&mut cache, ids[0]);
        let in_use = font(&mut cache, ids[1]);
        for &id in &ids[2..] {
            font(&mut cache, id);
            // Drawn on every page: never reloaded.
            assert!(Rc::ptr_eq(&in_use, &font(&mut cache, ids[1])));
        }
        assert!(cache.by_id.newer.len() + cache.by_id.older.len() <= 2 * RECENT_FONTS);
        assert!(
            !Rc::ptr_eq(&first, &font(&mut cache, ids[0])),
            "a font unused for long is loaded again"
        );
    }

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
