//! Where each sentence is drawn: its pages and the boxes of its lines, in the frame a viewer
//! shows (top-left origin, y down, /Rotate applied).

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use pdfq_extract::{Limits, Sentence, extract_pages, sentences_for_pages};
use pdfq_test_support::pdf::{Placed, placed_text_pdf, placed_text_pdf_in};

/// Courier: every glyph advances 0.6 em, so each glyph's place follows from its line's start.
const SIZE: f32 = 10.0;
const ADVANCE: f32 = 0.6 * SIZE;
/// Rounding of the boxes (hundredths of a point) and of word extents within a line.
const TOLERANCE: f32 = 0.05;

fn at(x: f32, y: f32, text: &str) -> Placed {
    Placed {
        x,
        y,
        size: SIZE,
        text: text.to_owned(),
    }
}

/// A glyph of a drawn line: its character, the word (index among all words drawn) it is part
/// of, and its origin and advance end on the baseline, in user space.
struct Glyph {
    word: usize,
    origin: (f32, f32),
    end: (f32, f32),
}

/// Every glyph of `lines` (Courier), numbering words across them in the order given.
fn glyphs(lines: &[Placed], words: &mut Vec<String>) -> Vec<Glyph> {
    let mut out = Vec::new();
    for line in lines {
        let mut in_word = false;
        for (i, c) in line.text.chars().enumerate() {
            if c == ' ' {
                in_word = false;
                continue;
            }
            if !in_word {
                words.push(String::new());
                in_word = true;
            }
            words.last_mut().unwrap().push(c);
            let x = line.x + ADVANCE * i as f32;
            out.push(Glyph {
                word: words.len() - 1,
                origin: (x, line.y),
                end: (x + ADVANCE, line.y),
            });
        }
    }
    out
}

fn contains(b: &pdfq_extract::SentenceBox, (x, y): (f32, f32)) -> bool {
    b.x0 - TOLERANCE <= x && x <= b.x1 + TOLERANCE && b.y0 - TOLERANCE <= y && y <= b.y1 + TOLERANCE
}

/// Each sentence's words, in order, from the drawn words (its text split on whitespace).
fn words_of_sentences(sentences: &[Sentence], words: &[String]) -> Vec<Vec<usize>> {
    let mut next = 0;
    sentences
        .iter()
        .map(|s| {
            s.text
                .split_whitespace()
                .map(|w| {
                    assert_eq!(words[next], w, "the sentences are the drawn words in order");
                    next += 1;
                    next - 1
                })
                .collect()
        })
        .collect()
}

const LEFT: [&str; 4] = [
    "Alpha sentence one runs here. Beta two",
    "starts mid line and goes on to the next",
    "line. Gamma three is short. Delta four",
    "flows into the right column and then",
];
const RIGHT: [&str; 3] = [
    "ends over there. Epsilon five is the",
    "last one of this page and it is done.",
    "Zeta six stands alone on its line.",
];

/// A two-column page drawn row by row (left line, right line), as report generators draw:
/// each sentence's boxes hold every glyph of its words and no glyph of any other sentence.
#[test]
fn a_sentences_boxes_hold_exactly_the_glyphs_of_its_words() {
    let left: Vec<Placed> = LEFT
        .iter()
        .enumerate()
        .map(|(row, t)| at(72.0, 700.0 - 12.0 * row as f32, t))
        .collect();
    let right: Vec<Placed> = RIGHT
        .iter()
        .enumerate()
        .map(|(row, t)| at(340.0, 700.0 - 12.0 * row as f32, t))
        .collect();
    let mut drawn = Vec::new();
    for (row, l) in left.iter().enumerate() {
        drawn.push(l.clone());
        if let Some(r) = right.get(row) {
            drawn.push(r.clone());
        }
    }
    let doc = extract_pages(
        &placed_text_pdf_in(&[drawn], "Courier", 0),
        &Limits::default(),
    )
    .unwrap();
    let sentences = sentences_for_pages(&doc.pages);
    let texts: Vec<&str> = sentences.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Alpha sentence one runs here.",
            "Beta two starts mid line and goes on to the next line.",
            "Gamma three is short.",
            "Delta four flows into the right column and then ends over there.",
            "Epsilon five is the last one of this page and it is done.",
            "Zeta six stands alone on its line.",
        ]
    );
    // Reading order: the left column, then the right.
    let mut words = Vec::new();
    let all: Vec<Placed> = left.iter().chain(&right).cloned().collect();
    let glyphs = glyphs(&all, &mut words);
    let owners = words_of_sentences(&sentences, &words);
    // One box per line part: 1, 3, 1, 3 (two left lines, one right), 2, 1.
    let counts: Vec<usize> = sentences.iter().map(|s| s.boxes.len()).collect();
    assert_eq!(counts, [1, 3, 1, 3, 2, 1]);
    for (s, own) in sentences.iter().zip(&owners) {
        assert_eq!(s.pages, [1]);
        assert_eq!(s.page_sizes.len(), 1);
        assert_eq!(
            (s.page_sizes[0].width, s.page_sizes[0].height),
            (612.0, 792.0)
        );
        for g in &glyphs {
            // Top-left origin, y down: a baseline at y is 792 - y from the top.
            let points = [(g.origin.0, 792.0 - g.origin.1), (g.end.0, 792.0 - g.end.1)];
            let inside = points
                .iter()
                .all(|&p| s.boxes.iter().any(|b| contains(b, p)));
            let touched = points
                .iter()
                .any(|&p| s.boxes.iter().any(|b| contains(b, p)));
            if own.contains(&g.word) {
                assert!(
                    inside,
                    "{:?}: a glyph of {:?} outside {:?}",
                    s.text, words[g.word], s.boxes
                );
            } else {
                assert!(
                    !touched,
                    "{:?}: {:?}'s glyph inside {:?}",
                    s.text, words[g.word], s.boxes
                );
            }
        }
        // The boxes cover the glyphs' height: ascent above the baseline, descent below.
        for b in &s.boxes {
            assert!(
                b.y1 - b.y0 >= 0.9 * SIZE && b.y1 - b.y0 <= 1.2 * SIZE,
                "{b:?}"
            );
        }
    }
}

/// A sentence that runs over a page break is on both pages, with a box on each.
#[test]
fn a_sentence_over_a_page_break_has_both_pages() {
    let page = |lines: [&str; 3]| {
        lines
            .iter()
            .enumerate()
            .map(|(row, t)| at(72.0, 700.0 - 12.0 * row as f32, t))
            .collect::<Vec<_>>()
    };
    let pdf = placed_text_pdf(&[
        page([
            "The first page begins here.",
            "A full line of text keeps the first page going.",
            "This sentence starts on the first page and",
        ]),
        page([
            "continues on the second one.",
            "Another line of text keeps the second page going.",
            "The second page ends here.",
        ]),
    ]);
    let doc = extract_pages(&pdf, &Limits::default()).unwrap();
    let sentences = sentences_for_pages(&doc.pages);
    let flowing = sentences
        .iter()
        .find(|s| s.text.starts_with("This sentence starts"))
        .unwrap();
    assert_eq!(
        flowing.text,
        "This sentence starts on the first page and continues on the second one."
    );
    assert_eq!(flowing.page, 1);
    assert_eq!(flowing.pages, [1, 2]);
    let pages: Vec<u32> = flowing.page_sizes.iter().map(|p| p.page).collect();
    assert_eq!(pages, [1, 2]);
    let boxes: Vec<(u32, f32)> = flowing.boxes.iter().map(|b| (b.page, b.x0)).collect();
    assert_eq!(boxes.len(), 2, "{:?}", flowing.boxes);
    // Each line starts at x = 72: on page 1 the last line (baseline 676), on page 2 the first
    // (baseline 700).
    for (b, baseline) in flowing.boxes.iter().zip([676.0f32, 700.0]) {
        assert!((b.x0 - 72.0).abs() < 0.5, "{b:?}");
        assert!(contains(b, (72.0, 792.0 - baseline)), "{b:?}");
    }
    assert_eq!((boxes[0].0, boxes[1].0), (1, 2));
    // The others stay on their own page.
    for s in sentences.iter().filter(|s| !s.text.starts_with("This")) {
        assert_eq!(s.pages, [s.page], "{:?}", s.text);
    }
}

/// A page turned a quarter clockwise (/Rotate 90) is shown landscape: the user space's left
/// edge is at the top and its bottom edge at the left, so a glyph drawn at (x, y) is shown at
/// (y, x), and a line drawn left to right runs down the displayed page.
#[test]
fn a_rotated_pages_boxes_are_where_a_viewer_shows_the_glyphs() {
    let lines = [at(72.0, 500.0, "First part here. Second part follows.")];
    let doc = extract_pages(
        &placed_text_pdf_in(&[lines.to_vec()], "Courier", 90),
        &Limits::default(),
    )
    .unwrap();
    let sentences = sentences_for_pages(&doc.pages);
    assert_eq!(sentences.len(), 2, "{sentences:?}");
    let mut words = Vec::new();
    let glyphs = glyphs(&lines, &mut words);
    let owners = words_of_sentences(&sentences, &words);
    for (s, own) in sentences.iter().zip(&owners) {
        let size = s.page_sizes[0];
        assert_eq!((size.width, size.height), (792.0, 612.0));
        assert_eq!(s.boxes.len(), 1);
        let b = s.boxes[0];
        // Running down the page: taller than wide, about an em wide around x = 500.
        assert!(b.y1 - b.y0 > b.x1 - b.x0, "{b:?}");
        assert!(b.x0 < 500.0 && b.x1 > 500.0, "{b:?}");
        for g in &glyphs {
            let shown = |(x, y): (f32, f32)| (y, x);
            let inside = contains(&b, shown(g.origin)) && contains(&b, shown(g.end));
            assert_eq!(
                inside,
                own.contains(&g.word),
                "{:?} {b:?} {:?}",
                s.text,
                words[g.word]
            );
        }
    }
}

/// A word as poppler's `pdftotext -cropbox -bbox` places it: its box in the page as a viewer
/// shows it (the crop box, origin top-left, y down), and its text.
struct PopplerWord {
    center: (f32, f32),
    text: String,
}

/// Each page's words as poppler (the engine of Evince and Okular, also pdftotext's) places them.
fn poppler_words(name: &str, pdf: &[u8]) -> Vec<Vec<PopplerWord>> {
    let path = std::env::temp_dir().join(format!("pdfq-{}-{name}.pdf", std::process::id()));
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-cropbox", "-bbox"])
        .arg(&path)
        .arg("-")
        .output();
    let _ = std::fs::remove_file(&path);
    let output = output.unwrap_or_else(|e| {
        panic!("this test runs poppler's pdftotext (Debian: poppler-utils), and could not: {e}")
    });
    assert!(output.status.success(), "pdftotext failed on {name}");
    let attribute = |line: &str, key: &str| -> f32 {
        let start = line.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        let end = start + line[start..].find('"').unwrap();
        line[start..end].parse().unwrap()
    };
    let mut pages: Vec<Vec<PopplerWord>> = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let line = line.trim();
        if line.starts_with("<page ") {
            pages.push(Vec::new());
        } else if line.starts_with("<word ") {
            let text = &line[line.find('>').unwrap() + 1..line.rfind("</word>").unwrap()];
            let text = text
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            let (x0, y0) = (attribute(line, "xMin"), attribute(line, "yMin"));
            let (x1, y1) = (attribute(line, "xMax"), attribute(line, "yMax"));
            pages.last_mut().unwrap().push(PopplerWord {
                center: ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                text,
            });
        }
    }
    pages
}

/// Checked against a real renderer rather than our own idea of the frame: every word poppler
/// places on a page that is also a word of a sentence there has its center inside one of the
/// boxes of that page's sentences, on a real producer's files (LibreOffice 7.4, tagged and not,
/// with a text box), on pages turned by /Rotate, and on an unturned page whose text matrix turns
/// its lines (running up the page, and down).
#[test]
fn sentence_boxes_hold_the_words_where_poppler_places_them() {
    let rotated: Vec<Vec<Placed>> = vec![vec![
        at(72.0, 500.0, "A page turned a quarter for landscape."),
        at(72.0, 480.0, "Its second line is here."),
    ]];
    let turned_lines = pdfq_test_support::pdf::page_pdf(
        &[(
            "F1",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        )],
        "BT /F1 12 Tf 0 1 -1 0 300 100 Tm (These words run up the page.) Tj ET \
         BT /F1 12 Tf 0 -1 1 0 400 700 Tm (These others run down the page.) Tj ET",
    );
    let files: [(&str, Vec<u8>); 7] = [
        (
            "lo-tagged",
            include_bytes!("data/libreoffice/allotment-tagged.pdf").to_vec(),
        ),
        (
            "lo-untagged",
            include_bytes!("data/libreoffice/allotment-untagged.pdf").to_vec(),
        ),
        (
            "lo-aside",
            include_bytes!("data/libreoffice/allotment-aside-tagged.pdf").to_vec(),
        ),
        ("rotate-90", placed_text_pdf_in(&rotated, "Courier", 90)),
        ("rotate-180", placed_text_pdf_in(&rotated, "Courier", 180)),
        ("rotate-270", placed_text_pdf_in(&rotated, "Courier", 270)),
        ("text-matrix-turned", turned_lines),
    ];
    for (name, pdf) in &files {
        let doc = extract_pages(pdf, &Limits::default()).unwrap();
        let sentences = sentences_for_pages(&doc.pages);
        let poppler = poppler_words(name, pdf);
        let (mut compared, mut inside) = (0, 0);
        for (index, words) in poppler.iter().enumerate() {
            let page = index as u32 + 1;
            let on_page: Vec<&Sentence> = sentences.iter().filter(|s| s.page == page).collect();
            let ours: std::collections::HashSet<&str> = on_page
                .iter()
                .flat_map(|s| s.text.split_whitespace())
                .collect();
            for word in words.iter().filter(|w| ours.contains(w.text.as_str())) {
                compared += 1;
                let held = on_page
                    .iter()
                    .flat_map(|s| &s.boxes)
                    .filter(|b| b.page == page)
                    .any(|b| contains(b, word.center));
                if held {
                    inside += 1;
                } else {
                    eprintln!("{name}: {:?} at {:?} is in no box", word.text, word.center);
                }
            }
        }
        assert!(compared >= 10, "{name}: {compared} words compared");
        assert!(
            inside as f32 >= 0.99 * compared as f32,
            "{name}: {inside} of {compared} of poppler's words are inside the sentence boxes"
        );
    }
}
