//! `pdfctl extract` and `pdfctl sentences` as a user runs them.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};

fn pdfctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pdfctl"))
}

#[test]
fn extract_prints_sentences_from_a_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.pdf");
    std::fs::write(
        &path,
        pdfq_test_support::pdf::text_pdf(&["Dr. Smith arrived. He sat down.", "Page two."]),
    )
    .unwrap();
    let out = pdfctl()
        .args(["extract", "--format", "sentences"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Dr. Smith arrived.\nHe sat down.\nPage two.\n"
    );

    let out = pdfctl().args(["extract"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Dr. Smith arrived.") && text.contains('\u{c}'),
        "{text}"
    );
}

/// `--format sentences --json`: each sentence with its pages, their sizes and its line boxes
/// (points from the page's top-left corner, y down), as the local engine finds them.
#[test]
fn extract_json_sentences_carry_pages_and_boxes() {
    use pdfq_test_support::pdf::{Placed, placed_text_pdf_in};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boxes.pdf");
    let line = |y: f32, text: &str| Placed {
        x: 72.0,
        y,
        size: 10.0,
        text: text.to_owned(),
    };
    let pages = [
        vec![line(700.0, "First sentence. The second one runs on and")],
        vec![line(700.0, "ends on the next page.")],
    ];
    std::fs::write(&path, placed_text_pdf_in(&pages, "Courier", 0)).unwrap();
    let out = pdfctl()
        .args(["extract", "--format", "sentences", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sentences = json.as_array().unwrap();
    assert_eq!(sentences.len(), 2, "{json}");
    assert_eq!(sentences[0]["text"], "First sentence.");
    assert_eq!(sentences[0]["pages"], serde_json::json!([1]));
    assert_eq!(
        sentences[0]["page_sizes"],
        serde_json::json!([{"page": 1, "width": 612.0, "height": 792.0}])
    );
    // Courier advances 6 points a glyph: "First sentence." is 15 of them from x = 72, on the
    // baseline 792 - 700 = 92 points from the top.
    let b = &sentences[0]["boxes"][0];
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    assert!((num(&b["x0"]) - 72.0).abs() < 0.05, "{b}");
    assert!((num(&b["x1"]) - 162.0).abs() < 0.05, "{b}");
    assert!(num(&b["y0"]) < 92.0 && num(&b["y1"]) > 92.0, "{b}");
    let second = &sentences[1];
    assert_eq!(second["pages"], serde_json::json!([1, 2]));
    let on: Vec<u64> = second["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["page"].as_u64().unwrap())
        .collect();
    assert_eq!(on, [1, 2]);
    // It starts at its 17th glyph.
    assert!(
        (num(&second["boxes"][0]["x0"]) - (72.0 + 16.0 * 6.0)).abs() < 0.05,
        "{second}"
    );
}

#[test]
fn extract_reports_bad_input_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.pdf");
    std::fs::write(&path, b"hello, I am plain text").unwrap();
    let out = pdfctl()
        .args(["extract", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "not_a_pdf");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_a_pdf"));
}

#[test]
fn sentences_reads_standard_input() {
    let mut child = pdfctl()
        .arg("sentences")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("The U.S. economy grew 2.5% in 2023. Prices rose… Really?".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "The U.S. economy grew 2.5% in 2023.\nPrices rose…\nReally?\n"
    );
}
