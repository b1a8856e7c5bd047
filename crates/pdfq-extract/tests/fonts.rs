//! Font decoding through whole documents built in code: Type 0 with ToUnicode,
//! /Differences with ligature names, Type 3 with numeric names, vertical writing.

mod common;

use common::*;
use lopdf::{Object, Stream, dictionary};
use pdfq_extract::{Limits, extract_pages};

fn page_text(doc: &mut lopdf::Document) -> String {
    let out = extract_pages(&save(doc), &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    out.pages[0].text.clone()
}

fn with_font(font: lopdf::Dictionary, content: &[u8]) -> lopdf::Document {
    let mut doc = with_content(content);
    let font_id = doc.add_object(font);
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "Font" => dictionary! { "F1" => font_id } },
    );
    doc
}

/// A page showing `shown` (hex codes) in an Identity-H Type 0 font whose ToUnicode holds
/// `bfchars` (`<code> <unicode>` pairs) and whose CIDFont has the widths `widths`.
fn type0_page(bfchars: &str, widths: &lopdf::Dictionary, shown: &str) -> lopdf::Document {
    let content = format!("BT /F1 10 Tf 72 700 Td <{shown}> Tj ET");
    with_type0_font(content.as_bytes(), bfchars, widths)
}

#[test]
fn type0_identity_h_with_tounicode() {
    let mut doc = type0_page(
        "<0001> <0048> <0002> <0069> <0003> <4E2D>",
        &dictionary! { "DW" => 1000, "W" => vec![1.into(), vec![600.into(), 300.into()].into()] },
        "000100020003",
    );
    assert_eq!(page_text(&mut doc), "Hi\u{4E2D}\n");
}

#[test]
fn a_tounicode_mapping_to_control_characters_adds_none_to_the_text() {
    // NUL and BEL from a ToUnicode (and a pair holding one): PostgreSQL cannot store a NUL in
    // text, so a job with one failed to save its sentences.
    let mut doc = type0_page(
        "<0001> <0048> <0002> <0000> <0003> <0007> <0004> <0069> <0005> <0000006A>",
        &dictionary! { "DW" => 500 },
        "00010002000300040005",
    );
    // The glyphs without text still take their width: a word space may stand there.
    let text = page_text(&mut doc);
    assert!(
        !text.trim_end_matches('\n').contains(char::is_control),
        "{text:?}"
    );
    assert_eq!(text.replace(' ', ""), "Hij\n");
}

#[test]
fn differences_with_ligature_and_uni_names() {
    let font = dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman",
        "Encoding" => dictionary! {
            "Type" => "Encoding", "BaseEncoding" => "WinAnsiEncoding",
            "Differences" => vec![1.into(), Object::Name(b"fi".to_vec()), Object::Name(b"uni00E9".to_vec()), Object::Name(b"f_f_l".to_vec())],
        },
    };
    let mut doc = with_font(
        font,
        b"BT /F1 12 Tf 72 700 Td (\\001nd caf\\002 wa\\003e) Tj ET",
    );
    assert_eq!(page_text(&mut doc), "find caf\u{e9} waffle\n");
}

#[test]
fn an_embedded_type1_programs_own_encoding_names_what_the_differences_cannot() {
    // pdfTeX's subset fonts: /Differences names a reader cannot read (g18), the program's
    // clear text says which glyph sits at that code. The program is read only up to its
    // `eexec`, wherever that falls among the steps it is inflated by.
    for padding in [0, 900, 1000, 1010, 1017, 1019, 1021, 1023, 1024, 3000] {
        let clear = format!(
            "%!PS-AdobeFont-1.0: ABCDEF+Custom 001.000\n%{}\n/Encoding 256 array\n\
             0 1 255 {{1 index exch /.notdef put}} for\ndup 65 /H put\ndup 66 /i put\n\
             readonly def\ncurrentfile eexec\n",
            "x".repeat(padding)
        );
        // What follows `eexec` is encrypted; a name there is not part of the encoding.
        let program = [clear.as_bytes(), &b"dup 65 /Z put ".repeat(2000)].concat();
        let mut doc = with_content(b"BT /F1 12 Tf 72 700 Td (AB) Tj ET");
        let mut file = Stream::new(dictionary! { "Length1" => clear.len() as i64 }, program);
        file.compress().unwrap();
        let file = doc.add_object(file);
        let descriptor = doc.add_object(dictionary! {
            "Type" => "FontDescriptor", "FontName" => "ABCDEF+Custom", "Flags" => 4,
            "FontFile" => file,
        });
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "ABCDEF+Custom",
            "FirstChar" => 65, "LastChar" => 66, "Widths" => vec![700.into(), 300.into()],
            "FontDescriptor" => descriptor,
            "Encoding" => dictionary! {
                "Differences" => vec![65.into(), Object::Name(b"g18".to_vec()), Object::Name(b"g19".to_vec())],
            },
        });
        page_dict(&mut doc).set(
            "Resources",
            dictionary! { "Font" => dictionary! { "F1" => font } },
        );
        assert_eq!(page_text(&mut doc), "Hi\n", "padding {padding}");
    }
}

#[test]
fn type3_numeric_glyph_names() {
    let font = dictionary! {
        "Type" => "Font", "Subtype" => "Type3", "FontMatrix" => vec![0.001.into(), 0.into(), 0.into(), 0.001.into(), 0.into(), 0.into()],
        "FontBBox" => vec![0.into(), 0.into(), 1000.into(), 1000.into()],
        "FirstChar" => 65, "LastChar" => 66, "Widths" => vec![500.into(), 500.into()],
        "Encoding" => dictionary! { "Differences" => vec![65.into(), Object::Name(b"a72".to_vec()), Object::Name(b"a105".to_vec())] },
        "CharProcs" => dictionary! {}, "Resources" => dictionary! {},
    };
    let mut doc = with_font(font, b"BT /F1 12 Tf 72 700 Td (AB) Tj ET");
    assert_eq!(page_text(&mut doc), "Hi\n");
}

#[test]
fn vertical_identity_v_is_one_line_per_column() {
    let mut doc = with_content(b"");
    let cmap = b"begincodespacerange <0000> <FFFF> endcodespacerange 2 beginbfchar <0001> <65E5> <0002> <672C> endbfchar";
    let tu = doc.add_object(Stream::new(dictionary! {}, cmap.to_vec()));
    let cid_font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "CIDFontType0", "BaseFont" => "X", "DW" => 1000 });
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "X", "Encoding" => "Identity-V",
        "DescendantFonts" => vec![cid_font.into()], "ToUnicode" => tu,
    });
    let content =
        b"BT /F1 10 Tf 300 700 Td <00010002> Tj 0 0 Td ET BT /F1 10 Tf 280 700 Td <0002> Tj ET";
    let content = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
    page_dict(&mut doc).set("Contents", content);
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "Font" => dictionary! { "F1" => font } },
    );
    // The second column starts a new block.
    assert_eq!(page_text(&mut doc), "\u{65E5}\u{672C}\n\n\u{672C}\n");
}

#[test]
fn rotated_text_stays_in_words() {
    // Text rotated 90 degrees: the baseline runs up the page.
    let mut doc = with_content(b"BT /F1 12 Tf 0 1 -1 0 300 100 Tm (Rotated words here) Tj ET");
    assert_eq!(page_text(&mut doc), "Rotated words here\n");
}

#[test]
fn unicode_maps_past_the_documents_budget_are_said_to_be_cut() {
    // Three pages, each in a font of its own whose map reads A-Z as Cyrillic А-Я (26 entries).
    let mut doc = lopdf::Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids: Vec<Object> = Vec::new();
    for _ in 0..3 {
        let bfchars: String = (b'A'..=b'Z')
            .map(|c| format!("<{c:02X}> <{:04X}> ", 0x410 + u32::from(c - b'A')))
            .collect();
        let cmap = format!(
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap
            1 begincodespacerange <00> <FF> endcodespacerange
            26 beginbfchar {bfchars} endbfchar
            endcmap end end"
        );
        let tu = doc.add_object(Stream::new(dictionary! {}, cmap.into_bytes()));
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "ToUnicode" => tu,
        });
        let content = doc.add_object(Stream::new(
            dictionary! {},
            b"BT /F1 10 Tf 72 700 Td (ABC) Tj ET".to_vec(),
        ));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Contents" => content,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        kids.push(page.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => 3 }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let pdf = save(&mut doc);

    let whole = extract_pages(&pdf, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(whole.pages.iter().all(|p| p.text.trim() == "АБВ"));
    assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);

    // 40 entries: the first map whole, the second cut after 14, the third not read.
    let limits = Limits {
        max_cmap_entries: 40,
        ..Limits::default()
    };
    let cut = extract_pages(&pdf, &limits).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cut.pages[0].text.trim(), "АБВ");
    assert_eq!(cut.pages[2].text.trim(), "ABC", "by the font's encoding");
    let [warning] = cut.warnings.as_slice() else {
        panic!("one warning, not {:?}", cut.warnings);
    };
    assert_eq!(warning.page, None);
    assert!(
        warning.reason.contains("more than 40 entries")
            && warning.reason.contains("from page 2 on"),
        "{}",
        warning.reason
    );
}
