//! A Redis key prefix of its own for each test; its keys are deleted when the test ends.

use redis::Commands;

/// The Redis server tests use.
#[must_use]
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix that exists for one test. Every key under it is deleted when this value drops.
#[derive(Debug)]
pub struct TestRedis {
    pub url: String,
    /// `pdfq-test-<random>`: pass it as the key prefix of whatever the test builds.
    pub prefix: String,
}

impl TestRedis {
    /// A fresh prefix on the test Redis, after checking that the server answers.
    #[must_use]
    pub fn new() -> Self {
        let url = redis_url();
        let mut conn = connect(&url);
        let pong: redis::RedisResult<String> = redis::cmd("PING").query(&mut conn);
        if let Err(e) = pong {
            panic!("Redis at {url} does not answer PING: {e}");
        }
        Self {
            url,
            prefix: format!("pdfq-test-{}", crate::unique_suffix()),
        }
    }

    /// Every key under this prefix, sorted.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let mut conn = connect(&self.url);
        let mut keys: Vec<String> = conn
            .scan_match::<_, String>(format!("{}:*", self.prefix))
            .map(|iter| iter.filter_map(Result::ok).collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }
}

impl Default for TestRedis {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        let mut conn = connect(&self.url);
        for batch in keys.chunks(500) {
            let _: redis::RedisResult<()> = conn.del(batch);
        }
    }
}

fn connect(url: &str) -> redis::Connection {
    let client = redis::Client::open(url)
        .unwrap_or_else(|e| panic!("TEST_REDIS_URL {url:?} is not a Redis URL: {e}"));
    client.get_connection().unwrap_or_else(|e| {
        panic!(
            "Redis is not reachable at {url} ({e}). Run the tests with `cargo xtask ci`, which \
             starts a throwaway server when none is running, or set TEST_REDIS_URL."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_isolated_and_cleaned_up() {
        let a = TestRedis::new();
        let b = TestRedis::new();
        assert_ne!(a.prefix, b.prefix);
        let mut conn = connect(&a.url);
        let _: () = conn.set(format!("{}:x", a.prefix), 1).unwrap();
        let _: () = conn.set(format!("{}:y", a.prefix), 2).unwrap();
        assert_eq!(
            a.keys(),
            vec![format!("{}:x", a.prefix), format!("{}:y", a.prefix)]
        );
        assert!(
            b.keys().is_empty(),
            "another test's prefix must not see these keys"
        );
        let prefix = a.prefix.clone();
        drop(a);
        let left: Vec<String> = conn.keys(format!("{prefix}:*")).unwrap();
        assert!(left.is_empty(), "keys left behind: {left:?}");
    }
}
