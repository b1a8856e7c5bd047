//! A private PostgreSQL cluster for tests that restart or stop the database mid-run.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A throwaway cluster in a temporary directory on a free port, with a database `test` that
/// `root` owns (trust auth). Stopped and removed when dropped. Under root it runs as the
/// `postgres` user, since PostgreSQL refuses to run as root.
#[derive(Debug)]
pub struct PostgresServer {
    bin: PathBuf,
    dir: tempfile_dir::Dir,
    port: u16,
    as_postgres: bool,
}

impl PostgresServer {
    /// Initialises and starts a cluster; panics with a clear message when PostgreSQL's server
    /// binaries are not installed.
    #[must_use]
    pub fn start() -> Self {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        });
        let as_postgres = is_root();
        let dir = tempfile_dir::Dir::new();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port for a test PostgreSQL: {e}"));
        let server = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        run(server
            .command("initdb")
            .args([
                "--auth=trust",
                "--username=root",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(server.data()));
        server.pg_ctl_start();
        run(server.command("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "root",
            "test",
        ]));
        server
    }

    /// `postgres://root@127.0.0.1:PORT/test`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://root@127.0.0.1:{}/test", self.port)
    }

    /// A fast shutdown (every connection is cut), then a start on the same data and port.
    pub fn restart(&self) {
        self.stop();
        self.pg_ctl_start();
    }

    /// A fast shutdown: the database is unreachable until [`PostgresServer::start_again`].
    pub fn stop(&self) {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"]));
    }

    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"]));
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the test PostgreSQL did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .status();
    }
}

fn run(command: &mut Command) {
    match command.status() {
        Ok(status) if status.success() => {}
        other => panic!("{command:?} failed: {other:?}"),
    }
}

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

mod tempfile_dir {
    use super::Path;

    /// A temporary directory any user can enter (the cluster may run as `postgres`).
    #[derive(Debug)]
    pub struct Dir(std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir()
                .join(format!("pdfq-test-pg-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
