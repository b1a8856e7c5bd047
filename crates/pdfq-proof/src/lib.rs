//! Proof that pdfq holds under faults and load, with figures anyone can reproduce.
//!
//! - [`deployment`]: a distributed deployment on this machine: throwaway PostgreSQL and Redis
//!   (so restarting them disturbs nothing else), the `pdfq-api` binary and N `pdfq-worker`
//!   processes, each configurable through its environment, with their logs in one directory.
//! - [`procfs`]: what `/proc` says about a process (resident memory, children).
//! - [`netns`]: a network namespace of the suite's own and nftables rules inside it, to cut a
//!   port off without touching the machine's network.
//! - [`chaos`]: the chaos suite run by `cargo xtask chaos`.
//! - [`load`]: the load suite run by `cargo xtask load`.

pub mod chaos;
pub mod deployment;
pub mod load;
pub mod netns;
pub mod procfs;
