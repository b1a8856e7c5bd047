//! The hard cases of English sentence boundary detection (tests/data/sentence_boundaries.tsv):
//! prints the pass rate per class and requires every case of every class to pass.

use std::collections::BTreeMap;

const CASES: &str = include_str!("data/sentence_boundaries.tsv");

struct Case<'a> {
    class: &'a str,
    expected: Vec<&'a str>,
}

fn cases() -> Vec<Case<'static>> {
    CASES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut fields = l.split('\t');
            let class = fields.next().unwrap_or_default();
            Case {
                class,
                expected: fields.collect(),
            }
        })
        .collect()
}

#[test]
fn every_class_of_hard_cases_passes() {
    let cases = cases();
    assert!(cases.len() >= 60, "the case file lost its cases");
    // class -> (passed, total)
    let mut per_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            !case.expected.is_empty(),
            "a case without text: {}",
            case.class
        );
        let input = case.expected.join(" ");
        let got = pdfq_extract::segment(&input);
        let entry = per_class.entry(case.class).or_default();
        entry.1 += 1;
        if got == case.expected {
            entry.0 += 1;
        } else {
            failures.push(format!(
                "[{}] {input}\n    expected {:?}\n    got      {:?}",
                case.class, case.expected, got
            ));
        }
    }
    let (passed, total) = per_class
        .values()
        .fold((0, 0), |(p, t), (cp, ct)| (p + cp, t + ct));
    println!("class                     pass/total");
    for (class, (p, t)) in &per_class {
        println!(
            "{class:<25} {p:>2}/{t:<2} ({:.0}%)",
            100.0 * *p as f64 / *t as f64
        );
    }
    println!(
        "all                       {passed}/{total} ({:.0}%)",
        100.0 * passed as f64 / total as f64
    );
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}

/// Characters of one to four bytes, quotes and closers among them: the splitter looks around
/// marks by byte offsets, and each of these lands a character boundary somewhere else.
const WIDE: [char; 8] = ['é', '‘', '’', '“', '”', '—', '中', '😀'];

/// `text` with its `at`th character replaced by `wide`, and with `wide` inserted before it.
fn variants(text: &str, at: usize, wide: char) -> [String; 2] {
    let (start, old) = text.char_indices().nth(at).unwrap_or((text.len(), ' '));
    let end = (start + old.len_utf8()).min(text.len());
    [
        format!("{}{wide}{}", &text[..start], &text[end..]),
        format!("{}{wide}{}", &text[..start], &text[start..]),
    ]
}

/// The letters and digits of `text`: what no split may lose (a piece with neither, a stray
/// mark, is dropped on purpose).
fn words_of(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Texts that reach the splitter's bounded look-arounds: a citation after a quotation, longer
/// than the splitter looks for its closing parenthesis, and a run with no sentence punctuation
/// longer than a sentence may be.
fn long_reaches() -> Vec<String> {
    vec![
        "She wrote “the end is near.” (a remark made in passing, 2011, that runs on for longer \
         than anyone would cite) Then it stopped."
            .to_owned(),
        "word ".repeat(420),
    ]
}

#[test]
fn wide_characters_anywhere_in_the_hard_cases_neither_panic_nor_lose_text() {
    let mut failures = Vec::new();
    let mut tried = 0usize;
    let hard_cases = cases().into_iter().map(|case| case.expected.join(" "));
    for input in hard_cases.chain(long_reaches()) {
        for at in 0..=input.chars().count() {
            for wide in WIDE {
                for text in variants(&input, at, wide) {
                    tried += 1;
                    match std::panic::catch_unwind(|| pdfq_extract::segment(&text)) {
                        Ok(sentences) if words_of(&sentences.concat()) == words_of(&text) => {}
                        Ok(sentences) => {
                            failures.push(format!("lost text: {text:?} -> {sentences:?}"));
                        }
                        Err(_) => failures.push(format!("panicked: {text:?}")),
                    }
                }
            }
        }
    }
    assert!(tried > 10_000, "too few variants: {tried}");
    assert!(
        failures.is_empty(),
        "{} of {tried} variants failed, the first:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}
