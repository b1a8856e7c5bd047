//! Checks shared by both targets: HTTP through `curl` (it speaks the https of Railway's public
//! URL, which std cannot), a real PDF upload followed to completion, Redis heartbeats over a
//! plain RESP connection, and error lines in logs.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// One HTTP request through curl: (status, body).
pub fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    json_body: Option<&str>,
    file: Option<&Path>,
) -> anyhow::Result<(u16, String)> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-X", method, "-o", "-"])
        .args(["-w", "\n%{http_code}"]);
    if let Some(token) = token {
        cmd.arg("-H").arg(format!("Authorization: Bearer {token}"));
    }
    if let Some(body) = json_body {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    if let Some(file) = file {
        cmd.arg("-F")
            .arg(format!("file=@{};type=application/pdf", file.display()));
    }
    let out = cmd
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .context("running curl (install it: apt-get install curl)")?;
    if !out.status.success() {
        bail!(
            "{method} {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let status = code
        .trim()
        .parse()
        .with_context(|| format!("{method} {url}: no status code in curl's output"))?;
    Ok((status, body.to_owned()))
}

/// GET /api/v1/health: its status code (0 when nothing answers).
pub fn health(base: &str) -> u16 {
    http("GET", &format!("{base}/api/v1/health"), None, None, None).map_or(0, |(s, _)| s)
}

/// Waits until /api/v1/health answers 200; `alive` is asked between attempts so a process that
/// died is reported at once.
pub fn wait_healthy(
    base: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = health(base);
        if status == 200 {
            return Ok(());
        }
        alive()?;
        if Instant::now() > deadline {
            bail!(
                "{base}/api/v1/health answered {status} (0: no answer) for {} s",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Registers a fresh user, logs in, uploads a generated PDF and follows the job until it
/// completes. Returns the job id.
pub fn upload_completes(base: &str, scratch: &Path, timeout: Duration) -> anyhow::Result<String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let email = format!("deploy-check-{nanos}@example.com");
    // A fresh password per check: it is never used again.
    let body = serde_json::json!({"email": email, "password": format!("deploy check {nanos}")})
        .to_string();
    let (status, text) = http(
        "POST",
        &format!("{base}/api/v1/auth/register"),
        None,
        Some(&body),
        None,
    )?;
    if status != 201 {
        bail!("register answered {status}: {text}");
    }
    let (status, text) = http(
        "POST",
        &format!("{base}/api/v1/auth/login"),
        None,
        Some(&body),
        None,
    )?;
    if status != 200 {
        bail!("login answered {status}: {text}");
    }
    let token = field(&text, "access_token").context("no access_token in the login answer")?;
    std::fs::create_dir_all(scratch)?;
    let pdf = scratch.join("deploy-check.pdf");
    std::fs::write(&pdf, small_pdf()).context("writing the check PDF")?;
    let (status, text) = http(
        "POST",
        &format!("{base}/api/v1/process-pdf-async"),
        Some(&token),
        None,
        Some(&pdf),
    )?;
    let _ = std::fs::remove_file(&pdf);
    if status != 202 {
        bail!("upload answered {status}: {text}");
    }
    let job = field(&text, "job_id").context("no job_id in the upload answer")?;
    println!("  uploaded a PDF: job {job}");
    let deadline = Instant::now() + timeout;
    loop {
        let (status, text) = http(
            "GET",
            &format!("{base}/api/v1/jobs/{job}"),
            Some(&token),
            None,
            None,
        )?;
        if status != 200 {
            bail!("GET /api/v1/jobs/{job} answered {status}: {text}");
        }
        match field(&text, "status").as_deref() {
            Some("completed") => return Ok(job),
            Some(end @ ("failed" | "cancelled" | "dead")) => {
                bail!("job {job} ended {end}: {text}")
            }
            other => {
                if Instant::now() > deadline {
                    bail!(
                        "job {job} still {} after {} s: is a worker running and reading the same \
                         REDIS_URL and REDIS_KEY_PREFIX?",
                        other.unwrap_or("unknown"),
                        timeout.as_secs()
                    );
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A top-level string (or number) field of a JSON object.
fn field(json: &str, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(json).ok()?;
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A valid one-page PDF with a few sentences (catalog, pages, font, page, content stream and
/// a cross-reference table with the real byte offsets), written by hand: std only.
pub fn small_pdf() -> Vec<u8> {
    let text = "BT /F1 12 Tf 72 720 Td (pdfq deployment check. The upload completed. A third sentence ends it.) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [4 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

/// Lines of a log that report an error: pdfq's JSON `"level":"ERROR"`, the level attribute of
/// `railway logs --json` (`"level":"error"`, which Railway gives every line a service writes to
/// stderr: pdfq logs to stdout, so only real errors and panics carry it), `"severity":"error"`,
/// or the text format's ` ERROR `.
pub fn error_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase().replace(": ", ":");
            lower.contains("\"level\":\"error\"")
                || lower.contains("\"severity\":\"error\"")
                || line.contains(" ERROR ")
        })
        .map(str::to_owned)
        .collect()
}

/// A minimal Redis client over RESP, for the heartbeat check (std only).
#[derive(Debug)]
pub struct Redis {
    reader: BufReader<TcpStream>,
}

#[derive(Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Int(i64),
    Bulk(Option<String>),
    Array(Vec<Resp>),
}

impl Redis {
    /// Connects to `redis://[user:password@]host:port[/db]`; rediss:// is refused (no TLS in
    /// std): use the plain TCP proxy URL.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("redis://")
            .with_context(|| "the heartbeat check needs a redis:// URL (no TLS)".to_owned())?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth), rest),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, db)) => (h, db.split('?').next().unwrap_or("")),
            None => (rest.split('?').next().unwrap_or(rest), ""),
        };
        let hostport = if hostport.contains(':') {
            hostport.to_owned()
        } else {
            format!("{hostport}:6379")
        };
        let stream = TcpStream::connect(&hostport)
            .with_context(|| format!("connecting to Redis at {hostport}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut redis = Self {
            reader: BufReader::new(stream),
        };
        if let Some(auth) = auth {
            let (user, password) = auth.split_once(':').unwrap_or(("default", auth));
            let user = if user.is_empty() { "default" } else { user };
            redis.command(&["AUTH", user, password])?;
        }
        if !db.is_empty() && db != "0" {
            redis.command(&["SELECT", db])?;
        }
        Ok(redis)
    }

    pub fn command(&mut self, args: &[&str]) -> anyhow::Result<Resp> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.reader.get_mut().write_all(request.as_bytes())?;
        self.read()
    }

    fn read(&mut self) -> anyhow::Result<Resp> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("Redis closed the connection");
        }
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(line.len().min(1));
        Ok(match kind {
            "+" => Resp::Simple(rest.to_owned()),
            "-" => bail!("Redis answered an error: {rest}"),
            ":" => Resp::Int(rest.parse()?),
            "$" => {
                let len: i64 = rest.parse()?;
                if len < 0 {
                    Resp::Bulk(None)
                } else {
                    let mut buf = vec![0; usize::try_from(len)? + 2];
                    std::io::Read::read_exact(&mut self.reader, &mut buf)?;
                    buf.truncate(buf.len() - 2);
                    Resp::Bulk(Some(String::from_utf8_lossy(&buf).into_owned()))
                }
            }
            "*" => {
                let len: i64 = rest.parse()?;
                let mut items = Vec::new();
                for _ in 0..len.max(0) {
                    items.push(self.read()?);
                }
                Resp::Array(items)
            }
            _ => bail!("unexpected answer from Redis: {line:?}"),
        })
    }

    /// The heartbeat records of live worker instances under `prefix` (pdfq-queue's layout: a
    /// registry sorted set `PREFIX:workers`, one JSON record `PREFIX:workers:ID` with a TTL).
    pub fn worker_heartbeats(&mut self, prefix: &str) -> anyhow::Result<Vec<Value>> {
        let registry = format!("{prefix}:workers");
        let Resp::Array(ids) = self.command(&["ZRANGE", &registry, "0", "-1"])? else {
            bail!("ZRANGE {registry} did not answer an array");
        };
        let mut workers = Vec::new();
        for id in ids {
            let Resp::Bulk(Some(id)) = id else { continue };
            let key = format!("{registry}:{id}");
            if let Resp::Bulk(Some(record)) = self.command(&["GET", &key])?
                && let Ok(record) = serde_json::from_str::<Value>(&record)
                && record.get("kind").and_then(Value::as_str) == Some("worker")
            {
                workers.push(record);
            }
        }
        Ok(workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_has_a_correct_cross_reference_table() {
        let pdf = String::from_utf8(small_pdf()).expect("ascii");
        assert!(pdf.starts_with("%PDF-1.4\n"));
        let startxref: usize = pdf
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .expect("startxref");
        assert!(pdf[startxref..].starts_with("xref\n"));
        for (i, line) in pdf[startxref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().expect("offset");
            assert!(pdf[offset..].starts_with(&format!("{} 0 obj", i + 1)));
        }
    }

    #[test]
    fn error_lines_are_found_in_both_formats() {
        let log = "{\"level\":\"INFO\",\"fields\":{}}\n{\"level\":\"ERROR\",\"msg\":\"x\"}\n2026-01-01T00:00:00Z ERROR pdfq: boom\nfine";
        assert_eq!(error_lines(log).len(), 2);
    }
}
