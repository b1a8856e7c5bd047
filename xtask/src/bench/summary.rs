//! The figures of every benchmark in one Markdown table, which `cargo xtask bench all` writes
//! into the README's performance section (between two marker comments) and to
//! target/bench/summary.md.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};

/// One figure: which benchmark, what, pdfq's value and the baseline measured in the same run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub bench: &'static str,
    pub figure: String,
    pub pdfq: String,
    pub baseline: String,
}

impl Row {
    pub fn new(bench: &'static str, figure: impl Into<String>, pdfq: impl Into<String>) -> Self {
        Self {
            bench,
            figure: figure.into(),
            pdfq: pdfq.into(),
            baseline: String::new(),
        }
    }

    #[must_use]
    pub fn against(mut self, baseline: impl Into<String>) -> Self {
        self.baseline = baseline.into();
        self
    }
}

pub const START: &str = "<!-- bench-table:start (cargo xtask bench all writes this) -->";
pub const END: &str = "<!-- bench-table:end -->";

/// The table, with a line saying where and when it was measured.
#[must_use]
pub fn markdown(rows: &[Row], measured_on: &str) -> String {
    let mut out =
        format!("{measured_on}\n\n| benchmark | figure | pdfq | baseline |\n|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            r.bench,
            r.figure,
            r.pdfq,
            if r.baseline.is_empty() {
                ""
            } else {
                &r.baseline
            }
        );
    }
    out
}

/// `text` with what lies between the markers replaced by `table`.
pub fn replace_between_markers(text: &str, table: &str) -> anyhow::Result<String> {
    let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
        bail!("the README has no bench table markers ({START} ... {END})");
    };
    if end < start {
        bail!("the README's bench table markers are out of order");
    }
    Ok(format!(
        "{}{START}\n{table}{}",
        &text[..start],
        &text[end..]
    ))
}

pub fn write_readme(readme: &Path, table: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(readme).with_context(|| format!("reading {}", readme.display()))?;
    let updated = replace_between_markers(&text, table)?;
    std::fs::write(readme, updated).with_context(|| format!("writing {}", readme.display()))
}

/// Rows from `| figure | value |` lines printed by a benchmark (header and rule skipped).
#[must_use]
pub fn rows_from_markdown(bench: &'static str, text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            match cells.as_slice() {
                [figure, value] if *figure != "metric" && !figure.starts_with("---") => {
                    Some(Row::new(bench, *figure, *value))
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_goes_between_the_markers_and_nowhere_else() {
        let readme = format!("# pdfq\n\n## Performance\n\n{START}\nold table\n{END}\n\nafter\n");
        let table = markdown(
            &[Row::new("api", "req/s", "40000").against("-")],
            "measured here",
        );
        let updated = replace_between_markers(&readme, &table).unwrap();
        assert!(updated.starts_with("# pdfq\n\n## Performance\n\n"));
        assert!(updated.contains("| api | req/s | 40000 | - |"));
        assert!(!updated.contains("old table"));
        assert!(updated.ends_with(&format!("{END}\n\nafter\n")));
        // Written twice, the same.
        assert_eq!(replace_between_markers(&updated, &table).unwrap(), updated);
        assert!(replace_between_markers("no markers", &table).is_err());
    }

    #[test]
    fn rows_are_read_from_a_printed_table() {
        let printed = "| metric | value |\n|---|---|\n| jobs per second | 141.2 |\nnot a row\n| a | b | c |\n";
        assert_eq!(
            rows_from_markdown("pipeline", printed),
            vec![Row::new("pipeline", "jobs per second", "141.2")]
        );
    }
}
