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
