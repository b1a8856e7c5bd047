//! What the loader keeps of a document: only objects text extraction can read.
//!
//! lopdf parses every object of a file into memory at load. On a hyperlinked 1,221-page manual,
//! link annotations, named destinations, the name tree and outline items are nine objects in ten
//! and most of the memory (about 250 of 285 MiB), yet the extraction never reads them: it follows
//! pages, their content streams and resources, and annotations that carry an appearance stream.
//! Dropping them as they are parsed keeps memory to what the pages need. The structure tree of
//! a tagged file goes too, but is first recorded compactly for its reading order
//! ([`crate::structure`]).
//!
//! lopdf's filter hook is called once per parsed object. For an object of the file body, the
//! object it mutated in place is kept and the returned one dropped; for a member of an object
//! stream, the returned one is kept. So a kept object that is not a stream is returned as a
//! copy (streams are never members of object streams: PDF 32000-1, 7.5.7).
//!
//! The filter also counts what it keeps. A file can hold far more pages or objects than the
//! limits allow, and each kept page costs a few KiB as lopdf objects (a 30 MB file of 60,000
//! short pages peaked at 358 MiB before the page tree was walked and the file refused). Once a
//! count is past its limit the load is going to be refused, so nothing more is kept.

use std::cell::Cell;

use lopdf::{Dictionary, Object, ObjectId};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Limits;

/// What the load running on this thread has kept, against its limits.
#[derive(Debug, Clone, Copy)]
struct Kept {
    pages: u64,
    max_pages: u64,
    objects: u64,
    max_objects: u64,
}

impl Kept {
    fn over(&self) -> Option<SizeLimit> {
        // A file may hold page objects its tree no longer lists (pages deleted by an
        // incremental update), so the load stops only past twice the page limit: the walk of
        // the page tree applies the limit itself ([`crate::pagetree`]).
        if self.pages > self.max_pages.saturating_mul(2) {
            Some(SizeLimit::Pages)
        } else if self.objects > self.max_objects {
            Some(SizeLimit::Objects)
        } else {
            None
        }
    }
}

thread_local! {
    /// The counts of the load running on this thread: lopdf's filter is a plain function.
    static KEPT: Cell<Option<Kept>> = const { Cell::new(None) };
}

/// Starts counting on this thread (the one that parses).
pub(crate) fn start_counting(limits: &Limits) {
    KEPT.set(Some(Kept {
        pages: 0,
        max_pages: u64::from(limits.max_pages),
        objects: 0,
        max_objects: limits.max_objects,
    }));
}

/// Ends counting on this thread: the limit the load went past, if any.
pub(crate) fn finish_counting() -> Result<(), ExtractError> {
    let Some(kept) = KEPT.take() else {
        return Ok(());
    };
    match kept.over() {
        Some(SizeLimit::Pages) => Err(ExtractError::TooLarge {
            limit: SizeLimit::Pages,
            actual: kept.pages,
            max: kept.max_pages,
        }),
        Some(limit) => Err(ExtractError::TooLarge {
            limit,
            actual: kept.objects,
            max: kept.max_objects,
        }),
        None => Ok(()),
    }
}

/// Counts one object the filter keeps; false once the load is past a limit.
fn count(object: &Object) -> bool {
    let Some(mut kept) = KEPT.get() else {
        return true;
    };
    if kept.over().is_some() {
        return false;
    }
    kept.objects += 1;
    if object.as_dict().is_ok_and(|dict| dict.has_type(b"Page")) {
        kept.pages += 1;
    }
    KEPT.set(Some(kept));
    kept.over().is_none()
}

/// The loader's filter: `None` drops an object extraction never reads.
pub(crate) fn keep_what_extraction_reads(
    id: ObjectId,
    object: &mut Object,
) -> Option<(ObjectId, Object)> {
    if !keep(id, object) {
        return None;
    }
    // Packed objects cost about their size in the file: only parsed ones count.
    if packed_until_drawn(object) && crate::packed::pack_object(id, object) {
        return None;
    }
    if !count(object) {
        if let Object::Stream(stream) = object {
            stream.content = Vec::new();
        }
        return None;
    }
    // The copy is what an object stream's member keeps; a stream, never one, is kept in place
    // (see the module comment), so it is not copied.
    let copy = match object {
        Object::Stream(_) => Object::Null,
        other => other.clone(),
    };
    Some((id, copy))
}

/// Objects a document may hold one of per form field, each read only when a page draws it:
/// annotations drawn by an appearance stream, Form XObjects (appearance streams among them)
/// and fonts. They are kept packed ([`crate::packed`]). Not a form whose resources hold a font
/// inline: fonts written inline are cached by their address, which an unpacked copy does not
/// keep. Not a Type 3 font, whose glyphs are forms, nor a CIDFont, read through its parent.
fn packed_until_drawn(object: &Object) -> bool {
    match object {
        Object::Dictionary(dict) => {
            let name = |key: &[u8]| dict.get(key).and_then(Object::as_name).ok();
            matches!(dictionary_class(dict), Class::DrawnAnnotation)
                || (name(b"Type") == Some(b"Font".as_slice())
                    && matches!(
                        name(b"Subtype"),
                        Some(b"Type1" | b"MMType1" | b"TrueType" | b"Type0")
                    ))
        }
        Object::Stream(stream) => {
            let dict = &stream.dict;
            dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form".as_slice())
                && !has_inline_font(dict)
        }
        _ => false,
    }
}

fn has_inline_font(form: &Dictionary) -> bool {
    let Ok(Object::Dictionary(resources)) = form.get(b"Resources") else {
        return false;
    };
    let Ok(Object::Dictionary(fonts)) = resources.get(b"Font") else {
        return false;
    };
    fonts.iter().any(|(_, font)| font.as_dict().is_ok())
}

/// Whether `object` is kept, slimmed in place to what extraction reads of it.
fn keep(id: ObjectId, object: &mut Object) -> bool {
    match object {
        Object::Stream(stream) => {
            if stream_data_unread(&stream.dict) {
                // Keep the dictionary, so references to it resolve and nothing looks missing.
                stream.content = Vec::new();
            }
            true
        }
        Object::Dictionary(dict) => match dictionary_class(dict) {
            Class::Read => true,
            Class::DrawnAnnotation => {
                *dict = annotation_as_drawn(dict);
                true
            }
            Class::Unread => false,
            Class::Structure => {
                // Kept compactly, for the reading order of tagged files, not as lopdf objects.
                crate::structure::record(id, dict);
                false
            }
        },
        Object::Array(items) => !is_destination(items),
        _ => true,
    }
}

/// Image samples, embedded files and XMP metadata: text extraction reads their dictionaries at
/// most, never their data.
fn stream_data_unread(dict: &Dictionary) -> bool {
    let name = |key: &[u8]| dict.get(key).and_then(Object::as_name).ok();
    name(b"Subtype") == Some(b"Image".as_slice())
        || matches!(name(b"Type"), Some(b"EmbeddedFile" | b"Metadata" | b"XRef"))
}

/// What the loader does with a dictionary.
enum Class {
    Read,
    /// An annotation with an appearance stream: kept as [`annotation_as_drawn`] leaves it.
    DrawnAnnotation,
    Unread,
    /// Part of the structure tree, recorded by [`crate::structure::record`].
    Structure,
}

fn dictionary_class(dict: &Dictionary) -> Class {
    let name = |key: &[u8]| dict.get(key).and_then(Object::as_name).ok();
    let has = |key: &[u8]| dict.has(key);
    let unread = |yes: bool| if yes { Class::Unread } else { Class::Read };
    match name(b"Type") {
        Some(b"StructTreeRoot" | b"StructElem" | b"MCR" | b"OBJR") => Class::Structure,
        // An annotation is drawn only through its appearance stream (content.rs,
        // run_annotations); without one (links, typically) it adds no text.
        Some(b"Annot") if has(b"AP") => Class::DrawnAnnotation,
        Some(b"Annot") => Class::Unread,
        Some(b"Outlines" | b"Bead" | b"Thread" | b"Action") => Class::Unread,
        Some(_) => Class::Read,
        None if name(b"S").is_some() && has(b"P") && has(b"K") => Class::Structure,
        // A form field's widget is often an untyped dictionary.
        None if name(b"Subtype").is_some() && has(b"Rect") && has(b"AP") && !has(b"Kids") => {
            Class::DrawnAnnotation
        }
        None => {
            // Untyped, recognised by their keys.
            let link_annotation =
                name(b"Subtype") == Some(b"Link".as_slice()) && has(b"Rect") && !has(b"AP");
            let outline_item = has(b"Title") && has(b"Parent");
            // Name and number tree nodes (named destinations, page labels, the structure
            // tree's parent tree): leaves hold /Names or /Nums, inner nodes /Kids and /Limits.
            let tree_node = (dict.get(b"Names").and_then(Object::as_array).is_ok()
                || dict.get(b"Nums").and_then(Object::as_array).is_ok()
                || (has(b"Kids") && has(b"Limits")))
                && !has(b"Count");
            let destination = dict.len() <= 2
                && has(b"D")
                && dict.iter().all(|(key, _)| key == b"D" || key == b"SD");
            let action = name(b"S").is_some_and(is_action_type) && !has(b"P");
            unread(link_annotation || outline_item || tree_node || destination || action)
        }
    }
}

/// The entries of an annotation its drawing reads (content.rs, `run_annotations`). A form's
/// widgets also carry their field's name, value, default appearance, parent and page, each
/// entry 152 bytes as lopdf holds it: an 18 MB form of 40,000 filled fields peaked at 325 MiB
/// with them, 269 MiB without.
const ANNOTATION_DRAWN_BY: [&[u8]; 6] = [b"Type", b"Subtype", b"F", b"AP", b"AS", b"Rect"];

fn annotation_as_drawn(dict: &Dictionary) -> Dictionary {
    let mut drawn = Dictionary::new();
    for key in ANNOTATION_DRAWN_BY {
        if let Ok(value) = dict.get(key) {
            drawn.set(key, value.clone());
        }
    }
    drawn
}

/// `[page /XYZ left top zoom]` and the other explicit destinations (PDF 32000-1, 12.3.2.2).
fn is_destination(items: &[Object]) -> bool {
    let [page, fit, ..] = items else {
        return false;
    };
    matches!(page, Object::Reference(_) | Object::Integer(_))
        && matches!(
            fit.as_name(),
            Ok(b"XYZ" | b"Fit" | b"FitH" | b"FitV" | b"FitR" | b"FitB" | b"FitBH" | b"FitBV")
        )
}

fn is_action_type(s: &[u8]) -> bool {
    matches!(
        s,
        b"GoTo"
            | b"GoToR"
            | b"GoToE"
            | b"Launch"
            | b"Thread"
            | b"URI"
            | b"Sound"
            | b"Movie"
            | b"Hide"
            | b"Named"
            | b"SubmitForm"
            | b"ResetForm"
            | b"ImportData"
            | b"JavaScript"
            | b"SetOCGState"
            | b"Rendition"
            | b"Trans"
            | b"GoTo3DView"
    )
}

#[cfg(test)]
mod tests {
    use lopdf::{Stream, dictionary};

    use super::*;

    fn kept(mut object: Object) -> bool {
        keep_what_extraction_reads((1, 0), &mut object).is_some()
    }

    #[test]
    fn what_extraction_never_reads_is_dropped() {
        let link = dictionary! { "Type" => "Annot", "Subtype" => "Link", "Rect" => vec![0.into(), 0.into(), 1.into(), 1.into()] };
        assert!(!kept(link.into()));
        let untyped_link = dictionary! { "Subtype" => "Link", "Rect" => vec![0.into(); 4] };
        assert!(!kept(untyped_link.into()));
        assert!(!kept(
            dictionary! { "D" => vec![Object::Reference((3, 0)), "XYZ".into()] }.into()
        ));
        assert!(!kept(
            vec![Object::Reference((3, 0)), "FitH".into(), 700.into()].into()
        ));
        assert!(!kept(
            dictionary! { "Names" => vec![], "Limits" => vec![] }.into()
        ));
        assert!(!kept(
            dictionary! { "Kids" => vec![], "Limits" => vec![] }.into()
        ));
        assert!(!kept(dictionary! { "Title" => Object::string_literal("1 Intro"), "Parent" => Object::Reference((2, 0)) }.into()));
        assert!(!kept(
            dictionary! { "S" => "URI", "URI" => Object::string_literal("https://x") }.into()
        ));
        assert!(!kept(
            dictionary! { "S" => "P", "P" => Object::Reference((2, 0)), "K" => 0 }.into()
        ));
    }

    #[test]
    fn what_extraction_reads_is_kept_whole() {
        let page_tree = dictionary! { "Type" => "Pages", "Kids" => vec![], "Count" => 0 };
        assert!(kept(page_tree.into()));
        let catalog = dictionary! { "Type" => "Catalog", "Names" => dictionary! {} };
        assert!(kept(catalog.into()));
        let widget = dictionary! { "Type" => "Annot", "Subtype" => "Widget", "AP" => dictionary! { "N" => Object::Reference((9, 0)) } };
        let mut object = Object::from(widget);
        let (_, copy) = keep_what_extraction_reads((1, 0), &mut object).expect("kept");
        assert_eq!(
            copy, object,
            "members of object streams are kept through the copy"
        );
        let font =
            dictionary! { "Type" => "Font", "Subtype" => "Type1", "Widths" => vec![500.into(); 3] };
        assert!(kept(font.into()));
        // A form field's tree has /Kids but no /Limits.
        assert!(kept(dictionary! { "FT" => "Tx", "Kids" => vec![] }.into()));
        assert!(kept(vec![1.into(), 2.into()].into()));
    }

    #[test]
    fn a_drawn_annotation_keeps_only_what_its_drawing_reads() {
        let ap = dictionary! { "N" => Object::Reference((9, 0)) };
        let field = |typed: bool| {
            let mut widget = dictionary! {
                "Subtype" => "Widget", "FT" => "Tx", "T" => Object::string_literal("name"),
                "V" => Object::string_literal("a long value the appearance stream draws"),
                "DA" => Object::string_literal("/Helv 9 Tf 0 g"), "P" => Object::Reference((3, 0)),
                "Rect" => vec![0.into(), 0.into(), 100.into(), 14.into()], "F" => 4,
                "AS" => "On", "AP" => ap.clone(),
            };
            if typed {
                widget.set("Type", "Annot");
            }
            Object::from(widget)
        };
        for typed in [true, false] {
            let mut object = field(typed);
            let (_, copy) = keep_what_extraction_reads((1, 0), &mut object).expect("kept");
            assert_eq!(copy, object);
            let dict = object.as_dict().unwrap();
            let mut keys: Vec<&[u8]> = dict.iter().map(|(k, _)| k.as_slice()).collect();
            keys.sort_unstable();
            let mut expected: Vec<&[u8]> = vec![b"AP", b"AS", b"F", b"Rect", b"Subtype"];
            if typed {
                expected.push(b"Type");
                expected.sort_unstable();
            }
            assert_eq!(keys, expected);
            assert_eq!(dict.get(b"AP").unwrap(), &Object::Dictionary(ap.clone()));
        }
        // A field with kids is not a widget: its kids are.
        let parent = dictionary! { "FT" => "Tx", "Subtype" => "Widget", "Rect" => vec![], "AP" => ap.clone(), "Kids" => vec![], "T" => Object::string_literal("x") };
        let mut object = Object::from(parent.clone());
        keep_what_extraction_reads((1, 0), &mut object).expect("kept");
        assert_eq!(object, Object::from(parent));
    }

    #[test]
    fn image_data_is_released_and_its_dictionary_kept() {
        let mut image = Object::Stream(Stream::new(
            dictionary! { "Subtype" => "Image", "Width" => 2 },
            vec![7; 4096],
        ));
        assert!(keep_what_extraction_reads((1, 0), &mut image).is_some());
        let Object::Stream(s) = &image else {
            panic!("still a stream")
        };
        assert!(s.content.is_empty());
        assert_eq!(s.dict.get(b"Width").unwrap(), &Object::Integer(2));

        let mut content = Object::Stream(Stream::new(dictionary! {}, b"BT ET".to_vec()));
        keep_what_extraction_reads((2, 0), &mut content);
        let Object::Stream(s) = &content else {
            panic!("still a stream")
        };
        assert_eq!(s.content, b"BT ET");
    }
}
