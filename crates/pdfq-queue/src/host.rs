//! The machine's name, as API and worker heartbeats report it.

/// `HOSTNAME` (set in containers) or /etc/hostname, else `localhost`.
#[must_use]
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// This process's resident memory, from `/proc/self/status` (`VmRSS`); `None` off Linux.
#[must_use]
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss_bytes(&status)
}

/// `VmRSS:   12345 kB` -> bytes.
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tpdfq-worker\nVmPeak:\t  99999 kB\nVmRSS:\t   2048 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_bytes(status), Some(2048 * 1024));
        assert_eq!(vm_rss_bytes("Name:\tx\n"), None);
        assert_eq!(vm_rss_bytes("VmRSS:\tlots\n"), None);
    }

    #[test]
    fn this_process_has_resident_memory_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = resident_memory_bytes().unwrap_or(0);
            assert!(rss > 1024 * 1024, "{rss}");
        }
    }
}
