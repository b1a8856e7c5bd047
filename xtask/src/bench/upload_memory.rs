//! `cargo xtask bench upload-memory`: the API process's peak resident memory (VmHWM) while it
//! receives one large upload (45 MB by default) and stores it in an S3-compatible bucket (or,
//! with `--storage database`, in PostgreSQL).
//!
//! It starts the `pdfq-api` binary alone (no worker, so no download of the file blurs the
//! figure) on a free port, on a fresh PostgreSQL database (`psql`), Redis and a fresh bucket on
//! the S3 server at `--s3-endpoint` (moto or MinIO: one that accepts an unsigned bucket
//! creation), registers a user, and reads `/proc/PID/status` before and after the upload.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::api::{Connection, get_request, login, upload};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upload's size in MB (MiB): at most MAX_UPLOAD_BYTES (50MB).
    #[arg(long, default_value_t = 45)]
    size_mb: usize,
    /// Where the API stores the file: `s3` (a fresh bucket) or `database`.
    #[arg(long, default_value = "s3")]
    storage: String,
    /// The S3-compatible server's endpoint.
    #[arg(long, env = "TEST_S3_URL", default_value = "http://127.0.0.1:9090")]
    s3_endpoint: String,
    /// A PostgreSQL database to connect to for creating (and dropping) the API's own.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://root@127.0.0.1:5432/test"
    )]
    database_url: String,
    #[arg(long, env = "TEST_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// The API binary [default: pdfq-api in the target directory's debug build].
    #[arg(long)]
    api_bin: Option<PathBuf>,
}

/// The started API, killed on drop.
struct Api(Child);

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A database of the benchmark's own, dropped on drop.
struct Database {
    admin_url: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin_url,
            &format!("drop database if exists {}", self.name),
        );
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let run_id = std::process::id();
    let database = Database {
        admin_url: args.database_url.clone(),
        name: format!("pdfq_bench_upload_{run_id}"),
    };
    psql(
        &database.admin_url,
        &format!("create database {}", database.name),
    )?;
    let (base, _) = args
        .database_url
        .rsplit_once('/')
        .context("--database-url must end in /DATABASE")?;
    let api_bin = match &args.api_bin {
        Some(bin) => bin.clone(),
        None => crate::paths::target_dir(&std::env::current_dir()?).join("debug/pdfq-api"),
    };
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut api = Command::new(&api_bin);
    api.env("DATABASE_URL", format!("{base}/{}", database.name))
        .env("MIGRATE_ON_START", "true")
        .env("REDIS_URL", &args.redis_url)
        .env("REDIS_KEY_PREFIX", format!("pdfq-bench-upload-{run_id}"))
        .env("PDFQ_ENV", "development")
        .env("JWT_SECRET", "bench-upload-memory-secret-of-32-bytes!")
        .env("PORT", port.to_string())
        .env("BIND_ADDR", "127.0.0.1")
        .env("MAX_UPLOAD_BYTES", "50MB")
        .env("UPLOAD_RATE_LIMIT", "1000/hour")
        .env("REGISTER_RATE_LIMIT", "1000/hour")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match args.storage.as_str() {
        "database" => {
            api.env("STORAGE_URL", "database");
        }
        "s3" => {
            let bucket = format!("pdfq-bench-upload-{run_id}");
            create_bucket(&args.s3_endpoint, &bucket)?;
            api.env("STORAGE_URL", format!("s3://{bucket}/bench"))
                .env("AWS_ENDPOINT_URL", &args.s3_endpoint)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test");
        }
        other => bail!("--storage {other}: expected s3 or database"),
    }
    let api = Api(api
        .spawn()
        .with_context(|| format!("starting {}", api_bin.display()))?);
    let pid = api.0.id();
    let host = format!("127.0.0.1:{port}");
    wait_healthy(&host)?;
    let token = login(&host)?;
    let pdf = large_file(args.size_mb << 20);
    let before = memory_kib(pid, "VmHWM").context("reading the API's VmHWM")?;
    let started = Instant::now();
    let job = upload(&host, &token, &pdf)?;
    let took = started.elapsed();
    let after = memory_kib(pid, "VmHWM").context("reading the API's VmHWM")?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "pdfq-api ({}), one upload of {} MiB to {} (job {job}, {:.1} s): peak resident memory \
         (VmHWM) {:.1} MiB before the upload, {:.1} MiB after: +{:.1} MiB",
        api_bin.display(),
        args.size_mb,
        args.storage,
        took.as_secs_f64(),
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
    );
    drop(api);
    Ok(())
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .args([url, "-q", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .context("running psql")?;
    if !status.success() {
        bail!("psql {sql:?} failed");
    }
    Ok(())
}

fn create_bucket(endpoint: &str, bucket: &str) -> anyhow::Result<()> {
    let host = endpoint
        .strip_prefix("http://")
        .context("--s3-endpoint must be http://HOST:PORT")?
        .trim_end_matches('/');
    let request = format!("PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n");
    let (status, text) = Connection::open(host)?.send(request.as_bytes())?;
    if !(200..300).contains(&status) {
        bail!("creating bucket {bucket} answered {status}: {text}");
    }
    Ok(())
}

fn wait_healthy(host: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut conn) = Connection::open(host)
            && conn
                .send(&get_request(host, "/api/v1/health", None))
                .is_ok_and(|(s, _)| s == 200)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("pdfq-api did not answer /api/v1/health within 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `len` bytes that start like a PDF (all the API checks) and do not compress: a xorshift
/// stream.
fn large_file(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// A `/proc/PID/status` figure in KiB (`VmHWM`: the peak resident set so far).
fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}
