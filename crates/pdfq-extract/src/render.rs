//! A document rendered for people or machines: its text, its sentences, or its chunks.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::chunks::{DEFAULT_MAX_CHUNKS, chunk_pages};
use crate::extract::Document;
use crate::sentences::sentences_for_pages;

/// What to print of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The pages' text, pages separated by form feeds (as pdftotext).
    Text,
    /// One sentence per line.
    Sentences,
    /// The chunks with their page ranges and sentences.
    Chunks,
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "sentences" => Ok(Self::Sentences),
            "chunks" => Ok(Self::Chunks),
            other => Err(format!(
                "unknown format {other:?} (expected text, sentences or chunks)"
            )),
        }
    }
}

/// A page's running head, footer or page number.
#[derive(serde::Serialize)]
struct Furniture<'a> {
    page: u32,
    text: &'a str,
}

fn furniture(pages: &[crate::extract::PageText]) -> Vec<Furniture<'_>> {
    pages
        .iter()
        .flat_map(|p| {
            p.furniture_lines().map(move |text| Furniture {
                page: p.number,
                text,
            })
        })
        .collect()
}

/// `doc` as text in `format`, or as JSON when `json` is set. Ends with a newline.
#[must_use]
pub fn render(doc: &Document, format: OutputFormat, json: bool) -> String {
    match (format, json) {
        (OutputFormat::Text, false) => doc.to_text(),
        (OutputFormat::Text, true) => serde_json::to_string(doc).unwrap_or_default() + "\n",
        (OutputFormat::Sentences, as_json) => {
            let sentences = sentences_for_pages(&doc.pages);
            if as_json {
                serde_json::to_string(&sentences).unwrap_or_default() + "\n"
            } else {
                sentences.iter().map(|s| s.text.clone() + "\n").collect()
            }
        }
        (OutputFormat::Chunks, as_json) => {
            let chunks = chunk_pages(&doc.pages, DEFAULT_MAX_CHUNKS);
            if as_json {
                let v: Vec<_> = chunks
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "chunk": c,
                            "sentences": sentences_for_pages(c.pages(&doc.pages)),
                            "furniture": furniture(c.pages(&doc.pages)),
                        })
                    })
                    .collect();
                serde_json::to_string(&v).unwrap_or_default() + "\n"
            } else {
                let mut s = String::new();
                for c in &chunks {
                    let _ = writeln!(
                        s,
                        "# chunk {}/{}: pages {}-{}",
                        c.index + 1,
                        c.count,
                        c.first_page,
                        c.last_page
                    );
                    for sentence in sentences_for_pages(c.pages(&doc.pages)) {
                        let _ = writeln!(s, "[p{}] {}", sentence.page, sentence.text);
                    }
                    // Running heads, footers and page numbers: kept, marked, out of sentences.
                    for f in furniture(c.pages(&doc.pages)) {
                        let _ = writeln!(s, "# furniture p{}: {}", f.page, f.text);
                    }
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::PageText;

    fn doc() -> Document {
        Document {
            pages: vec![
                PageText::new(1, "One sentence. Two sentences."),
                PageText::new(2, "Page two."),
            ],
            warnings: Vec::new(),
        }
    }

    #[test]
    fn formats_parse_and_render() {
        assert_eq!("chunks".parse::<OutputFormat>(), Ok(OutputFormat::Chunks));
        assert!("pdf".parse::<OutputFormat>().is_err());
        assert_eq!(
            render(&doc(), OutputFormat::Sentences, false),
            "One sentence.\nTwo sentences.\nPage two.\n"
        );
        let chunks = render(&doc(), OutputFormat::Chunks, false);
        assert!(
            chunks.starts_with("# chunk 1/2: pages 1-1\n[p1] One sentence.\n"),
            "{chunks}"
        );
        assert!(render(&doc(), OutputFormat::Text, false).contains('\u{c}'));
        let json: serde_json::Value =
            serde_json::from_str(&render(&doc(), OutputFormat::Sentences, true)).unwrap();
        assert_eq!(json[2]["page"], 2);
    }

    #[test]
    fn furniture_is_marked_in_chunks_and_text_json_not_in_sentences() {
        let mut page = PageText::new(1, "Running Head\n\nBody text.\n");
        page.furniture = vec![0];
        let doc = Document {
            pages: vec![page],
            warnings: Vec::new(),
        };
        assert_eq!(render(&doc, OutputFormat::Sentences, false), "Body text.\n");
        let chunks = render(&doc, OutputFormat::Chunks, false);
        assert!(
            chunks.ends_with("[p1] Body text.\n# furniture p1: Running Head\n"),
            "{chunks}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&doc, OutputFormat::Chunks, true)).unwrap();
        assert_eq!(json[0]["furniture"][0]["text"], "Running Head");
        let text: serde_json::Value =
            serde_json::from_str(&render(&doc, OutputFormat::Text, true)).unwrap();
        assert_eq!(text["pages"][0]["furniture"][0], 0);
        assert!(render(&doc, OutputFormat::Text, false).starts_with("Running Head\n"));
    }
}
