//! What one document may produce is bounded: a small file that multiplies its text (one form
//! drawn over and over) fails with `result_too_large` early, and real documents stay far
//! inside the defaults.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use pdfq_extract::{
    ExtractError, IsolationLimits, Limits, OutputBudget, ResultLimit, extract_isolated,
    extract_pages, sentences_for_pages,
};
use pdfq_test_support::pdf::{repeated_form_pdf, text_pdf};

/// 800 bytes of words without a full stop, as in the reported attack.
fn form_text() -> String {
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".repeat(10)
}

fn limit_of<T: std::fmt::Debug>(r: &Result<T, ExtractError>) -> ResultLimit {
    match r {
        Err(ExtractError::ResultTooLarge { limit, .. }) => *limit,
        other => panic!("expected result_too_large, got {other:?}"),
    }
}

#[test]
fn forty_pages_drawing_one_form_1600_times_fail_on_the_first_page() {
    // Before the limits this 52 KB file extracted to 49 MB of text and 24,695 sentences.
    let pdf = repeated_form_pdf(40, 1600, &form_text());
    assert!(pdf.len() < 64 * 1024, "{}", pdf.len());
    let mut pages_seen = 0;
    let started = Instant::now();
    let r = pdfq_extract::extract_pages_streaming(&pdf, &Limits::default(), |_, _| {
        pages_seen += 1;
    });
    // 1,000 draws (the per-form cap) of 800 glyphs pass the 500,000 glyphs of a page.
    assert_eq!(limit_of(&r), ResultLimit::PageGlyphs);
    assert_eq!(r.as_ref().unwrap_err().code(), "result_too_large");
    assert!(r.unwrap_err().is_permanent());
    assert_eq!(pages_seen, 0, "no page of it is handed on");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_same_form_is_drawn_at_most_max_form_draws_per_page() {
    let pdf = repeated_form_pdf(1, 5, "Drawn once.");
    let count = |max_form_draws_per_page| {
        let limits = Limits {
            max_form_draws_per_page,
            ..Limits::default()
        };
        extract_pages(&pdf, &limits).unwrap().pages[0]
            .text
            .matches("Drawn once.")
            .count()
    };
    assert_eq!(count(1000), 5);
    assert_eq!(count(2), 2);
}

#[test]
fn the_document_text_limit_fails_a_document_of_small_pages() {
    let pages: Vec<String> = (1..=10)
        .map(|i| format!("Page {i} has some text."))
        .collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let pdf = text_pdf(&refs);
    let limits = Limits {
        max_text_bytes: 100,
        ..Limits::default()
    };
    let mut pages_seen = 0;
    let r = pdfq_extract::extract_pages_streaming(&pdf, &limits, |_, _| pages_seen += 1);
    assert_eq!(limit_of(&r), ResultLimit::TextBytes);
    assert!(pages_seen < 10, "it stops at the limit, not at the end");
    assert!(extract_pages(&pdf, &Limits::default()).is_ok());
}

#[test]
fn the_page_text_limit_is_checked_on_every_page() {
    let long = vec!["word ".repeat(10); 10].join("\n");
    let pdf = text_pdf(&["Short page.", &long]);
    let limits = Limits {
        max_page_text_bytes: 300,
        ..Limits::default()
    };
    assert_eq!(
        extract_pages(&pdf, &limits),
        Err(ExtractError::ResultTooLarge {
            limit: ResultLimit::PageTextBytes,
            actual: 500,
            max: 300
        })
    );
}

#[test]
fn sentence_limits_apply_to_the_sentences_of_real_pages() {
    let pages: Vec<String> = (1..=3)
        .map(|i| format!("Page {i} starts. It goes on. It ends."))
        .collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let doc = extract_pages(&text_pdf(&refs), &Limits::default()).unwrap();
    let sentences = sentences_for_pages(&doc.pages);
    assert_eq!(sentences.len(), 9);
    let budget = |max_page_sentences, max_sentences| {
        OutputBudget::new(&Limits {
            max_page_sentences,
            max_sentences,
            ..Limits::default()
        })
        .add_sentences(&sentences)
    };
    assert!(budget(3, 9).is_ok());
    assert_eq!(limit_of(&budget(2, 9)), ResultLimit::PageSentences);
    assert_eq!(limit_of(&budget(3, 8)), ResultLimit::Sentences);
}

#[test]
fn the_parent_enforces_the_text_limit_on_a_child_that_ignores_it() {
    // A subverted child that sends three pages of 100 bytes whatever its limits say.
    let text = "x".repeat(100);
    let script = format!(
        "for n in 1 2 3; do printf '{{\"type\":\"page\",\"page\":{{\"number\":%s,\"text\":\"{text}\"}},\"total\":3}}\\n' $n; done; printf '{{\"type\":\"done\"}}\\n'"
    );
    let limits = IsolationLimits {
        limits: Limits {
            max_text_bytes: 250,
            ..Limits::default()
        },
        ..IsolationLimits::default()
    };
    let mut pages_seen = 0;
    let r = extract_isolated(
        Path::new("/bin/sh"),
        &[OsString::from("-c"), OsString::from(script)],
        b"%PDF-1.4",
        &limits,
        |_, _| pages_seen += 1,
    );
    assert_eq!(limit_of(&r), ResultLimit::TextBytes);
    assert_eq!(pages_seen, 2, "the page over the limit is not handed on");
}

#[test]
fn the_amplification_pdf_fails_in_the_isolated_child_too() {
    let pdf = repeated_form_pdf(40, 1600, &form_text());
    let r = extract_isolated(
        Path::new(env!("CARGO_BIN_EXE_pdfq-extract")),
        &[OsString::from("child")],
        &pdf,
        &IsolationLimits::default(),
        |_, _| {},
    );
    assert_eq!(limit_of(&r), ResultLimit::PageGlyphs);
}

#[test]
fn a_2000_page_manual_stays_well_inside_the_defaults() {
    // 2,000 pages as dense as the corpus's 1,221-page manual (2.5 KB and 33 sentences a page):
    // 5 MB of text and 66,000 sentences, a third of the defaults or less.
    let sentence = "The macro expands its argument once and stores the result for later use.";
    let page: String = (0..33).map(|i| format!("{sentence} {i}.\n")).collect();
    let pages = vec![page.as_str(); 2000];
    let doc = extract_pages(&text_pdf(&pages), &Limits::default()).unwrap();
    let text_bytes: usize = doc.pages.iter().map(|p| p.text.len()).sum();
    let sentences = sentences_for_pages(&doc.pages);
    let limits = Limits::default();
    assert!(
        text_bytes as u64 * 3 < limits.max_text_bytes,
        "{text_bytes}"
    );
    assert!(
        sentences.len() as u64 * 3 < limits.max_sentences,
        "{}",
        sentences.len()
    );
    let mut budget = OutputBudget::new(&limits);
    for page in &doc.pages {
        budget.add_page(page).unwrap();
    }
    budget.add_sentences(&sentences).unwrap();
}
