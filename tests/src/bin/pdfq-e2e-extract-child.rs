//! The isolated extraction child of the end-to-end tests' in-process worker (the worker runs
//! extraction in a separate process; a test binary cannot re-execute itself as one).

fn main() -> std::process::ExitCode {
    pdfq_extract::child_main()
}
