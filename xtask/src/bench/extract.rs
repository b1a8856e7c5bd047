//! `cargo xtask bench extract`: pdfq's extraction against pdftotext on the shared corpus,
//! and the reading-order suite ([`super::reading_order`]) against pdftotext and mutool.
//!
//! For every `CORPUS/pdf/*.pdf`, runs `pdftotext -enc UTF-8 FILE OUT` and
//! `pdfq-extract FILE --isolated --out OUT` (the release build, isolated child and all),
//! one after the other, each pinned to one core with `taskset` when available (core 0; with
//! `--jobs N`, job k uses core k modulo the cores there are).
//! CPU time and peak RSS come from `pdfq-extract measure -- CMD...`, which runs the command
//! and reads getrusage(RUSAGE_CHILDREN) once it has been waited for: the same wrapper for
//! both tools, std-only here. Quality is `python3 CORPUS/score.py` against CORPUS/reference.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::summary::Row;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The corpus directory (holding pdf/, reference/, score.py), relative to the repo root.
    #[arg(long, default_value = "../shared/corpus")]
    corpus: PathBuf,
    /// Files processed at once (each run still pinned to one core; keep 1 for speed figures).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Where candidate texts and the per-file table go, relative to the repo root.
    #[arg(long, default_value = "target/bench-extract")]
    out: PathBuf,
    /// Do not build the release pdfq-extract first.
    #[arg(long)]
    no_build: bool,
    /// Only files whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Only the reading-order suite (generated documents), not the corpus.
    #[arg(long)]
    reading_order_only: bool,
}

/// A run over this is reported as a robustness failure.
const SLOW_RUN: Duration = Duration::from_secs(20);
/// How long after its timeout the measuring wrapper is given to kill its command and report.
const WRAPPER_GRACE: Duration = Duration::from_secs(10);
/// A run is killed after this (it then counts as slow, and is left out of the speed
/// figures: pdftotext spends minutes and gigabytes on some decompression bombs).
const KILL_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Clone)]
pub(super) struct Measure {
    pub cpu_s: f64,
    pub max_rss_kb: u64,
    wall_s: f64,
    pub exit_code: Option<i32>,
    signal: Option<i32>,
    pub stderr: String,
    pub killed: bool,
}

#[derive(Debug)]
struct FileResult {
    name: String,
    pdftotext: Measure,
    pdfq: Measure,
}

pub fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let root = repo_root()?;
    let corpus = root.join(&args.corpus);
    let pdf_dir = corpus.join("pdf");
    let reference = corpus.join("reference");
    let score = corpus.join("score.py");
    if !pdf_dir.is_dir() {
        bail!("no corpus at {} (pass --corpus)", corpus.display());
    }
    require_tool(
        "pdftotext",
        &["-v"],
        "pdftotext is missing: install it with `apt-get install -y poppler-utils`",
    )?;
    require_tool(
        "python3",
        &["--version"],
        "python3 is missing: it runs the corpus's score.py",
    )?;
    let taskset = Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !taskset {
        eprintln!("note: taskset not available; runs are not pinned to one core");
    }

    if !args.no_build {
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["build", "--release", "-p", "pdfq-extract"])
            .current_dir(&root)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release -p pdfq-extract failed");
        }
    }
    let target = crate::paths::target_dir(&root);
    let pdfq = target.join("release").join("pdfq-extract");
    if !pdfq.is_file() {
        bail!(
            "{} not found (build it, or drop --no-build)",
            pdfq.display()
        );
    }

    let out = root.join(&args.out);
    let reading_order = super::reading_order::run(&pdfq, &out.join("reading-order"))?;
    if args.reading_order_only {
        println!("{reading_order}");
        return Ok(Vec::new());
    }
    let out_pt = out.join("pdftotext");
    let out_pq = out.join("pdfq");
    for d in [&out_pt, &out_pq] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("clearing {}", d.display()))?;
        }
        std::fs::create_dir_all(d)?;
    }

    let mut files: Vec<PathBuf> = std::fs::read_dir(&pdf_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .filter(|p| {
            args.filter
                .as_deref()
                .is_none_or(|f| p.to_string_lossy().contains(f))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no PDFs in {}", pdf_dir.display());
    }
    eprintln!(
        "bench extract: {} files, {} job(s)",
        files.len(),
        args.jobs.max(1)
    );

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let results = run_all(&files, args.jobs.max(1), &|pdf: &Path, job: usize| {
        // Job k runs on core k (modulo the cores there are): one core per run, as documented.
        let core = job % cores;
        let name = pdf
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pt_out = out_pt.join(format!("{name}.txt"));
        let pq_out = out_pq.join(format!("{name}.txt"));
        let pdftotext = measure(
            &pdfq,
            taskset.then_some(core),
            true,
            &[
                os("pdftotext"),
                os("-enc"),
                os("UTF-8"),
                pdf.as_os_str().to_owned(),
                pt_out.into_os_string(),
            ],
        );
        let pdfq_run = measure(
            &pdfq,
            taskset.then_some(core),
            false,
            &[
                pdfq.as_os_str().to_owned(),
                pdf.as_os_str().to_owned(),
                os("--isolated"),
                os("--out"),
                pq_out.into_os_string(),
            ],
        );
        FileResult {
            name,
            pdftotext,
            pdfq: pdfq_run,
        }
    });

    // With --filter, only the files that ran are scored.
    let names = if args.filter.is_some() {
        let list = out.join("names.txt");
        let text: String = results.iter().map(|r| format!("{}\n", r.name)).collect();
        std::fs::write(&list, text)?;
        Some(list)
    } else {
        None
    };
    let score_pq = score_dir(&score, &out_pq, &reference, names.as_deref())?;
    let score_pt = score_dir(&score, &out_pt, &reference, names.as_deref())?;
    let seg = segmentation_speed(&pdfq, &reference)?;

    // Speed over the files both tools finished; the others are listed below.
    let timed: Vec<&FileResult> = results
        .iter()
        .filter(|r| !r.pdftotext.killed && !r.pdfq.killed)
        .collect();
    let excluded: Vec<&str> = results
        .iter()
        .filter(|r| r.pdftotext.killed || r.pdfq.killed)
        .map(|r| r.name.as_str())
        .collect();
    let timed_names: Vec<&str> = timed.iter().map(|r| r.name.as_str()).collect();
    let pages = manifest_pages(&corpus, &timed_names).unwrap_or_else(|| count_pages(&out_pt));
    let cpu_pt: f64 = timed.iter().map(|r| r.pdftotext.cpu_s).sum();
    let cpu_pq: f64 = timed.iter().map(|r| r.pdfq.cpu_s).sum();
    let pps_pt = pages as f64 / cpu_pt.max(1e-9);
    let pps_pq = pages as f64 / cpu_pq.max(1e-9);
    let panics = results
        .iter()
        .filter(|r| r.pdfq.exit_code == Some(101) || r.pdfq.stderr.contains("panicked at"))
        .count();
    let aborts = results
        .iter()
        .filter(|r| r.pdfq.signal.is_some() && !r.pdfq.killed)
        .count();
    let slow: Vec<&FileResult> = results
        .iter()
        .filter(|r| r.pdfq.killed || r.pdfq.wall_s > SLOW_RUN.as_secs_f64())
        .collect();
    let worst = results.iter().max_by_key(|r| r.pdfq.max_rss_kb);
    let peak_pq = worst.map_or(0, |r| r.pdfq.max_rss_kb);
    let worst_name = worst.map_or("", |r| r.name.as_str());
    let peak_pt = results
        .iter()
        .map(|r| r.pdftotext.max_rss_kb)
        .max()
        .unwrap_or(0);
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &results {
        if r.pdfq.exit_code == Some(1) {
            let code = r
                .pdfq
                .stderr
                .rsplit_once('(')
                .and_then(|(_, c)| c.split_once(')'))
                .map(|(c, _)| c.to_string());
            *codes.entry(code.unwrap_or_else(|| "?".into())).or_default() += 1;
        }
    }

    write_per_file(&out.join("runs.tsv"), &results)?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n## pdfq-extract vs pdftotext ({} files; speed over the {} both finished, {pages} pages; one core)\n",
        results.len(),
        timed.len()
    );
    let _ = writeln!(report, "| metric | pdfq | pdftotext | target |");
    let _ = writeln!(report, "|---|---|---|---|");
    let _ = writeln!(
        report,
        "| word_f1_mean | {} | {} | >= 0.96 |",
        g(&score_pq, "word_f1_mean"),
        g(&score_pt, "word_f1_mean")
    );
    let _ = writeln!(
        report,
        "| word_f1_micro | {} | {} | >= 0.99 |",
        g(&score_pq, "word_f1_micro"),
        g(&score_pt, "word_f1_micro")
    );
    let _ = writeln!(
        report,
        "| bigram_f1_mean | {} | {} | |",
        g(&score_pq, "bigram_f1_mean"),
        g(&score_pt, "bigram_f1_mean")
    );
    let _ = writeln!(
        report,
        "| files with word F1 < 0.9 | {} | {} | |",
        g(&score_pq, "files_f1_lt_090"),
        g(&score_pt, "files_f1_lt_090")
    );
    let _ = writeln!(
        report,
        "| CPU seconds (total) | {cpu_pq:.2} | {cpu_pt:.2} | |"
    );
    let _ = writeln!(
        report,
        "| pages per CPU-second | {pps_pq:.0} | {pps_pt:.0} | |"
    );
    let _ = writeln!(
        report,
        "| speed ratio (pdfq / pdftotext) | {:.2}x | 1.00x | >= 2.5x |",
        pps_pq / pps_pt.max(1e-9)
    );
    let _ = writeln!(report, "| panics escaping | {panics} | | 0 |");
    let _ = writeln!(report, "| aborts of the parent | {aborts} | | 0 |");
    let _ = writeln!(
        report,
        "| runs over {} s | {} | | 0 |",
        SLOW_RUN.as_secs(),
        slow.len()
    );
    let _ = writeln!(
        report,
        "| peak RSS (MiB) | {:.1} | {:.1} | < 512 |",
        peak_pq as f64 / 1024.0,
        peak_pt as f64 / 1024.0
    );
    let _ = writeln!(
        report,
        "| segmentation (MB/s) | {:.1} | | >= 10 |",
        seg.mb_per_s
    );
    let _ = writeln!(
        report,
        "| segmentation / whitespace tokenizing (same run) | {:.3}x | | |",
        seg.ratio_to_baseline
    );
    let _ = writeln!(
        report,
        "\npdfq typed errors: {}",
        codes
            .iter()
            .map(|(c, n)| format!("{c}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !excluded.is_empty() {
        let _ = writeln!(
            report,
            "left out of the speed figures (a tool was killed after {} s): {}",
            KILL_AFTER.as_secs(),
            excluded.join(", ")
        );
    }
    for r in &slow {
        let _ = writeln!(report, "slow: {} ({:.1} s)", r.name, r.pdfq.wall_s);
    }
    let _ = writeln!(
        report,
        "\nper-file runs: {}",
        out.join("runs.tsv").display()
    );
    let _ = writeln!(
        report,
        "per-file scores: python3 {} {} {} --per-file OUT.tsv",
        score.display(),
        out_pq.display(),
        reference.display()
    );
    report.push_str(&reading_order);
    println!("{report}");
    println!(
        "word_f1_mean={} word_f1_micro={} bigram_f1_mean={} pdfq_pages_per_cpu_s={pps_pq:.1} pdftotext_pages_per_cpu_s={pps_pt:.1} speed_ratio={:.2} panics={panics} aborts={aborts} over_20s={} peak_rss_mib={:.1} segmentation_mb_s={:.1} segmentation_ratio_to_tokenizing={:.3}",
        g(&score_pq, "word_f1_mean"),
        g(&score_pq, "word_f1_micro"),
        g(&score_pq, "bigram_f1_mean"),
        pps_pq / pps_pt.max(1e-9),
        slow.len(),
        peak_pq as f64 / 1024.0,
        seg.mb_per_s,
        seg.ratio_to_baseline
    );
    let files = format!("{} files", results.len());
    let mut rows = vec![
        Row::new(
            "extract",
            format!("word F1, mean over {files} (micro)"),
            format!(
                "{} ({})",
                g(&score_pq, "word_f1_mean"),
                g(&score_pq, "word_f1_micro")
            ),
        )
        // The corpus's reference texts are pdftotext's, so its own score is 1 by construction.
        .against("the reference: pdftotext's text"),
        Row::new(
            "extract",
            format!("pages per CPU-second, one core ({pages} pages)"),
            format!("{pps_pq:.0} ({:.2}x)", pps_pq / pps_pt.max(1e-9)),
        )
        .against(format!("pdftotext {pps_pt:.0}")),
        Row::new(
            "extract",
            "peak memory of one extraction (worst corpus file)",
            format!("{:.0} MiB ({worst_name})", peak_pq as f64 / 1024.0),
        )
        .against(format!("pdftotext {:.0} MiB", peak_pt as f64 / 1024.0)),
        Row::new(
            "extract",
            "panics escaping, aborts, runs over 20 s",
            format!("{panics}, {aborts}, {}", slow.len()),
        ),
    ];
    if args.filter.is_none() {
        rows.extend(super::big_document::rows(
            &pdfq,
            &pdf_dir,
            &out,
            taskset.then_some(0),
        )?);
    }
    Ok(rows)
}

pub(super) fn os(s: &str) -> std::ffi::OsString {
    s.into()
}

fn repo_root() -> anyhow::Result<PathBuf> {
    // xtask lives at ROOT/xtask.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")?;
    Ok(root)
}

fn require_tool(tool: &str, args: &[&str], message: &str) -> anyhow::Result<()> {
    match Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(_) => bail!("{message}"),
    }
}

/// Runs `cmd` under `pdfq-extract measure` (pinned to core 0 if possible), killed after
/// [`KILL_AFTER`].
pub(super) fn measure(
    pdfq: &Path,
    core: Option<usize>,
    discard_stderr: bool,
    cmd: &[std::ffi::OsString],
) -> Measure {
    measure_for(pdfq, core, discard_stderr, cmd, KILL_AFTER)
}

/// [`measure`], killed after `kill_after`.
pub(super) fn measure_for(
    pdfq: &Path,
    core: Option<usize>,
    discard_stderr: bool,
    cmd: &[std::ffi::OsString],
    kill_after: Duration,
) -> Measure {
    let mut c = if let Some(core) = core {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(core.to_string()).arg(pdfq);
        c
    } else {
        Command::new(pdfq)
    };
    c.arg("measure")
        .arg("--timeout")
        .arg(kill_after.as_secs().to_string());
    if discard_stderr {
        c.arg("--discard-stderr");
    }
    c.arg("--")
        .args(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            return Measure {
                stderr: format!("spawn failed: {e}"),
                exit_code: Some(-1),
                ..Measure::default()
            };
        }
    };
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut e, 1 << 20), &mut buf);
            // Whatever is past the first MiB is drained, never kept.
            let _ = std::io::copy(&mut e, &mut std::io::sink());
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        s
    });
    let mut killed = false;
    // The wrapper kills the command itself at `kill_after` and reports it; killing the wrapper
    // at the same moment would leave the command running, orphaned (a pdftotext on the big
    // document held the build lock for minutes after its bench ended).
    let give_up = kill_after + WRAPPER_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > give_up => {
                let _ = child.kill();
                let _ = child.wait();
                killed = true;
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break,
        }
    }
    let stderr = reader.join().unwrap_or_default();
    let mut m = Measure {
        stderr: stderr.clone(),
        killed,
        wall_s: started.elapsed().as_secs_f64(),
        ..Measure::default()
    };
    if let Some(line) = stderr.lines().rev().find(|l| l.starts_with("{\"")) {
        m.cpu_s = json_num(line, "cpu_s").unwrap_or(0.0);
        m.max_rss_kb = json_num(line, "max_rss_kb").unwrap_or(0.0) as u64;
        m.wall_s = json_num(line, "wall_s").unwrap_or(m.wall_s);
        m.exit_code = json_num(line, "exit_code").map(|v| v as i32);
        m.signal = json_num(line, "signal").map(|v| v as i32);
        m.killed |= line.contains("\"killed\":true");
    }
    m
}

/// A number field of a flat JSON object (null and absent give `None`).
fn json_num(line: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = line.find(&pat)? + pat.len();
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn run_all(
    files: &[PathBuf],
    jobs: usize,
    f: &(dyn Fn(&Path, usize) -> FileResult + Sync),
) -> Vec<FileResult> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for job in 0..jobs {
            let next = &next;
            let results = &results;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let r = f(file, job);
                    eprintln!(
                        "  {:<55} pdftotext {:6.3}s  pdfq {:6.3}s {}",
                        r.name,
                        r.pdftotext.cpu_s,
                        r.pdfq.cpu_s,
                        if r.pdfq.exit_code == Some(0) {
                            ""
                        } else {
                            r.pdfq.stderr.lines().next().unwrap_or("")
                        }
                        .rsplit(": ")
                        .next()
                        .unwrap_or("")
                    );
                    if let Ok(mut v) = results.lock() {
                        v.push(r);
                    }
                }
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_default();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Total pages from the corpus MANIFEST.tsv (its `pages` column) for the files that ran.
fn manifest_pages(corpus: &Path, names: &[&str]) -> Option<u64> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let file_col = header.iter().position(|h| *h == "file")?;
    let pages_col = header.iter().position(|h| *h == "pages")?;
    let names: std::collections::HashSet<&str> = names.iter().copied().collect();
    let mut total = 0u64;
    for l in lines {
        let cols: Vec<&str> = l.split('\t').collect();
        let name = cols.get(file_col)?.trim_end_matches(".pdf");
        if names.contains(name) {
            total += cols.get(pages_col)?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// Pages as pdftotext saw them: one form feed per page.
fn count_pages(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| std::fs::read(e.path()).ok())
                .map(|b| b.iter().filter(|&&c| c == 0x0c).count() as u64)
                .sum()
        })
        .unwrap_or(0)
}

fn score_dir(
    score: &Path,
    cand: &Path,
    reference: &Path,
    names: Option<&Path>,
) -> anyhow::Result<String> {
    let mut c = Command::new("python3");
    c.arg(score).arg(cand).arg(reference);
    if let Some(n) = names {
        c.arg("--names").arg(n);
    }
    let out = c.output().context("running score.py")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains("word_f1_mean"))
        .unwrap_or("")
        .to_string();
    if last.is_empty() {
        bail!(
            "score.py printed no summary: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(last)
}

fn g(summary: &str, key: &str) -> String {
    summary
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or("?")
        .to_string()
}

/// Sentence segmentation throughput, and its ratio to whitespace tokenizing of the same text in
/// the same run (the absolute figure drifts on a shared machine; the ratio much less).
struct SegmentationSpeed {
    mb_per_s: f64,
    ratio_to_baseline: f64,
}

/// `pdfq-extract segment-speed` over the corpus's reference texts concatenated.
fn segmentation_speed(pdfq: &Path, reference: &Path) -> anyhow::Result<SegmentationSpeed> {
    let mut text = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(reference)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.extension().is_some_and(|e| e == "txt") {
            text.extend(std::fs::read(&p)?);
            text.push(b'\n');
        }
    }
    let input = std::env::temp_dir().join(format!("pdfq-segment-{}.txt", std::process::id()));
    std::fs::write(&input, &text)?;
    let out = Command::new(pdfq)
        .arg("segment-speed")
        .arg(&input)
        .output()
        .context("running segment-speed")?;
    let _ = std::fs::remove_file(&input);
    let s = String::from_utf8_lossy(&out.stdout);
    Ok(SegmentationSpeed {
        mb_per_s: json_num(s.trim(), "mb_per_s").context("segment-speed printed no MB/s")?,
        ratio_to_baseline: json_num(s.trim(), "ratio_to_baseline")
            .context("segment-speed printed no ratio")?,
    })
}

fn write_per_file(path: &Path, results: &[FileResult]) -> anyhow::Result<()> {
    let mut s = String::from(
        "name\tpdftotext_cpu_s\tpdftotext_rss_kb\tpdfq_cpu_s\tpdfq_rss_kb\tpdfq_wall_s\tpdfq_exit\tpdfq_stderr\n",
    );
    for r in results {
        let _ = writeln!(
            s,
            "{}\t{:.4}\t{}\t{:.4}\t{}\t{:.3}\t{}\t{}",
            r.name,
            r.pdftotext.cpu_s,
            r.pdftotext.max_rss_kb,
            r.pdfq.cpu_s,
            r.pdfq.max_rss_kb,
            r.pdfq.wall_s,
            r.pdfq.exit_code.map_or_else(
                || format!("signal {}", r.pdfq.signal.unwrap_or(0)),
                |c| c.to_string()
            ),
            r.pdfq
                .stderr
                .lines()
                .find(|l| !l.starts_with('{'))
                .unwrap_or("")
                .replace('\t', " ")
        );
    }
    std::fs::write(path, s)?;
    Ok(())
}
