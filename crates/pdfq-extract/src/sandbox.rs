//! The isolated child's system-call allow-list (seccomp), installed once its input is read and
//! before a byte of it is parsed. Parsing needs memory, its pipes, the clock, randomness for
//! hash maps and read-only files (CID-to-Unicode tables); anything else (a socket, a new
//! process, exec, ptrace, a file opened for writing, executable memory) fails with EPERM.
//!
//! It is installed by the child rather than between fork and exec: the filter fits the parser,
//! not the dynamic loader that runs before it.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// System calls allowed whatever their arguments.
const ALLOWED: &[libc::c_long] = &[
    // Pipes, the files it may read, and diagnostics.
    libc::SYS_read,
    libc::SYS_pread64,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_close,
    libc::SYS_lseek,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    // Memory.
    libc::SYS_brk,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    // Time, randomness (hash-map seeds), locks.
    libc::SYS_clock_gettime,
    libc::SYS_getrandom,
    libc::SYS_futex,
    libc::SYS_sched_yield,
    // Panics, stack-overflow reports and abort.
    libc::SYS_sigaltstack,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_tgkill,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// The filter as BPF for this machine's architecture.
pub(crate) fn program() -> Result<BpfProgram, String> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("seccomp does not support {}: {e}", std::env::consts::ARCH))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|&call| (call, Vec::new())).collect();
    let rule = |mask: libc::c_int| {
        // arg 2 is mmap's and mprotect's `prot` and openat's `flags`.
        let masked_clear = SeccompCondition::new(
            2,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(u64::from(mask.unsigned_abs())),
            0,
        )?;
        SeccompRule::new(vec![masked_clear])
    };
    let not_executable = rule(libc::PROT_EXEC).map_err(|e| e.to_string())?;
    let read_only = rule(libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC)
        .map_err(|e| e.to_string())?;
    rules.insert(libc::SYS_mmap, vec![not_executable.clone()]);
    rules.insert(libc::SYS_mprotect, vec![not_executable]);
    rules.insert(libc::SYS_openat, vec![read_only]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM.unsigned_abs()),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// Confines the calling thread (the child is single-threaded: the whole child) for good.
pub(crate) fn install() -> Result<(), String> {
    let program = program()?;
    seccompiler::apply_filter(&program).map_err(|e| format!("installing seccomp: {e}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// Runs `f` on a new thread confined by the filter (seccomp applies to one thread here,
    /// so the test process is untouched).
    fn confined<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            install().unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_parser_keeps_what_it_needs() {
        let status = confined(|| {
            let big = vec![7u8; 64 << 20];
            assert_eq!(
                big.iter().map(|&b| u64::from(b)).sum::<u64>(),
                7 * (64 << 20)
            );
            let _ = std::collections::HashMap::<u32, u32>::new();
            let _ = std::time::Instant::now();
            let mut err = std::io::stderr();
            assert!(err.write_all(b"").is_ok());
            std::fs::read_to_string("/proc/thread-self/status").unwrap()
        });
        assert!(
            status.lines().any(|l| l == "Seccomp:\t2"),
            "the filter is not in place: {status}"
        );
    }

    #[test]
    fn network_processes_and_writable_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("pdfq-seccomp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("written");
        let target = file.clone();
        let refused = confined(move || {
            let errno = |e: std::io::Error| e.raw_os_error();
            (
                std::net::TcpListener::bind("127.0.0.1:0")
                    .map(drop)
                    .map_err(errno),
                std::process::Command::new("/bin/true")
                    .status()
                    .map(drop)
                    .map_err(errno),
                std::fs::File::create(&target).map(drop).map_err(errno),
            )
        });
        let eperm = Err(Some(libc::EPERM));
        assert_eq!(refused.0, eperm, "socket");
        assert_eq!(refused.1, eperm, "a new process");
        assert_eq!(refused.2, eperm, "a file opened for writing");
        assert!(!file.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
