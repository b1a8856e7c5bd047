//! Sentences of pages: the line joining that precedes segmentation (the boundary rules are in
//! `sbd`).

use serde::{Deserialize, Serialize};

use crate::extract::PageText;
use crate::geometry::{PageSize, SentenceBox};
pub use crate::sbd::segment;
use crate::sbd::{collapse_ws, has_content, is_closer, is_terminator, segment_spans};

/// The most boxes one sentence carries. Parts of lines past the last on its page are merged
/// into it (their union); parts on later pages then have none, their pages are still listed.
pub const MAX_SENTENCE_BOXES: usize = 64;

/// A sentence, the (1-based) page it starts on, and where it is drawn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    pub text: String,
    pub page: u32,
    /// Every page its lines are on, ascending: more than one when it flows over a page break.
    #[serde(default)]
    pub pages: Vec<u32>,
    /// The size of each of `pages` as a viewer shows it, the frame of `boxes`.
    #[serde(default)]
    pub page_sizes: Vec<PageSize>,
    /// One box per line, or part of a line, it covers, in reading order (at most
    /// [`MAX_SENTENCE_BOXES`]); none on pages whose geometry is unknown.
    #[serde(default)]
    pub boxes: Vec<SentenceBox>,
}

/// A line as the joiner sees it: its text (trimmed; empty for blank lines and furniture), its
/// page's number and place in the chunk, where its box and first word's extent are, and
/// whether it is a table's row.
struct Line<'a> {
    text: &'a str,
    number: u32,
    page: usize,
    geometry: Option<(usize, usize)>,
    row: bool,
}

/// Joins wrapped lines into running text: a line ending in a hyphenated word part is joined
/// to the next without the hyphen (a compound's hyphen, "state-of-the-", is kept); other lines
/// are joined with a space. A block break (blank line) ends a paragraph unless the text plainly
/// flows on: the next block continues in lower case, or the block ended mid-sentence on a full
/// line (a column or page break); never after or before a caption. A short line without final
/// punctuation before a capitalised line (a heading) ends a paragraph. A table's row is a
/// paragraph of its own (with any line of punctuation only beside it): its cells are not
/// running text, and rows without final punctuation ran together into one "sentence" up to
/// the length cut. Each line carries its
/// page; `starts` gets the offset in `out` where each page's text begins, `placed` the range
/// of `out` each line's text went to, with the line's index.
fn join_lines(
    lines: &[Line<'_>],
    out: &mut String,
    starts: &mut Vec<(usize, u32)>,
    placed: &mut Vec<(usize, usize, usize)>,
) {
    // Line lengths are judged against the typical line (the 75th percentile): a two-column
    // page's lines are short next to its full-width title.
    let mut lengths: Vec<usize> = lines
        .iter()
        .map(|l| l.text.chars().count())
        .filter(|&n| n > 0)
        .collect();
    lengths.sort_unstable();
    let typical = lengths.get(lengths.len() * 3 / 4).copied().unwrap_or(0);
    let mut block_first = "";
    let mut i = 0;
    while i < lines.len() {
        let (line, page) = (lines[i].text, lines[i].number);
        let index = i;
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
        let gap = i < lines.len() && lines[i].text.is_empty();
        let next_line = lines[i..].iter().find(|l| !l.text.is_empty());
        let next = next_line.map_or("", |l| l.text);
        // A line of punctuation only ("}", "...") stays with the lines beside it: alone it
        // would be no sentence, and its text would be lost.
        let own_paragraph = has_content(line)
            && next_line.is_none_or(|l| has_content(l.text))
            && (lines[index].row || next_line.is_some_and(|l| l.row));
        let next_first = next.chars().next();
        let last = line.chars().last().unwrap_or(' ');
        let hyphenated = !own_paragraph
            && line.chars().count() > 1
            && (last == '-' || last == '\u{00AD}')
            && line.chars().rev().nth(1).is_some_and(char::is_alphabetic)
            && next_first.is_some_and(char::is_lowercase);
        if hyphenated {
            let word = line.rsplit(' ').next().unwrap_or(line);
            let compound = last == '-' && word[..word.len() - 1].contains('-');
            let start = out.len();
            out.push_str(if compound {
                line
            } else {
                &line[..line.len() - last.len_utf8()]
            });
            placed.push((start, out.len(), index));
            if gap {
                block_first = "";
            }
            continue;
        }
        placed.push((out.len(), out.len() + line.len(), index));
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
        if (gap && !flows) || heading || own_paragraph {
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
    let mut lines: Vec<Line<'_>> = Vec::new();
    // Whether each page's word extents match its text (they come from the isolated child).
    let mut words_known = Vec::with_capacity(pages.len());
    for (page, p) in pages.iter().enumerate() {
        let (boxes_known, words_ok) = geometry_matches(p);
        words_known.push(words_ok);
        let (mut next_box, mut next_word) = (0, 0);
        for (i, line) in p.text.lines().enumerate() {
            let furniture = p.furniture.binary_search(&(i as u32)).is_ok();
            let trimmed = line.trim();
            let geometry = (boxes_known && !trimmed.is_empty()).then_some((next_box, next_word));
            if geometry.is_some() {
                next_box += 1;
                if words_ok {
                    next_word += trimmed.split_whitespace().count();
                }
            }
            lines.push(Line {
                text: if furniture { "" } else { trimmed },
                number: p.number,
                page,
                geometry,
                row: p.table_rows.binary_search(&(i as u32)).is_ok(),
            });
        }
        // A page break is a block break.
        lines.push(Line {
            text: "",
            number: p.number,
            page,
            geometry: None,
            row: false,
        });
    }
    let mut text = String::new();
    let mut starts: Vec<(usize, u32)> = Vec::with_capacity(pages.len());
    let mut placed = Vec::with_capacity(lines.len());
    join_lines(&lines, &mut text, &mut starts, &mut placed);
    let provenance = Provenance {
        pages,
        lines: &lines,
        placed: &placed,
        words_known: &words_known,
    };
    segment_spans(&text)
        .into_iter()
        .filter_map(|r| {
            let page = match starts.binary_search_by(|(s, _)| s.cmp(&r.start)) {
                Ok(k) => starts[k].1,
                Err(0) => starts.first().map_or(1, |s| s.1),
                Err(k) => starts[k - 1].1,
            };
            let s = collapse_ws(&text[r.clone()]);
            if !has_content(&s) {
                return None;
            }
            let mut sentence = Sentence {
                text: s,
                page,
                pages: Vec::new(),
                page_sizes: Vec::new(),
                boxes: Vec::new(),
            };
            provenance.locate(r, &mut sentence);
            Some(sentence)
        })
        .collect()
}

/// Whether a page's line boxes, and its word extents, match its text: one box per line that
/// is not blank, one extent per word of those lines.
fn geometry_matches(p: &PageText) -> (bool, bool) {
    let (mut lines, mut words) = (0, 0);
    for line in p.text.lines() {
        if !line.trim().is_empty() {
            lines += 1;
            words += line.split_whitespace().count();
        }
    }
    let boxes = lines > 0 && p.line_boxes.len() == lines;
    (boxes, boxes && p.words.len() == words)
}

/// Where the joined text of a chunk's pages came from, line by line.
struct Provenance<'a> {
    pages: &'a [PageText],
    lines: &'a [Line<'a>],
    /// Ranges of the joined text and the line each came from, in text order.
    placed: &'a [(usize, usize, usize)],
    words_known: &'a [bool],
}

impl Provenance<'_> {
    /// Fills the pages and boxes of the sentence at `range` of the joined text.
    fn locate(&self, range: std::ops::Range<usize>, sentence: &mut Sentence) {
        let first = self
            .placed
            .partition_point(|&(_, end, _)| end <= range.start);
        for &(start, end, index) in &self.placed[first..] {
            if start >= range.end {
                break;
            }
            let line = &self.lines[index];
            let page = &self.pages[line.page];
            if sentence.pages.last() != Some(&line.number) {
                sentence.pages.push(line.number);
                sentence.page_sizes.push(PageSize {
                    page: line.number,
                    width: page.width,
                    height: page.height,
                });
            }
            let local = range.start.saturating_sub(start)..range.end.min(end) - start;
            if let Some(b) = self.line_part(line, local) {
                push_box(&mut sentence.boxes, b);
            }
        }
        if sentence.pages.is_empty() {
            sentence.pages.push(sentence.page);
        }
    }

    /// The box of the words of `line` within `local` (byte offsets in its text).
    fn line_part(&self, line: &Line<'_>, local: std::ops::Range<usize>) -> Option<SentenceBox> {
        let (box_index, first_word) = line.geometry?;
        let page = &self.pages[line.page];
        let rect = *page.line_boxes.get(box_index)?;
        if rect == [0.0; 4] {
            return None;
        }
        let whole = SentenceBox {
            page: page.number,
            x0: rect[0],
            y0: rect[1],
            x1: rect[2],
            y1: rect[3],
        };
        if !self.words_known[line.page] {
            return Some(whole);
        }
        let (mut lo, mut hi) = (u16::MAX, 0u16);
        let (mut covered, mut count) = (0, 0);
        for (k, (ws, we)) in word_spans(line.text).enumerate() {
            count += 1;
            if ws < local.end && we > local.start {
                let [a, b] = *page.words.get(first_word + k)?;
                lo = lo.min(a);
                hi = hi.max(b);
                covered += 1;
            }
        }
        if covered == count || covered == 0 {
            return Some(whole);
        }
        let vertical = page
            .vertical_lines
            .binary_search(&(box_index as u32))
            .is_ok();
        let (axis0, axis1) = if vertical {
            (rect[1], rect[3])
        } else {
            (rect[0], rect[2])
        };
        let at = |q: u16| {
            let v = axis0 + (axis1 - axis0) * f32::from(q) / f32::from(u16::MAX);
            (v * 100.0).round() / 100.0
        };
        let (from, to) = (at(lo), at(hi));
        Some(if vertical {
            SentenceBox {
                y0: from,
                y1: to,
                ..whole
            }
        } else {
            SentenceBox {
                x0: from,
                x1: to,
                ..whole
            }
        })
    }
}

/// Adds a box, within [`MAX_SENTENCE_BOXES`]: past it, a box on the last box's page widens
/// that box, others are dropped.
fn push_box(boxes: &mut Vec<SentenceBox>, b: SentenceBox) {
    if boxes.len() < MAX_SENTENCE_BOXES {
        boxes.push(b);
        return;
    }
    if let Some(last) = boxes.last_mut().filter(|l| l.page == b.page) {
        last.x0 = last.x0.min(b.x0);
        last.y0 = last.y0.min(b.y0);
        last.x1 = last.x1.max(b.x1);
        last.y1 = last.y1.max(b.y1);
    }
}

/// Byte ranges of the whitespace-separated words of `s`.
fn word_spans(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    s.split_whitespace().map(move |w| {
        let start = w.as_ptr() as usize - s.as_ptr() as usize;
        (start, start + w.len())
    })
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

    /// A page of `lines` one-word lines, 12 points apart, each with its box and word extent.
    fn boxed_page(number: u32, words: &[&str]) -> PageText {
        let mut page = PageText::new(number, words.join("\n"));
        page.width = 612.0;
        page.height = 792.0;
        for (k, _) in words.iter().enumerate() {
            let top = 72.0 + 12.0 * k as f32;
            page.line_boxes.push([72.0, top, 200.0, top + 10.0]);
            page.words.push(crate::geometry::WHOLE_LINE);
        }
        page
    }

    #[test]
    fn a_sentence_over_many_lines_keeps_a_bounded_box_list() {
        let words: Vec<String> = (0..100).map(|k| format!("word{k}")).collect();
        let mut refs: Vec<&str> = words.iter().map(String::as_str).collect();
        refs.push("end.");
        let s = sentences_for_pages(&[boxed_page(1, &refs)]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].boxes.len(), MAX_SENTENCE_BOXES);
        // The last box takes in every line past the cap: down to the last line's bottom.
        let last = s[0].boxes[MAX_SENTENCE_BOXES - 1];
        assert_eq!(
            (last.y0, last.y1),
            (72.0 + 12.0 * 63.0, 72.0 + 12.0 * 100.0 + 10.0)
        );
    }

    #[test]
    fn geometry_that_does_not_match_the_text_is_not_used() {
        let mut page = boxed_page(1, &["One line.", "Two lines."]);
        page.line_boxes.pop();
        let s = sentences_for_pages(&[page]);
        assert!(
            s.iter().all(|s| s.boxes.is_empty() && s.pages == [1]),
            "{s:?}"
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
