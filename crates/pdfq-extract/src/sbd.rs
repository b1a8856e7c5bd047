//! Sentence boundary detection in running text: which terminators end a sentence
//! (abbreviations, initials, the pronoun I, names with "!", ellipses), where inline list items
//! and bullets start one, and how a citation after a closing quote stays with its sentence.
//!
//! Rules rather than a model, in one pass over the text: extraction runs it on every chunk.

use std::ops::Range;

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

/// Abbreviations that often end a sentence: they end one before any capitalised word.
const SOMETIMES_FINAL: &[&str] = &["a.m", "al", "co", "corp", "etc", "inc", "ltd", "no", "p.m"];

/// Name suffixes and initialisms end a sentence only before a word that typically starts one
/// ("Smith Jr. He ...", "the U.S. They ..."), not before a name ("the U.S. Government").
const ENDS_BEFORE_STARTER: &[&str] = &["jr", "sr"];

/// Capitalised words that usually start a sentence rather than continue a name (lower case,
/// sorted).
const SENTENCE_STARTERS: &[&str] = &[
    "a",
    "after",
    "all",
    "also",
    "although",
    "an",
    "and",
    "as",
    "at",
    "because",
    "before",
    "both",
    "but",
    "during",
    "each",
    "every",
    "for",
    "from",
    "he",
    "her",
    "here",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "it",
    "its",
    "many",
    "meanwhile",
    "most",
    "my",
    "no",
    "not",
    "now",
    "on",
    "once",
    "one",
    "our",
    "she",
    "since",
    "so",
    "some",
    "still",
    "such",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "though",
    "thus",
    "to",
    "today",
    "we",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "why",
    "with",
    "yet",
    "you",
    "your",
];

/// Names written with an exclamation mark (lower case, sorted): the mark ends no sentence
/// unless a typical sentence start follows.
const EXCLAMATION_NAMES: &[&str] = &[
    "airplane", "jeopardy", "joomla", "oklahoma", "wham", "yahoo",
];

/// Words after which a number is a reference ("Table 2. The ..."), not a list item (sorted).
const REFERENCE_WORDS: &[&str] = &[
    "anm",
    "annex",
    "appendix",
    "art",
    "article",
    "ch",
    "chapter",
    "clause",
    "eq",
    "equation",
    "example",
    "exercise",
    "fig",
    "figure",
    "item",
    "kap",
    "lemma",
    "line",
    "no",
    "note",
    "p",
    "page",
    "para",
    "paragraph",
    "part",
    "pp",
    "ref",
    "rule",
    "sec",
    "section",
    "step",
    "table",
    "theorem",
    "version",
    "vol",
    "volume",
    "ziff",
];

/// Inline list items further apart than this are not one list.
const LIST_ITEM_SPAN: usize = 400;

/// A parenthetical after a closing quote longer than this is not a citation.
const MAX_CITATION_BYTES: usize = 80;

/// The ASCII bytes segmentation looks at: terminators, brackets and line breaks.
const SIGNIFICANT_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let mut k = 0;
    let bytes = b".!?()[]{}\n";
    while k < bytes.len() {
        t[bytes[k] as usize] = true;
        k += 1;
    }
    t
};

pub(crate) fn is_terminator(c: char) -> bool {
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

fn is_closing_bracket(c: char) -> bool {
    matches!(c, ')' | ']' | '}' | '\u{FF09}' | '\u{3011}' | '\u{FF3D}')
}

fn is_closing_quote(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '\u{2019}'
            | '\u{201D}'
            | '\u{00BB}'
            | '\u{203A}'
            | '\u{300D}'
            | '\u{300F}'
            | '\u{300B}'
            | '\u{3009}'
    )
}

pub(crate) fn is_closer(c: char) -> bool {
    is_closing_bracket(c) || is_closing_quote(c)
}

fn is_opener(c: char) -> bool {
    matches!(c, '(' | '[' | '{' | '\u{FF08}' | '\u{3010}' | '\u{FF3B}')
}

/// List bullets: each starts an item, so a sentence. (Not `·`, `-` or `*`: they are also
/// separators, operators and hyphens.)
fn is_bullet(c: char) -> bool {
    matches!(
        c,
        '\u{2022}'
            | '\u{2023}'
            | '\u{2043}'
            | '\u{25AA}'
            | '\u{25AB}'
            | '\u{25CF}'
            | '\u{25CB}'
            | '\u{25E6}'
            | '\u{25A0}'
            | '\u{25A1}'
            | '\u{25BA}'
            | '\u{25B8}'
            | '\u{27A2}'
    )
}

/// Whether the bullet `text[at..after]` starts a list item: a word of its own, and for the
/// shapes that are also operators or proof marks (g ◦ f, □), before a capital or a number.
fn starts_item(text: &str, at: usize, after: usize) -> bool {
    let rest = &text[after..];
    let spaced_before = text[..at]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    let ambiguous = text[at..after]
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '\u{25E6}' | '\u{25CB}' | '\u{25A0}' | '\u{25A1}'));
    spaced_before
        && (!ambiguous
            || rest.starts_with(char::is_whitespace)
                && rest
                    .trim_start()
                    .starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit()))
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
pub(crate) fn has_content(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

pub(crate) fn collapse_ws(s: &str) -> String {
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
    let items = inline_list_items(text);
    let mut next_item = 0usize;
    let mut out = Vec::new();
    let mut start = 0usize;
    // Offset of the last unclosed opening bracket in the current sentence.
    let mut open_bracket: Option<usize> = None;
    let mut depth = 0u32;
    let mut i = 0usize;
    while i < bytes.len() {
        // An inline list item starts a sentence; the period of its number ends none.
        if let Some(&item) = items.get(next_item).filter(|m| m.start <= i) {
            next_item += 1;
            if item.start == i {
                // A bullet before the number has started the sentence already.
                if !text[start..i]
                    .trim_matches(|c: char| c.is_whitespace() || is_bullet(c))
                    .is_empty()
                {
                    push_span(text, start..i, &mut out);
                    start = i;
                }
                depth = 0;
                open_bracket = None;
                if let Some(dot) = item.dot {
                    i = dot + 1;
                }
            }
            continue;
        }
        // Only ASCII punctuation, line breaks and non-ASCII characters can matter.
        let b = bytes[i];
        if b < 0x80 && !SIGNIFICANT_ASCII[usize::from(b)] || (0x80..0xC0).contains(&b) {
            i += 1;
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        let at = i;
        i += c.len_utf8();
        if is_bullet(c) && starts_item(text, at, i) {
            push_span(text, start..at, &mut out);
            start = at;
            depth = 0;
            open_bracket = None;
            continue;
        }
        if is_opener(c) {
            depth += 1;
            open_bracket.get_or_insert(at);
            continue;
        }
        if is_closing_bracket(c) {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                open_bracket = None;
            }
            continue;
        }
        if c == '\n' {
            // A blank line is a paragraph break.
            let rest = &bytes[at + 1..];
            let ws = rest
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
                .count();
            if rest.get(ws) == Some(&b'\n') {
                push_span(text, start..at, &mut out);
                start = at + 1;
                depth = 0;
                open_bracket = None;
            }
            continue;
        }
        if !is_terminator(c) {
            continue;
        }
        // Swallow further terminators (spaced ellipses included) and closing quotes/brackets.
        let mut end = at + c.len_utf8();
        let mut cjk = is_cjk_terminator(c);
        let mut multi = false;
        let mut quoted = false;
        let mut spaced_dots = 1;
        loop {
            let rest = &text[end..];
            let Some(d) = rest.chars().next() else { break };
            if is_terminator(d) {
                cjk |= is_cjk_terminator(d);
                multi = true;
            } else if is_closer(d) {
                quoted |= is_closing_quote(d);
                if is_closing_bracket(d) {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        open_bracket = None;
                    }
                }
            } else if c == '.'
                && rest.starts_with(" .")
                && !rest[2..].starts_with(char::is_alphanumeric)
            {
                // ". . ." and ". . . .": one ellipsis.
                multi = true;
                spaced_dots += 1;
                end += 1;
                continue;
            } else {
                break;
            }
            end += d.len_utf8();
        }
        i = end;
        // A long run of spaced dots is a leader (". . . . . 12"), not an ellipsis.
        if spaced_dots > 4 {
            continue;
        }
        // A stale bracket (never closed) stops suppressing after a while.
        if let Some(ob) = open_bracket
            && at - ob > 400
        {
            open_bracket = None;
            depth = 0;
        }
        let mut after = &text[end..];
        if !cjk {
            // Inside a word (3.14, example.com, e.g.x) a period ends nothing, unless what
            // follows it is a footnote mark ("logbook.1 They").
            match after.chars().next() {
                None => {}
                Some(n) if n.is_whitespace() => {}
                _ => match footnote_mark(&text[start..at], after) {
                    Some(len) => {
                        end += len;
                        i = end;
                        after = &text[end..];
                    }
                    None => continue,
                },
            }
        }
        if open_bracket.is_some() && !cjk {
            continue;
        }
        let ends = if cjk {
            true
        } else if c == '.' || c == '\u{2026}' {
            is_boundary_after_period(text, start, at, multi || c == '\u{2026}', after)
        } else if c == '!' && !multi && is_exclamation_name(word_before(&text[start..at])) {
            next_word(after).is_none_or(|(w, rest)| is_sentence_starter(w, rest))
        } else {
            // "!" and "?" end a sentence even before lower case; other marks do not.
            c == '!' || c == '?' || !after.trim_start().starts_with(char::is_lowercase)
        };
        if !ends {
            continue;
        }
        if quoted && let Some(len) = citation_after(after) {
            end += len;
            i = end;
        }
        push_span(text, start..end, &mut out);
        start = end;
    }
    push_span(text, start..text.len(), &mut out);
    out
}

/// Text with no sentence punctuation (tables, lists, code) would make one huge "sentence":
/// past this many bytes it is cut at a space (or anywhere, for unspaced scripts).
pub(crate) const MAX_SENTENCE_BYTES: usize = 2000;

fn push_span(text: &str, r: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail >= s.len() {
        return;
    }
    let (mut start, end) = (r.start + lead, r.end - trail);
    while end - start > MAX_SENTENCE_BYTES {
        let cut = floor_boundary(text, start + MAX_SENTENCE_BYTES);
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

/// The last character boundary of `text` at or before byte `at` (`str::floor_char_boundary`,
/// which is newer than the workspace's minimum Rust).
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The word that ends `before` (after its last space, bracket or opening quote).
fn word_before(before: &str) -> &str {
    let word_start = before
        .rfind(|c: char| c.is_whitespace() || is_opener(c) || c == '"' || c == '\u{201C}')
        .map_or(0, |p| {
            p + before[p..].chars().next().map_or(1, char::len_utf8)
        });
    before[word_start..].trim_start_matches(is_bullet)
}

/// The next word of `after` (letters only), past spaces and opening quotes or brackets, and
/// the text after that word.
fn next_word(after: &str) -> Option<(&str, &str)> {
    let rest = after.trim_start_matches(|c: char| {
        c.is_whitespace() || is_opener(c) || matches!(c, '"' | '\'' | '\u{201C}' | '\u{2018}')
    });
    let len = rest
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(rest.len());
    (len > 0).then(|| rest.split_at(len))
}

/// Whether `word` (as written, followed by `rest`) typically starts a sentence: capitalised,
/// in the list, and not itself an initial ("A. I. Smith").
fn is_sentence_starter(word: &str, rest: &str) -> bool {
    if !word.starts_with(|c: char| c.is_ascii_uppercase())
        || word.len() > 12
        || !word.is_ascii()
        || rest.starts_with('.')
    {
        return false;
    }
    let mut buf = [0u8; 12];
    let lower = &mut buf[..word.len()];
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    SENTENCE_STARTERS
        .binary_search_by(|s| s.as_bytes().cmp(lower))
        .is_ok()
}

fn is_exclamation_name(word: &str) -> bool {
    word.starts_with(char::is_uppercase)
        && word.len() <= 12
        && EXCLAMATION_NAMES
            .binary_search(&word.to_lowercase().as_str())
            .is_ok()
}

/// Whether the period at `dot` (in the sentence starting at `start`) ends the sentence;
/// `after` is the text after it (and the marks swallowed with it).
fn is_boundary_after_period(
    text: &str,
    start: usize,
    dot: usize,
    ellipsis: bool,
    after: &str,
) -> bool {
    let Some(next) = after.trim_start().chars().next() else {
        return true;
    };
    // A lower-case continuation means an abbreviation or an ellipsis inside the sentence.
    if next.is_lowercase() {
        return false;
    }
    // Whether the next word (past quotes and brackets) starts like a sentence.
    let next_word = next_word(after);
    let starter = || next_word.is_some_and(|(w, rest)| is_sentence_starter(w, rest));
    if ellipsis {
        // Before a number (a dot leader's page) or a symbol, an ellipsis ends nothing.
        return next_word.is_some_and(|(w, _)| w.starts_with(char::is_uppercase))
            || matches!(next, '"' | '\u{201C}' | '\'' | '\u{2018}' | '(');
    }
    let before = &text[start..dot];
    let word = word_before(before);
    if word.is_empty() {
        return true;
    }
    let word_start = before.len() - word.len();
    let lower = word.to_lowercase();
    if ABBREVIATIONS.binary_search(&lower.as_str()).is_ok() {
        if ENDS_BEFORE_STARTER.contains(&lower.as_str()) {
            return starter();
        }
        return SOMETIMES_FINAL.contains(&lower.as_str()) && next.is_uppercase();
    }
    let mut letters = word.chars();
    let first = letters.next();
    if letters.next().is_none() && first.is_some_and(char::is_alphabetic) {
        // "than I." is the pronoun; "Henry I. Walsh" an initial.
        if word == "I" && previous_word_is_lowercase(&before[..word_start]) {
            return next.is_uppercase();
        }
        // An initial (J. Smith), or a letter that ends a sentence ("Plan B. The ...").
        return starter();
    }
    // An initialism (U.S., e.g., Ph.D) ends a sentence only before a typical sentence start.
    if word.contains('.')
        && word
            .split('.')
            .all(|p| p.chars().count() <= 2 && p.chars().all(char::is_alphabetic))
    {
        return starter();
    }
    // A list number at the start of a sentence (1. Introduction, iv. Results).
    let at_start = before[..word_start]
        .trim_matches(|c: char| c.is_whitespace() || is_bullet(c))
        .is_empty();
    if at_start && (word.len() <= 3 && word.chars().all(|c| c.is_ascii_digit()) || is_roman(word)) {
        return false;
    }
    true
}

fn previous_word_is_lowercase(before: &str) -> bool {
    before
        .trim_end()
        .trim_end_matches(',')
        .rsplit(char::is_whitespace)
        .next()
        .and_then(|w| w.chars().next())
        .is_some_and(char::is_lowercase)
}

fn is_roman(w: &str) -> bool {
    !w.is_empty()
        && w.len() <= 5
        && w.chars()
            .all(|c| matches!(c, 'i' | 'v' | 'x' | 'I' | 'V' | 'X'))
}

/// The byte length of a footnote mark glued to a sentence's final punctuation: one to three
/// digits (ASCII or superscript) after a word of three or more letters that is no abbreviation
/// or reference word ("logbook.1 They", "held.¹² Others"), before a space and a capitalised
/// word. "version 2.1 The", "rev.2 Board" and "Fig.3 The" are not marks.
fn footnote_mark(before: &str, after: &str) -> Option<usize> {
    let word = word_before(before);
    if word.chars().count() < 3
        || !word.chars().all(char::is_alphabetic)
        || !word.chars().last().is_some_and(char::is_lowercase)
    {
        return None;
    }
    let lower = word.to_lowercase();
    // Plurals too: "pages.12 The" is a reference, as "page.12" is.
    let singular = lower.strip_suffix('s').unwrap_or(&lower);
    if [lower.as_str(), singular]
        .iter()
        .any(|w| ABBREVIATIONS.binary_search(w).is_ok() || REFERENCE_WORDS.binary_search(w).is_ok())
    {
        return None;
    }
    let is_mark_digit = |c: char| c.is_ascii_digit() || "⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c);
    let len: usize = after
        .chars()
        .take_while(|&c| is_mark_digit(c))
        .take(4)
        .map(char::len_utf8)
        .sum();
    let digits = after[..len].chars().count();
    let rest = &after[len..];
    ((1..=3).contains(&digits)
        && rest.starts_with(char::is_whitespace)
        && rest.trim_start().starts_with(char::is_uppercase))
    .then_some(len)
}

/// A citation in parentheses right after a quotation's closing mark (`"...end." (Lee 2011)`)
/// belongs to the quoting sentence: the byte length to take (the parenthetical, and a period
/// right after it), when `after` starts with one and a new sentence (or the end) follows.
fn citation_after(after: &str) -> Option<usize> {
    let lead = after.len() - after.trim_start().len();
    let rest = &after[lead..];
    if !rest.starts_with('(') {
        return None;
    }
    // The window ends on a character boundary: a wide character may straddle its edge.
    let close = rest[..floor_boundary(rest, MAX_CITATION_BYTES)].find(')')?;
    let inner = &rest[1..close];
    if inner.contains('(')
        || !inner.contains(|c: char| c.is_ascii_digit())
        || inner.trim_end().ends_with(is_terminator)
    {
        return None;
    }
    let mut len = lead + close + 1;
    if after[len..].starts_with('.') {
        len += 1;
    }
    let follows = after[len..].trim_start().chars().next();
    (follows.is_none_or(|c| c.is_uppercase() || is_opener(c) || is_closing_quote(c))
        && after[len..].chars().next().is_none_or(char::is_whitespace))
    .then_some(len)
}

/// A list item's marker in running text: where it starts, and the period in it, if any.
#[derive(Debug, Clone, Copy)]
struct ListItem {
    start: usize,
    dot: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbering {
    Arabic,
    Letter,
    Roman,
}

/// A candidate item marker: "2.", "b)", "iv.)" and the like, as its own word.
#[derive(Debug, Clone, Copy)]
struct Marker {
    item: ListItem,
    numbering: Numbering,
    /// The marker's punctuation: ".", ")" or ".)".
    suffix: &'static str,
    value: u32,
}

/// Items of inline lists ("1. Preheat the oven 2. Grease the tin"): markers that continue a
/// numbering (1, 2, 3 or a, b, c or i, ii, iii, with the same punctuation) within a short
/// span. A single "2." is a number ending a sentence, not a list.
fn inline_list_items(text: &str) -> Vec<ListItem> {
    let mut markers: Vec<Marker> = Vec::new();
    let bytes = text.as_bytes();
    // A marker is a short word ending in "." or ")" ("2.", "b)", "iv.)"), then a space.
    for end in memchr::memchr2_iter(b'.', b')', bytes) {
        if !bytes.get(end + 1).is_some_and(u8::is_ascii_whitespace) {
            continue;
        }
        let mut k = if bytes[end] == b')' && end > 0 && bytes[end - 1] == b'.' {
            end - 1
        } else {
            end
        };
        let body_end = k;
        while k > 0 && body_end - k < 4 && bytes[k - 1].is_ascii_alphanumeric() {
            k -= 1;
        }
        let word_start = k < body_end
            && (k == 0
                || bytes[k - 1].is_ascii_whitespace()
                || bytes[k - 1] >= 0x80 && ends_with_bullet(&text[..k]));
        if word_start {
            markers.extend(parse_marker(text, k, end + 1 - k));
        }
    }
    if markers.len() < 2 {
        return Vec::new();
    }
    let mut in_list = vec![false; markers.len()];
    for k in 0..markers.len() {
        let m = markers[k];
        // The item this one continues: the nearest earlier marker of the same numbering.
        let prev = (0..k).rev().map(|j| (j, markers[j])).find(|(_, p)| {
            p.numbering == m.numbering && p.suffix == m.suffix && p.item.start < m.item.start
        });
        if let Some((j, p)) = prev
            && p.value + 1 == m.value
            && m.item.start - p.item.start <= LIST_ITEM_SPAN
        {
            in_list[j] = true;
            in_list[k] = true;
        }
    }
    let mut items: Vec<ListItem> = markers
        .iter()
        .zip(in_list)
        .filter_map(|(m, keep)| keep.then_some(m.item))
        .collect();
    items.dedup_by_key(|m| m.start);
    items
}

fn ends_with_bullet(before: &str) -> bool {
    before.chars().next_back().is_some_and(is_bullet)
}

/// The markers the word `text[at..at + len]` can be (a letter such as "i" is a letter and a
/// roman numeral), if it is one and a word follows it.
fn parse_marker(text: &str, at: usize, len: usize) -> impl Iterator<Item = Marker> {
    let word = &text[at..at + len];
    let (body, suffix) = if let Some(b) = word.strip_suffix(".)") {
        (b, ".)")
    } else if let Some(b) = word.strip_suffix(')') {
        (b, ")")
    } else if let Some(b) = word.strip_suffix('.') {
        (b, ".")
    } else {
        ("", "")
    };
    let followed_by_word = text[at + len..]
        .trim_start()
        .starts_with(|c: char| c.is_alphabetic());
    let reference = is_reference_word(previous_word(&text[..at]));
    let valid = !body.is_empty() && followed_by_word && !reference;
    let dot = (suffix != ")").then_some(at + body.len());
    let item = ListItem { start: at, dot };
    let arabic = (body.len() <= 3 && body.bytes().all(|b| b.is_ascii_digit()))
        .then(|| body.parse().ok())
        .flatten()
        .map(|value| (Numbering::Arabic, value));
    let letter = (body.len() == 1 && body.as_bytes()[0].is_ascii_lowercase())
        .then(|| (Numbering::Letter, u32::from(body.as_bytes()[0] - b'a') + 1));
    let roman = roman_value(body).map(|value| (Numbering::Roman, value));
    [arabic, letter, roman]
        .into_iter()
        .flatten()
        .filter(move |_| valid)
        .map(move |(numbering, value)| Marker {
            item,
            numbering,
            suffix,
            value,
        })
}

fn previous_word(before: &str) -> &str {
    before
        .trim_end()
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
}

fn is_reference_word(word: &str) -> bool {
    let word = word.trim_end_matches('.');
    word.len() <= 10
        && REFERENCE_WORDS
            .binary_search(&word.to_lowercase().as_str())
            .is_ok()
}

/// Lower-case roman numerals up to 39, as list items use them.
fn roman_value(w: &str) -> Option<u32> {
    if w.is_empty() || w.len() > 6 || !w.bytes().all(|b| matches!(b, b'i' | b'v' | b'x')) {
        return None;
    }
    let digit = |b: u8| match b {
        b'i' => 1,
        b'v' => 5,
        _ => 10,
    };
    let bytes = w.as_bytes();
    let mut total = 0u32;
    for (k, &b) in bytes.iter().enumerate() {
        let v = digit(b);
        if bytes.get(k + 1).is_some_and(|&n| digit(n) > v) {
            total = total.checked_sub(v)?;
        } else {
            total += v;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted() {
        for list in [
            ABBREVIATIONS,
            SENTENCE_STARTERS,
            EXCLAMATION_NAMES,
            REFERENCE_WORDS,
        ] {
            let mut v = list.to_vec();
            v.sort_unstable();
            assert_eq!(v, list);
        }
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
}
