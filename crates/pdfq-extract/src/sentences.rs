//! Sentences of pages: the line joining that precedes segmentation (the boundary rules are in
//! `sbd`).

use serde::{Deserialize, Serialize};

use crate::extract::PageText;
pub use crate::sbd::segment;
use crate::sbd::{collapse_ws, has_content, is_closer, is_terminator, segment_spans};

/// A sentence and the (1-based) page it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub text: String,
    pub page: u32,
}

/// Joins wrapped lines into running text: a line ending in a hyphenated word part is joined
/// to the next without the hyphen (a compound's hyphen, "state-of-the-", is kept); other lines
/// are joined with a space. A block break (blank line) ends a paragraph unless the text plainly
/// flows on: the next block continues in lower case, or the block ended mid-sentence on a full
/// line (a column or page break); never after or before a caption. A short line without final
/// punctuation before a capitalised line (a heading) ends a paragraph. Each line carries its
/// page; `starts` gets the offset in `out` where each page's text begins.
fn join_lines(lines: &[(&str, u32)], out: &mut String, starts: &mut Vec<(usize, u32)>) {
    // Line lengths are judged against the typical line (the 75th percentile): a two-column
    // page's lines are short next to its full-width title.
    let mut lengths: Vec<usize> = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .filter(|&n| n > 0)
        .collect();
    lengths.sort_unstable();
    let typical = lengths.get(lengths.len() * 3 / 4).copied().unwrap_or(0);
    let mut block_first = "";
    let mut i = 0;
    while i < lines.len() {
        let (line, page) = lines[i];
        i += 1;
        if line.is_empty() {
            continue;
        }
        if starts.last().is_none_or(|&(_, p)| p != page) {
            starts.push((out.len(), page));
        }
        if block_first.is_empty() {
            block_first = line;
        }
        let gap = i < lines.len() && lines[i].0.is_empty();
        let next = lines[i..]
            .iter()
            .map(|(l, _)| *l)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let next_first = next.chars().next();
        let last = line.chars().last().unwrap_or(' ');
        let hyphenated = line.chars().count() > 1
            && (last == '-' || last == '\u{00AD}')
            && line.chars().rev().nth(1).is_some_and(char::is_alphabetic)
            && next_first.is_some_and(char::is_lowercase);
        if hyphenated {
            let word = line.rsplit(' ').next().unwrap_or(line);
            let compound = last == '-' && word[..word.len() - 1].contains('-');
            out.push_str(if compound {
                line
            } else {
                &line[..line.len() - last.len_utf8()]
            });
            if gap {
                block_first = "";
            }
            continue;
        }
        out.push_str(line);
        let terminal = matches!(
            last,
            '.' | '!' | '?' | ':' | ';' | '\u{3002}' | '\u{FF01}' | '\u{FF1F}'
        ) || (is_closer(last)
            && line
                .chars()
                .rev()
                .find(|&c| !is_closer(c))
                .is_some_and(is_terminator));
        let full_line = line.chars().count() * 10 >= typical * 8;
        let flows = next_first.is_some_and(char::is_lowercase)
            || (!terminal && full_line && !is_caption(block_first) && !is_caption(next));
        let heading = line.chars().count() * 10 < typical * 6
            && !matches!(
                last,
                '.' | '!' | '?' | ':' | ';' | ',' | '-' | '(' | '\u{3002}'
            )
            && next_first.is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
        if (gap && !flows) || heading {
            out.push_str("\n\n");
        } else {
            out.push(' ');
        }
        if gap {
            block_first = "";
        }
    }
}

/// "Figure 3", "Fig. 3:", "Table 2.", "Listing 1" at the start of a block: a caption.
fn is_caption(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let (Some(first), Some(second)) = (words.next(), words.next()) else {
        return false;
    };
    let label = first.trim_end_matches('.').to_lowercase();
    matches!(
        label.as_str(),
        "figure"
            | "fig"
            | "table"
            | "tab"
            | "listing"
            | "algorithm"
            | "chart"
            | "abbildung"
            | "tabelle"
    ) && second.starts_with(|c: char| c.is_ascii_digit() || c.is_uppercase())
}

/// Sentences of consecutive pages (a chunk), each tagged with the page it starts on.
/// Sentences may run across a page break; page furniture (running heads, footers, page
/// numbers) is left out.
pub fn sentences_for_pages(pages: &[PageText]) -> Vec<Sentence> {
    let mut lines: Vec<(&str, u32)> = Vec::new();
    for p in pages {
        for (i, line) in p.text.lines().enumerate() {
            let furniture = p.furniture.binary_search(&(i as u32)).is_ok();
            lines.push((if furniture { "" } else { line.trim() }, p.number));
        }
        // A page break is a block break.
        lines.push(("", p.number));
    }
    let mut text = String::new();
    let mut starts: Vec<(usize, u32)> = Vec::with_capacity(pages.len());
    join_lines(&lines, &mut text, &mut starts);
    segment_spans(&text)
        .into_iter()
        .filter_map(|r| {
            let page = match starts.binary_search_by(|(s, _)| s.cmp(&r.start)) {
                Ok(k) => starts[k].1,
                Err(0) => starts.first().map_or(1, |s| s.1),
                Err(k) => starts[k - 1].1,
            };
            let s = collapse_ws(&text[r]);
            has_content(&s).then_some(Sentence { text: s, page })
        })
        .collect()
}

/// Alias of [`sentences_for_pages`] for a chunk's pages (`Chunk::pages`).
pub fn sentences_for_chunk(pages: &[PageText]) -> Vec<Sentence> {
    sentences_for_pages(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_are_their_own_sentences() {
        let pages = vec![PageText::new(
            1,
            "1. Introduction\nDynamic languages such as JavaScript are popular and widely used today\nsince they are expressive.\n",
        )];
        let s = sentences_for_pages(&pages);
        assert_eq!(s[0].text, "1. Introduction");
        assert_eq!(
            s[1].text,
            "Dynamic languages such as JavaScript are popular and widely used today since they are expressive."
        );
    }

    #[test]
    fn hyphenation_across_a_page_break() {
        let pages = vec![
            PageText::new(1, "It was a wonder-\n"),
            PageText::new(2, "ful day.\n"),
        ];
        let s = sentences_for_pages(&pages);
        assert_eq!(s[0].text, "It was a wonderful day.");
        assert_eq!(s[0].page, 1);
    }

    #[test]
    fn pages_join_lines_and_keep_page_numbers() {
        let pages = vec![
            PageText::new(
                1,
                "The quick brown fox jum-\nped over the\nlazy dog. A second",
            ),
            PageText::new(2, "sentence spans pages. Third one.\n"),
        ];
        let s = sentences_for_pages(&pages);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].text, "The quick brown fox jumped over the lazy dog.");
        assert_eq!(s[0].page, 1);
        assert_eq!(s[1].text, "A second sentence spans pages.");
        assert_eq!(s[1].page, 1);
        assert_eq!(s[2].page, 2);
    }
}
