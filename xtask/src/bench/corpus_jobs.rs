//! Real documents for the pipeline benchmark: 1-, 10- and 100-page PDFs cut with qpdf from the
//! shared corpus's text documents (manuals, papers, office documents, multi-column pages, as
//! its MANIFEST.tsv classes them), several of each size from different places in the corpus, so
//! that both pdfq and the Python stack are measured on pages as users upload them and not only
//! on the generator's plain pages.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::big_document::{page_count, readable_by_qpdf, run};

/// Documents of each size: jobs cycle through them.
const DOCUMENTS_PER_SIZE: u64 = 6;

/// The corpus classes of text documents both stacks can read (not scans, encrypted, damaged
/// or specimen files of one script).
const TEXT_KINDS: &[&str] = &[
    "text-book/manual",
    "paper/book",
    "office/simple",
    "multi-column",
    "standard-14",
];

/// The documents of `pages` pages, built under `out` unless they are there.
pub(super) fn documents(
    corpus: &Path,
    out: &Path,
    sizes: &[u64],
) -> anyhow::Result<Vec<(u64, Vec<PathBuf>)>> {
    std::fs::create_dir_all(out)?;
    let merged = out.join("text-corpus.pdf");
    if !merged.is_file() {
        let sources = text_documents(corpus)?;
        let mut merge = Command::new("qpdf");
        merge.arg("--empty").arg("--pages").args(&sources);
        run(merge.arg("--").arg(&merged))
            .context("merging the corpus's text documents (is qpdf installed?)")?;
    }
    let total = page_count(&merged)?;
    let mut all = Vec::new();
    for &pages in sizes {
        if pages == 0 || pages > total {
            bail!("the corpus's text documents have {total} pages, fewer than {pages}");
        }
        let mut files = Vec::new();
        for k in 0..DOCUMENTS_PER_SIZE {
            // Spread over the corpus: from its first page to its last.
            let first = 1 + k * (total - pages) / (DOCUMENTS_PER_SIZE - 1);
            let file = out.join(format!("{pages}-page-{k}.pdf"));
            if !file.is_file() {
                let mut cut = Command::new("qpdf");
                cut.arg("--empty")
                    .arg("--pages")
                    .arg(&merged)
                    .arg(format!("{first}-{}", first + pages - 1))
                    .arg("--")
                    .arg(&file);
                run(&mut cut)?;
            }
            files.push(file);
        }
        all.push((pages, files));
    }
    Ok(all)
}

/// The corpus files of [`TEXT_KINDS`] that qpdf reads cleanly, in the manifest's order.
fn text_documents(corpus: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let manifest = corpus.join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let sources: Vec<PathBuf> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let (file, kind) = (fields.first()?, fields.get(5)?);
            TEXT_KINDS
                .iter()
                .any(|k| kind.starts_with(k))
                .then(|| corpus.join("pdf").join(file))
        })
        .filter(|path| path.is_file() && readable_by_qpdf(path))
        .collect();
    if sources.is_empty() {
        bail!(
            "no text document of {} is readable by qpdf",
            manifest.display()
        );
    }
    Ok(sources)
}
