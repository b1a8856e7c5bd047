//! Where cargo puts what it builds: `$CARGO_TARGET_DIR` when set, else `target/` in the
//! repository. Every task that runs a binary it just built looks there.

use std::path::{Path, PathBuf};

/// The target directory for a build started from `root`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        }
        None => root.join("target"),
    }
}
