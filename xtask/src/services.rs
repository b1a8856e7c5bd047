//! PostgreSQL, Redis and an S3-compatible server for the tests: the ones already running on this
//! machine, or throwaway servers started from local binaries (installed from Debian's packages,
//! or for S3 moto's server from PyPI, when missing and possible), stopped again when the tests
//! end.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where the tests find their servers, and the throwaway ones to stop afterwards.
#[derive(Debug)]
pub struct TestServices {
    pub database_url: String,
    pub redis_url: String,
    /// The endpoint of the S3-compatible server (`http://127.0.0.1:PORT`).
    pub s3_url: String,
    started: Vec<Started>,
}

#[derive(Debug)]
struct Started {
    name: &'static str,
    child: Child,
    _dir: Option<tempdir::TempDir>,
}

impl TestServices {
    /// Uses TEST_DATABASE_URL / TEST_REDIS_URL when set; otherwise the default local ports when
    /// something listens there; otherwise (or always, with `fresh`) starts throwaway servers.
    pub fn ensure(fresh: bool) -> anyhow::Result<Self> {
        let mut started = Vec::new();
        let database_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !fresh => url,
            _ if !fresh && listening(5432) => "postgres://root@127.0.0.1:5432/test".to_owned(),
            _ => {
                let (url, server) = start_postgres()?;
                started.push(server);
                url
            }
        };
        let redis_url = match std::env::var("TEST_REDIS_URL") {
            Ok(url) if !fresh => url,
            _ if !fresh && listening(6379) => "redis://127.0.0.1:6379".to_owned(),
            _ => {
                let (url, server) = start_redis()?;
                started.push(server);
                url
            }
        };
        let s3_url = match std::env::var("TEST_S3_URL") {
            Ok(url) if !fresh => url,
            _ => {
                let (url, server) = start_s3()?;
                started.push(server);
                url
            }
        };
        Ok(Self {
            database_url,
            redis_url,
            s3_url,
            started,
        })
    }
}

impl Drop for TestServices {
    fn drop(&mut self) {
        for server in &mut self.started {
            // SIGTERM lets PostgreSQL shut down cleanly; kill is the fallback.
            let _ = Command::new("kill")
                .arg(server.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
            eprintln!("xtask ci: stopped the throwaway {}", server.name);
        }
    }
}

fn listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn wait_until_listening(port: u16, child: &mut Child, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if listening(port) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the throwaway {name} exited at start-up ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the throwaway {name} did not listen on port {port} within 30 s")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Installs Debian packages when this is a Debian-like machine and we are root.
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    if !(Path::new("/usr/bin/apt-get").exists() && is_root()) {
        bail!(
            "{} not installed, and this machine has no apt-get or we are not root: install them, \
             or point TEST_DATABASE_URL and TEST_REDIS_URL at running servers",
            packages.join(" and ")
        );
    }
    eprintln!(
        "xtask ci: installing {} from Debian's packages",
        packages.join(" ")
    );
    let update = Command::new("apt-get").args(["update", "-qq"]).status()?;
    if !update.success() {
        bail!("apt-get update failed ({update})");
    }
    let install = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?;
    if !install.success() {
        bail!("apt-get install {} failed ({install})", packages.join(" "));
    }
    Ok(())
}

fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn start_postgres() -> anyhow::Result<(String, Started)> {
    let bin = match postgres_bin_dir() {
        Some(bin) => bin,
        None => {
            apt_install(&["postgresql"])?;
            postgres_bin_dir().context("postgresql was installed but initdb was not found")?
        }
    };
    let dir = tempdir::TempDir::new("pdfq-ci-postgres")?;
    let data = dir.path().join("data");
    // PostgreSQL refuses to run as root: run it as the postgres user the package created.
    let as_postgres = is_root();
    if as_postgres {
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()?;
        if !chown.success() {
            bail!(
                "could not hand {} to the postgres user",
                dir.path().display()
            );
        }
    }
    let command = |program: &Path| {
        if as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    let init = command(&bin.join("initdb"))
        .args([
            "--auth=trust",
            "--username=root",
            "--encoding=UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .context("running initdb")?;
    if !init.success() {
        bail!("initdb failed ({init})");
    }
    let port = free_port()?;
    let mut child = command(&bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ])
        .arg("-k")
        .arg(dir.path())
        .args(["-c", "max_connections=300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting postgres")?;
    wait_until_listening(port, &mut child, "PostgreSQL")?;
    let created = command(&bin.join("createdb"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "root",
            "test",
        ])
        .status()?;
    if !created.success() {
        bail!("createdb test failed ({created})");
    }
    eprintln!("xtask ci: started a throwaway PostgreSQL on port {port}");
    let url = format!("postgres://root@127.0.0.1:{port}/test");
    Ok((
        url,
        Started {
            name: "PostgreSQL",
            child,
            _dir: Some(dir),
        },
    ))
}

fn redis_server() -> Option<PathBuf> {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn start_redis() -> anyhow::Result<(String, Started)> {
    let server = match redis_server() {
        Some(server) => server,
        None => {
            apt_install(&["redis-server"])?;
            redis_server().context("redis-server was installed but not found")?
        }
    };
    let port = free_port()?;
    let mut child = Command::new(server)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    wait_until_listening(port, &mut child, "Redis")?;
    eprintln!("xtask ci: started a throwaway Redis on port {port}");
    Ok((
        format!("redis://127.0.0.1:{port}"),
        Started {
            name: "Redis",
            child,
            _dir: None,
        },
    ))
}

fn has_moto() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// moto's S3 in server mode (PyPI's `moto[server]`, pure Python: installs in seconds).
fn start_s3() -> anyhow::Result<(String, Started)> {
    if !has_moto() {
        eprintln!("xtask ci: installing moto[server] from PyPI for the S3 tests");
        let pip = |extra: &[&str]| {
            Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "moto[server]"])
                .args(extra)
                .status()
                .is_ok_and(|s| s.success())
        };
        // A distribution's own Python refuses installs outside a virtualenv (PEP 668).
        if !pip(&[]) && !pip(&["--break-system-packages"]) {
            bail!(
                "could not install moto[server] with pip: install it (python3 -m pip install                  'moto[server]'), or point TEST_S3_URL at an S3-compatible server"
            );
        }
    }
    let port = free_port()?;
    let mut child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto's S3 server")?;
    wait_until_listening(port, &mut child, "S3 server (moto)")?;
    eprintln!("xtask ci: started a throwaway S3 server (moto) on port {port}");
    Ok((
        format!("http://127.0.0.1:{port}"),
        Started {
            name: "S3 server (moto)",
            child,
            _dir: None,
        },
    ))
}

mod tempdir {
    //! A directory removed on drop; std has none and this is all xtask needs.
    use std::path::{Path, PathBuf};

    #[derive(Debug)]
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(prefix: &str) -> std::io::Result<Self> {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let path =
                std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
