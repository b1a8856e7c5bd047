//! Reading order from geometry, not drawing order; page furniture kept out of sentences.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use pdfq_extract::{Limits, extract_pages, sentences_for_pages};
use pdfq_test_support::pdf::{Placed, placed_text_pdf};

fn at(x: f32, y: f32, size: f32, text: &str) -> Placed {
    Placed {
        x,
        y,
        size,
        text: text.to_owned(),
    }
}

const LEFT: [&str; 4] = [
    "The left column starts the story and",
    "goes on for a few lines until the",
    "reader reaches its bottom, where the",
    "text flows into the right column.",
];
const RIGHT: [&str; 4] = [
    "Then the right column takes over and",
    "tells the rest of the story in its",
    "own lines, one below the other, to",
    "the very end of the page.",
];

/// Both columns, line by line, drawn in the order `order` gives (column, row) pairs.
fn columns(order: &[(usize, usize)]) -> Vec<Placed> {
    order
        .iter()
        .map(|&(col, row)| {
            let text = if col == 0 { LEFT[row] } else { RIGHT[row] };
            at(
                72.0 + 260.0 * col as f32,
                600.0 - 12.0 * row as f32,
                10.0,
                text,
            )
        })
        .collect()
}

fn text_of(pages: &[Vec<Placed>]) -> Vec<String> {
    let doc = extract_pages(&placed_text_pdf(pages), &Limits::default()).unwrap();
    doc.pages.into_iter().map(|p| p.text).collect()
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_two_column_page_drawn_row_by_row_comes_out_column_by_column() {
    let order: Vec<(usize, usize)> = (0..4).flat_map(|row| [(0, row), (1, row)]).collect();
    let text = &text_of(&[columns(&order)])[0];
    let expected = words(&format!("{} {}", LEFT.join(" "), RIGHT.join(" ")));
    assert_eq!(words(text), expected, "{text}");
}

#[test]
fn a_right_column_drawn_first_and_bottom_up_is_still_read_second() {
    let order: Vec<(usize, usize)> = (0..4)
        .rev()
        .map(|row| (1, row))
        .chain((0..4).rev().map(|row| (0, row)))
        .collect();
    let text = &text_of(&[columns(&order)])[0];
    let expected = words(&format!("{} {}", LEFT.join(" "), RIGHT.join(" ")));
    assert_eq!(words(text), expected, "{text}");
}

#[test]
fn a_full_width_title_drawn_last_comes_first() {
    let mut page = columns(&[
        (1, 0),
        (0, 0),
        (1, 1),
        (0, 1),
        (0, 2),
        (1, 2),
        (0, 3),
        (1, 3),
    ]);
    page.push(at(150.0, 650.0, 16.0, "A Title Across Both Columns"));
    let text = &text_of(&[page])[0];
    assert!(
        text.starts_with("A Title Across Both Columns\n\nThe left column"),
        "{text}"
    );
}

#[test]
fn a_column_break_mid_sentence_does_not_split_the_sentence() {
    let order: Vec<(usize, usize)> = (0..4).flat_map(|row| [(1, row), (0, row)]).collect();
    let doc = extract_pages(&placed_text_pdf(&[columns(&order)]), &Limits::default()).unwrap();
    let sentences: Vec<String> = sentences_for_pages(&doc.pages)
        .into_iter()
        .map(|s| s.text)
        .collect();
    assert_eq!(
        sentences,
        [words(&LEFT.join(" ")), words(&RIGHT.join(" ")),],
        "{:?}",
        doc.pages[0].text
    );
}

#[test]
fn a_repeated_footer_and_page_numbers_are_furniture_kept_out_of_sentences() {
    let pages: Vec<Vec<Placed>> = (1..=3usize)
        .map(|n| {
            let mut page = vec![
                at(72.0, 40.0, 8.0, "Proceedings of the Test Workshop"),
                at(520.0, 40.0, 8.0, &n.to_string()),
            ];
            let name = ["first", "second", "third"][n - 1];
            page.push(at(
                72.0,
                700.0,
                10.0,
                &format!("The {name} body sentence has no end on"),
            ));
            page.push(at(
                72.0,
                688.0,
                10.0,
                "the page, it carries on over the break",
            ));
            page.push(at(
                72.0,
                676.0,
                10.0,
                "and ends here. Another one starts and",
            ));
            page
        })
        .collect();
    let doc = extract_pages(&placed_text_pdf(&pages), &Limits::default()).unwrap();
    for p in &doc.pages {
        // Kept in the text, marked as furniture.
        let furniture: Vec<&str> = p.furniture_lines().collect();
        assert_eq!(
            furniture,
            [format!("Proceedings of the Test Workshop {}", p.number)],
            "{:?}",
            p.text
        );
        assert!(p.text.contains("Proceedings of the Test Workshop"));
    }
    let sentences = sentences_for_pages(&doc.pages);
    assert!(
        sentences
            .iter()
            .all(|s| !s.text.contains("Proceedings") && !s.text.contains("Workshop")),
        "{sentences:?}"
    );
    // The sentence that runs over the page break is whole.
    assert!(
        sentences
            .iter()
            .any(|s| s.text == "Another one starts and The second body sentence has no end on the page, it carries on over the break and ends here."),
        "{sentences:?}"
    );
}
