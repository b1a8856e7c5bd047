//! A fresh bucket per test on the S3-compatible server named by `TEST_S3_URL` (its endpoint,
//! e.g. `http://127.0.0.1:9090`; `cargo xtask ci` starts moto's server and sets it).
//!
//! Without `TEST_S3_URL` the tests that need a bucket are skipped with a message; with
//! `PDFQ_REQUIRE_S3=1` (set by `cargo xtask ci`) a missing server fails them instead.

/// The endpoint of the S3-compatible test server.
pub const S3_URL_ENV: &str = "TEST_S3_URL";
/// Set to 1 to fail rather than skip when there is no S3 server.
pub const REQUIRE_ENV: &str = "PDFQ_REQUIRE_S3";

/// One bucket of its own on the test server.
#[derive(Debug, Clone)]
pub struct TestBucket {
    pub endpoint: String,
    pub bucket: String,
}

impl TestBucket {
    /// A new empty bucket, or `None` (after saying why) when no server is configured.
    ///
    /// # Panics
    /// When `PDFQ_REQUIRE_S3=1` and there is no server, or the server refuses the bucket.
    pub async fn create(test: &str) -> Option<Self> {
        let Ok(endpoint) = std::env::var(S3_URL_ENV) else {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "{test}: {S3_URL_ENV} is unset but {REQUIRE_ENV}=1: the S3 tests must run"
            );
            eprintln!(
                "{test}: skipped: set {S3_URL_ENV} to an S3-compatible endpoint (`cargo xtask ci` starts one)"
            );
            return None;
        };
        Some(Self::create_at(&endpoint, test).await)
    }

    /// A new empty bucket on the server at `endpoint`.
    ///
    /// # Panics
    /// When the server cannot be reached or refuses the bucket.
    pub async fn create_at(endpoint: &str, test: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let bucket = format!("pdfq-test-{}", crate::unique_suffix());
        // moto and MinIO in their test setups accept any signature for a bucket creation.
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{test}: cannot reach {endpoint}: {e}"));
        assert!(
            created.status().is_success(),
            "{test}: creating bucket {bucket}: {}",
            created.status()
        );
        Self { endpoint, bucket }
    }

    /// `s3://bucket/prefix`, for STORAGE_URL.
    #[must_use]
    pub fn storage_url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The environment a pdfq process needs to keep its files in this bucket.
    #[must_use]
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_URL", self.storage_url(prefix)),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ]
    }

    /// The keys of every object in the bucket (a plain ListObjectsV2; moto answers unsigned).
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn keys(&self) -> Vec<String> {
        let body = reqwest::get(format!("{}/{}?list-type=2", self.endpoint, self.bucket))
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("listing the bucket")
            .text()
            .await
            .expect("the listing's body");
        body.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    /// The ids of the multipart uploads started and neither completed nor aborted (a plain
    /// ListMultipartUploads; moto answers unsigned).
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn unfinished_uploads(&self) -> Vec<String> {
        let body = reqwest::get(format!("{}/{}?uploads", self.endpoint, self.bucket))
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("listing the bucket's uploads")
            .text()
            .await
            .expect("the listing's body");
        body.split("<UploadId>")
            .skip(1)
            .filter_map(|rest| rest.split("</UploadId>").next())
            .map(str::to_owned)
            .collect()
    }
}
