//! Files in an S3-compatible bucket, through the Apache Arrow project's `object_store`.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};

use super::config::StorageConfig;
use crate::StoreError;

/// A bucket and a key prefix. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ObjectFiles {
    store: Arc<dyn ObjectStore>,
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

    pub(crate) async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes.to_vec()))
            .await
            .map(drop)
            .map_err(|e| file_store_error("writing", key, &e))
    }

    /// The object's bytes; `None` when there is no such object.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => found
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
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
        self.put(&key, b"pdfq").await?;
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

fn file_store_error(doing: &str, key: &str, e: &object_store::Error) -> StoreError {
    StoreError::FileStore(format!("{doing} {key}: {e}"))
}
