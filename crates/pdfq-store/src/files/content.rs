//! An upload's bytes as the store is given them: in memory, or in the temporary file the API
//! spooled a large upload to. A bucket write reads the file back a part at a time, so the
//! process never holds the whole upload for it.

use std::fmt;
use std::sync::Arc;

/// The bytes of a new job's file. Cheap to clone (the bytes are shared).
#[derive(Clone)]
pub struct FileContent(Source);

#[derive(Clone)]
enum Source {
    Memory(Arc<Vec<u8>>),
    Spooled { file: Arc<std::fs::File>, len: u64 },
}

impl FileContent {
    /// The `len` bytes written to `file` (read by position, so its cursor does not matter).
    #[must_use]
    pub fn spooled(file: std::fs::File, len: u64) -> Self {
        Self(Source::Spooled {
            file: Arc::new(file),
            len,
        })
    }

    #[must_use]
    pub fn len(&self) -> u64 {
        match &self.0 {
            Source::Memory(bytes) => bytes.len() as u64,
            Source::Spooled { len, .. } => *len,
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` bytes from `offset` (fewer at the end).
    pub async fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let end = offset.saturating_add(len as u64).min(self.len());
        let len = usize::try_from(end.saturating_sub(offset)).unwrap_or(0);
        match &self.0 {
            Source::Memory(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(len).min(bytes.len());
                Ok(bytes[start..end].to_vec())
            }
            Source::Spooled { file, .. } => {
                let file = Arc::clone(file);
                tokio::task::spawn_blocking(move || {
                    use std::os::unix::fs::FileExt as _;
                    let mut part = vec![0; len];
                    file.read_exact_at(&mut part, offset)?;
                    Ok(part)
                })
                .await
                .map_err(std::io::Error::other)?
            }
        }
    }

    /// Every byte, for a store that keeps the file in the database (bounded by
    /// MAX_UPLOAD_BYTES).
    pub async fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        match &self.0 {
            Source::Memory(bytes) => Ok(bytes.to_vec()),
            Source::Spooled { len, .. } => {
                self.read(0, usize::try_from(*len).unwrap_or(usize::MAX))
                    .await
            }
        }
    }
}

impl From<Vec<u8>> for FileContent {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Source::Memory(Arc::new(bytes)))
    }
}

impl fmt::Debug for FileContent {
    // The bytes would flood any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Source::Memory(_) => "memory",
            Source::Spooled { .. } => "spooled",
        };
        f.debug_struct("FileContent")
            .field("in", &kind)
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parts_read_the_same_from_memory_and_from_a_spool() {
        use std::io::Write as _;
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        for content in [
            FileContent::from(bytes.clone()),
            FileContent::spooled(file, bytes.len() as u64),
        ] {
            assert_eq!(content.len(), 10_000);
            assert_eq!(content.read(0, 4096).await.unwrap(), bytes[..4096]);
            assert_eq!(content.read(8192, 4096).await.unwrap(), bytes[8192..]);
            assert!(content.read(20_000, 10).await.unwrap().is_empty());
            assert_eq!(content.to_vec().await.unwrap(), bytes);
        }
    }
}
