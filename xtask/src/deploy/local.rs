//! The local target: the same six steps on this machine. The deployment gets its own database
//! (pdfq_deploy_NAME, created on the PostgreSQL server of DATABASE_URL) and its own Redis key
//! prefix (pdfq-deploy-NAME), so it never touches the tests' data. The API and worker are
//! started in the background, logging to files next to the state file, and recorded by pid;
//! `--down` stops them.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::exec::Exec;
use super::probe;
use super::state::State;
use super::steps::random_hex;
use super::{Args, Check, Step, Target6};
use crate::services::TestServices;

#[derive(Debug)]
pub struct Local<'a> {
    exec: &'a Exec,
    root: PathBuf,
    /// Logs and scratch files of this deployment.
    dir: PathBuf,
    server_url: Option<String>,
    redis_url: Option<String>,
    instance: String,
    profile: String,
    no_build: bool,
    timeout: Duration,
}

impl<'a> Local<'a> {
    pub fn new(args: &Args, exec: &'a Exec, root: &Path, state_dir: &Path) -> anyhow::Result<Self> {
        if !args
            .instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bail!("--instance takes letters, digits and _ only (it names a database)");
        }
        if !["release", "dev"].contains(&args.profile.as_str()) {
            bail!("--profile is release or dev");
        }
        Ok(Self {
            exec,
            root: root.to_path_buf(),
            dir: state_dir.join(format!("local-{}", args.instance)),
            server_url: args.database_url.clone(),
            redis_url: args.redis_url.clone(),
            instance: args.instance.clone(),
            profile: args.profile.clone(),
            no_build: args.no_build,
            // The local steps take seconds; the Railway default of 15 minutes is far too long
            // to notice a hang.
            timeout: Duration::from_secs(args.timeout.min(120)),
        })
    }

    fn bin(&self, name: &str) -> PathBuf {
        let dir = if self.profile == "release" {
            "release"
        } else {
            "debug"
        };
        crate::paths::target_dir(&self.root).join(dir).join(name)
    }

    /// The servers to deploy against: DATABASE_URL / REDIS_URL, else the test servers. A
    /// throwaway server started for this command would stop when it exits, taking the
    /// deployment with it, so only servers already running are accepted.
    fn servers(&self) -> anyhow::Result<(String, String)> {
        if let (Some(db), Some(redis)) = (&self.server_url, &self.redis_url) {
            return Ok((db.clone(), redis.clone()));
        }
        // TestServices would start (even install) throwaway servers when none listens; they
        // would stop when this command ends, taking the deployment with them. Refuse first.
        let listens = |port: u16| {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
        };
        let configured = |var: &str, port: u16| std::env::var_os(var).is_some() || listens(port);
        if !configured("TEST_DATABASE_URL", 5432) || !configured("TEST_REDIS_URL", 6379) {
            bail!(
                "no PostgreSQL (5432) or Redis (6379) is running here: start them (apt-get install \
                 postgresql redis-server), or set DATABASE_URL and REDIS_URL"
            );
        }
        let services = TestServices::ensure(false)?;
        let db = self
            .server_url
            .clone()
            .unwrap_or_else(|| services.database_url.clone());
        let redis = self
            .redis_url
            .clone()
            .unwrap_or_else(|| services.redis_url.clone());
        let standard = |url: &str, port: &str| {
            url.contains(&format!(":{port}"))
                || std::env::var_os("TEST_DATABASE_URL").is_some()
                || std::env::var_os("TEST_REDIS_URL").is_some()
        };
        if !standard(&db, "5432") || !standard(&redis, "6379") {
            bail!(
                "no PostgreSQL or Redis is running here (a throwaway one would stop when this \
                 command ends): start them, or set DATABASE_URL and REDIS_URL"
            );
        }
        Ok((db, redis))
    }

    fn database_name(&self) -> String {
        format!("pdfq_deploy_{}", self.instance)
    }

    fn prefix(&self) -> String {
        format!("pdfq-deploy-{}", self.instance)
    }

    fn psql(&self, server: &str, sql: &str) -> anyhow::Result<String> {
        let out = self
            .exec
            .run("psql", &[server, "-v", "ON_ERROR_STOP=1", "-tAc", sql])?;
        if out.ran && !out.ok {
            bail!("psql: {}", out.message());
        }
        Ok(out.stdout.trim().to_owned())
    }

    /// The environment both processes get.
    fn env(&self, state: &State) -> anyhow::Result<Vec<(String, String)>> {
        let get = |k: &str| {
            state
                .get(k)
                .map(str::to_owned)
                .with_context(|| format!("the state has no {k}: run the project step first"))
        };
        Ok(vec![
            ("DATABASE_URL".to_owned(), get("database_url")?),
            ("REDIS_URL".to_owned(), get("redis_url")?),
            ("REDIS_KEY_PREFIX".to_owned(), self.prefix()),
            ("JWT_SECRET".to_owned(), get("jwt_secret")?),
            ("PDFQ_ENV".to_owned(), "production".to_owned()),
            ("LOG_FORMAT".to_owned(), "json".to_owned()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ])
    }

    /// Starts a binary in the background in its own process group (a Ctrl-C in this terminal
    /// does not reach it), output to `log`; returns its pid.
    fn spawn(&self, bin: &Path, env: &[(String, String)], log: &Path) -> anyhow::Result<u32> {
        println!("  $ {} > {}", bin.display(), log.display());
        std::fs::create_dir_all(&self.dir)?;
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(bin)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(child.id())
    }

    fn api_url(state: &State) -> Option<String> {
        state
            .get_u64("port")
            .map(|p| format!("http://127.0.0.1:{p}"))
    }

    fn api_log(&self) -> PathBuf {
        self.dir.join("api.log")
    }

    fn worker_log(&self) -> PathBuf {
        self.dir.join("worker.log")
    }

    fn build(&self) -> anyhow::Result<()> {
        if self.no_build {
            for name in ["pdfq-api", "pdfq-worker", "pdfctl"] {
                if !self.bin(name).exists() && !self.exec.dry_run {
                    bail!("{} is not built: drop --no-build", self.bin(name).display());
                }
            }
            return Ok(());
        }
        let mut args = vec!["build"];
        if self.profile == "release" {
            args.push("--release");
        }
        args.extend(["-p", "pdfq-api", "-p", "pdfq-worker", "-p", "pdfctl"]);
        // cargo's own progress goes to the terminal: a cold release build takes minutes.
        println!("  $ cargo {}", args.join(" "));
        if self.exec.dry_run {
            return Ok(());
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(&args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build failed ({status})");
        }
        Ok(())
    }

    fn migrate(&self, state: &State, action: &str) -> anyhow::Result<super::exec::Out> {
        let url = state.get("database_url").unwrap_or_default().to_owned();
        let pdfctl = self.bin("pdfctl").display().to_string();
        self.exec
            .run_with(&pdfctl, &["migrate", action], &[("DATABASE_URL", &url)])
    }

    fn worker_heartbeat(&self, state: &State, pid: u32) -> anyhow::Result<bool> {
        let url = state
            .get("redis_url")
            .context("no redis_url in the state")?;
        let mut redis = probe::Redis::connect(url)?;
        Ok(redis
            .worker_heartbeats(&self.prefix())?
            .iter()
            .any(|w| w.get("pid").and_then(serde_json::Value::as_u64) == Some(u64::from(pid))))
    }
}

impl Target6 for Local<'_> {
    fn check(&mut self, step: Step, state: &mut State) -> anyhow::Result<Check> {
        if self.exec.dry_run {
            return Ok(Check::Todo("(dry run: not checked)".to_owned()));
        }
        match step {
            Step::Project => {
                let Some(server) = state.get("server_url").map(str::to_owned) else {
                    return Ok(Check::Todo("no database chosen yet".to_owned()));
                };
                let name = self.database_name();
                let found = self.psql(
                    &server,
                    &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
                )?;
                Ok(if found == "1" && state.get("jwt_secret").is_some() {
                    Check::Done(format!("database {name} exists"))
                } else {
                    Check::Todo(format!("no database {name}"))
                })
            }
            Step::Redis => {
                let url = state
                    .get("redis_url")
                    .context("no redis_url in the state")?;
                let pong = probe::Redis::connect(url).and_then(|mut r| r.command(&["PING"]));
                Ok(match pong {
                    Ok(probe::Resp::Simple(p)) if p == "PONG" => {
                        Check::Done(format!("Redis answers; key prefix {}", self.prefix()))
                    }
                    Ok(other) => Check::Todo(format!("Redis answered {other:?} to PING")),
                    Err(e) => Check::Todo(format!("Redis does not answer: {e:#}")),
                })
            }
            Step::Backend => {
                let pid = state.get_u64("api_pid").and_then(|p| u32::try_from(p).ok());
                let url = Self::api_url(state);
                Ok(match (pid, url) {
                    (Some(pid), Some(url)) if running(pid, "pdfq-api") => {
                        let status = probe::health(&url);
                        if status == 200 {
                            Check::Done(format!("pdfq-api (pid {pid}) healthy at {url}"))
                        } else {
                            Check::Todo(format!("pdfq-api (pid {pid}) health answers {status}"))
                        }
                    }
                    _ => Check::Todo("pdfq-api is not running".to_owned()),
                })
            }
            Step::Migrations => {
                let out = self.migrate(state, "verify")?;
                Ok(if out.ok {
                    Check::Done("the schema matches the migrations".to_owned())
                } else {
                    Check::Todo(format!("pdfctl migrate verify: {}", out.first_line()))
                })
            }
            Step::Worker => {
                let pid = state
                    .get_u64("worker_pid")
                    .and_then(|p| u32::try_from(p).ok());
                Ok(match pid {
                    Some(pid) if running(pid, "pdfq-worker") => {
                        if self.worker_heartbeat(state, pid)? {
                            Check::Done(format!("pdfq-worker (pid {pid}) heartbeat in Redis"))
                        } else {
                            Check::Todo(format!("pdfq-worker (pid {pid}) has no heartbeat"))
                        }
                    }
                    _ => Check::Todo("pdfq-worker is not running".to_owned()),
                })
            }
            Step::Verify => Ok(match (state.get("verified_pids"), pids(state)) {
                (Some(done), Some(now)) if done == now => Check::Done(
                    "verified already for these processes (upload completed, no errors)".to_owned(),
                ),
                _ => Check::Todo("not verified for the running processes".to_owned()),
            }),
        }
    }

    fn act(&mut self, step: Step, state: &mut State) -> anyhow::Result<()> {
        match step {
            Step::Project => {
                let (server, redis) = self.servers()?;
                let name = self.database_name();
                let exists = self.psql(
                    &server,
                    &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
                )?;
                if exists != "1" {
                    self.psql(&server, &format!("CREATE DATABASE \"{name}\""))?;
                }
                state.set("server_url", server.clone());
                state.set("database_url", with_database(&server, &name)?);
                state.set("redis_url", redis);
                if state.get("jwt_secret").is_none() {
                    state.set("jwt_secret", random_hex(32)?);
                }
                Ok(())
            }
            Step::Redis if self.exec.dry_run => {
                self.exec.note("PING the Redis of REDIS_URL");
                Ok(())
            }
            Step::Redis => bail!(
                "Redis at {} does not answer: start redis-server, or set REDIS_URL and re-run \
                 from the project step (--from project)",
                state.get("redis_url").unwrap_or("?")
            ),
            Step::Backend => {
                self.build()?;
                if let Some(pid) = state.get_u64("api_pid").and_then(|p| u32::try_from(p).ok()) {
                    stop(pid, "pdfq-api", Duration::from_secs(10));
                }
                let port = free_port()?;
                let mut env = self.env(state)?;
                env.push(("PORT".to_owned(), port.to_string()));
                env.push(("BIND_ADDR".to_owned(), "127.0.0.1".to_owned()));
                if self.exec.dry_run {
                    self.exec
                        .note("start pdfq-api, wait for /api/v1/health = 200");
                    return Ok(());
                }
                let pid = self.spawn(&self.bin("pdfq-api"), &env, &self.api_log())?;
                state.set("api_pid", pid);
                state.set("port", port);
                state.remove("verified_pids");
                state.save()?;
                let url = format!("http://127.0.0.1:{port}");
                let log = self.api_log();
                probe::wait_healthy(&url, self.timeout, || {
                    if running(pid, "pdfq-api") {
                        Ok(())
                    } else {
                        bail!("pdfq-api exited at start-up:\n{}", tail(&log, 20))
                    }
                })
            }
            Step::Migrations => {
                for action in ["run", "verify"] {
                    let out = self.migrate(state, action)?;
                    if out.ran && !out.ok {
                        bail!("pdfctl migrate {action} failed: {}", out.message());
                    }
                    print!("{}", out.stdout);
                }
                Ok(())
            }
            Step::Worker => {
                if let Some(pid) = state
                    .get_u64("worker_pid")
                    .and_then(|p| u32::try_from(p).ok())
                {
                    stop(pid, "pdfq-worker", Duration::from_secs(40));
                }
                let env = self.env(state)?;
                if self.exec.dry_run {
                    self.exec
                        .note("start pdfq-worker, wait for its heartbeat in Redis");
                    return Ok(());
                }
                let pid = self.spawn(&self.bin("pdfq-worker"), &env, &self.worker_log())?;
                state.set("worker_pid", pid);
                state.remove("verified_pids");
                state.save()?;
                let deadline = Instant::now() + self.timeout;
                while !self.worker_heartbeat(state, pid)? {
                    if !running(pid, "pdfq-worker") {
                        bail!(
                            "pdfq-worker exited at start-up:\n{}",
                            tail(&self.worker_log(), 20)
                        );
                    }
                    if Instant::now() > deadline {
                        bail!(
                            "pdfq-worker (pid {pid}) wrote no heartbeat within {} s: see {}",
                            self.timeout.as_secs(),
                            self.worker_log().display()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Ok(())
            }
            Step::Verify => {
                self.exec.note(
                    "GET /api/v1/health = 200, register, login, upload a PDF, poll until completed; scan the logs",
                );
                if self.exec.dry_run {
                    return Ok(());
                }
                let url = Self::api_url(state).context("no API port in the state")?;
                let status = probe::health(&url);
                if status != 200 {
                    bail!(
                        "{url}/api/v1/health answered {status}: see {}",
                        self.api_log().display()
                    );
                }
                let job = probe::upload_completes(&url, &self.dir, self.timeout)?;
                let mut errors = Vec::new();
                for log in [self.api_log(), self.worker_log()] {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    errors.extend(
                        probe::error_lines(&text)
                            .into_iter()
                            .map(|l| format!("{}: {l}", log.display())),
                    );
                }
                if !errors.is_empty() {
                    bail!(
                        "the logs show {} error(s):\n{}",
                        errors.len(),
                        errors.join("\n")
                    );
                }
                if let Some(now) = pids(state) {
                    state.set("verified_pids", now);
                }
                println!("  verified: health 200, job {job} completed, no errors in the logs");
                Ok(())
            }
        }
    }
}

/// `--down`: stops the worker (SIGTERM, then the drain budget and some) and the API, each only
/// if the pid is still that program (a pid can be reused once the process is gone).
pub fn down(exec: &Exec, state: &mut State) -> anyhow::Result<()> {
    for (key, name, grace) in [
        ("worker_pid", "pdfq-worker", Duration::from_secs(40)),
        ("api_pid", "pdfq-api", Duration::from_secs(15)),
    ] {
        let Some(pid) = state.get_u64(key).and_then(|p| u32::try_from(p).ok()) else {
            continue;
        };
        if exec.dry_run {
            println!("  [dry-run] $ kill -TERM {pid}   ({name})");
            continue;
        }
        if running(pid, name) {
            println!("  stopping {name} (pid {pid})");
            stop(pid, name, grace);
        } else {
            println!("  {name} (pid {pid}) is not running");
        }
        state.remove(key);
    }
    for step in [Step::Backend, Step::Worker, Step::Verify] {
        state.mark_undone(step);
    }
    state.remove("verified_pids");
    state.save()?;
    println!("stopped; the database and state file are kept (re-deploy with the same command)");
    Ok(())
}

fn pids(state: &State) -> Option<String> {
    Some(format!(
        "{}+{}",
        state.get_u64("api_pid")?,
        state.get_u64("worker_pid")?
    ))
}

/// Whether `pid` is alive and is `name` (read from /proc, so a reused pid is not ours).
pub fn running(pid: u32, name: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie (state Z) has exited: only its parent has not reaped it yet.
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    !zombie && String::from_utf8_lossy(program).ends_with(name)
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
fn stop(pid: u32, name: &str, grace: Duration) {
    if !running(pid, name) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while running(pid, name) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if running(pid, name) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The server URL with its database replaced by `name`.
pub fn with_database(server: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, rest) = server
        .split_once("://")
        .context("DATABASE_URL is not a postgres:// URL")?;
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, q)| q)),
        None => (
            rest.split('?').next().unwrap_or(rest),
            rest.split_once('?').map(|(_, q)| q),
        ),
    };
    Ok(match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    })
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_in_the_url() {
        assert_eq!(
            with_database("postgres://root@127.0.0.1:5432/test", "x").expect("url"),
            "postgres://root@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "x").expect("url"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").expect("url"),
            "postgres://h/x"
        );
    }
}
