//! A reader that stops early (`pdfctl ... | head`) is a normal end: pdfctl exits quietly with
//! success instead of panicking or printing "Broken pipe".
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with EPIPE. Restoring the default
//! signal would need unsafe code and would kill pdfctl when an isolated extraction child dies
//! while its input is written (pdfq-extract relies on getting EPIPE then). So EPIPE is handled
//! where it surfaces: errors returned by commands, and the panic `print!`/`println!` raise.

use std::io::ErrorKind;

/// Whether `error` comes from writing to a closed pipe.
#[must_use]
pub fn caused(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
    })
}

/// Makes the panic of `print!`/`println!` on a closed stdout a quiet, successful exit; every
/// other panic goes to the previous hook.
pub fn exit_quietly_on_closed_stdout() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // std's print macros panic with "failed printing to stdout: {io error}".
        let broken_pipe = std::io::Error::from(ErrorKind::BrokenPipe).to_string();
        if message.starts_with("failed printing to stdout")
            && (message.contains(&broken_pipe) || message.contains("os error 32"))
        {
            std::process::exit(0);
        }
        previous(info);
    }));
}
