//! Tagged PDFs: the structure tree's reading order where it describes the page, geometry
//! where it does not; artifacts kept out of sentences.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use pdfq_extract::{Limits, extract_pages, sentences_for_pages};
use pdfq_test_support::pdf::{Mark, Placed, TaggedPage, TreeFault, placed_text_pdf, tagged_pdf};

fn at(x: f32, y: f32, text: &str) -> Placed {
    Placed {
        x,
        y,
        size: 10.0,
        text: text.to_owned(),
    }
}

const MAIN: [&str; 4] = [
    "The main text begins on the right",
    "and runs down its column to the",
    "end, which is where the reading",
    "of the page is done for now.",
];
const SIDEBAR: [&str; 3] = [
    "A sidebar note that",
    "readers take in after",
    "the main text.",
];

/// A narrow sidebar at the left, the main text at the right; drawn bottom-up, sidebar and main
/// text interleaved. Each line is marked content whose MCID is its place in the drawing.
fn sidebar_page() -> Vec<(Placed, Mark)> {
    let mut drawn: Vec<Placed> = Vec::new();
    for row in (0..4).rev() {
        drawn.push(at(300.0, 600.0 - 12.0 * row as f32, MAIN[row]));
        if let Some(side) = SIDEBAR.get(row) {
            drawn.push(at(72.0, 600.0 - 12.0 * row as f32, side));
        }
    }
    drawn
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, Mark::Content(i as u32)))
        .collect()
}

/// The MCIDs of `lines`, found by their text, in the order given.
fn mcids_of(drawn: &[(Placed, Mark)], lines: &[&str]) -> Vec<u32> {
    lines
        .iter()
        .map(|line| {
            let (_, mark) = drawn.iter().find(|(p, _)| p.text == *line).unwrap();
            let Mark::Content(mcid) = mark else {
                panic!("{line} is not marked content")
            };
            *mcid
        })
        .collect()
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_of(pdf: &[u8]) -> String {
    let doc = extract_pages(pdf, &Limits::default()).unwrap();
    doc.pages[0].text.clone()
}

/// The same pieces, untagged: what geometry alone reads.
fn geometric_text(drawn: &[(Placed, Mark)]) -> String {
    let pieces: Vec<Placed> = drawn.iter().map(|(p, _)| p.clone()).collect();
    text_of(&placed_text_pdf(&[pieces]))
}

#[test]
fn a_page_drawn_out_of_order_is_read_in_its_structure_tree_order() {
    let drawn = sidebar_page();
    let reading: Vec<&str> = MAIN.iter().chain(&SIDEBAR).copied().collect();
    let logical = mcids_of(&drawn, &reading);
    let pdf = tagged_pdf(&[TaggedPage { drawn, logical }], TreeFault::None);
    let text = text_of(&pdf);
    assert_eq!(words(&text), words(&reading.join(" ")), "{text}");
    // The tree's paragraphs stay blocks of their own.
    assert!(text.contains("for now.\n\nA sidebar note"), "{text}");
}

#[test]
fn a_broken_or_partial_tree_falls_back_to_geometry() {
    let drawn = sidebar_page();
    let geometric = geometric_text(&drawn);
    // Geometry reads the sidebar first; the tree, were it followed, the main text.
    assert!(geometric.starts_with("A sidebar note"), "{geometric}");
    let reading: Vec<&str> = MAIN.iter().chain(&SIDEBAR).copied().collect();
    let logical = mcids_of(&drawn, &reading);
    let cases = [
        ("cycle", logical.clone(), TreeFault::Cycle),
        (
            "a chain 5,000 deep",
            logical.clone(),
            TreeFault::Depth(5_000),
        ),
        // Half the page's text is not in the tree.
        ("missing MCIDs", logical[..4].to_vec(), TreeFault::None),
        // MCID named twice.
        (
            "a duplicate",
            [logical.clone(), vec![logical[0]]].concat(),
            TreeFault::None,
        ),
    ];
    for (what, logical, fault) in cases {
        let pdf = tagged_pdf(
            &[TaggedPage {
                drawn: drawn.clone(),
                logical,
            }],
            fault,
        );
        assert_eq!(text_of(&pdf), geometric, "{what}");
    }
}

#[test]
fn a_tree_that_only_repeats_the_drawing_order_is_not_followed() {
    // Two columns drawn row by row, each line its own MCID, the tree listing them as drawn
    // (one element per line under the document, in content order), as poor taggers do.
    let left = [
        "The left column starts the story and",
        "goes on for a few lines until the",
        "reader reaches its bottom, where it",
    ];
    let right = [
        "Then the right column takes over and",
        "tells the rest of the story in its",
        "own lines, to the end of the page.",
    ];
    let mut drawn = Vec::new();
    for row in 0..3 {
        let y = 600.0 - 12.0 * row as f32;
        drawn.push(at(72.0, y, left[row]));
        drawn.push(at(332.0, y, right[row]));
    }
    let drawn: Vec<(Placed, Mark)> = drawn
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, Mark::Content(i as u32)))
        .collect();
    let logical: Vec<u32> = (0..drawn.len() as u32).collect();
    let geometric = geometric_text(&drawn);
    let pdf = tagged_pdf(&[TaggedPage { drawn, logical }], TreeFault::None);
    let text = text_of(&pdf);
    assert_eq!(text, geometric);
    assert_eq!(
        words(&text),
        words(&[left.join(" "), right.join(" ")].join(" "))
    );
}

#[test]
fn artifact_heads_and_footers_are_furniture_kept_out_of_sentences() {
    // Each page's head is its own (no repetition to tell it by) and no page number.
    let heads = [
        "Chapter one: how it began",
        "Chapter two: what followed",
        "Chapter three: the ending",
    ];
    let pages: Vec<TaggedPage> = heads
        .iter()
        .enumerate()
        .map(|(n, head)| TaggedPage {
            drawn: vec![
                (at(72.0, 740.0, head), Mark::Artifact),
                (
                    at(
                        72.0,
                        600.0,
                        &format!("Body sentence number {} ends here.", n + 1),
                    ),
                    Mark::Content(0),
                ),
                (at(72.0, 588.0, "Another one follows it"), Mark::Content(1)),
                (at(72.0, 40.0, "Printed on recycled paper"), Mark::Artifact),
            ],
            logical: vec![0, 1],
        })
        .collect();
    let doc = extract_pages(&tagged_pdf(&pages, TreeFault::None), &Limits::default()).unwrap();
    for (page, head) in doc.pages.iter().zip(heads) {
        let furniture: Vec<&str> = page.furniture_lines().collect();
        assert_eq!(
            furniture,
            [head, "Printed on recycled paper"],
            "{:?}",
            page.text
        );
    }
    let sentences: Vec<String> = sentences_for_pages(&doc.pages)
        .into_iter()
        .map(|s| s.text)
        .collect();
    // The body's sentences only, whole.
    let expected: Vec<String> = (1..=3)
        .flat_map(|n| {
            [
                format!("Body sentence number {n} ends here."),
                "Another one follows it".to_owned(),
            ]
        })
        .collect();
    assert_eq!(sentences, expected);
}

/// Line boxes follow the text as the tree orders it, not as geometry would have: each line's
/// box is where that line was drawn, sentences are boxed in their own column, and the
/// artifact footer is still furniture.
#[test]
fn a_tagged_pages_line_boxes_are_those_of_its_lines_in_logical_order() {
    let mut drawn = vec![(at(72.0, 40.0, "Printed on recycled paper"), Mark::Artifact)];
    drawn.extend(sidebar_page().into_iter().map(|(p, mark)| match mark {
        Mark::Content(mcid) => (p, Mark::Content(mcid + 1)),
        other => (p, other),
    }));
    let reading: Vec<&str> = MAIN.iter().chain(&SIDEBAR).copied().collect();
    let logical = mcids_of(&drawn, &reading);
    let pdf = tagged_pdf(
        &[TaggedPage {
            drawn: drawn.clone(),
            logical,
        }],
        TreeFault::None,
    );
    let doc = extract_pages(&pdf, &Limits::default()).unwrap();
    let page = &doc.pages[0];
    assert!(page.text.starts_with(MAIN[0]), "{}", page.text);
    let furniture: Vec<&str> = page.furniture_lines().collect();
    assert_eq!(furniture, ["Printed on recycled paper"], "{}", page.text);
    let lines: Vec<&str> = page.text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(page.line_boxes.len(), lines.len(), "{}", page.text);
    for (line, b) in lines.iter().zip(&page.line_boxes) {
        let (p, _) = drawn.iter().find(|(p, _)| p.text == line.trim()).unwrap();
        // Top-left origin, y down: the baseline is 792 - y from the top.
        let baseline = 792.0 - p.y;
        assert!(
            (b[0] - p.x).abs() < 1.0 && b[1] < baseline && baseline < b[3],
            "{line:?} drawn at ({}, {}) has the box {b:?}",
            p.x,
            p.y
        );
    }
    let sentences = sentences_for_pages(&doc.pages);
    let sidebar = sentences
        .iter()
        .find(|s| s.text.starts_with("A sidebar note"))
        .unwrap();
    let main = sentences
        .iter()
        .find(|s| s.text.starts_with("The main text"))
        .unwrap();
    assert!(!sidebar.boxes.is_empty() && !main.boxes.is_empty());
    assert!(sidebar.boxes.iter().all(|b| b.x1 < 300.0), "{sidebar:?}");
    assert!(main.boxes.iter().all(|b| b.x0 >= 299.0), "{main:?}");
}

/// A real producer's tagged file (tests/data/libreoffice/README.md): LibreOffice draws each
/// page in the order of its structure tree, header and footer as /Artifact.
const LO_TAGGED: &[u8] = include_bytes!("data/libreoffice/allotment-tagged.pdf");
const LO_UNTAGGED: &[u8] = include_bytes!("data/libreoffice/allotment-untagged.pdf");
const LO_ASIDE: &[u8] = include_bytes!("data/libreoffice/allotment-aside-tagged.pdf");

/// The body's prose in the source's reading order: the title, the paragraph under it, the
/// two-column section (left column, then right), the second heading, the paragraph with the
/// footnote reference, the last paragraph, the footnote (bottom of the page).
const LO_PROSE: [&str; 20] = [
    "Rainwater at the allotment",
    "This note explains how the allotment on Mill Lane gathers rain from the roofs of its sheds.",
    "New members often ask where the water in the green barrels comes from, and the answer is simpler than they expect.",
    "Every shed has a gutter along its lower edge.",
    "The gutters lead into downpipes made from old drainage tubing that a member found in a skip.",
    "Each downpipe ends above a barrel with a mesh lid to keep out leaves and frogs.",
    "When one barrel is full, a short hose carries the overflow into the next one along the row.",
    "In a wet month the barrels fill within a week.",
    "In a dry summer they can stand empty for most of July.",
    "The committee therefore asks everyone to water in the evening, when less is lost to the sun.",
    "Watering cans are shared and live in the tool shed by the gate.",
    "Moss grows quickly in the gutters and must be scraped out twice a year.",
    "The spring clearing happens on the first Saturday of April.",
    "The autumn clearing follows the leaf fall in November.",
    "Tea and cake are provided on both days by whoever lost the last raffle.",
    "How much we collect",
    "The table below gives rough figures from last year's logbook.",
    "They were read from a marked stick dipped into each barrel.",
    "Nobody should drink water from the barrels.",
    "It is meant for plants only and is never tested.",
];
const LO_TABLE: [&str; 6] = [
    "Season",
    "Litres gathered",
    "Spring",
    "About four thousand",
    "Summer",
    "Under one thousand",
];
const LO_FOOTNOTE: &str = "The logbook is kept in a tin box under the bench in the tool shed.";
const LO_HEADER: &str = "Mill Lane Allotment Society: members' notes";

#[test]
fn a_libreoffice_tagged_page_reads_in_document_order_with_nothing_lost() {
    let doc = extract_pages(LO_TAGGED, &Limits::default()).unwrap();
    assert_eq!(doc.pages.len(), 1);
    let sentences: Vec<String> = sentences_for_pages(&doc.pages)
        .into_iter()
        .map(|s| words(&s.text))
        .collect();
    let all = sentences.join("\n");
    // Every prose sentence whole (within one sentence), each after the one before it.
    let mut after = 0;
    for expected in LO_PROSE.iter().chain([&LO_FOOTNOTE]) {
        let Some(i) = sentences[after..].iter().position(|s| s.contains(expected)) else {
            panic!("{expected:?} is missing or out of order in:\n{all}");
        };
        after += i;
    }
    // Each table cell is a sentence of its own, between the text above and below the table.
    let above = sentences
        .iter()
        .position(|s| s.contains(LO_PROSE[17]))
        .unwrap();
    let below = sentences
        .iter()
        .position(|s| s.contains(LO_PROSE[18]))
        .unwrap();
    for cell in LO_TABLE {
        let at = sentences.iter().position(|s| s == cell);
        assert!(
            at.is_some_and(|i| above < i && i < below),
            "{cell:?} in:\n{all}"
        );
    }
    // The footnote's mark, raised right after "logbook.", ends that sentence with it.
    assert!(
        sentences
            .iter()
            .any(|s| s.ends_with("last year's logbook.1") || s.ends_with("last year’s logbook.1")),
        "{all}"
    );
    // The footnote is the last thing read, after the last paragraph.
    assert!(sentences.last().unwrap().ends_with(LO_FOOTNOTE), "{all}");
}

#[test]
fn a_libreoffice_running_header_and_footer_are_furniture() {
    let doc = extract_pages(LO_TAGGED, &Limits::default()).unwrap();
    let furniture: Vec<&str> = doc.pages[0].furniture_lines().collect();
    assert_eq!(furniture, [LO_HEADER, "Page 1"], "{}", doc.pages[0].text);
    for s in sentences_for_pages(&doc.pages) {
        assert!(
            !s.text.contains("Allotment Society") && !s.text.contains("Page 1"),
            "furniture in the sentence {:?}",
            s.text
        );
    }
    // The one page's title is read first: the header did not run into it.
    let first = sentences_for_pages(&doc.pages).into_iter().next().unwrap();
    assert_eq!(first.text, LO_PROSE[0]);
}

#[test]
fn a_libreoffice_tree_in_drawing_order_reads_as_the_untagged_file_does() {
    // LibreOffice draws the page in its tree's order, so the tree is not followed (see
    // a_tree_that_only_repeats_the_drawing_order_is_not_followed): geometry orders both
    // files, and the same text comes out of each. What the tags add is the furniture.
    let tagged = extract_pages(LO_TAGGED, &Limits::default()).unwrap();
    let untagged = extract_pages(LO_UNTAGGED, &Limits::default()).unwrap();
    assert_eq!(tagged.pages[0].text, untagged.pages[0].text);
}

#[test]
fn a_libreoffice_aside_is_not_run_into_the_paragraph_beside_it() {
    // The frame's left edge is a few points from the paragraph's longest lines, narrower than
    // any gutter geometry can tell from a word space; its text is another structure element.
    let doc = extract_pages(LO_ASIDE, &Limits::default()).unwrap();
    let sentences: Vec<String> = sentences_for_pages(&doc.pages)
        .into_iter()
        .map(|s| words(&s.text))
        .collect();
    for expected in [
        LO_PROSE[1],
        LO_PROSE[2],
        "Members who bring their own barrel should fit it with a tap near the base.",
    ] {
        assert!(
            sentences.iter().any(|s| s == expected),
            "{expected:?} not whole in {sentences:#?}"
        );
    }
}
