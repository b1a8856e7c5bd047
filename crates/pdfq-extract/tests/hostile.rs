//! Hand-built hostile and edge-case PDFs: every limit answers with a typed error, never a
//! panic, a hang or a runaway allocation.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use lopdf::{Object, Stream, dictionary};
use pdfq_extract::{ExtractError, Limits, extract_pages};

fn code(r: &Result<pdfq_extract::Document, ExtractError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn extracts_simple_text_with_spaces_and_lines() {
    let doc = extract_pages(&hello(), &Limits::default()).unwrap();
    assert_eq!(doc.pages.len(), 1);
    assert_eq!(doc.pages[0].text, "Hello World\nSecond line\n");
}

#[test]
fn not_a_pdf() {
    let r = extract_pages(b"<html>hello</html>", &Limits::default());
    assert_eq!(code(&r), "not_a_pdf");
    assert!(r.unwrap_err().is_permanent());
}

#[test]
fn truncated_files_fail_cleanly() {
    let pdf = hello();
    for cut in [10, pdf.len() / 3, pdf.len() / 2, pdf.len() - 30] {
        let r = extract_pages(&pdf[..cut], &Limits::default());
        // Never "no text layer": a cut file is damaged, whatever survived of it.
        assert!(
            ["ok", "damaged", "not_a_pdf"].contains(&code(&r)),
            "{cut}: {r:?}"
        );
    }
}

#[test]
fn file_size_and_page_limits() {
    let pdf = hello();
    let r = extract_pages(
        &pdf,
        &Limits {
            max_file_bytes: 100,
            ..Limits::default()
        },
    );
    assert!(matches!(
        r,
        Err(ExtractError::TooLarge {
            limit: pdfq_extract::SizeLimit::Bytes,
            ..
        })
    ));
    let r = extract_pages(
        &pdf,
        &Limits {
            max_pages: 0,
            ..Limits::default()
        },
    );
    assert!(matches!(
        r,
        Err(ExtractError::TooLarge {
            limit: pdfq_extract::SizeLimit::Pages,
            ..
        })
    ));
}

#[test]
fn flate_bomb_is_too_large() {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(b"BT /F1 12 Tf (x) Tj ET\n").unwrap();
    z.write_all(&vec![b' '; 64 * 1024 * 1024]).unwrap();
    let bomb = z.finish().unwrap();
    let mut doc = with_content(b"");
    let id = doc.add_object(Stream::new(dictionary! { "Filter" => "FlateDecode" }, bomb));
    page_dict(&mut doc).set("Contents", id);
    let pdf = save(&mut doc);
    let limits = Limits {
        max_stream_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let r = extract_pages(&pdf, &limits);
    assert!(
        matches!(
            r,
            Err(ExtractError::TooLarge {
                limit: pdfq_extract::SizeLimit::DecompressedBytes,
                ..
            })
        ),
        "{r:?}"
    );
    // The per-document budget counts across streams too.
    let limits = Limits {
        max_document_decompressed_bytes: 1024,
        ..Limits::default()
    };
    assert_eq!(code(&extract_pages(&pdf, &limits)), "too_large");
}

#[test]
fn deep_nesting_in_the_file_is_rejected_before_parsing() {
    let depth = 200_000;
    let mut pdf = b"%PDF-1.4\n1 0 obj\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'[', depth));
    pdf.extend(std::iter::repeat_n(b']', depth));
    pdf.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let r = extract_pages(&pdf, &Limits::default());
    assert!(
        matches!(
            r,
            Err(ExtractError::TooLarge {
                limit: pdfq_extract::SizeLimit::NestingDepth,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn deep_nesting_in_a_content_stream_is_harmless() {
    let mut content = b"BT /F1 12 Tf 72 720 Td (ok) Tj ".to_vec();
    content.extend(std::iter::repeat_n(b'[', 100_000));
    content.extend_from_slice(b" TJ ET");
    let doc = extract_pages(&save(&mut with_content(&content)), &Limits::default()).unwrap();
    assert!(doc.pages[0].text.starts_with("ok"));
}

#[test]
fn cycles_in_kids_and_parent_terminate() {
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (cycle) Tj ET");
    let pages = pages_id(&doc);
    let page = first_page(&doc);
    // /Kids lists the page twice and the Pages node itself; the page's /Parent is itself.
    doc.get_dictionary_mut(pages)
        .unwrap()
        .set("Kids", vec![page.into(), pages.into(), page.into()]);
    doc.get_dictionary_mut(page).unwrap().set("Parent", page);
    let out = extract_pages(&save(&mut doc), &Limits::default()).unwrap();
    assert_eq!(out.pages.len(), 1);
    assert!(out.pages[0].text.contains("cycle"));
}

#[test]
fn lying_count_is_ignored() {
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (one) Tj ET");
    let pages = pages_id(&doc);
    doc.get_dictionary_mut(pages)
        .unwrap()
        .set("Count", 2_000_000_000);
    let out = extract_pages(
        &save(&mut doc),
        &Limits {
            max_pages: 10,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(out.pages.len(), 1);
}

#[test]
fn self_drawing_xobject_terminates() {
    let mut doc = with_content(b"/X0 Do");
    let font = doc
        .objects
        .iter()
        .find(|(_, o)| o.as_dict().is_ok_and(|d| d.has_type(b"Font")))
        .map(|(id, _)| *id)
        .unwrap();
    let form_id = doc.new_object_id();
    let form = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "X0" => form_id }, "Font" => dictionary! { "F1" => font } },
        },
        b"BT /F1 12 Tf 72 700 Td (inside) Tj ET /X0 Do /X0 Do".to_vec(),
    );
    doc.objects.insert(form_id, Object::Stream(form));
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "XObject" => dictionary! { "X0" => form_id } },
    );
    let started = Instant::now();
    let out = extract_pages(&save(&mut doc), &Limits::default()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        out.pages[0].text.matches("inside").count(),
        1,
        "{:?}",
        out.pages[0].text
    );
}

#[test]
fn exponential_xobject_fanout_is_bounded() {
    // Form k draws form k+1 twice: 2^40 draws without a bound.
    let mut doc = with_content(b"/X0 Do");
    let ids: Vec<_> = (0..40).map(|_| doc.new_object_id()).collect();
    for (k, id) in ids.iter().enumerate() {
        let mut res = lopdf::Dictionary::new();
        let content = if let Some(next) = ids.get(k + 1) {
            res.set("XObject", dictionary! { "X0" => *next });
            b"/X0 Do /X0 Do".to_vec()
        } else {
            b"0 0 m 1 1 l S".to_vec()
        };
        let form = Stream::new(
            dictionary! { "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 1.into(), 1.into()], "Resources" => res },
            content,
        );
        doc.objects.insert(*id, Object::Stream(form));
    }
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "XObject" => dictionary! { "X0" => ids[0] } },
    );
    let limits = Limits {
        max_operators_per_page: 100_000,
        timeout_ms: 10_000,
        ..Limits::default()
    };
    let started = Instant::now();
    let r = extract_pages(&save(&mut doc), &limits);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(["no_text_layer", "timed_out"].contains(&code(&r)), "{r:?}");
}

#[test]
fn pages_without_text_are_no_text_layer() {
    let r = extract_pages(
        &save(&mut with_content(b"0 0 m 100 100 l S")),
        &Limits::default(),
    );
    assert_eq!(code(&r), "no_text_layer");
}

fn encrypted(user: &str, aes256: bool) -> Vec<u8> {
    use lopdf::encryption::crypt_filters::{Aes256CryptFilter, CryptFilter};
    use lopdf::{EncryptionState, EncryptionVersion, Permissions};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (Secret text) Tj ET");
    let state = if aes256 {
        let filters: BTreeMap<Vec<u8>, Arc<dyn CryptFilter>> = BTreeMap::from([(
            b"StdCF".to_vec(),
            Arc::new(Aes256CryptFilter) as Arc<dyn CryptFilter>,
        )]);
        EncryptionState::try_from(EncryptionVersion::V5 {
            encrypt_metadata: true,
            crypt_filters: filters,
            file_encryption_key: &[7u8; 32],
            stream_filter: b"StdCF".to_vec(),
            string_filter: b"StdCF".to_vec(),
            owner_password: "owner",
            user_password: user,
            permissions: Permissions::all(),
        })
        .expect("encryption")
    } else {
        EncryptionState::try_from(EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner",
            user_password: user,
            key_length: 128,
            permissions: Permissions::all(),
        })
        .expect("encryption")
    };
    doc.encrypt(&state).expect("encryption");
    save(&mut doc)
}

#[test]
fn empty_user_password_rc4_and_aes256_are_read() {
    for aes in [false, true] {
        let pdf = encrypted("", aes);
        let out =
            extract_pages(&pdf, &Limits::default()).unwrap_or_else(|e| panic!("aes={aes}: {e}"));
        assert!(
            out.pages[0].text.contains("Secret text"),
            "aes={aes}: {:?}",
            out.pages[0].text
        );
    }
}

#[test]
fn password_required_is_a_typed_error() {
    for aes in [false, true] {
        let r = extract_pages(&encrypted("secret", aes), &Limits::default());
        assert_eq!(code(&r), "password_required", "aes={aes}");
    }
}

#[test]
fn garbage_after_header_never_panics() {
    // A cheap deterministic fuzz: mutate a valid file byte by byte.
    let pdf = hello();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let mut m = pdf.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % m.len();
            m[i] = (seed >> 32) as u8;
        }
        let _ = extract_pages(&m, &Limits::default());
    }
}

#[test]
fn object_count_limit() {
    let r = extract_pages(
        &hello(),
        &Limits {
            max_objects: 2,
            ..Limits::default()
        },
    );
    assert!(
        matches!(
            r,
            Err(ExtractError::TooLarge {
                limit: pdfq_extract::SizeLimit::Objects,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn deep_page_tree_chain_terminates() {
    // 5,000 nested /Pages nodes above the one page: walked to the depth bound only.
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (deep) Tj ET");
    let root = pages_id(&doc);
    let page = first_page(&doc);
    let mut child = page;
    for _ in 0..5_000 {
        let id = doc.add_object(
            dictionary! { "Type" => "Pages", "Kids" => vec![child.into()], "Count" => 1 },
        );
        child = id;
    }
    doc.get_dictionary_mut(root)
        .unwrap()
        .set("Kids", vec![child.into()]);
    let r = extract_pages(&save(&mut doc), &Limits::default());
    // The page is out of reach of the bounded walk, so the fallback scan finds it.
    assert!(
        ["ok", "no_text_layer", "damaged"].contains(&code(&r)),
        "{r:?}"
    );
}

#[test]
fn xref_prev_cycle_terminates() {
    // An incremental update whose trailer's /Prev points at itself.
    let mut pdf = hello();
    let root = {
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        doc.trailer.get(b"Root").unwrap().as_reference().unwrap()
    };
    let at = pdf.len() + 1;
    let tail = format!(
        "\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Root {} {} R /Prev {at} >>\nstartxref\n{at}\n%%EOF\n",
        root.0, root.1
    );
    pdf.extend_from_slice(tail.as_bytes());
    let started = Instant::now();
    let r = extract_pages(&pdf, &Limits::default());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(["ok", "damaged"].contains(&code(&r)), "{r:?}");
}

#[test]
fn a_page_with_too_many_glyphs_fails_as_too_large() {
    let mut content = b"BT /F1 1 Tf 72 720 Td (".to_vec();
    content.extend(std::iter::repeat_n(b'x', 2_000_000));
    content.extend_from_slice(b") Tj ET");
    let limits = Limits {
        max_glyphs_per_page: 1000,
        ..Limits::default()
    };
    let r = extract_pages(&save(&mut with_content(&content)), &limits);
    assert_eq!(
        r,
        Err(ExtractError::ResultTooLarge {
            limit: pdfq_extract::ResultLimit::PageGlyphs,
            actual: 1001,
            max: 1000
        })
    );
}

#[test]
fn a_big_form_drawn_many_times_is_bounded() {
    // A 256 KiB form of operands only, drawn 100,000 times (25 GB to lex without a bound).
    let mut doc = with_content(b"");
    let mut form_content = b"BT /F1 12 Tf 72 700 Td (f) Tj ET ".to_vec();
    form_content.extend(std::iter::repeat_n(b"1 ".as_slice(), 128 * 1024).flatten());
    let font = doc
        .objects
        .iter()
        .find(|(_, o)| o.as_dict().is_ok_and(|d| d.has_type(b"Font")))
        .map(|(id, _)| *id)
        .unwrap();
    let form_id = doc.add_object(Stream::new(
        dictionary! { "Subtype" => "Form", "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } } },
        form_content,
    ));
    let content = b"/X0 Do ".repeat(100_000);
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    page_dict(&mut doc).set("Contents", content_id);
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "XObject" => dictionary! { "X0" => form_id } },
    );
    let started = Instant::now();
    let r = extract_pages(&save(&mut doc), &Limits::default());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(["ok", "timed_out"].contains(&code(&r)), "{r:?}");
}

#[test]
fn truncated_before_catalog_still_reads_pages() {
    let pdf = hello();
    // Cut where the catalog starts: no catalog, no xref, no trailer.
    let at = pdf.windows(8).position(|w| w == b"/Catalog").unwrap();
    let obj_at = pdf[..at].windows(3).rposition(|w| w == b"obj").unwrap();
    let line_start = pdf[..obj_at].iter().rposition(|&b| b == b'\n').unwrap();
    let doc =
        extract_pages(&pdf[..line_start], &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        doc.pages[0].text.contains("Hello World"),
        "{:?}",
        doc.pages[0].text
    );
}

#[test]
fn a_missing_font_reads_as_winansi() {
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (Hello World) Tj ET");
    page_dict(&mut doc).set(
        "Resources",
        dictionary! { "Font" => dictionary! { "F1" => Object::Reference((999, 0)) } },
    );
    let out = extract_pages(&save(&mut doc), &Limits::default()).unwrap();
    assert!(
        out.pages[0].text.contains("Hello World"),
        "{:?}",
        out.pages[0].text
    );
}

/// `with_content`'s document with `listed` more pages in its page tree and `orphans` page
/// objects no tree lists (pages an incremental update deleted), each with its own content.
fn with_pages(listed: usize, orphans: usize) -> Vec<u8> {
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (page 1) Tj ET");
    let pages = pages_id(&doc);
    let template = page_dict(&mut doc).clone();
    let mut kids = vec![Object::Reference(first_page(&doc))];
    for n in 0..listed + orphans {
        let text = format!("BT /F1 12 Tf 72 720 Td (page {}) Tj ET", n + 2);
        let content = doc.add_object(Stream::new(dictionary! {}, text.into_bytes()));
        let mut page = template.clone();
        page.set("Contents", content);
        let id = doc.add_object(page);
        if n < listed {
            kids.push(id.into());
        }
    }
    let tree = doc.get_dictionary_mut(pages).expect("page tree");
    tree.set("Count", kids.len() as i64);
    tree.set("Kids", kids);
    save(&mut doc)
}

fn at_most_ten_pages() -> Limits {
    Limits {
        max_pages: 10,
        ..Limits::default()
    }
}

#[test]
fn a_file_with_far_more_pages_than_the_limit_stops_loading_at_the_limit() {
    let limits = at_most_ten_pages();
    let err = extract_pages(&with_pages(59, 0), &limits).unwrap_err();
    // Keeping stopped after twice the limit of page objects: a walk of the whole tree, after
    // loading every page, would have stopped at the 11th.
    assert_eq!(
        err,
        ExtractError::TooLarge {
            limit: pdfq_extract::SizeLimit::Pages,
            actual: 21,
            max: 10,
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("over the limit of 10") && message.contains("MAX_PAGES"),
        "{message}"
    );
    // Just over the limit, the tree's walk refuses it.
    let err = extract_pages(&with_pages(10, 0), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            ExtractError::TooLarge {
                limit: pdfq_extract::SizeLimit::Pages,
                actual: 11,
                max: 10
            }
        ),
        "{err:?}"
    );
}

#[test]
fn page_objects_the_tree_no_longer_lists_do_not_count_against_the_limit() {
    let limits = at_most_ten_pages();
    let doc = extract_pages(&with_pages(9, 8), &limits).unwrap();
    assert_eq!(doc.pages.len(), 10);
    assert_eq!(doc.pages[9].text.trim(), "page 10");
}

#[test]
fn a_file_of_tiny_objects_stops_loading_at_the_object_limit_and_packed_objects_do_not_count() {
    // Thousands of three-number arrays nothing refers to: each is small in the file, hundreds
    // of bytes parsed.
    let mut doc = with_content(b"BT /F1 12 Tf 72 720 Td (tiny) Tj ET");
    for n in 0..5_000 {
        doc.add_object(vec![Object::Integer(n), 0.into(), 0.into()]);
    }
    let limits = Limits {
        max_objects: 100,
        ..Limits::default()
    };
    let err = extract_pages(&save(&mut doc), &limits).unwrap_err();
    assert_eq!(
        err,
        ExtractError::TooLarge {
            limit: pdfq_extract::SizeLimit::Objects,
            actual: 101,
            max: 100,
        },
        "keeping stops at the limit"
    );
    let message = err.to_string();
    assert!(message.contains("MAX_OBJECTS"), "{message}");

    // A form of 60 fields holds 180 objects for them, packed: only its pages, their
    // contents and the check boxes' appearances (their font is inline) count.
    let form = pdfq_test_support::pdf::form_pdf(2, 30, |n| format!("Field {n}."));
    let read = extract_pages(
        &form,
        &Limits {
            max_objects: 20,
            ..Limits::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(read.pages[1].text.contains("Field 59."));
}
