//! A network namespace of the suite's own, and nftables rules inside it: the chaos suite runs
//! its whole deployment in one so that cutting the database off (dropping its TCP traffic)
//! touches nothing else on the machine. Needs root, `ip` (iproute2) and `nft` (nftables).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The programs a namespace needs, found on this machine.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ip: PathBuf,
    pub nft: PathBuf,
}

impl Tools {
    /// Finds `ip` and `nft` and checks that we are root; the error names everything missing.
    pub fn find() -> anyhow::Result<Self> {
        let ip = find_program("ip");
        let nft = find_program("nft");
        let mut missing = Vec::new();
        if !is_root() {
            missing.push("root (the effective user is not 0)");
        }
        if ip.is_none() {
            missing.push("`ip` (Debian's iproute2)");
        }
        if nft.is_none() {
            missing.push("`nft` (Debian's nftables)");
        }
        match (ip, nft) {
            (Some(ip), Some(nft)) if missing.is_empty() => Ok(Self { ip, nft }),
            _ => bail!(
                "cutting the database off needs a network namespace of our own, which needs \
                 root, ip and nft; missing: {}",
                missing.join(", ")
            ),
        }
    }
}

/// A network namespace with only a loopback interface, deleted on drop together with every
/// process still in it (all of them started by the suite).
#[derive(Debug)]
pub struct Namespace {
    name: String,
    ip: PathBuf,
    deleted: bool,
}

impl Namespace {
    /// `ip netns add NAME` and `ip -n NAME link set lo up`.
    pub fn create(tools: &Tools, name: &str) -> anyhow::Result<Self> {
        run(Command::new(&tools.ip).args(["netns", "add", name]))
            .with_context(|| format!("creating the network namespace {name}"))?;
        let namespace = Self {
            name: name.to_owned(),
            ip: tools.ip.clone(),
            deleted: false,
        };
        run(Command::new(&tools.ip).args(["-n", name, "link", "set", "lo", "up"]))
            .context("bringing up the namespace's loopback")?;
        Ok(namespace)
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` to be run inside the namespace (`ip netns exec NAME program`); its children
    /// inherit the namespace.
    #[must_use]
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(&self.ip);
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// The processes inside the namespace.
    #[must_use]
    pub fn pids(&self) -> Vec<u32> {
        Command::new(&self.ip)
            .args(["netns", "pids", &self.name])
            .stderr(Stdio::null())
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Kills whatever still runs inside (SIGKILL, by process id), then deletes the namespace
    /// (its nftables rules go with it). Returns how many processes had to be killed.
    pub fn delete(&mut self) -> anyhow::Result<usize> {
        if self.deleted {
            return Ok(0);
        }
        let mut killed = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "processes {pids:?} in namespace {} would not die",
                    self.name
                );
            }
            for pid in pids {
                if let Ok(raw) = i32::try_from(pid)
                    && kill(Pid::from_raw(raw), Signal::SIGKILL).is_ok()
                {
                    killed += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        run(Command::new(&self.ip).args(["netns", "del", &self.name]))
            .with_context(|| format!("deleting the network namespace {}", self.name))?;
        self.deleted = true;
        Ok(killed)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = self.delete() {
            eprintln!("pdfq-chaos: {e:#}");
        }
    }
}

/// Name of the nftables table the suite adds inside its namespace.
const TABLE: &str = "pdfq_chaos";

/// TCP to and from one port dropped (both directions, so established connections hang as on
/// a broken network rather than being refused), in the current network namespace. Lifted on
/// drop. Only ever used inside the suite's own namespace.
#[derive(Debug)]
pub struct PortCut {
    nft: PathBuf,
    port: u16,
    lifted: bool,
}

impl PortCut {
    pub fn start(nft: &Path, port: u16) -> anyhow::Result<Self> {
        let port_text = port.to_string();
        run(Command::new(nft).args(["add", "table", "inet", TABLE]))?;
        let cut = Self {
            nft: nft.to_owned(),
            port,
            lifted: false,
        };
        for (chain, hook) in [("out", "output"), ("in", "input")] {
            run(Command::new(nft).args([
                "add", "chain", "inet", TABLE, chain, "{", "type", "filter", "hook", hook,
                "priority", "0", ";", "policy", "accept", ";", "}",
            ]))?;
            for direction in ["dport", "sport"] {
                run(Command::new(nft).args([
                    "add", "rule", "inet", TABLE, chain, "tcp", direction, &port_text, "drop",
                ]))?;
            }
        }
        Ok(cut)
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn lift(&mut self) -> anyhow::Result<()> {
        if !self.lifted {
            run(Command::new(&self.nft).args(["delete", "table", "inet", TABLE]))?;
            self.lifted = true;
        }
        Ok(())
    }
}

impl Drop for PortCut {
    fn drop(&mut self) {
        if let Err(e) = self.lift() {
            eprintln!(
                "pdfq-chaos: could not lift the cut of port {}: {e:#}",
                self.port
            );
        }
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `name` on PATH, or in /usr/sbin and /sbin (often missing from a non-root PATH).
#[must_use]
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether the effective user is root, from `/proc/self/status`.
#[must_use]
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .is_some_and(|euid| euid == "0")
    })
}
