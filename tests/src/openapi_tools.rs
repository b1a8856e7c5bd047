//! The third-party OpenAPI tools the client tests run, pinned: openapi-spec-validator and
//! openapi-python-client from PyPI, openapi-typescript and typescript from npm. Each set is
//! installed on first use into a directory under the target directory and reused after; an
//! install goes to a temporary directory renamed into place, so a cut-short one is never used.
//!
//! A tool that cannot be had is [`Unavailable`] (the test says so and skips) only when a program
//! is missing from PATH or the registry does not answer (asked before installing); an install
//! that fails while the registry answers panics. With
//! `PDFQ_REQUIRE_OPENAPI_TOOLS=1` (set by `cargo xtask ci`) unavailable tools fail the test too.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, PoisonError};

/// npm packages: the type generator and the compiler that checks its output.
pub const NPM_PACKAGES: &[&str] = &["openapi-typescript@7.13.0", "typescript@5.9.3"];
/// PyPI packages: the validator and the client generator (which brings httpx and attrs, the
/// generated client's own dependencies).
pub const PYPI_PACKAGES: &[&str] = &[
    "openapi-spec-validator==0.9.0",
    "openapi-python-client==0.29.1",
];
/// Makes [`Unavailable`] a failure (CI, where the registries are reachable).
pub const REQUIRE_ENV: &str = "PDFQ_REQUIRE_OPENAPI_TOOLS";

/// Why a tool cannot be used here.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl Unavailable {
    /// Prints the skip, or panics when [`REQUIRE_ENV`] is set.
    pub fn skip(self, test: &str) {
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            panic!("{test}: {} ({REQUIRE_ENV}=1 forbids skipping)", self.0);
        }
        eprintln!("SKIPPED {test}: {}", self.0);
    }
}

/// The npm packages, installed.
#[derive(Debug)]
pub struct NodeTools {
    dir: PathBuf,
}

impl NodeTools {
    /// Installs [`NPM_PACKAGES`] under `cache` unless they are there already.
    pub fn ensure(cache: &Path) -> Result<Self, Unavailable> {
        require_program("node", "apt-get install nodejs")?;
        require_program("npm", "apt-get install npm")?;
        let dir = cache.join(format!("npm-{}", key(NPM_PACKAGES)));
        install_once(
            &dir,
            |tmp| {
                let mut npm = Command::new("npm");
                npm.arg("install")
                    .arg("--prefix")
                    .arg(tmp)
                    .args([
                        "--no-audit",
                        "--no-fund",
                        "--fetch-timeout=30000",
                        "--fetch-retries=1",
                    ])
                    .args(NPM_PACKAGES);
                npm
            },
            || {
                Command::new("npm")
                    .args(["ping", "--fetch-timeout=15000", "--fetch-retries=0"])
                    .output()
            },
            "the npm registry",
        )?;
        Ok(Self { dir })
    }

    /// `node_modules/.bin/<name>`.
    #[must_use]
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("node_modules/.bin").join(name)
    }

    /// Where a script must sit for `import "openapi-typescript"` to resolve.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The PyPI packages, installed (`pip install --target`, so no virtualenv is needed).
#[derive(Debug)]
pub struct PythonTools {
    site: PathBuf,
}

impl PythonTools {
    /// Installs [`PYPI_PACKAGES`] under `cache` unless they are there already.
    pub fn ensure(cache: &Path) -> Result<Self, Unavailable> {
        require_program("python3", "apt-get install python3")?;
        let pip = Command::new("python3")
            .args(["-m", "pip", "--version"])
            .output();
        if !pip.is_ok_and(|o| o.status.success()) {
            return Err(Unavailable(
                "python3 has no pip (apt-get install python3-pip)".into(),
            ));
        }
        let site = cache.join(format!("pypi-{}", key(PYPI_PACKAGES)));
        install_once(
            &site,
            |tmp| {
                let mut pip = Command::new("python3");
                pip.args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--timeout", "30", "--retries", "1", "--target"])
                .arg(tmp)
                .args(PYPI_PACKAGES);
                pip
            },
            || {
                Command::new("python3")
                    .args([
                        "-m",
                        "pip",
                        "download",
                        "--no-deps",
                        "--quiet",
                        "--timeout",
                        "15",
                        "--retries",
                        "0",
                        "--disable-pip-version-check",
                        "--dest",
                    ])
                    .arg(tempfile::tempdir()?.path())
                    .arg(PYPI_PACKAGES[0])
                    .output()
            },
            "PyPI",
        )?;
        Ok(Self { site })
    }

    /// `python3`, with the installed packages (and `extra_path`) importable: their console
    /// scripts are not on PATH, so tools run as `python3 -m <module>`.
    #[must_use]
    pub fn python(&self, extra_path: Option<&Path>) -> Command {
        let mut paths = vec![self.site.clone()];
        paths.extend(extra_path.map(Path::to_path_buf));
        let mut python = Command::new("python3");
        python.env(
            "PYTHONPATH",
            std::env::join_paths(paths).expect("paths without ':'"),
        );
        python
    }
}

/// Runs `command`, panicking with its output unless it succeeds.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `Unavailable` unless `name` is an executable on PATH; `install` says how to get it.
pub fn require_program(name: &str, install: &str) -> Result<(), Unavailable> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    if found {
        Ok(())
    } else {
        Err(Unavailable(format!("`{name}` is not on PATH ({install})")))
    }
}

/// A directory name for a package list: the versions are in it, so a new pin installs afresh.
fn key(packages: &[&str]) -> String {
    packages
        .iter()
        .map(|p| p.replace(['@', '=', '/'], "_"))
        .collect::<Vec<_>>()
        .join("+")
}

fn install_once(
    dir: &Path,
    install: impl FnOnce(&Path) -> Command,
    reach_registry: impl FnOnce() -> std::io::Result<Output>,
    registry: &str,
) -> Result<(), Unavailable> {
    // Tests of one process install one at a time: they share the temporary directory's name.
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().expect("a cache directory");
    std::fs::create_dir_all(parent).expect("create the tool cache directory");
    let tmp = parent.join(format!(
        "{}.partial-{}",
        dir.file_name().and_then(OsStr::to_str).unwrap_or("tools"),
        std::process::id()
    ));
    // Asked first, quickly: an unreachable registry makes npm and pip retry for minutes.
    if !reach_registry().is_ok_and(|o| o.status.success()) {
        return Err(Unavailable(format!(
            "{registry} is not reachable, so the tools cannot be installed into {dir:?} \
             (point npm_config_registry or PIP_INDEX_URL at a mirror that is)"
        )));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let mut command = install(&tmp);
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        panic!(
            "{command:?} failed although {registry} answers:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Another test process may have finished first: its copy is as good as ours.
    if std::fs::rename(&tmp, dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(dir.is_dir(), "could not move {tmp:?} to {dir:?}");
    }
    Ok(())
}
