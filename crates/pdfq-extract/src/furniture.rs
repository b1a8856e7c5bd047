//! Page furniture: running heads, running footers and page numbers.
//!
//! The reading order prints lines set off at a page's top and bottom edge as the page's first
//! and last blocks. Such a line is furniture when it is a page number ("12", "- 12 -", "Page 3
//! of 10", "iv"); when the same line, digits aside, stands at the same edge of other pages too
//! (odd and even pages may alternate two heads, so every repetition counts); or when it ends
//! with a number that goes on from the one at the same edge of the page before or after
//! ("File j: ltalloc.dtx ... 282" after "File i: ltcmdhooks.dtx 281"), which finds the footer
//! of a section two pages long. A running line and its page number that layout set apart as
//! two blocks are both found: behind an outermost block that is furniture, the next block is
//! furniture too if it repeats what stands outermost on other pages or its number runs on (a
//! number alone is not enough there: it may be a code listing's line number).

use std::collections::HashMap;

use crate::extract::PageText;

/// Edge blocks longer than this are text, not furniture.
const MAX_EDGE_LINES: usize = 3;
/// A running head or footer is short.
const MAX_FURNITURE_CHARS: usize = 160;
/// Blocks taken from each edge of a page at most: a running line and its page number.
const MAX_EDGE_BLOCKS: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Edge {
    Top,
    Bottom,
}

/// A line of an edge block.
struct EdgeLine {
    index: u32,
    edge: Edge,
    /// 0 for the outermost block of its edge, 1 for the next.
    depth: usize,
    /// Its text normalised (see [`normalise`]).
    key: String,
    /// The number it ends with, or is.
    number: Option<u32>,
}

/// Adds to every page's `furniture` (which may hold lines a tagged file marks as artifacts)
/// what the whole document's pages show to be furniture.
pub(crate) fn mark(pages: &mut [PageText]) {
    let candidates: Vec<Vec<EdgeLine>> = pages.iter().map(|p| edge_lines(&p.text)).collect();
    // Pages on which each normalised line occurs in an outermost edge block (a line behind a
    // page number counts as repeated only when it repeats what stands outermost elsewhere).
    let mut seen: HashMap<(Edge, &str), usize> = HashMap::new();
    for lines in &candidates {
        let mut on_page: Vec<(Edge, &str)> = lines
            .iter()
            .filter(|l| l.depth == 0)
            .map(|l| (l.edge, l.key.as_str()))
            .collect();
        on_page.sort_by(|a, b| a.1.cmp(b.1));
        on_page.dedup();
        for key in on_page {
            *seen.entry(key).or_default() += 1;
        }
    }
    // Two pages suffice in a two-page document; otherwise three (a page and two others).
    let needed = pages.len().clamp(2, 3);
    let numbered = |page: Option<&Vec<EdgeLine>>, edge: Edge, number: u32| {
        page.is_some_and(|lines| {
            lines
                .iter()
                .any(|l| l.edge == edge && l.number == Some(number))
        })
    };
    for (p, (page, lines)) in pages.iter_mut().zip(&candidates).enumerate() {
        let text_lines: Vec<&str> = page.text.lines().collect();
        let text = |line: &EdgeLine| text_lines.get(line.index as usize).copied().unwrap_or("");
        let repeats_or_runs_on = |line: &EdgeLine| {
            let repeated = line.key.chars().any(char::is_alphabetic)
                && seen
                    .get(&(line.edge, line.key.as_str()))
                    .is_some_and(|&n| n >= needed);
            let runs_on = line.number.is_some_and(|n| {
                let before = p.checked_sub(1).and_then(|q| candidates.get(q));
                numbered(before, line.edge, n.wrapping_sub(1))
                    || numbered(candidates.get(p + 1), line.edge, n + 1)
            });
            repeated || runs_on
        };
        // Artifact lines, as the extraction found them (indexes past the text are dropped).
        let mut marks: Vec<u32> = page
            .furniture
            .iter()
            .copied()
            .filter(|&i| (i as usize) < text_lines.len())
            .collect();
        // An edge block is furniture as a whole or not at all: a body paragraph may share a
        // line with another page's, never all of its lines.
        for edge in [Edge::Top, Edge::Bottom] {
            let block = |depth: usize| -> Vec<&EdgeLine> {
                lines
                    .iter()
                    .filter(|l| l.edge == edge && l.depth == depth)
                    .collect()
            };
            let outer = block(0);
            if outer.is_empty()
                || !outer
                    .iter()
                    .all(|l| repeats_or_runs_on(l) || is_page_number(text(l)))
            {
                continue;
            }
            marks.extend(outer.iter().map(|l| l.index));
            let inner = block(1);
            if !inner.is_empty() && inner.iter().all(|l| repeats_or_runs_on(l)) {
                marks.extend(inner.iter().map(|l| l.index));
            }
        }
        marks.sort_unstable();
        marks.dedup();
        page.furniture = marks;
    }
}

/// The lines of the page's first and last [`MAX_EDGE_BLOCKS`] blocks when those are short.
fn edge_lines(text: &str) -> Vec<EdgeLine> {
    let lines: Vec<&str> = text.lines().collect();
    // Blocks as index ranges of non-blank lines.
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        match (l.trim().is_empty(), start) {
            (true, Some(s)) => {
                blocks.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        blocks.push((s, lines.len()));
    }
    // A page of one block has no edge set off from a body; no block is taken from both edges.
    let per_edge = MAX_EDGE_BLOCKS.min(blocks.len() / 2);
    let mut out = Vec::new();
    let edges = blocks
        .iter()
        .take(per_edge)
        .enumerate()
        .map(|(depth, b)| (*b, Edge::Top, depth))
        .chain(
            blocks
                .iter()
                .rev()
                .take(per_edge)
                .enumerate()
                .map(|(depth, b)| (*b, Edge::Bottom, depth)),
        );
    for ((from, to), edge, depth) in edges {
        if to - from > MAX_EDGE_LINES
            || lines[from..to]
                .iter()
                .any(|l| l.chars().count() > MAX_FURNITURE_CHARS)
        {
            continue;
        }
        for (i, line) in lines.iter().enumerate().take(to).skip(from) {
            out.push(EdgeLine {
                index: i as u32,
                edge,
                depth,
                key: normalise(line),
                number: edge_number(line),
            });
        }
    }
    out
}

/// The number a line ends with (a running head's or footer's page number), or that it is. Not
/// one it starts with: footnotes and a code listing's lines start with numbers that run on.
fn edge_number(line: &str) -> Option<u32> {
    let last = line.split_whitespace().last()?;
    if last.len() > 5 || !last.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    last.parse().ok()
}

/// Lower case, digits (page numbers, dates) and whitespace runs folded.
fn normalise(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut last_space = true;
    for c in line.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        if c.is_numeric() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    // A page number at the end ("Page 5" too), which layout may also set apart on a line of
    // its own. Not one at the start: a code listing's numbered lines would all look alike.
    let out = out.trim_end();
    match out.strip_suffix(" #") {
        Some(rest) => PAGE_WORDS
            .iter()
            .find_map(|word| rest.strip_suffix(word)?.strip_suffix(' '))
            .unwrap_or(rest),
        None => out,
    }
    .to_owned()
}

/// Words that may stand before a page number (lower case).
const PAGE_WORDS: [&str; 7] = ["page", "p.", "seite", "página", "pagina", "pág.", "стр."];

/// "12", "- 12 -", "[12]", "Page 12", "page 3 of 10", "3/10", "xii", "Seite 4".
pub(crate) fn is_page_number(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    let mut rest = lower.as_str();
    for word in PAGE_WORDS {
        if let Some(r) = rest.strip_prefix(word) {
            rest = r.trim_start();
            break;
        }
    }
    let rest =
        rest.trim_matches(|c: char| matches!(c, '-' | '–' | '—' | '[' | ']' | '(' | ')' | ' '));
    let (number, total) = match rest.split_once(" of ").or_else(|| rest.split_once('/')) {
        Some((n, t)) => (n.trim(), Some(t.trim())),
        None => (rest, None),
    };
    let arabic = |s: &str| !s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit());
    let roman = |s: &str| {
        !s.is_empty() && s.len() <= 7 && s.chars().all(|c| matches!(c, 'i' | 'v' | 'x' | 'l' | 'c'))
    };
    (arabic(number) || roman(number)) && total.is_none_or(arabic)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Body text that differs from page to page (digits alone would not: they are folded).
    const WORDS: [&str; 6] = [
        "Zeroth.", "First.", "Second.", "Third.", "Fourth.", "Fifth.",
    ];

    fn page(number: u32, text: &str) -> PageText {
        PageText::new(number, text)
    }

    #[test]
    fn a_repeated_head_and_page_numbers_are_furniture() {
        let mut pages: Vec<PageText> = (1..=4)
            .map(|n| {
                page(
                    n,
                    &format!(
                        "Journal of Tests, vol. 3\n\nBody text of page {n} runs here.\nIt goes on.\n\n{n}\n"
                    ),
                )
            })
            .collect();
        mark(&mut pages);
        for p in &pages {
            assert_eq!(p.furniture, [0, 5], "{:?}", p.text);
        }
        assert_eq!(
            pages[1].furniture_lines().collect::<Vec<_>>(),
            ["Journal of Tests, vol. 3", "2"]
        );
    }

    #[test]
    fn a_first_line_seen_once_is_not_furniture() {
        let mut pages = vec![
            page(1, "A Study of Things\n\nIntroduction text.\n"),
            page(2, "Body two.\n\nMore.\n"),
            page(3, "Body three.\n\nMore again.\n"),
        ];
        mark(&mut pages);
        assert!(pages.iter().all(|p| p.furniture.is_empty()));
    }

    #[test]
    fn a_running_footer_is_found_behind_a_page_number_set_apart() {
        // Page 3's footer line and its number were laid out as two blocks.
        let mut pages: Vec<PageText> = (1..=4)
            .map(|n| {
                let footer = if n == 3 {
                    format!("File c: ltvers.dtx Version v1.1i\n\n{n}")
                } else {
                    format!("File c: ltvers.dtx Version v1.1i {n}")
                };
                page(
                    n,
                    &format!("{}\n\nIt goes on.\n\n{footer}\n", WORDS[n as usize]),
                )
            })
            .collect();
        mark(&mut pages);
        assert_eq!(pages[2].furniture, [4, 6], "{:?}", pages[2].text);
        assert_eq!(pages[1].furniture, [4]);
        // Behind a body block, nothing more is taken.
        for p in &pages {
            assert!(p.furniture_lines().all(|l| !l.starts_with("It goes")));
        }
    }

    #[test]
    fn a_head_is_the_same_with_its_page_number_on_its_line_or_apart() {
        // "Page N" joined to the head on some pages, a block of its own on others.
        let mut pages: Vec<PageText> = (1..=5)
            .map(|n| {
                let head = if n % 2 == 0 {
                    format!("Form 1040NR (2007)\n\nPage {n}")
                } else {
                    format!("Form 1040NR (2007) Page {n}")
                };
                let word = WORDS[n as usize];
                page(n, &format!("{head}\n\n{word}\n\nThe end of {word}\n"))
            })
            .collect();
        mark(&mut pages);
        for p in &pages {
            assert!(
                p.furniture_lines()
                    .all(|l| l.starts_with("Form") || l.starts_with("Page")),
                "{:?}",
                p.text
            );
            assert!(
                p.furniture_lines().any(|l| l.starts_with("Form")),
                "{:?}",
                p.text
            );
        }
        assert_eq!(pages[1].furniture, [0, 2]);
    }

    #[test]
    fn a_footer_whose_number_runs_on_from_the_next_pages_is_furniture() {
        // Each section's footer names it and stands on two pages only; its number runs on.
        let footers = [
            "File i: ltcmdhooks.dtx 281",
            "File j: ltalloc.dtx v1.1c 282",
            "File j: ltalloc.dtx v1.1c 283",
            "File k: ltcntrl.dtx v1.1a 284",
        ];
        let mut pages: Vec<PageText> = footers
            .iter()
            .zip(1..)
            .map(|(footer, n)| page(n, &format!("{}\n\nMore.\n\n{footer}\n", WORDS[n as usize])))
            .collect();
        // A last line ending in a number that does not run on is text.
        pages.push(page(5, "Fifth.\n\nSee the table on page 12\n"));
        mark(&mut pages);
        for p in &pages[..4] {
            assert_eq!(p.furniture, [4], "{:?}", p.text);
        }
        assert!(pages[4].furniture.is_empty());
    }

    #[test]
    fn page_number_patterns() {
        for yes in [
            "12",
            "- 12 -",
            "Page 3 of 10",
            "3/10",
            "xii",
            "[4]",
            "Seite 4",
        ] {
            assert!(is_page_number(yes), "{yes}");
        }
        for no in ["12 apples", "Figure 3", "2021-05-03", "Page two", "12345"] {
            assert!(!is_page_number(no), "{no}");
        }
    }
}
