//! `pdfctl up`, then `pdfctl login` and `pdfctl submit --wait`, as a newcomer runs them.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pdfctl(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pdfctl"));
    command
        .env("PDFQ_CONFIG_DIR", config)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    command
}

/// A running `pdfctl up` on a free port with its data in `data`: the process, its stdout after
/// the banner, the URL and the banner's other lines.
fn start_up(config: &Path, data: &Path) -> (Up, BufReader<ChildStdout>, String, String) {
    start_up_with(config, data, &[])
}

/// [`start_up`] with these environment variables set.
fn start_up_with(
    config: &Path,
    data: &Path,
    env: &[(&str, &str)],
) -> (Up, BufReader<ChildStdout>, String, String) {
    let mut child = pdfctl(config)
        .args(["up", "--port", "0", "--data-dir"])
        .arg(data)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let up = Up(child);
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    let mut banner = String::new();
    for _ in 0..4 {
        stdout.read_line(&mut banner).unwrap();
    }
    (up, stdout, url, banner)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_data_directory_is_private_and_the_password_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    // Left open by an older pdfq or a permissive umask.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (up, _stdout, _url, banner) = start_up(&config, &data);
    let password = std::fs::read_to_string(data.join("admin-password")).unwrap();
    assert!(
        banner.contains(password.trim()),
        "printed when generated: {banner}"
    );
    drop(up);
    std::fs::set_permissions(
        data.join("admin-password"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(data.join("pdfq.db"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let (_up, _stdout, _url, banner) = start_up(&config, &data);
    assert!(
        !banner.contains(password.trim()),
        "not printed again: {banner}"
    );
    assert!(banner.contains("admin-password"), "{banner}");
    assert_eq!(mode(&data), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            files += 1;
            assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
        }
    }
    assert!(
        files >= 3,
        "the database, the secret and the password at least"
    );
}

#[test]
fn a_weak_kept_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("jwt-secret"), "secret\n").unwrap();
    let out = pdfctl(&dir.path().join("config"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("jwt-secret")
            && err.contains("weak secret")
            && err.contains("delete the file"),
        "{err}"
    );
}

#[test]
fn up_login_and_submit_wait_print_the_sentences_then_ctrl_c_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    let (up, mut stdout, url, banner) = start_up(&config, &data);
    assert!(banner.contains("SQLite"), "{banner}");
    assert!(banner.contains("admin@pdfq.local"), "{banner}");

    let password = std::fs::read_to_string(data.join("admin-password")).unwrap();
    let login = pdfctl(&config)
        .args([
            "--api-url",
            &url,
            "login",
            "--email",
            "admin@pdfq.local",
            "--password",
            password.trim(),
        ])
        .output()
        .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );

    let pdf = dir.path().join("hello.pdf");
    std::fs::write(
        &pdf,
        pdfq_test_support::pdf::text_pdf(&["Hello there. General Kenobi!", "A second page."]),
    )
    .unwrap();
    let submit = pdfctl(&config)
        .args(["--api-url", &url, "submit", "--wait"])
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        submit.status.success(),
        "{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&submit.stdout),
        "Hello there.\nGeneral Kenobi!\nA second page.\n"
    );
    assert!(String::from_utf8_lossy(&submit.stderr).contains("100% Completed"));

    // Ctrl-C: a clean stop.
    let status = Command::new("kill")
        .arg("-INT")
        .arg(up.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("pdfq stopped cleanly."), "{rest}");
}

/// The embedded worker reads the job settings pdfq-worker reads (time limits, retries, the
/// extraction's limits, webhook delivery), by the same variables and checks; before, it ran on
/// defaults whatever they said.
#[test]
fn up_reads_the_same_job_settings_as_pdfq_worker() {
    for (variable, value, said) in [
        (
            "EXTRACT_CPU_LIMIT",
            "0s",
            "EXTRACT_CPU_LIMIT must be at least 1s",
        ),
        (
            "TASK_HARD_TIME_LIMIT",
            "1m",
            "TASK_HARD_TIME_LIMIT (60s) must be longer",
        ),
        ("WEBHOOK_CONCURRENCY", "0", "WEBHOOK_CONCURRENCY"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut up = pdfctl(&dir.path().join("config"))
            .args(["up", "--port", "0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env(variable, value)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A setting it ignored would leave it serving: give it 20 s to refuse.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while up.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if up.try_wait().unwrap().is_none() {
            let _ = up.kill();
            let _ = up.wait();
            panic!("{variable}={value} was accepted");
        }
        let out = up.wait_with_output().unwrap();
        assert!(!out.status.success(), "{variable}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{variable}={value}: {err}");
    }
}

#[test]
fn up_honours_the_same_settings_as_pdfq_api() {
    use pdfq_test_support::service_checks::{SERVICE_ENV, the_service_settings_apply};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_up, _stdout, url, _banner) =
        start_up_with(&dir.path().join("config"), &data, SERVICE_ENV);
    let password = std::fs::read_to_string(data.join("admin-password")).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(the_service_settings_apply(
            &url,
            "admin@pdfq.local",
            password.trim(),
        ));
}

#[test]
fn submit_without_login_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = pdfctl(dir.path())
        .args(["--api-url", "http://127.0.0.1:9", "submit", "x.pdf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not logged in") && err.contains("pdfctl --api-url http://127.0.0.1:9 login"),
        "{err}"
    );
}

#[test]
fn logs_written_to_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("up.log");
    let mut child = pdfctl(&dir.path().join("config"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let up = Up(child);
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // The log line may follow the banner by a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut logged = String::new();
    while !logged.contains("listening") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        logged = std::fs::read_to_string(&log).unwrap();
    }
    drop(up);
    assert!(logged.contains("listening"), "{logged}");
    assert!(!logged.contains('\x1b'), "{logged:?}");
}
