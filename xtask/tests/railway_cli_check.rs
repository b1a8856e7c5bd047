//! `cargo xtask railway-cli-check` against stand-in binaries (the real CLI takes long to build;
//! it is run by hand): a usage error (clap's exit status 2) fails the check and names the
//! command line; "not logged in" (exit status 1) passes.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is the test's failure"
)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A `railway` that answers --version, then exits 2 with clap's message when an argument
/// contains `rejected`, else 1 as when nobody is logged in.
fn stand_in(name: &str, rejected: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pdfq-cli-check-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("railway");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then echo 'railway 5.43.1'; exit 0; fi\n\
             for a in \"$@\"; do case \"$a\" in *{rejected}*) \
             echo \"error: unexpected argument '$a' found\" >&2; exit 2;; esac; done\n\
             cat >/dev/null\n\
             echo 'Unauthorized. Please login with `railway login`' >&2; exit 1\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn check(railway: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["railway-cli-check", "--timeout", "10", "--railway"])
        .arg(railway)
        .output()
        .unwrap()
}

#[test]
fn a_flag_the_cli_rejects_fails_the_check_and_is_named() {
    let railway = stand_in("renamed", "--skip-deploys");
    let out = check(&railway);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("USAGE ERROR  railway variables --service pdfq-api --set"),
        "{stdout}"
    );
    assert!(stderr.contains("1 command line(s)"), "{stderr}");
    let _ = std::fs::remove_dir_all(railway.parent().unwrap());
}

#[test]
fn not_logged_in_everywhere_passes() {
    let railway = stand_in("accepted", "--no-such-flag");
    let out = check(&railway);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("every command line of the deploy"),
        "{stdout}"
    );
    assert!(
        stdout.contains("railway environment edit --json"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(railway.parent().unwrap());
}
