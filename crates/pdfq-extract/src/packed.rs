//! Objects the loader keeps packed into bytes until a page draws them.
//!
//! lopdf holds each object as a tree of 120-byte objects and 152-byte dictionary entries, each
//! key and name its own allocation. A filled form holds a widget, an appearance stream and
//! often a font dictionary per field: as lopdf objects a ReportLab form of 4,000 fields took
//! about 9 KiB per field, so one of 56,000 fields (49 MB) needed more than a GiB. Packed, an
//! object costs about its size in the file, and each page unpacks only the few it draws.
//!
//! Which objects are packed is the loader's choice ([`crate::slim`]); every reader of such an
//! object goes through [`PackedObjects`] when the document does not hold it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

/// Objects kept packed, by id.
#[derive(Debug, Default)]
pub(crate) struct PackedObjects {
    objects: HashMap<ObjectId, Packed>,
}

#[derive(Debug)]
enum Packed {
    Dictionary(Box<[u8]>),
    /// A stream's dictionary packed, its data (still encoded) as read.
    Stream {
        dict: Box<[u8]>,
        content: Vec<u8>,
    },
}

impl PackedObjects {
    /// Object `id`: the document's, or one kept packed, unpacked for this use (a stream without
    /// its data unless `data`).
    pub(crate) fn lookup<'d>(
        &self,
        doc: &'d Document,
        id: ObjectId,
        data: bool,
    ) -> Option<Cow<'d, Object>> {
        match doc.get_object(id) {
            Ok(object) => Some(Cow::Borrowed(object)),
            Err(_) => self.get_with(id, data).map(Cow::Owned),
        }
    }

    /// The object `id`, unpacked (a copy: the packed form stays).
    pub(crate) fn get(&self, id: ObjectId) -> Option<Object> {
        self.get_with(id, true)
    }

    /// The object `id`, unpacked; a stream without its data unless `data`, for a reader that
    /// has it decoded already.
    pub(crate) fn get_with(&self, id: ObjectId, data: bool) -> Option<Object> {
        match self.objects.get(&id)? {
            Packed::Dictionary(bytes) => unpack(bytes).map(Object::Dictionary),
            Packed::Stream { dict, content } => unpack(dict).map(|dict| {
                Object::Stream(Stream {
                    dict,
                    content: if data { content.clone() } else { Vec::new() },
                    allows_compression: true,
                    start_position: None,
                })
            }),
        }
    }

    /// The packed bytes of dictionary `id`: two equal ones are the same dictionary, references
    /// included.
    pub(crate) fn dictionary_bytes(&self, id: ObjectId) -> Option<&[u8]> {
        match self.objects.get(&id)? {
            Packed::Dictionary(bytes) => Some(bytes),
            Packed::Stream { .. } => None,
        }
    }

    fn insert(&mut self, id: ObjectId, object: &mut Object) {
        let packed = match object {
            Object::Dictionary(dict) => Packed::Dictionary(pack(dict)),
            Object::Stream(stream) => Packed::Stream {
                dict: pack(&stream.dict),
                content: std::mem::take(&mut stream.content),
            },
            _ => return,
        };
        self.objects.insert(id, packed);
    }
}

thread_local! {
    /// What the load running on this thread has packed: lopdf's filter is a plain function.
    static PACKING: RefCell<Option<PackedObjects>> = const { RefCell::new(None) };
}

/// Starts packing on this thread (the one that parses).
pub(crate) fn start_packing() {
    PACKING.with(|p| *p.borrow_mut() = Some(PackedObjects::default()));
}

/// Ends packing on this thread: what was packed.
pub(crate) fn finish_packing() -> PackedObjects {
    PACKING.with(|p| p.borrow_mut().take()).unwrap_or_default()
}

/// Packs dictionary or stream `object` (taking a stream's data) when a load is packing on
/// this thread; false, leaving it whole, when none is.
pub(crate) fn pack_object(id: ObjectId, object: &mut Object) -> bool {
    PACKING.with(|p| match p.borrow_mut().as_mut() {
        Some(packed) => {
            packed.insert(id, object);
            true
        }
        None => false,
    })
}

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INTEGER: u8 = 3;
const REAL: u8 = 4;
const NAME: u8 = 5;
const LITERAL: u8 = 6;
const HEXADECIMAL: u8 = 7;
const ARRAY: u8 = 8;
const DICTIONARY: u8 = 9;
const REFERENCE: u8 = 10;

fn pack(dict: &Dictionary) -> Box<[u8]> {
    let mut out = Vec::with_capacity(64);
    put_dictionary(dict, &mut out);
    out.into_boxed_slice()
}

fn unpack(mut bytes: &[u8]) -> Option<Dictionary> {
    match take_object(&mut bytes)? {
        Object::Dictionary(dict) => Some(dict),
        _ => None,
    }
}

fn put_len(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_len(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn put_dictionary(dict: &Dictionary, out: &mut Vec<u8>) {
    out.push(DICTIONARY);
    put_len(dict.len() as u64, out);
    for (key, value) in dict {
        put_bytes(key, out);
        put_object(value, out);
    }
}

fn put_object(object: &Object, out: &mut Vec<u8>) {
    match object {
        Object::Boolean(false) => out.push(FALSE),
        Object::Boolean(true) => out.push(TRUE),
        Object::Integer(i) => {
            out.push(INTEGER);
            // Zigzag, so small negative numbers stay short.
            put_len(((i << 1) ^ (i >> 63)) as u64, out);
        }
        Object::Real(r) => {
            out.push(REAL);
            out.extend_from_slice(&r.to_le_bytes());
        }
        Object::Name(name) => {
            out.push(NAME);
            put_bytes(name, out);
        }
        Object::String(s, format) => {
            out.push(match format {
                StringFormat::Literal => LITERAL,
                StringFormat::Hexadecimal => HEXADECIMAL,
            });
            put_bytes(s, out);
        }
        Object::Array(items) => {
            out.push(ARRAY);
            put_len(items.len() as u64, out);
            for item in items {
                put_object(item, out);
            }
        }
        Object::Dictionary(dict) => put_dictionary(dict, out),
        Object::Reference((number, generation)) => {
            out.push(REFERENCE);
            put_len(u64::from(*number), out);
            put_len(u64::from(*generation), out);
        }
        // A stream is never inside another object (PDF 32000-1, 7.3.8).
        Object::Null | Object::Stream(_) => out.push(NULL),
    }
}

fn take_len(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(n);
        }
    }
    None
}

fn take_bytes(bytes: &mut &[u8]) -> Option<Vec<u8>> {
    let len = usize::try_from(take_len(bytes)?).ok()?;
    let (taken, rest) = bytes.split_at_checked(len)?;
    *bytes = rest;
    Some(taken.to_vec())
}

/// The inverse of [`put_object`]; its input is only ever what `put_object` wrote, as deep
/// as the parsed object it came from (bounded by the loader's nesting pre-scan).
fn take_object(bytes: &mut &[u8]) -> Option<Object> {
    let (&tag, rest) = bytes.split_first()?;
    *bytes = rest;
    Some(match tag {
        NULL => Object::Null,
        FALSE => Object::Boolean(false),
        TRUE => Object::Boolean(true),
        INTEGER => {
            let z = take_len(bytes)?;
            Object::Integer(((z >> 1) as i64) ^ -((z & 1) as i64))
        }
        REAL => {
            let (real, rest) = bytes.split_first_chunk::<4>()?;
            *bytes = rest;
            Object::Real(f32::from_le_bytes(*real))
        }
        NAME => Object::Name(take_bytes(bytes)?),
        LITERAL => Object::String(take_bytes(bytes)?, StringFormat::Literal),
        HEXADECIMAL => Object::String(take_bytes(bytes)?, StringFormat::Hexadecimal),
        ARRAY => {
            let len = take_len(bytes)?;
            let mut items = Vec::with_capacity(usize::try_from(len.min(1024)).ok()?);
            for _ in 0..len {
                items.push(take_object(bytes)?);
            }
            Object::Array(items)
        }
        DICTIONARY => {
            let len = take_len(bytes)?;
            let mut dict = Dictionary::new();
            for _ in 0..len {
                let key = take_bytes(bytes)?;
                let value = take_object(bytes)?;
                dict.set(key, value);
            }
            Object::Dictionary(dict)
        }
        REFERENCE => {
            let number = u32::try_from(take_len(bytes)?).ok()?;
            let generation = u16::try_from(take_len(bytes)?).ok()?;
            Object::Reference((number, generation))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use lopdf::dictionary;

    use super::*;

    #[test]
    fn a_packed_dictionary_unpacks_to_the_same_objects() {
        let dict = dictionary! {
            "Type" => "Annot",
            "Rect" => vec![Object::Integer(-3), Object::Real(1.5), Object::Integer(i64::MIN), Object::Integer(i64::MAX)],
            "AP" => dictionary! { "N" => Object::Reference((70_000, 2)) },
            "T" => Object::String(b"caf\xe9 (1)".to_vec(), StringFormat::Literal),
            "H" => Object::String(vec![0, 255], StringFormat::Hexadecimal),
            "Flags" => vec![Object::Boolean(true), Object::Boolean(false), Object::Null],
            "Empty" => Dictionary::new(),
        };
        let mut object = Object::Dictionary(dict.clone());
        let mut packed = PackedObjects::default();
        packed.insert((7, 0), &mut object);
        assert_eq!(packed.get((7, 0)), Some(Object::Dictionary(dict)));
        assert_eq!(packed.get((8, 0)), None);
    }

    #[test]
    fn a_packed_stream_keeps_its_data_and_equal_dictionaries_pack_equal() {
        let dict = dictionary! { "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()] };
        let mut stream = Object::Stream(Stream::new(dict.clone(), b"BT ET".to_vec()));
        let mut packed = PackedObjects::default();
        packed.insert((1, 0), &mut stream);
        let unpacked = packed.get((1, 0)).expect("packed");
        let unpacked = unpacked.as_stream().expect("a stream");
        assert_eq!(unpacked.content, b"BT ET");
        assert_eq!(unpacked.dict.get(b"BBox").ok(), dict.get(b"BBox").ok());

        let font =
            dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" };
        for id in [(2, 0), (3, 0)] {
            packed.insert(id, &mut Object::Dictionary(font.clone()));
        }
        assert_eq!(
            packed.dictionary_bytes((2, 0)),
            packed.dictionary_bytes((3, 0))
        );
        assert_ne!(
            packed.dictionary_bytes((2, 0)),
            packed.dictionary_bytes((1, 0))
        );
    }
}
