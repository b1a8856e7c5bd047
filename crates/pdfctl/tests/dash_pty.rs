//! pdfctl in a real pseudo-terminal against a live `pdfctl up`, the screen read back through a
//! terminal emulator: `pdfctl dash` shows the queue depth and a job's progress change, and `q`
//! quits cleanly; `pdfctl login` does not echo the password typed at its prompt.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Deployment;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

struct Screen(Arc<Mutex<vt100::Parser>>);

impl Screen {
    fn contents(&self) -> String {
        self.0.lock().unwrap().screen().contents()
    }

    /// Waits until every one of `needles` is on screen at once.
    fn wait_for(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.contents();
            if needles.iter().all(|n| screen.contains(n)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {needles:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs `pdfctl dash ARGS` in a 100x30 pseudo-terminal; the screen is read back through vt100.
fn spawn_dash(
    up: &Deployment,
    args: &[&str],
) -> (
    Box<dyn portable_pty::Child + Send + Sync>,
    Box<dyn std::io::Write + Send>,
    Screen,
) {
    let mut all = vec!["dash"];
    all.extend_from_slice(args);
    spawn_pdfctl(up, &all)
}

/// Runs `pdfctl --api-url URL ARGS` in a 100x30 pseudo-terminal.
fn spawn_pdfctl(
    up: &Deployment,
    args: &[&str],
) -> (
    Box<dyn portable_pty::Child + Send + Sync>,
    Box<dyn std::io::Write + Send>,
    Screen,
) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_pdfctl"));
    command.args(["--api-url", &up.url]);
    command.args(args);
    command.env("PDFQ_CONFIG_DIR", up.config());
    command.env("TERM", "xterm-256color");
    command.env_remove("PDFQ_PASSWORD");
    // A backtrace would scroll the panic message off the screen the test reads.
    command.env("RUST_BACKTRACE", "0");
    let child = pair.slave.spawn_command(command).unwrap();
    drop(pair.slave);
    let parser = Arc::new(Mutex::new(vt100::Parser::new(30, 100, 0)));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let feed = Arc::clone(&parser);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            feed.lock().unwrap().process(&buf[..n]);
        }
    });
    let keys = pair.master.take_writer().unwrap();
    // The reader and writer hold their own handles on the master: the terminal stays open.
    drop(pair.master);
    (child, keys, Screen(parser))
}

#[test]
fn a_lost_api_looks_stale_not_healthy_and_recovers_when_it_returns() {
    let mut up = Deployment::start();
    let (mut child, mut keys, screen) = spawn_dash(&up, &["--interval", "0.5"]);
    screen.wait_for(&["Health", "healthy", "1 alive"]);
    up.stop();
    let lost = screen.wait_for(&["API unreachable for", "stale,", "unknown"]);
    // The last data stays on screen, but nothing on it claims to be healthy or alive now.
    assert!(lost.contains("Health"), "{lost}");
    assert!(
        !lost.contains("healthy") && !lost.contains("alive"),
        "{lost}"
    );
    up.restart();
    let back = screen.wait_for(&["healthy", "1 alive"]);
    assert!(
        !back.contains("unreachable") && !back.contains("stale,"),
        "{back}"
    );
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dash did not quit:\n{}",
            screen.contents()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_panic_restores_the_terminal() {
    let up = Deployment::start();
    let (mut child, _keys, screen) = spawn_dash(&up, &["--panic-after-draw"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "dash did not exit:\n{}",
            screen.contents()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    // Give the reader a moment to take in the last bytes.
    std::thread::sleep(Duration::from_millis(300));
    let parser = screen.0.lock().unwrap();
    let term = parser.screen();
    assert!(!term.alternate_screen(), "still on the alternate screen");
    assert!(!term.hide_cursor(), "the cursor is still hidden");
    assert!(
        term.contents().contains("deliberate panic"),
        "{}",
        term.contents()
    );
}

#[test]
fn dash_in_a_pty_shows_the_queue_and_a_job_progress_change() {
    let up = Deployment::start();
    // Paused, so submitted jobs wait where the dashboard can count them.
    assert!(up.run(&["queue", "pause", "--yes"]).status.success());

    let (mut child, mut keys, screen) = spawn_dash(&up, &["--interval", "0.5"]);

    screen.wait_for(&["Health", "waiting       0", "PAUSED"]);
    let first = up.submit("first.pdf");
    up.submit("second.pdf");
    screen.wait_for(&["waiting       2", "pending 2"]);

    // The jobs view: both wait at 0%.
    keys.write_all(b"\t").unwrap();
    keys.flush().unwrap();
    let jobs = screen.wait_for(&["Jobs: 2 of 2", "first.pdf", "second.pdf"]);
    assert!(jobs.contains(&first[first.len() - 6..]), "{jobs}");
    assert!(jobs.contains("  0%"), "{jobs}");

    // Resume from the dashboard itself: P, then y to confirm.
    keys.write_all(b"P").unwrap();
    keys.flush().unwrap();
    screen.wait_for(&["Resume the queue?"]);
    keys.write_all(b"y").unwrap();
    keys.flush().unwrap();
    let done = screen.wait_for(&["completed", "100%"]);
    assert!(!done.contains("pending"), "{done}");

    // Back on the overview the queue is empty and running.
    keys.write_all(b"1").unwrap();
    keys.flush().unwrap();
    screen.wait_for(&["waiting       0", "running", "completed 2"]);
    // The API's traffic, from two reads of /metrics.
    screen.wait_for(&["p50 ", "p99 ", "in flight"]);

    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dash did not quit on q:\n{}", screen.contents());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_login_password_is_not_echoed_at_a_terminal() {
    let up = Deployment::start();
    let password = std::fs::read_to_string(up.data().join("admin-password")).unwrap();
    let password = password.trim();
    let (mut child, mut keys, screen) =
        spawn_pdfctl(&up, &["login", "--email", "admin@pdfq.local"]);
    screen.wait_for(&["password for admin@pdfq.local:"]);
    keys.write_all(password.as_bytes()).unwrap();
    keys.write_all(b"\r").unwrap();
    keys.flush().unwrap();
    let done = screen.wait_for(&["logged in to"]);
    assert!(!done.contains(password), "the password was echoed:\n{done}");
    // The Enter still ends the prompt's line: the answer is on a line of its own.
    let lines: Vec<&str> = done.lines().collect();
    let prompt = lines
        .iter()
        .position(|l| l.contains("password for"))
        .unwrap();
    assert!(lines[prompt + 1].starts_with("logged in to"), "{done}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "login did not end:\n{done}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
