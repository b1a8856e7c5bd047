//! Files in an S3-compatible bucket, through the Apache Arrow project's `object_store`.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, MultipartId, ObjectStore, PutPayload, RetryConfig,
};

use super::FileContent;
use super::config::StorageConfig;
use crate::StoreError;

/// The size of one part of a multipart upload: S3's smallest (every part but the last must be
/// at least 5 MiB). A file up to this size is written with one PUT; a larger one part by part,
/// with at most two parts in memory (one being sent, the next being read).
pub(crate) const PART_BYTES: u64 = 5 * 1024 * 1024;

/// A bucket and a key prefix. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ObjectFiles {
    // The S3 client itself, not `dyn ObjectStore`: multipart uploads need its MultipartStore
    // side, whose upload ids the sweeper can abort.
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
}

impl ObjectFiles {
    /// The bucket of `config.storage_url` (`s3://BUCKET/PREFIX`). Settings the config leaves
    /// unset are taken from the usual AWS variables (AWS_ENDPOINT, AWS_SESSION_TOKEN...).
    pub fn from_config(config: &StorageConfig) -> Result<Self, String> {
        let url = url::Url::parse(config.storage_url.trim()).map_err(|e| {
            format!("STORAGE_URL is not a URL ({e}): expected `database` or s3://BUCKET/PREFIX")
        })?;
        if url.scheme() != "s3" {
            return Err(format!(
                "STORAGE_URL scheme {:?} is not supported: expected `database` or s3://BUCKET/PREFIX",
                url.scheme()
            ));
        }
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or("STORAGE_URL names no bucket: expected s3://BUCKET/PREFIX")?
            .to_owned();
        let prefix = url.path().trim_matches('/').to_owned();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        let endpoint = config
            .s3_endpoint
            .clone()
            .or_else(|| builder.get_config_value(&AmazonS3ConfigKey::Endpoint));
        if let Some(endpoint) = &endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.s3_region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.s3_access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.s3_secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            // A store that is down fails an upload within seconds (503), not after the
            // library's default three minutes of retries.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
            })
            .with_client_options(
                ClientOptions::new()
                    // An http:// endpoint is a local or private server named on purpose.
                    .with_allow_http(
                        endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    )
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120)),
            )
            .build()
            .map_err(|e| format!("STORAGE_URL {}: {e}", config.storage_url))?;
        Ok(Self {
            store: Arc::new(store),
            bucket,
            prefix,
            endpoint,
        })
    }

    /// `s3://bucket/prefix at endpoint`.
    #[must_use]
    pub fn describe(&self) -> String {
        let at = self
            .endpoint
            .as_deref()
            .map_or_else(String::new, |e| format!(" at {e}"));
        format!("s3://{}/{}{at}", self.bucket, self.prefix)
    }

    /// The key of job `id`'s file under the prefix.
    pub(crate) fn key_for(&self, id: pdfq_domain::JobId) -> String {
        if self.prefix.is_empty() {
            format!("jobs/{id}.pdf")
        } else {
            format!("{}/jobs/{id}.pdf", self.prefix)
        }
    }

    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| file_store_error("writing", key, &e))
    }

    /// Starts a multipart upload of `key`; nothing is visible until it completes.
    pub(crate) async fn start_upload(&self, key: &str) -> Result<Upload<'_>, StoreError> {
        let path = Path::from(key);
        let id = self
            .store
            .create_multipart(&path)
            .await
            .map_err(|e| file_store_error("starting an upload of", key, &e))?;
        Ok(Upload {
            files: self,
            path,
            id,
        })
    }

    /// Aborts the multipart upload `id` of `key`, dropping the parts it holds; one already
    /// completed or aborted is fine.
    pub(crate) async fn abort_upload(&self, key: &str, id: &str) -> Result<(), StoreError> {
        match self
            .store
            .abort_multipart(&Path::from(key), &id.to_owned())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(file_store_error("aborting the upload of", key, &e)),
        }
    }

    /// The object's bytes; `None` when there is no such object.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => found
                .bytes()
                .await
                // The body was collected into one buffer: taken over, not copied again.
                .map(|b| Some(Vec::from(b)))
                .map_err(|e| file_store_error("reading", key, &e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(file_store_error("reading", key, &e)),
        }
    }

    /// Writes, reads back and deletes a small object under the prefix: the bucket exists and
    /// the credentials may do what uploads and the sweeper do.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let key = if self.prefix.is_empty() {
            "pdfq-doctor-probe".to_owned()
        } else {
            format!("{}/pdfq-doctor-probe", self.prefix)
        };
        self.put(&key, b"pdfq".to_vec()).await?;
        self.get(&key).await?;
        self.delete(&key).await
    }

    /// Deletes the object; one already gone is fine.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(file_store_error("deleting", key, &e)),
        }
    }
}

/// A multipart upload under way.
#[derive(Debug)]
pub(crate) struct Upload<'a> {
    files: &'a ObjectFiles,
    path: Path,
    id: MultipartId,
}

impl Upload<'_> {
    /// The upload's id, which the sweeper needs to abort it if this process dies first.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Writes `content` part by part and completes the object. On any failure the upload is
    /// aborted, so that no part of it is kept.
    pub(crate) async fn write(self, content: &FileContent) -> Result<(), StoreError> {
        let written = self.write_parts(content).await;
        if written.is_err() {
            self.abort().await;
        }
        written
    }

    /// Aborts the upload; a failure is left to the sweeper, which has the upload's id.
    pub(crate) async fn abort(&self) {
        if let Err(e) = self.files.abort_upload(self.path.as_ref(), &self.id).await {
            tracing::warn!(error = %e, "aborting a failed upload failed; the sweeper will");
        }
    }

    async fn write_parts(&self, content: &FileContent) -> Result<(), StoreError> {
        let key = self.path.as_ref();
        let count = content.len().div_ceil(PART_BYTES).max(1);
        let read = |index: u64| async move {
            content
                .read(index * PART_BYTES, PART_BYTES as usize)
                .await
                .map_err(|e| StoreError::FileStore(format!("reading the upload of {key}: {e}")))
        };
        let mut parts = Vec::new();
        let mut next = read(0).await?;
        for index in 0..count {
            let sending = self.files.store.put_part(
                &self.path,
                &self.id,
                usize::try_from(index).unwrap_or(usize::MAX),
                PutPayload::from(std::mem::take(&mut next)),
            );
            // The next part is read from the spool while this one is sent.
            let reading = async {
                if index + 1 < count {
                    read(index + 1).await
                } else {
                    Ok(Vec::new())
                }
            };
            let (sent, read_next) = tokio::join!(sending, reading);
            parts.push(sent.map_err(|e| file_store_error("writing", key, &e))?);
            next = read_next?;
        }
        self.files
            .store
            .complete_multipart(&self.path, &self.id, parts)
            .await
            .map(drop)
            .map_err(|e| file_store_error("completing", key, &e))
    }
}

fn file_store_error(doing: &str, key: &str, e: &object_store::Error) -> StoreError {
    StoreError::FileStore(format!("{doing} {key}: {e}"))
}
