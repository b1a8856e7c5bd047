//! Rule-based multilingual sentence segmentation, and the line joining that precedes it.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::extract::PageText;

/// A sentence and the (1-based) page it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub text: String,
    pub page: u32,
}

/// Abbreviations after which a period rarely ends a sentence (lower case, no final period).
/// Titles and reference words, in English, German, French, Spanish and Italian.
const ABBREVIATIONS: &[&str] = &[
    "a.m", "abb", "abs", "adj", "adm", "adv", "al", "approx", "apr", "art", "assn", "aug", "av",
    "ave", "bd", "bldg", "brig", "bros", "bzw", "ca", "capt", "cf", "ch", "chap", "cmdr", "co",
    "col", "comdr", "con", "corp", "cpl", "dec", "dept", "dipl", "dist", "dr", "dra", "dres",
    "e.g", "ed", "eds", "eq", "eqs", "esp", "esq", "est", "etc", "ex", "feb", "fig", "figs", "fr",
    "gen", "ggf", "gov", "hon", "hosp", "hr", "hrsg", "i.e", "inc", "ing", "insp", "jan", "jr",
    "jul", "jun", "lt", "ltd", "maj", "mar", "max", "me", "messrs", "mgr", "min", "mlle", "mme",
    "mr", "mrs", "ms", "msgr", "mt", "no", "nos", "nov", "nr", "oct", "op", "p", "p.m", "pp",
    "prof", "pt", "pvt", "ref", "refs", "rep", "reps", "resp", "rev", "sec", "sen", "sens", "sep",
    "sept", "sgt", "sr", "sra", "srta", "st", "ste", "supt", "tab", "tel", "u.a", "usw", "vgl",
    "viz", "vol", "vols", "vs", "z.b",
];

/// Abbreviations that can also end a sentence: they end one when a capital follows.
const SOMETIMES_FINAL: &[&str] = &["etc", "al", "inc", "ltd", "corp", "co", "jr", "sr", "no"];

fn is_terminator(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | '?'
            | '\u{2026}'
            | '\u{203C}'
            | '\u{2047}'
            | '\u{2048}'
            | '\u{2049}'
            | '\u{061F}'
            | '\u{06D4}'
            | '\u{0964}'
            | '\u{0965}'
    ) || is_cjk_terminator(c)
}

/// Full-width terminators end a sentence with no space after them.
fn is_cjk_terminator(c: char) -> bool {
    matches!(c, '\u{3002}' | '\u{FF01}' | '\u{FF1F}' | '\u{FF61}')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | ')'
            | ']'
            | '}'
            | '\u{2019}'
            | '\u{201D}'
            | '\u{00BB}'
            | '\u{203A}'
            | '\u{300D}'
            | '\u{300F}'
            | '\u{FF09}'
            | '\u{3011}'
            | '\u{FF3D}'
            | '\u{300B}'
            | '\u{3009}'
    )
}

fn is_opener(c: char) -> bool {
    matches!(c, '(' | '[' | '{' | '\u{FF08}' | '\u{3010}' | '\u{FF3B}')
}

/// Splits plain text into sentences (whitespace inside each collapsed to single spaces).
pub fn segment(text: &str) -> Vec<String> {
    segment_spans(text)
        .into_iter()
        .map(|r| collapse_ws(&text[r]))
        .filter(|s| has_content(s))
        .collect()
}

/// A sentence needs a letter or digit: a lone "." or "•" is layout, not a sentence.
fn has_content(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Byte ranges of the sentences of `text`.
pub(crate) fn segment_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0usize;
    // Offset of the last unclosed opening bracket in the current sentence.
    let mut open_bracket: Option<usize> = None;
    let mut depth = 0u32;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if is_opener(c) {
            depth += 1;
            open_bracket.get_or_insert(i);
            continue;
        }
        if matches!(c, ')' | ']' | '}' | '\u{FF09}' | '\u{3011}' | '\u{FF3D}') {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                open_bracket = None;
            }
            continue;
        }
        if c == '\n' {
            // A blank line is a paragraph break.
            let rest = &bytes[i + 1..];
            let ws = rest
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
                .count();
            if rest.get(ws) == Some(&b'\n') {
                push_span(text, start..i, &mut out);
                start = i + 1;
                depth = 0;
                open_bracket = None;
            }
            continue;
        }
        if !is_terminator(c) {
            continue;
        }
        // Swallow further terminators and closing quotes/brackets.
        let mut end = i + c.len_utf8();
        let mut cjk = is_cjk_terminator(c);
        let mut multi = false;
        while let Some(&(j, d)) = iter.peek() {
            if is_terminator(d) {
                cjk |= is_cjk_terminator(d);
                multi = true;
            } else if is_closer(d) {
                if matches!(d, ')' | ']' | '}' | '\u{FF09}' | '\u{3011}' | '\u{FF3D}') {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        open_bracket = None;
                    }
                }
            } else {
                break;
            }
            end = j + d.len_utf8();
            iter.next();
        }
        // A stale bracket (never closed) stops suppressing after a while.
        if let Some(ob) = open_bracket
            && i - ob > 400
        {
            open_bracket = None;
            depth = 0;
        }
        let next = text[end..].chars().next();
        if !cjk {
            // Inside a word (3.14, example.com, e.g.x) a period ends nothing.
            match next {
                None => {}
                Some(n) if n.is_whitespace() => {}
                _ => continue,
            }
        }
        if open_bracket.is_some() && !cjk {
            continue;
        }
        let next_word = text[end..].trim_start().chars().next();
        // Dot leaders and spaced ellipses (". . . 5") end nothing.
        let after_dot = text[..i].trim_end().ends_with('.') && text[..i].ends_with(' ');
        if c == '.' && (next_word == Some('.') || after_dot) {
            continue;
        }
        if c == '.' || c == '\u{2026}' {
            if !cjk
                && !is_boundary_after_period(text, start, i, multi || c == '\u{2026}', next_word)
            {
                continue;
            }
        } else if next_word.is_some_and(char::is_lowercase) && !cjk && c != '!' && c != '?' {
            continue;
        }
        push_span(text, start..end, &mut out);
        start = end;
    }
    push_span(text, start..text.len(), &mut out);
    out
}

/// Text with no sentence punctuation (tables, lists, code) would make one huge "sentence":
/// past this many bytes it is cut at a space (or anywhere, for unspaced scripts).
const MAX_SENTENCE_BYTES: usize = 2000;

fn push_span(text: &str, r: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail >= s.len() {
        return;
    }
    let (mut start, end) = (r.start + lead, r.end - trail);
    while end - start > MAX_SENTENCE_BYTES {
        let mut cut = start + MAX_SENTENCE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let piece = &text[start..cut];
        let at = match piece.rfind(char::is_whitespace) {
            Some(p) if p > MAX_SENTENCE_BYTES / 2 => start + p,
            _ => cut,
        };
        out.push(start..at);
        start = at;
        while start < end && text[start..].starts_with(char::is_whitespace) {
            start += text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if start < end {
        out.push(start..end);
    }
}

/// Whether the period at `dot` (in the sentence starting at `start`) ends the sentence.
fn is_boundary_after_period(
    text: &str,
    start: usize,
    dot: usize,
    ellipsis: bool,
    next: Option<char>,
) -> bool {
    let Some(next) = next else { return true };
    // A lower-case continuation means an abbreviation or an ellipsis inside the sentence.
    if next.is_lowercase() {
        return false;
    }
    if ellipsis {
        return true;
    }
    let before = &text[start..dot];
    let word_start = before
        .rfind(|c: char| c.is_whitespace() || is_opener(c) || c == '"' || c == '\u{201C}')
        .map_or(0, |p| {
            p + before[p..].chars().next().map_or(1, char::len_utf8)
        });
    let word = &before[word_start..];
    if word.is_empty() {
        return true;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.binary_search(&lower.as_str()).is_ok() {
        return SOMETIMES_FINAL.contains(&lower.as_str())
            && next.is_uppercase()
            && !is_title(&lower);
    }
    let letters: Vec<char> = word.chars().collect();
    // An initial (J. Smith) or an initialism (U.S., e.g., Ph.D).
    if letters.len() == 1 && letters[0].is_alphabetic() {
        return false;
    }
    if word.contains('.')
        && word
            .split('.')
            .all(|p| p.chars().count() <= 2 && p.chars().all(char::is_alphabetic))
    {
        return false;
    }
    // A list number at the start of a sentence (1. Introduction, iv. Results).
    let at_start = before[..word_start].trim().is_empty();
    if at_start && (word.len() <= 3 && word.chars().all(|c| c.is_ascii_digit()) || is_roman(word)) {
        return false;
    }
    true
}

fn is_title(lower: &str) -> bool {
    matches!(lower, "jr" | "sr")
}

fn is_roman(w: &str) -> bool {
    !w.is_empty()
        && w.len() <= 5
        && w.chars()
            .all(|c| matches!(c, 'i' | 'v' | 'x' | 'I' | 'V' | 'X'))
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
    fn abbreviations_are_sorted() {
        let mut v = ABBREVIATIONS.to_vec();
        v.sort_unstable();
        assert_eq!(v, ABBREVIATIONS);
    }

    fn seg(s: &str) -> Vec<String> {
        segment(s)
    }

    #[test]
    fn english_rules() {
        assert_eq!(
            seg("Dr. Smith arrived. He sat down."),
            ["Dr. Smith arrived.", "He sat down."]
        );
        assert_eq!(
            seg("It costs 3.50 dollars. Cheap!"),
            ["It costs 3.50 dollars.", "Cheap!"]
        );
        assert_eq!(
            seg("See e.g. Smith et al. for details."),
            ["See e.g. Smith et al. for details."]
        );
        assert_eq!(
            seg("He lives in the U.S. and works."),
            ["He lives in the U.S. and works."]
        );
        assert_eq!(
            seg("John F. Kennedy was president. Yes."),
            ["John F. Kennedy was president.", "Yes."]
        );
        assert_eq!(
            seg("Mail me at a.b@example.com. Or visit https://x.org/a.b today."),
            [
                "Mail me at a.b@example.com.",
                "Or visit https://x.org/a.b today."
            ]
        );
        assert_eq!(
            seg("1. Introduction. This is it."),
            ["1. Introduction.", "This is it."]
        );
        assert_eq!(
            seg("Wait... what? \"Really.\" Yes (as in Fig. 2. or so) ok."),
            [
                "Wait... what?",
                "\"Really.\"",
                "Yes (as in Fig. 2. or so) ok."
            ]
        );
        assert_eq!(seg("Hm... And then."), ["Hm...", "And then."]);
    }

    #[test]
    fn dot_leaders_are_not_sentences() {
        assert_eq!(
            seg("1 Introduction . . . . . . . 5\n2 Methods . . . . 7\n\nText. More."),
            [
                "1 Introduction . . . . . . . 5 2 Methods . . . . 7",
                "Text.",
                "More."
            ]
        );
    }

    #[test]
    fn overlong_sentences_are_cut() {
        let text = "word ".repeat(2000);
        let s = seg(&text);
        assert!(
            s.len() >= 5 && s.iter().all(|x| x.len() <= MAX_SENTENCE_BYTES),
            "{}",
            s.len()
        );
        let cjk = "字".repeat(3000);
        assert!(seg(&cjk).iter().all(|x| x.len() <= MAX_SENTENCE_BYTES));
    }

    #[test]
    fn more_languages() {
        assert_eq!(
            seg("Das ist z. B. gut. Er kam um 10 Uhr. Dann ging er."),
            ["Das ist z. B. gut.", "Er kam um 10 Uhr.", "Dann ging er."]
        );
        assert_eq!(
            seg("¿Qué pasa? ¡Nada! Bien."),
            ["¿Qué pasa?", "¡Nada!", "Bien."]
        );
        assert_eq!(
            seg("他说：“你好。”然后走了。"),
            ["他说：“你好。”", "然后走了。"]
        );
        assert_eq!(
            seg("यह एक वाक्य है। यह दूसरा है।"),
            ["यह एक वाक्य है।", "यह दूसरा है।"]
        );
    }

    #[test]
    fn cjk_and_other_scripts() {
        assert_eq!(
            seg("今日は晴れです。明日は雨！本当？"),
            ["今日は晴れです。", "明日は雨！", "本当？"]
        );
        assert_eq!(seg("「はい。」と言った。"), ["「はい。」", "と言った。"]);
        assert_eq!(
            seg("Это тест. Второе предложение."),
            ["Это тест.", "Второе предложение."]
        );
    }

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
