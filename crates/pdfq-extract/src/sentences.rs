//! Sentences of pages: the line joining that precedes segmentation (the boundary rules are in
//! `sbd`).

use serde::{Deserialize, Serialize};

use crate::extract::PageText;
pub use crate::sbd::segment;
use crate::sbd::{collapse_ws, has_content, segment_spans};

/// A sentence and the (1-based) page it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub text: String,
    pub page: u32,
}

/// Joins a page's wrapped lines into running text: a line ending in a hyphenated word
/// part is joined to the next without the hyphen; other lines are joined with a space.
/// A blank line, or a short line without final punctuation before a capitalised line
/// (a heading), ends a paragraph.
fn join_lines(text: &str, out: &mut String) {
    // Line lengths are judged against the page's typical line (its 75th percentile): a
    // two-column page's lines are short next to its full-width title.
    let mut lengths: Vec<usize> = text
        .lines()
        .map(|l| l.trim().chars().count())
        .filter(|&n| n > 0)
        .collect();
    lengths.sort_unstable();
    let typical = lengths.get(lengths.len() * 3 / 4).copied().unwrap_or(0);
    // Blank lines are dropped in favour of the next text line, remembering the break.
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.is_empty() {
            continue;
        }
        let gap = i < lines.len() && lines[i].is_empty();
        let next = lines[i..]
            .iter()
            .copied()
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let next_first = next.chars().next();
        let last = line.chars().last().unwrap_or(' ');
        let hyphenated = line.chars().count() > 1
            && (last == '-' || last == '\u{00AD}')
            && line.chars().rev().nth(1).is_some_and(char::is_alphabetic)
            && next_first.is_some_and(char::is_lowercase);
        if hyphenated {
            out.push_str(&line[..line.len() - last.len_utf8()]);
            continue;
        }
        out.push_str(line);
        // A block break (blank line) ends a paragraph unless the text plainly runs on (to the
        // next column or page) in lower case.
        let runs_on = next_first.is_some_and(char::is_lowercase);
        let heading = line.chars().count() * 10 < typical * 6
            && !matches!(
                last,
                '.' | '!' | '?' | ':' | ';' | ',' | '-' | '(' | '\u{3002}'
            )
            && next_first.is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
        if (gap && !runs_on) || heading {
            out.push_str("\n\n");
        } else {
            out.push(' ');
        }
    }
}

/// Sentences of consecutive pages (a chunk), each tagged with the page it starts on.
/// Sentences may run across a page break.
pub fn sentences_for_pages(pages: &[PageText]) -> Vec<Sentence> {
    let mut text = String::new();
    let mut starts: Vec<(usize, u32)> = Vec::with_capacity(pages.len());
    for p in pages {
        // A word hyphenated across the page break is joined back.
        let first = p.text.trim_start().chars().next();
        let kept = text.trim_end().len();
        let tail = &text[..kept];
        if first.is_some_and(char::is_lowercase)
            && tail.ends_with('-')
            && tail[..kept - 1]
                .chars()
                .last()
                .is_some_and(char::is_alphabetic)
        {
            text.truncate(kept - 1);
        }
        starts.push((text.len(), p.number));
        join_lines(&p.text, &mut text);
        if !text.ends_with(' ') && !text.ends_with('\n') {
            text.push(' ');
        }
    }
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
        let pages = vec![PageText {
            number: 1,
            text: "1. Introduction\nDynamic languages such as JavaScript are popular and widely used today\nsince they are expressive.\n".into(),
        }];
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
            PageText {
                number: 1,
                text: "It was a wonder-\n".into(),
            },
            PageText {
                number: 2,
                text: "ful day.\n".into(),
            },
        ];
        let s = sentences_for_pages(&pages);
        assert_eq!(s[0].text, "It was a wonderful day.");
        assert_eq!(s[0].page, 1);
    }

    #[test]
    fn pages_join_lines_and_keep_page_numbers() {
        let pages = vec![
            PageText {
                number: 1,
                text: "The quick brown fox jum-\nped over the\nlazy dog. A second".into(),
            },
            PageText {
                number: 2,
                text: "sentence spans pages. Third one.\n".into(),
            },
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
