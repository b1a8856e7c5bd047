//! Page furniture: running heads, running footers and page numbers.
//!
//! The reading order prints lines set off at a page's top and bottom edge as the page's first
//! and last blocks. Such a line is furniture when it is a page number ("12", "- 12 -", "Page 3
//! of 10", "iv"), or when the same line, digits aside, stands at the same edge of other pages
//! too (odd and even pages may alternate two heads, so every repetition counts).

use std::collections::HashMap;

use crate::extract::PageText;

/// Edge blocks longer than this are text, not furniture.
const MAX_EDGE_LINES: usize = 3;
/// A running head or footer is short.
const MAX_FURNITURE_CHARS: usize = 160;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Edge {
    Top,
    Bottom,
}

/// Adds to every page's `furniture` (which may hold lines a tagged file marks as artifacts)
/// what the whole document's pages show to be furniture.
pub(crate) fn mark(pages: &mut [PageText]) {
    // Pages on which each normalised edge line occurs.
    let mut seen: HashMap<(Edge, String), usize> = HashMap::new();
    let candidates: Vec<Vec<(u32, Edge, String)>> =
        pages.iter().map(|p| edge_lines(&p.text)).collect();
    for lines in &candidates {
        let mut on_page: Vec<(Edge, &String)> = lines.iter().map(|(_, e, k)| (*e, k)).collect();
        on_page.sort_by(|a, b| a.1.cmp(b.1));
        on_page.dedup();
        for (edge, key) in on_page {
            *seen.entry((edge, key.clone())).or_default() += 1;
        }
    }
    // Two pages suffice in a two-page document; otherwise three (a page and two others).
    let needed = pages.len().clamp(2, 3);
    for (page, lines) in pages.iter_mut().zip(candidates) {
        // Artifact lines, as the extraction found them (indexes past the text are dropped).
        let line_count = page.text.lines().count() as u32;
        let mut marks: Vec<u32> = page
            .furniture
            .iter()
            .copied()
            .filter(|&i| i < line_count)
            .collect();
        let text_lines: Vec<&str> = page.text.lines().collect();
        // An edge block is furniture as a whole or not at all: a body paragraph may share a
        // line with another page's, never all of its lines.
        for side in [Edge::Top, Edge::Bottom] {
            let block: Vec<&(u32, Edge, String)> =
                lines.iter().filter(|(_, e, _)| *e == side).collect();
            let all = !block.is_empty()
                && block.iter().all(|(index, edge, key)| {
                    let line = text_lines.get(*index as usize).copied().unwrap_or("");
                    let repeated = key.chars().any(char::is_alphabetic)
                        && seen
                            .get(&(*edge, key.clone()))
                            .is_some_and(|&n| n >= needed);
                    repeated || is_page_number(line)
                });
            if all {
                marks.extend(block.iter().map(|(index, _, _)| *index));
            }
        }
        marks.sort_unstable();
        marks.dedup();
        page.furniture = marks;
    }
}

/// The lines of the page's first and last blocks when those are short: `(line index, edge,
/// normalised text)`.
fn edge_lines(text: &str) -> Vec<(u32, Edge, String)> {
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
    // A page of one block has no edge set off from a body.
    if blocks.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let first = blocks[0];
    let last = blocks[blocks.len() - 1];
    for ((from, to), edge) in [(first, Edge::Top), (last, Edge::Bottom)] {
        if to - from > MAX_EDGE_LINES
            || lines[from..to]
                .iter()
                .any(|l| l.chars().count() > MAX_FURNITURE_CHARS)
        {
            continue;
        }
        for (i, line) in lines.iter().enumerate().take(to).skip(from) {
            out.push((i as u32, edge, normalise(line)));
        }
    }
    out
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
    out.trim_end().to_owned()
}

/// "12", "- 12 -", "[12]", "Page 12", "page 3 of 10", "3/10", "xii", "Seite 4".
pub(crate) fn is_page_number(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    let mut rest = lower.as_str();
    for word in ["page", "p.", "seite", "página", "pagina", "pág.", "стр."] {
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
