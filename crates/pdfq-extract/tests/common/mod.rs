//! Builds small PDFs in code for the integration tests (no corpus files in the repo).
#![allow(dead_code)]

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

/// A one-page document whose page content is `content`, with Helvetica as /F1.
pub fn with_content(content: &[u8]) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources = dictionary! { "Font" => dictionary! { "F1" => font_id } };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id, "Resources" => resources,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(b"0123456789abcdef".to_vec()),
            Object::string_literal(b"0123456789abcdef".to_vec()),
        ],
    );
    doc
}

pub fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

pub fn hello() -> Vec<u8> {
    save(&mut with_content(
        b"BT /F1 12 Tf 72 720 Td (Hello World) Tj 0 -14 Td [(Sec) 20 (ond) -600 (line)] TJ ET",
    ))
}

pub fn pages_id(doc: &Document) -> ObjectId {
    doc.catalog()
        .and_then(|c| c.get(b"Pages"))
        .and_then(Object::as_reference)
        .expect("pages")
}

pub fn first_page(doc: &Document) -> ObjectId {
    let kids = doc
        .get_dictionary(pages_id(doc))
        .and_then(|d| d.get(b"Kids"))
        .and_then(Object::as_array)
        .expect("kids");
    kids[0].as_reference().expect("kid")
}

pub fn page_dict(doc: &mut Document) -> &mut Dictionary {
    let id = first_page(doc);
    doc.get_dictionary_mut(id).expect("page")
}

/// A one-page document whose page content is `content`, with /F1 an Identity-H Type 0 font
/// whose ToUnicode holds `bfchars` (`<code> <unicode>` pairs) and whose CIDFont has the
/// widths `widths` (`DW`, `W`).
pub fn with_type0_font(content: &[u8], bfchars: &str, widths: &Dictionary) -> Document {
    let count = bfchars.split_whitespace().count() / 2;
    let cmap = format!(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap
        1 begincodespacerange <0000> <FFFF> endcodespacerange
        {count} beginbfchar {bfchars} endbfchar
        endcmap end end"
    );
    let mut doc = with_content(content);
    let tu = doc.add_object(Stream::new(dictionary! {}, cmap.into_bytes()));
    let mut cid_font = dictionary! {
        "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "X",
        "CIDSystemInfo" => dictionary! { "Registry" => Object::string_literal("Adobe"), "Ordering" => Object::string_literal("Identity"), "Supplement" => 0 },
    };
    cid_font.extend(widths);
    let cid_font = doc.add_object(cid_font);
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "X", "Encoding" => "Identity-H",
        "DescendantFonts" => vec![cid_font.into()], "ToUnicode" => tu,
    });
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "Font" => dictionary! { "F1" => font } },
    );
    doc
}
