//! Glyph placement faults, in PDFs built like the corpus documents that showed them: spacing
//! carets and tildes in typewriter fonts, and word spaces made by character spacing.

use pdfq_extract::{Limits, extract_pages};
use pdfq_test_support::pdf::page_pdf;

const HELVETICA: &str =
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";
const COURIER: &str =
    "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>";

fn text_of(font: &str, content: &str) -> String {
    let pdf = page_pdf(&[("F1", font)], content);
    let out = extract_pages(&pdf, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    out.pages[0].text.clone()
}

/// A LaTeX manual's verbatim "^^J" and a URL's "~" (LMMono10 there, Courier here): each glyph
/// follows the last at a full advance, so none is an accent over its neighbour.
#[test]
fn typewriter_caret_tilde_and_backtick_stay_characters() {
    let text = text_of(
        COURIER,
        "BT /F1 10 Tf 72 700 Td (a^2 http://ccrma.stanford.edu/~jos undefined.^^J `x') Tj ET",
    );
    assert_eq!(
        text,
        "a^2 http://ccrma.stanford.edu/~jos undefined.^^J `x'\n"
    );
}

/// A circumflex drawn over the letter before it (its middle inside the letter) still joins it.
#[test]
fn an_accent_drawn_over_its_letter_still_joins_it() {
    // "o" advances 556/1000 em; the circumflex (333) is moved back to sit over it.
    let text = text_of(
        HELVETICA,
        "BT /F1 10 Tf 72 700 Td [(c) (o) 445 (\\210) -222 (te)] TJ ET",
    );
    assert_eq!(text, "c\u{00F4}te\n");
}

/// The amsclass manual's justified line after the LaTeX logo: character spacing of 0.38 em
/// everywhere, cancelled inside words by TJ adjustments, so the spaces are the gaps left.
#[test]
fn word_spaces_made_by_character_spacing_are_kept() {
    let text = text_of(
        HELVETICA,
        "BT /F1 10 Tf 72 700 Td [(main)-333(LaTe)] TJ 3.8 Tc \
         [(X)5(f)380(i)380(l)380(e)5(i)380(st)380(h)380(a)380(tw)380(h)380(e)380(n)] TJ ET",
    );
    assert_eq!(text, "main LaTeX file is that when\n");
}

/// Letter-spaced (tracked) text keeps its words whole.
#[test]
fn tracked_text_is_not_split_into_letters() {
    let text = text_of(
        HELVETICA,
        "BT /F1 10 Tf 72 700 Td 2 Tc [(TRACKED)-300(HEADING)] TJ 0 -14 Td (SPACED OUT) Tj ET",
    );
    assert_eq!(text, "TRACKED HEADING\nSPACED OUT\n");
}

/// The amsmath sample's "Denote by Ci = ⋃j Ci(j). It is": the large operator and its index sit
/// 0.7 em below the baseline, and the line goes on after them.
#[test]
fn a_low_operator_and_its_index_do_not_split_the_line() {
    let text = text_of(
        HELVETICA,
        "BT /F1 10 Tf 72 700 Td (Denote by C = ) Tj ET \
         BT /F1 10 Tf 140 693 Td (U) Tj /F1 7 Tf 1 0 0 1 148 691 Tm (j) Tj ET \
         BT /F1 10 Tf 154 700 Td (C\\(j\\). It is obvious.) Tj ET \
         BT /F1 10 Tf 72 686 Td (Next line.) Tj ET",
    );
    assert_eq!(text, "Denote by C = Uj C(j). It is obvious.\nNext line.\n");
}
