//! Damaged and truncated input told apart from input without text: a cut or corrupt file is
//! `damaged` or completes with warnings naming what it lost, never "no text layer, OCR is
//! needed".

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::path::PathBuf;

use pdfq_extract::{Document, ExtractError, Limits, PageWarning, extract_pages};
use pdfq_test_support::pdf::{text_pdf, text_pdf_with_corrupt_page};

/// Where a truncated file is cut, in percent of its length.
const CUTS: [usize; 3] = [30, 60, 90];

/// Corpus files with a text layer, each of a kind truncation hurts differently: one page
/// (issue-625, kampo), a page tree rebuilt from the objects found (tracemonkey, camlidl), a
/// cross-reference that survives while later objects are gone (i1040nr, GeoTopo), a content
/// stream kept while its font is gone (cidfont_cmap_overflow).
const CORPUS_FILES: [&str; 8] = [
    "pdfminer__issue-625-identity-cmap",
    "pdfjs__cidfont_cmap_overflow",
    "pdfjs__issue13211",
    "pdfminer__kampo",
    "pdfjs__tracemonkey",
    "camlidl__camlidl-1.04.doc",
    "pdfminer__i1040nr",
    "pysf__GeoTopo-komprimiert",
];

#[test]
fn a_corrupt_page_among_good_ones_completes_with_a_warning_for_it() {
    let pages = [
        "The first page reads well.",
        "The second page is lost.",
        "The third page reads well too.",
    ];
    let doc = extract_pages(&text_pdf_with_corrupt_page(&pages, 1), &Limits::default()).unwrap();
    assert_eq!(doc.pages.len(), 3);
    assert!(doc.pages[0].text.contains("first page"), "{doc:?}");
    assert!(doc.pages[1].text.trim().is_empty(), "{doc:?}");
    assert!(doc.pages[2].text.contains("third page"), "{doc:?}");
    assert_eq!(
        doc.warnings,
        vec![PageWarning {
            page: Some(2),
            reason: "its content stream is truncated or corrupt".into(),
        }]
    );
    // The same file undamaged has nothing to say.
    let clean = extract_pages(&text_pdf(&pages), &Limits::default()).unwrap();
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
}

#[test]
fn a_file_whose_only_page_is_corrupt_is_damaged_not_without_text() {
    let r = extract_pages(
        &text_pdf_with_corrupt_page(&["Lost."], 0),
        &Limits::default(),
    );
    let Err(ExtractError::Damaged { reason }) = r else {
        panic!("{r:?}");
    };
    assert!(reason.contains("page 1"), "{reason}");
    assert!(reason.contains("upload the complete"), "{reason}");
}

#[test]
fn truncated_generated_pdfs_are_damaged_or_say_what_they_lost() {
    let texts: Vec<String> = (1..=20)
        .map(|n| format!("Page {n} has its own sentence."))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let pdf = text_pdf(&refs);
    let whole = extract_pages(&pdf, &Limits::default()).unwrap();
    for cut in CUTS {
        let truncated = &pdf[..pdf.len() * cut / 100];
        let r = extract_pages(truncated, &Limits::default());
        assert_honest(&format!("generated, cut at {cut}%"), &r, &whole);
    }
}

#[test]
fn a_file_cut_before_any_page_says_it_was_cut_short_and_a_whole_but_broken_one_does_not() {
    let pages: Vec<String> = (1..=20).map(|n| format!("Page {n} reads.")).collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let pdf = text_pdf(&refs);
    // Cut inside its first object, as an upload interrupted after a few bytes (or a file whose
    // producer writes its pages last, as Ghostscript does, cut before them).
    let Err(ExtractError::Damaged { reason }) = extract_pages(&pdf[..40], &Limits::default())
    else {
        panic!("a cut file was not damaged");
    };
    assert!(reason.contains("cut short"), "{reason}");
    assert!(reason.contains("upload the complete file"), "{reason}");
    // Whole (it ends with its end-of-file marker) but unreadable: nothing suggests a cut.
    let broken = b"%PDF-1.7\nthese bytes are no PDF objects at all\n%%EOF\n";
    let Err(ExtractError::Damaged { reason }) = extract_pages(broken, &Limits::default()) else {
        panic!("a broken file was not damaged");
    };
    assert!(!reason.contains("cut short"), "{reason}");
}

/// A one-page file updated incrementally with `more` pages: the update appends its pages, a
/// new page tree and catalog, and its own cross-reference section after the first %%EOF.
fn updated_with_more_pages(more: &[&str]) -> Vec<u8> {
    let first = text_pdf(&["Page 1 was there from the start."]);
    let previous = lopdf::Document::load_mem(&first).unwrap();
    let catalog = previous
        .trailer
        .get(b"Root")
        .unwrap()
        .as_reference()
        .unwrap();
    let tree = previous
        .get_dictionary(catalog)
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    let first_page = *previous.get_pages().values().next().unwrap();
    let template = previous.get_dictionary(first_page).unwrap().clone();
    let mut update = lopdf::IncrementalDocument::create_from(first, previous);
    update.opt_clone_object_to_new_document(tree).unwrap();
    let mut kids = vec![lopdf::Object::Reference(first_page)];
    for text in more {
        let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        let content = update.new_document.add_object(lopdf::Stream::new(
            lopdf::Dictionary::new(),
            content.into_bytes(),
        ));
        let mut page = template.clone();
        page.set("Contents", content);
        kids.push(update.new_document.add_object(page).into());
    }
    let tree = update.new_document.get_dictionary_mut(tree).unwrap();
    tree.set("Count", kids.len() as i64);
    tree.set("Kids", kids);
    let mut out = Vec::new();
    update.save_to(&mut out).unwrap();
    out
}

#[test]
fn a_file_cut_inside_an_update_recovers_the_pages_it_holds_and_says_it_is_cut() {
    let texts: Vec<String> = (2..=20)
        .map(|n| format!("Page {n} came with the update."))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let pdf = updated_with_more_pages(&refs);
    let whole = extract_pages(&pdf, &Limits::default()).unwrap();
    assert_eq!(whole.pages.len(), 20);
    assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);
    // Cut after the update's pages, before its page tree and cross-reference: what is left
    // names only the first revision's one-page tree.
    let cut = memchr::memmem::rfind(&pdf, b"Page 20 came").unwrap() + 200;
    let doc = extract_pages(&pdf[..cut], &Limits::default()).unwrap();
    assert_eq!(doc.pages.len(), 20, "{:?}", doc.warnings);
    assert!(
        doc.pages[19].text.contains("Page 20 came"),
        "{:?}",
        doc.pages[19]
    );
    assert!(
        doc.warnings
            .iter()
            .any(|w| w.page.is_none() && w.reason.contains("end-of-file marker")),
        "{:?}",
        doc.warnings
    );
    for cut in CUTS {
        let truncated = &pdf[..pdf.len() * cut / 100];
        let r = extract_pages(truncated, &Limits::default());
        assert_honest(&format!("updated, cut at {cut}%"), &r, &whole);
    }
}

#[test]
fn truncated_corpus_pdfs_are_damaged_or_say_what_they_lost() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: no corpus (set PDFQ_CORPUS to its directory)");
        return;
    };
    for name in CORPUS_FILES {
        let pdf = std::fs::read(dir.join("pdf").join(format!("{name}.pdf"))).unwrap();
        let whole = extract_pages(&pdf, &Limits::default()).unwrap();
        for cut in CUTS {
            let truncated = &pdf[..pdf.len() * cut / 100];
            let r = extract_pages(truncated, &Limits::default());
            assert_honest(&format!("{name} cut at {cut}%"), &r, &whole);
        }
    }
}

/// A truncated file is `damaged`, saying the way out (upload the complete file), or completes
/// with warnings, or (when the cut only took what no page needed) reads exactly as the whole
/// file did. Never `no_text_layer`.
fn assert_honest(what: &str, r: &Result<Document, ExtractError>, whole: &Document) {
    match r {
        Err(ExtractError::Damaged { reason }) => {
            assert!(reason.contains("upload the complete"), "{what}: {reason}");
        }
        Err(e) => panic!("{what}: {} ({e})", e.code()),
        Ok(doc) if doc.warnings.is_empty() => {
            assert_eq!(doc.to_text(), whole.to_text(), "{what}: text lost silently");
        }
        Ok(doc) => {
            for w in &doc.warnings {
                assert!(!w.reason.is_empty(), "{what}: {w:?}");
                if let Some(page) = w.page {
                    assert!(
                        (1..=doc.pages.len() as u32).contains(&page),
                        "{what}: {w:?}"
                    );
                }
            }
        }
    }
}

/// The shared corpus: PDFQ_CORPUS, else `../shared/corpus` beside the workspace (where
/// `cargo xtask bench extract` looks).
fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PDFQ_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    dir.join("pdf").is_dir().then_some(dir)
}
