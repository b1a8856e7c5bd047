//! Reading order from geometry, not drawing order; page furniture kept out of sentences.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use common::{save, with_type0_font};
use lopdf::dictionary;
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

/// A table of files: name, package and size, one row each.
const TABLE: [[&str; 3]; 6] = [
    ["copyright", "libelf1", "8709"],
    ["changelog.Debian.gz", "libelf1", "3477"],
    ["README", "bash", "2011"],
    ["accessibility.properties", "libatk-wrapper-java", "358"],
    ["NEWS.gz", "coreutils", "45193"],
    ["AUTHORS", "coreutils", "1093"],
];

/// [`TABLE`]'s cells under a title, drawn in the order `order` gives (column, row) pairs,
/// `pitch` points from one row to the next.
fn table(order: &[(usize, usize)], pitch: f32) -> Vec<Placed> {
    let mut placed = vec![at(72.0, 640.0, 14.0, "Files of the system")];
    placed.extend(order.iter().map(|&(col, row)| {
        at(
            [72.0, 260.0, 420.0][col],
            600.0 - pitch * row as f32,
            10.0,
            TABLE[row][col],
        )
    }));
    placed
}

#[test]
fn a_table_is_read_row_by_row_whichever_order_its_cells_were_drawn_in() {
    // At a 30 pt pitch every cell is a block of its own, one below the other down its
    // column, as in a word processor's bordered table (LibreOffice's, of an HTML table): each
    // column of cells was read down before the next.
    let rows: Vec<(usize, usize)> = (0..6).flat_map(|r| [(0, r), (1, r), (2, r)]).collect();
    let columns: Vec<(usize, usize)> = (0..3).flat_map(|c| (0..6).map(move |r| (c, r))).collect();
    let expected: Vec<String> = TABLE.iter().map(|row| row.join(" ")).collect();
    for pitch in [14.0, 30.0] {
        for order in [&rows, &columns] {
            let text = &text_of(&[table(order, pitch)])[0];
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines[0], "Files of the system", "{text}");
            assert_eq!(lines[1..], expected, "pitch {pitch}: {text}");
        }
    }
}

#[test]
fn each_row_of_a_table_is_a_sentence_of_its_own() {
    // The rows end without punctuation and most start in lower case: as running text they
    // flowed into one another and the title into the first, one "sentence" for the table.
    let rows: Vec<(usize, usize)> = (0..6).flat_map(|r| [(0, r), (1, r), (2, r)]).collect();
    let mut page = vec![
        at(
            72.0,
            700.0,
            10.0,
            "The files below come with the system and they are",
        ),
        at(
            72.0,
            686.0,
            10.0,
            "listed with the package that installed each of them.",
        ),
    ];
    page.extend(table(&rows, 14.0));
    let doc = extract_pages(&placed_text_pdf(&[page]), &Limits::default()).unwrap();
    let sentences: Vec<String> = sentences_for_pages(&doc.pages)
        .into_iter()
        .map(|s| s.text)
        .collect();
    let mut expected = vec![
        "The files below come with the system and they are listed with the package that \
         installed each of them."
            .to_owned(),
        "Files of the system".to_owned(),
    ];
    expected.extend(TABLE.iter().map(|row| row.join(" ")));
    assert_eq!(sentences, expected);
}

/// Two columns of Chinese running text, `rows` lines each (`rows[r] = (left, right)`), on
/// shared baselines, in an Identity-H font whose ToUnicode maps code `n` to the `n`th
/// character used.
fn chinese_columns(rows: &[(&str, &str)]) -> Vec<u8> {
    let mut chars: Vec<char> = Vec::new();
    for c in rows.iter().flat_map(|(l, r)| l.chars().chain(r.chars())) {
        if !chars.contains(&c) {
            chars.push(c);
        }
    }
    let code = |c: char| chars.iter().position(|&d| d == c).map_or(0, |i| i + 1);
    let hex = |s: &str| {
        s.chars()
            .map(|c| format!("{:04X}", code(c)))
            .collect::<String>()
    };
    let bfchars: Vec<String> = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| format!("<{:04X}> <{:04X}>", i + 1, c as u32))
        .collect();
    let mut content = String::new();
    for (r, (left, right)) in rows.iter().enumerate() {
        let y = 700 - 14 * r;
        content.push_str(&format!("BT /F1 10 Tf 72 {y} Td <{}> Tj ET\n", hex(left)));
        content.push_str(&format!("BT /F1 10 Tf 320 {y} Td <{}> Tj ET\n", hex(right)));
    }
    let mut doc = with_type0_font(
        content.as_bytes(),
        &bfchars.join(" "),
        &dictionary! { "DW" => 1000 },
    );
    save(&mut doc)
}

#[test]
fn two_columns_of_chinese_on_one_baseline_grid_are_read_column_by_column() {
    // Justified lines with no spaces, both columns on the same baselines, as Chinese is set.
    let rows = [
        ("中文排版的段落从左栏开始一直", "右栏接着讲述故事的其余部分"),
        (
            "写到左栏底部然后转到右栏继续",
            "每一行都排在与左栏相同的基线",
        ),
        (
            "这是左栏的第三行文字的内容了",
            "上面直到页面底部为止都是这样",
        ),
        (
            "左栏到这里就结束了全部的内容",
            "全文到这里就结束了没有别的了",
        ),
    ];
    let doc = extract_pages(&chinese_columns(&rows), &Limits::default()).unwrap();
    let text: String = doc.pages[0].text.split_whitespace().collect();
    let left: String = rows.iter().map(|r| r.0).collect();
    let right: String = rows.iter().map(|r| r.1).collect();
    assert_eq!(text, format!("{left}{right}"), "{}", doc.pages[0].text);
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
