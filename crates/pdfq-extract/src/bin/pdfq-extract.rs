//! `pdfq-extract FILE [--format text|sentences|chunks] [--json] [--isolated] [--out PATH]`
//! prints a PDF's text, sentences or chunks; `pdfq-extract child` is the isolated child mode;
//! `pdfq-extract measure -- CMD ARGS...` runs a command and reports its CPU time and peak RSS
//! (used by `cargo xtask bench extract`).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use pdfq_extract::{
    ExtractError, IsolationLimits, Limits, OutputFormat, extract_isolated, extract_pages,
};

const USAGE: &str =
    "usage: pdfq-extract FILE [--format text|sentences|chunks] [--json] [--isolated] [--out PATH]
       pdfq-extract sentences [FILE|-]
       pdfq-extract child
       pdfq-extract segment-speed FILE
       pdfq-extract measure [--discard-stderr] -- CMD [ARGS...]";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("child") => pdfq_extract::child_main(),
        Some("measure") => measure(&args[1..]),
        Some("sentences") => segment_text(args.get(1)),
        Some("segment-speed") => segment_speed(args.get(1)),
        Some("-h" | "--help") | None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Some(_) => extract(&args),
    }
}

fn extract(args: &[OsString]) -> ExitCode {
    let mut file: Option<PathBuf> = None;
    let mut format = OutputFormat::Text;
    let mut json = false;
    let mut isolated = false;
    let mut out_path: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--format") => {
                format = match it.next().and_then(|v| v.to_str()).map(str::parse) {
                    Some(Ok(format)) => format,
                    _ => {
                        eprintln!("{USAGE}");
                        return ExitCode::from(2);
                    }
                }
            }
            Some("--json") => json = true,
            Some("--isolated") => isolated = true,
            Some("--out") => out_path = it.next().map(PathBuf::from),
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("pdfq-extract: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let result = if isolated {
        match std::env::current_exe() {
            Ok(me) => extract_isolated(
                &me,
                &[OsString::from("child")],
                &bytes,
                &IsolationLimits::default(),
                |_, _| {},
            ),
            Err(e) => Err(ExtractError::Internal {
                reason: format!("cannot find own executable: {e}"),
            }),
        }
    } else {
        extract_pages(&bytes, &Limits::default())
    };
    let rendered = match result {
        Ok(doc) => {
            for warning in &doc.warnings {
                // A warning about the whole file says so itself.
                let at = warning
                    .page
                    .map_or_else(String::new, |page| format!("page {page}: "));
                eprintln!("pdfq-extract: {}: {at}{}", file.display(), warning.reason);
            }
            pdfq_extract::render(&doc, format, json)
        }
        Err(e) => {
            if json {
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::json!({"error": e, "message": e.to_string()})
                );
            }
            eprintln!("pdfq-extract: {}: {e} ({})", file.display(), e.code());
            return ExitCode::from(1);
        }
    };
    let written = match out_path {
        Some(p) => std::fs::write(p, rendered.as_bytes()),
        None => std::io::stdout().lock().write_all(rendered.as_bytes()),
    };
    if let Err(e) = written {
        eprintln!("pdfq-extract: cannot write output: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn segment_text(path: Option<&OsString>) -> ExitCode {
    let text = match path.and_then(|p| p.to_str()) {
        None | Some("-") => {
            let mut s = String::new();
            if std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).is_err() {
                return ExitCode::from(2);
            }
            s
        }
        Some(p) => match std::fs::read(p) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                eprintln!("pdfq-extract: cannot read {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut out = std::io::stdout().lock();
    for s in pdfq_extract::segment(&text) {
        if writeln!(out, "{s}").is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// Runs a command, waits for it, and prints one JSON line to stderr with its CPU seconds,
/// peak RSS and wall time (from getrusage of the waited-for children).
fn measure(args: &[OsString]) -> ExitCode {
    let mut discard_stderr = false;
    let mut timeout: Option<f64> = None;
    let mut rest = args;
    while let Some(a) = rest.first().and_then(|a| a.to_str()) {
        match a {
            "--discard-stderr" => discard_stderr = true,
            "--timeout" => {
                timeout = rest
                    .get(1)
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse().ok());
                rest = &rest[1..];
            }
            "--" => {
                rest = &rest[1..];
                break;
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    let Some(program) = rest.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(&rest[1..]);
    if discard_stderr {
        // Some tools print an error per bad object: gigabytes on a hostile file.
        cmd.stderr(std::process::Stdio::null());
    }
    let started = std::time::Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "pdfq-extract measure: cannot run {}: {e}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if timeout.is_some_and(|t| started.elapsed().as_secs_f64() > t) {
            let _ = child.kill();
            killed = true;
            break child.wait().ok();
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let wall = started.elapsed().as_secs_f64();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN);
    let (cpu, rss_kb) = match usage {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            (t(u.user_time()) + t(u.system_time()), u.max_rss())
        }
        Err(_) => (f64::NAN, 0),
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status.and_then(|s| s.code());
    eprintln!(
        "{}",
        serde_json::json!({
            "measure": true,
            "cpu_s": cpu,
            "max_rss_kb": rss_kb,
            "wall_s": wall,
            "exit_code": code,
            "signal": status.and_then(|s| s.signal()),
            "killed": killed,
        })
    );
    ExitCode::from(code.map_or(128, |c| c.clamp(0, 255) as u8))
}

/// Segments FILE repeatedly for at least a second; prints `{"mb_per_s": N, "sentences": N}`.
/// The words of `text`, rejoined with single spaces.
fn whitespace_tokenize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn segment_speed(path: Option<&OsString>) -> ExitCode {
    let Some(text) = path
        .and_then(|p| std::fs::read(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    // Baseline in the same run: whitespace tokenizing (words rejoined with single spaces), the
    // least any splitter does per byte. Rounds alternate so drift hits both alike.
    let (mut seg_secs, mut base_secs, mut rounds) = (0.0f64, 0.0f64, 0usize);
    let mut sentences = 0usize;
    let mut tokenized = 0usize;
    while seg_secs + base_secs < 2.0 || rounds == 0 {
        let t = std::time::Instant::now();
        sentences = std::hint::black_box(pdfq_extract::segment(&text)).len();
        seg_secs += t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        tokenized = std::hint::black_box(whitespace_tokenize(&text)).len();
        base_secs += t.elapsed().as_secs_f64();
        rounds += 1;
    }
    let mb = (text.len() * rounds) as f64 / 1e6;
    println!(
        "{}",
        serde_json::json!({
            "mb_per_s": mb / seg_secs,
            "baseline_mb_per_s": mb / base_secs,
            "ratio_to_baseline": base_secs / seg_secs,
            "sentences": sentences,
            "tokenized_bytes": tokenized,
            "bytes": text.len(),
        })
    );
    ExitCode::SUCCESS
}
