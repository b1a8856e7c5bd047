//! The big-document rows of `cargo xtask bench extract`: one multi-thousand-page PDF merged from
//! the corpus with qpdf (every file qpdf reads cleanly, repeated until there are enough pages,
//! then cut to [`PAGES`] or fewer so that it stays under the upload limit), extracted by pdfq
//! (isolated, as the worker runs it) and by pdftotext, one after the other on one core.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use std::time::Duration;

use super::extract::{Measure, measure_for, os};
use super::summary::Row;

/// Pages of the merged document: a long manual or a year of reports.
const PAGES: u64 = 3_600;
/// pdftotext needs about half a minute for it; the corpus runs' 30 s would cut it short.
const KILL_AFTER: Duration = Duration::from_secs(300);
/// The default MAX_UPLOAD_BYTES (50MB, as the API parses it).
const UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

pub(super) fn rows(
    pdfq: &Path,
    pdf_dir: &Path,
    out: &Path,
    core: Option<usize>,
) -> anyhow::Result<Vec<Row>> {
    let merged = out.join("big-document.pdf");
    let pages = build(pdf_dir, &merged)?;
    let bytes = std::fs::metadata(&merged)?.len();
    eprintln!(
        "bench extract: big document {} ({pages} pages, {:.1} MB)",
        merged.display(),
        bytes as f64 / 1e6
    );
    let pdftotext = measure_for(
        pdfq,
        core,
        true,
        &[
            os("pdftotext"),
            os("-enc"),
            os("UTF-8"),
            merged.clone().into_os_string(),
            out.join("big-document.pdftotext.txt").into_os_string(),
        ],
        KILL_AFTER,
    );
    let pdfq_run = measure_for(
        pdfq,
        core,
        false,
        &[
            pdfq.as_os_str().to_owned(),
            merged.into_os_string(),
            os("--isolated"),
            os("--out"),
            out.join("big-document.pdfq.txt").into_os_string(),
        ],
        KILL_AFTER,
    );
    let what = format!("{pages} pages, {:.0} MB", bytes as f64 / 1e6);
    let pps = |m: &Measure| pages as f64 / m.cpu_s.max(1e-9);
    let mib = |m: &Measure| m.max_rss_kb as f64 / 1024.0;
    let outcome = if pdfq_run.exit_code == Some(0) && pdftotext.killed {
        format!("{:.0}", pps(&pdfq_run))
    } else if pdfq_run.exit_code == Some(0) {
        format!(
            "{:.0} ({:.2}x)",
            pps(&pdfq_run),
            pps(&pdfq_run) / pps(&pdftotext).max(1e-9)
        )
    } else {
        format!(
            "failed: {}",
            pdfq_run.stderr.lines().next().unwrap_or("").trim()
        )
    };
    // pdftotext can take minutes over a merged file's many copies of the same fonts.
    let baseline = if pdftotext.killed {
        format!("pdftotext killed after {} s", KILL_AFTER.as_secs())
    } else {
        format!("pdftotext {:.0}", pps(&pdftotext))
    };
    Ok(vec![
        Row::new(
            "extract",
            format!("big document ({what}): pages per CPU-second"),
            outcome,
        )
        .against(baseline),
        Row::new(
            "extract",
            format!("big document ({what}): peak memory"),
            format!("{:.0} MiB", mib(&pdfq_run)),
        )
        .against(format!("pdftotext {:.0} MiB", mib(&pdftotext))),
    ])
}

/// Builds the merged document at `merged` unless it is there; returns its page count.
fn build(pdf_dir: &Path, merged: &Path) -> anyhow::Result<u64> {
    if Command::new("qpdf")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        bail!(
            "qpdf is missing: install it with `apt-get install -y qpdf` (it builds the big document)"
        );
    }
    if merged.is_file() {
        return page_count(merged);
    }
    let mut sources: Vec<PathBuf> = std::fs::read_dir(pdf_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    sources.sort();
    // Damaged and encrypted files are the corpus's other tests; this one is about size.
    let readable: Vec<PathBuf> = sources
        .into_iter()
        .filter(|source| readable_by_qpdf(source))
        .collect();
    if readable.is_empty() {
        bail!(
            "no corpus file in {} is readable by qpdf",
            pdf_dir.display()
        );
    }
    // Counted on the merged file: a file's own /Count can claim billions of pages.
    let whole = merged.with_extension("whole.pdf");
    let merge = |rounds: u64| -> anyhow::Result<u64> {
        let mut merge = Command::new("qpdf");
        merge.arg("--empty").arg("--pages");
        for _ in 0..rounds {
            merge.args(&readable);
        }
        run(merge.arg("--").arg(&whole))?;
        page_count(&whole)
    };
    let once = merge(1)?;
    if once < PAGES {
        merge(PAGES.div_ceil(once.max(1)))?;
    }
    let mut pages = PAGES;
    loop {
        let mut cut = Command::new("qpdf");
        cut.arg("--empty")
            .arg("--pages")
            .arg(&whole)
            .arg(format!("1-{pages}"))
            .arg("--")
            .arg(merged);
        run(&mut cut)?;
        if std::fs::metadata(merged)?.len() <= UPLOAD_LIMIT || pages < 1_000 {
            break;
        }
        pages = pages * 9 / 10;
    }
    let _ = std::fs::remove_file(&whole);
    page_count(merged)
}

/// A file qpdf checks without error: not damaged, not encrypted with a password.
pub(super) fn readable_by_qpdf(pdf: &Path) -> bool {
    Command::new("qpdf")
        .arg("--check")
        .arg(pdf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(super) fn page_count(pdf: &Path) -> anyhow::Result<u64> {
    let out = Command::new("qpdf")
        .arg("--show-npages")
        .arg(pdf)
        .output()
        .context("running qpdf --show-npages")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("qpdf could not count the pages of {}", pdf.display()))
}

/// Runs qpdf; its exit status 3 means "done, with warnings" (a corpus file's oddities).
pub(super) fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .context("running qpdf")?;
    if !matches!(out.status.code(), Some(0 | 3)) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr
            .lines()
            .rfind(|l| !l.starts_with("WARNING"))
            .unwrap_or("");
        bail!(
            "qpdf failed ({}) building the big document: {why}",
            out.status
        );
    }
    Ok(())
}
