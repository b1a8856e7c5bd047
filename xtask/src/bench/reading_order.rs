//! The reading-order suite of `cargo xtask bench extract`: generated multi-column documents
//! whose content streams draw in several orders, scored against the text they were made from,
//! for pdfq, pdftotext and mutool alike.
//!
//! Scores, over lower-cased word tokens: word F1 and bigram F1 (multisets), order (longest
//! common subsequence over the reference's length), and sentences intact (the share of
//! reference sentences found word for word, nothing inserted, in the tool's text; for pdfq
//! also among its sentences, exactly).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use pdfq_test_support::pdf::{Placed, placed_text_pdf};

/// How a layout's content stream orders its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    /// Each column top to bottom, left column first.
    ColumnSequential,
    /// Row by row across the columns.
    RowInterleaved,
    /// Right column first, each column bottom to top.
    Reversed,
    /// Lines in a random order.
    Shuffled,
}

struct Layout {
    name: &'static str,
    columns: usize,
    draw: Draw,
    /// A full-width title and abstract on the first page, a full-width figure caption mid-page.
    full_width: bool,
    /// A running head with the page number at the top, a footer at the bottom (drawn last).
    furniture: bool,
}

const LAYOUTS: &[Layout] = &[
    Layout {
        name: "2col-sequential",
        columns: 2,
        draw: Draw::ColumnSequential,
        full_width: false,
        furniture: false,
    },
    Layout {
        name: "2col-row-interleaved",
        columns: 2,
        draw: Draw::RowInterleaved,
        full_width: false,
        furniture: false,
    },
    Layout {
        name: "2col-reversed",
        columns: 2,
        draw: Draw::Reversed,
        full_width: false,
        furniture: false,
    },
    Layout {
        name: "2col-title-figure-interleaved",
        columns: 2,
        draw: Draw::RowInterleaved,
        full_width: true,
        furniture: false,
    },
    Layout {
        name: "2col-heads-footers-interleaved",
        columns: 2,
        draw: Draw::RowInterleaved,
        full_width: false,
        furniture: true,
    },
    Layout {
        name: "3col-shuffled-all",
        columns: 3,
        draw: Draw::Shuffled,
        full_width: true,
        furniture: true,
    },
];

const PAGES: usize = 3;
const FONT: f32 = 10.0;
const LEADING: f32 = 12.0;
const MARGIN: f32 = 54.0;
const GUTTER: f32 = 24.0;
const PAGE_W: f32 = 612.0;
const TOP: f32 = 730.0;
const BOTTOM: f32 = 70.0;

/// A small deterministic generator (splitmix64), so every run scores the same documents.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "analysis",
    "model",
    "data",
    "results",
    "method",
    "system",
    "network",
    "value",
    "sample",
    "process",
    "design",
    "report",
    "measure",
    "signal",
    "energy",
    "policy",
    "market",
    "growth",
    "region",
    "survey",
    "patient",
    "treatment",
    "effect",
    "level",
    "range",
    "factor",
    "study",
    "group",
    "change",
    "source",
    "structure",
    "function",
    "material",
    "surface",
    "pressure",
    "temperature",
    "response",
    "control",
    "period",
    "estimate",
    "we",
    "the",
    "of",
    "and",
    "in",
    "to",
    "a",
    "is",
    "that",
    "for",
    "with",
    "on",
    "by",
    "this",
    "are",
    "from",
    "as",
    "was",
    "which",
    "were",
    "be",
    "an",
    "these",
    "our",
    "their",
    "its",
    "between",
    "under",
    "after",
    "during",
    "across",
    "show",
    "shows",
    "find",
    "suggest",
    "indicate",
    "compare",
    "observe",
    "increase",
    "reduce",
    "improve",
    "describe",
    "large",
    "small",
    "new",
    "previous",
    "higher",
    "lower",
    "strong",
    "weak",
    "similar",
    "different",
    "local",
    "global",
    "early",
    "late",
    "first",
    "second",
    "final",
    "main",
    "simple",
    "complex",
    "several",
    "many",
    "most",
    "each",
];
const NAMES: &[&str] = &[
    "Berlin", "Kyoto", "Lagos", "Lima", "Oslo", "Quebec", "Smith", "Garcia", "Nakamura", "Okafor",
];

fn sentence(rng: &mut Rng) -> String {
    let n = 7 + rng.below(14);
    let mut words: Vec<String> = Vec::with_capacity(n);
    for k in 0..n {
        let w = if rng.below(12) == 0 {
            NAMES[rng.below(NAMES.len())].to_owned()
        } else {
            WORDS[rng.below(WORDS.len())].to_owned()
        };
        words.push(if k == 0 {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        } else {
            w
        });
    }
    // Sentences end on a content word, as English ones do (not "a.", which reads as an initial).
    while words.last().is_some_and(|w| w.len() < 3) {
        words.pop();
    }
    let mut s = words.join(" ");
    s.push('.');
    s
}

/// Greedy wrap by characters: Helvetica's average lower-case width is about half an em, so
/// `width / (0.55 em)` characters stay inside the column.
fn wrap(text: &str, width: f32, size: f32) -> Vec<String> {
    let max = (width / (0.55 * size)) as usize;
    let mut lines = Vec::new();
    let mut line = String::new();
    for w in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + w.len() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A generated document: its pages (pieces in drawing order), its text in reading order and
/// its sentences.
struct Generated {
    pages: Vec<Vec<Placed>>,
    reference: String,
    sentences: Vec<String>,
}

fn generate(layout: &Layout, seed: u64) -> Generated {
    let mut rng = Rng(seed);
    let col_w =
        (PAGE_W - 2.0 * MARGIN - GUTTER * (layout.columns - 1) as f32) / layout.columns as f32;
    // Paragraphs of body text; lines flow column to column, page to page.
    let mut sentences: Vec<String> = Vec::new();
    let mut pages: Vec<Vec<Placed>> = Vec::new();
    let mut reference = String::new();
    let mut body: Vec<(String, bool)> = Vec::new(); // (line, last of paragraph)
    let body_lines = |rng: &mut Rng, sentences: &mut Vec<String>, n_lines: usize| {
        let mut out: Vec<(String, bool)> = Vec::new();
        while out.len() < n_lines {
            let para: Vec<String> = (0..2 + rng.below(4)).map(|_| sentence(rng)).collect();
            sentences.extend(para.iter().cloned());
            let lines = wrap(&para.join(" "), col_w, FONT);
            let last = lines.len() - 1;
            out.extend(lines.into_iter().enumerate().map(|(i, l)| (l, i == last)));
        }
        out
    };
    let mut figure_no = 0;
    for page_no in 0..PAGES {
        // (column, row) slot of each placed body line, for drawing orders.
        let mut slots: Vec<(usize, usize, Placed)> = Vec::new();
        let mut extra: Vec<Placed> = Vec::new();
        let mut top = TOP;
        if layout.full_width && page_no == 0 {
            let title = "Generated Layouts for Reading Order Evaluation";
            extra.push(Placed {
                x: 150.0,
                y: top,
                size: 16.0,
                text: title.into(),
            });
            let _ = writeln!(reference, "{title}");
            top -= 30.0;
            let abs: String = (0..3)
                .map(|_| sentence(&mut rng))
                .collect::<Vec<_>>()
                .join(" ");
            sentences.extend(abs.split_inclusive(". ").map(|s| s.trim().to_owned()));
            for line in wrap(&abs, PAGE_W - 2.0 * MARGIN, FONT) {
                extra.push(Placed {
                    x: MARGIN,
                    y: top,
                    size: FONT,
                    text: line.clone(),
                });
                let _ = writeln!(reference, "{line}");
                top -= LEADING;
            }
            top -= LEADING;
        }
        // A full-width caption splits the columns into an upper and a lower section.
        let sections: Vec<(f32, f32)> = if layout.full_width {
            let mid = (top + BOTTOM) / 2.0;
            vec![(top, mid + LEADING), (mid - 2.0 * LEADING, BOTTOM)]
        } else {
            vec![(top, BOTTOM)]
        };
        for (s, &(from, to)) in sections.iter().enumerate() {
            if s == 1 {
                figure_no += 1;
                // One line across the full width, as under a wide figure.
                let words: Vec<&str> = (0..30).map(|_| WORDS[rng.below(WORDS.len())]).collect();
                let caption = wrap(
                    &format!("Figure {figure_no}: The {}", words.join(" ")),
                    PAGE_W - 2.0 * MARGIN,
                    FONT,
                )
                .swap_remove(0);
                let y = from + 1.5 * LEADING;
                extra.push(Placed {
                    x: MARGIN,
                    y,
                    size: FONT,
                    text: caption.clone(),
                });
                let _ = writeln!(reference, "{caption}");
            }
            let rows = ((from - to) / LEADING) as usize;
            for col in 0..layout.columns {
                let mut row = 0;
                let mut y = from;
                while row < rows && y >= to {
                    if body.is_empty() {
                        body = body_lines(&mut rng, &mut sentences, 40);
                    }
                    let (line, last) = body.remove(0);
                    let _ = writeln!(reference, "{line}");
                    let x = MARGIN + col as f32 * (col_w + GUTTER);
                    slots.push((
                        col + s * 10,
                        row,
                        Placed {
                            x,
                            y,
                            size: FONT,
                            text: line,
                        },
                    ));
                    row += 1;
                    y -= LEADING;
                    if last {
                        // Paragraph spacing.
                        y -= LEADING / 2.0;
                    }
                }
            }
        }
        order(layout.draw, &mut slots, &mut rng);
        let mut placed: Vec<Placed> = slots.into_iter().map(|(_, _, p)| p).collect();
        let mut furniture = Vec::new();
        if layout.furniture {
            furniture.push(Placed {
                x: MARGIN,
                y: 760.0,
                size: 8.0,
                text: "Journal of Generated Layouts, Vol. 7".into(),
            });
            furniture.push(Placed {
                x: PAGE_W - MARGIN - 10.0,
                y: 760.0,
                size: 8.0,
                text: format!("{}", page_no + 1),
            });
            furniture.push(Placed {
                x: MARGIN,
                y: 36.0,
                size: 8.0,
                text: "Preprint for evaluation only".into(),
            });
        }
        // Titles and captions drawn after the body; furniture last of all.
        if layout.draw == Draw::Shuffled {
            placed.extend(extra);
            placed.extend(furniture);
            let n = placed.len();
            for i in (1..n).rev() {
                placed.swap(i, rng.below(i + 1));
            }
        } else {
            placed.extend(extra);
            placed.extend(furniture);
        }
        pages.push(placed);
        // Body that did not fit stays for the next page; the reference follows the layout.
        reference.push('\n');
    }
    // Sentences cut off by the end of the document are not whole in the reference.
    let flat = words(&reference).join(" ");
    sentences.retain(|s| flat.contains(&words(s).join(" ")));
    Generated {
        pages,
        reference,
        sentences,
    }
}

fn order(draw: Draw, slots: &mut [(usize, usize, Placed)], rng: &mut Rng) {
    match draw {
        Draw::ColumnSequential => {}
        Draw::RowInterleaved => slots.sort_by_key(|(col, row, _)| (col / 10, *row, col % 10)),
        Draw::Reversed => slots.reverse(),
        Draw::Shuffled => {
            for i in (1..slots.len()).rev() {
                slots.swap(i, rng.below(i + 1));
            }
        }
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn f1<T: std::hash::Hash + Eq>(cand: &[T], reference: &[T]) -> f64 {
    let mut counts: HashMap<&T, i64> = HashMap::new();
    for t in reference {
        *counts.entry(t).or_default() += 1;
    }
    let mut hit = 0;
    for t in cand {
        if let Some(c) = counts.get_mut(t)
            && *c > 0
        {
            *c -= 1;
            hit += 1;
        }
    }
    if cand.is_empty() || reference.is_empty() {
        return 0.0;
    }
    let (p, r) = (
        hit as f64 / cand.len() as f64,
        hit as f64 / reference.len() as f64,
    );
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] as usize
}

#[derive(Default)]
struct Score {
    word_f1: f64,
    bigram_f1: f64,
    order: f64,
    intact: f64,
    exact: Option<f64>,
}

fn score(text: &str, generated: &Generated, pdfq_sentences: Option<&[String]>) -> Score {
    let cand = words(text);
    let reference = words(&generated.reference);
    let bigrams = |w: &[String]| -> Vec<(String, String)> {
        w.windows(2).map(|p| (p[0].clone(), p[1].clone())).collect()
    };
    let flat = format!(" {} ", cand.join(" "));
    let total = generated.sentences.len().max(1) as f64;
    let intact = generated
        .sentences
        .iter()
        .filter(|s| flat.contains(&format!(" {} ", words(s).join(" "))))
        .count() as f64
        / total;
    let exact = pdfq_sentences.map(|found| {
        let found: std::collections::HashSet<String> =
            found.iter().map(|s| words(s).join(" ")).collect();
        generated
            .sentences
            .iter()
            .filter(|s| found.contains(&words(s).join(" ")))
            .count() as f64
            / total
    });
    Score {
        word_f1: f1(&cand, &reference),
        bigram_f1: f1(&bigrams(&cand), &bigrams(&reference)),
        order: lcs(&cand, &reference) as f64 / reference.len().max(1) as f64,
        intact,
        exact,
    }
}

/// Runs the suite into `out`, returning its Markdown table.
pub fn run(pdfq: &Path, out: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(out)?;
    let mutool = Command::new("mutool").arg("-v").output().is_ok();
    let mut table = String::from(
        "\n## Reading order: generated multi-column documents (3 pages each)\n\n\
         | layout | tool | word F1 | bigram F1 | order (LCS) | sentences intact | pdfq sentences exact |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (k, layout) in LAYOUTS.iter().enumerate() {
        let generated = generate(layout, 0x5EED_0000 + k as u64);
        let pdf = out.join(format!("{}.pdf", layout.name));
        std::fs::write(&pdf, placed_text_pdf(&generated.pages))?;
        std::fs::write(
            out.join(format!("{}.reference.txt", layout.name)),
            &generated.reference,
        )?;
        let text_of =
            |tool: &str, args: &[&std::ffi::OsStr], file: &Path| -> anyhow::Result<String> {
                let status = Command::new(tool)
                    .args(args)
                    .status()
                    .with_context(|| format!("running {tool}"))?;
                anyhow::ensure!(status.success(), "{tool} failed on {}", pdf.display());
                Ok(std::fs::read_to_string(file).unwrap_or_default())
            };
        let pq_txt = out.join(format!("{}.pdfq.txt", layout.name));
        let pq_sent = out.join(format!("{}.pdfq.sentences.txt", layout.name));
        let pdfq_text = text_of(
            pdfq.to_str().unwrap_or("pdfq-extract"),
            &[pdf.as_os_str(), "--out".as_ref(), pq_txt.as_os_str()],
            &pq_txt,
        )?;
        let pdfq_sentences = text_of(
            pdfq.to_str().unwrap_or("pdfq-extract"),
            &[
                pdf.as_os_str(),
                "--format".as_ref(),
                "sentences".as_ref(),
                "--out".as_ref(),
                pq_sent.as_os_str(),
            ],
            &pq_sent,
        )?;
        let sentences: Vec<String> = pdfq_sentences.lines().map(str::to_owned).collect();
        let mut rows = vec![("pdfq", score(&pdfq_text, &generated, Some(&sentences)))];
        let pt_txt = out.join(format!("{}.pdftotext.txt", layout.name));
        let pt = text_of(
            "pdftotext",
            &[
                "-enc".as_ref(),
                "UTF-8".as_ref(),
                pdf.as_os_str(),
                pt_txt.as_os_str(),
            ],
            &pt_txt,
        )?;
        rows.push(("pdftotext", score(&pt, &generated, None)));
        if mutool {
            let mu_txt = out.join(format!("{}.mutool.txt", layout.name));
            let mu = text_of(
                "mutool",
                &[
                    "draw".as_ref(),
                    "-q".as_ref(),
                    "-F".as_ref(),
                    "txt".as_ref(),
                    "-o".as_ref(),
                    mu_txt.as_os_str(),
                    pdf.as_os_str(),
                ],
                &mu_txt,
            )?;
            rows.push(("mutool", score(&mu, &generated, None)));
        }
        for (tool, s) in rows {
            let _ = writeln!(
                table,
                "| {} | {tool} | {:.4} | {:.4} | {:.4} | {:.1}% | {} |",
                layout.name,
                s.word_f1,
                s.bigram_f1,
                s.order,
                100.0 * s.intact,
                s.exact
                    .map_or_else(String::new, |e| format!("{:.1}%", 100.0 * e))
            );
            println!(
                "reading_order layout={} tool={tool} word_f1={:.4} bigram_f1={:.4} order={:.4} intact={:.4}{}",
                layout.name,
                s.word_f1,
                s.bigram_f1,
                s.order,
                s.intact,
                s.exact
                    .map_or_else(String::new, |e| format!(" sentences_exact={e:.4}"))
            );
        }
    }
    if !mutool {
        table.push_str(
            "\nmutool is missing (apt-get install -y mupdf-tools): its rows are left out.\n",
        );
    }
    let _ = writeln!(table, "\nfiles: {}", out.display());
    Ok(table)
}
