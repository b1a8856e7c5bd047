//! Values that must never reach a log line or `Debug` output.

use std::fmt;

/// A secret string: `Debug` and `Display` print `[redacted]`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that needs it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// A connection URL whose password is replaced by `***` when shown. Text that does not parse as a
/// URL is shown as `[unparseable URL]`, since it may still contain a password.
#[must_use]
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // set_password only fails for URLs that cannot carry one, which we just saw one in.
                let _ = url.set_password(Some("***"));
            }
            let mut shown = url.to_string();
            // Passwords can also travel as a query parameter (libpq's `password=`).
            if let Some(query) = url.query() {
                let redacted: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect();
                if let Some(start) = shown.find('?') {
                    let end = shown.find('#').unwrap_or(shown.len());
                    shown.replace_range(start + 1..end, &redacted.join("&"));
                }
            }
            shown
        }
        Err(_) => "[unparseable URL]".to_owned(),
    }
}

/// A connection URL (database or Redis) that redacts its password in `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    #[must_use]
    pub fn new(url: String) -> Self {
        Self(url)
    }

    /// The full URL, password included, for the one place that connects with it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`.
    #[must_use]
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2-hunter2");
    }

    #[test]
    fn url_passwords_are_redacted() {
        let u = SecretUrl::new(
            "postgres://app:s%40cret@db.example.com:5432/pdfq?sslmode=require".into(),
        );
        let shown = format!("{u:?} {u}");
        assert!(!shown.contains("s%40cret"), "{shown}");
        assert!(shown.contains("postgres://app:***@db.example.com:5432/pdfq?sslmode=require"));
        assert_eq!(
            u.expose(),
            "postgres://app:s%40cret@db.example.com:5432/pdfq?sslmode=require"
        );
    }

    #[test]
    fn query_passwords_and_garbage_are_redacted() {
        let shown = redact_url("postgres://db/pdfq?user=a&password=topsecret&sslmode=disable");
        assert_eq!(
            shown,
            "postgres://db/pdfq?user=a&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("not a url with password hunter2"),
            "[unparseable URL]"
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
    }
}
