//! The state file (.pdfq-deploy/state-*.json, kept out of git): which steps are done, where the
//! last run stopped, and what the steps learnt or generated (project id, pids, ports, the
//! generated JWT secret), so an interrupted deploy resumes with the same values.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::Step;

#[derive(Debug)]
pub struct State {
    path: PathBuf,
    data: Map<String, Value>,
    /// A dry run reads the state but never writes it.
    read_only: bool,
}

impl State {
    pub fn load(path: &Path, read_only: bool) -> anyhow::Result<Self> {
        let data = match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()))?
            {
                Value::Object(map) => map,
                _ => anyhow::bail!("{} is not a JSON object: delete it", path.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            data,
            read_only,
        })
    }

    /// Writes the file atomically (a temporary file renamed over it), mode 0600: it may hold
    /// the generated JWT secret.
    pub fn save(&self) -> anyhow::Result<()> {
        if self.read_only {
            return Ok(());
        }
        let dir = self
            .path
            .parent()
            .context("state file without a directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&Value::Object(self.data.clone()))?;
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
        }
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.data.get(key).and_then(Value::as_u64)
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.data.insert(key.to_owned(), value.into());
    }

    pub fn remove(&mut self, key: &str) {
        self.data.remove(key);
    }

    pub fn mark_done(&mut self, step: Step) {
        let done = self
            .data
            .entry("done")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(done) = done {
            done.insert(step.name().to_owned(), Value::Bool(true));
        }
        if self.failed_step() == Some(step.name()) {
            self.data.remove("failed_at");
        }
    }

    pub fn mark_undone(&mut self, step: Step) {
        if let Some(done) = self.data.get_mut("done").and_then(Value::as_object_mut) {
            done.remove(step.name());
        }
    }

    pub fn mark_failed(&mut self, step: Step) {
        self.data
            .insert("failed_at".to_owned(), Value::from(step.name()));
    }

    pub fn failed_step(&self) -> Option<&str> {
        self.get("failed_at")
    }
}
