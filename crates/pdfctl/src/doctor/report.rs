//! The doctor's findings: each check says ok, warn or fail, what it saw, and the fix; printed
//! as text or JSON with every known secret scrubbed out.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Not checked, because something it needs is missing (said in `saw`).
    Skip,
    Warn,
    Fail,
}

impl Level {
    const fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Skip => "skip",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// env, database, redis, queue or api.
    pub section: &'static str,
    /// e.g. `database.reachable`.
    pub name: String,
    pub level: Level,
    /// What was seen.
    pub saw: String,
    /// What to do; absent when nothing needs doing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Collects checks for one section.
#[derive(Debug)]
pub struct Section {
    name: &'static str,
    pub checks: Vec<Check>,
}

impl Section {
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            checks: Vec::new(),
        }
    }

    pub fn ok(&mut self, check: &str, saw: impl Into<String>) {
        self.push(check, Level::Ok, saw.into(), None);
    }

    pub fn skip(&mut self, check: &str, saw: impl Into<String>) {
        self.push(check, Level::Skip, saw.into(), None);
    }

    pub fn warn(&mut self, check: &str, saw: impl Into<String>, fix: impl Into<String>) {
        self.push(check, Level::Warn, saw.into(), Some(fix.into()));
    }

    pub fn fail(&mut self, check: &str, saw: impl Into<String>, fix: impl Into<String>) {
        self.push(check, Level::Fail, saw.into(), Some(fix.into()));
    }

    fn push(&mut self, check: &str, level: Level, saw: String, fix: Option<String>) {
        self.checks.push(Check {
            section: self.name,
            name: format!("{}.{check}", self.name),
            level,
            saw,
            fix,
        });
    }
}

/// Every check, and the secrets none of them may show.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    secrets: Vec<String>,
}

impl Report {
    pub fn add(&mut self, section: Section) {
        self.checks.extend(section.checks);
    }

    /// Registers a value that must never be printed (passwords, the JWT secret). Short values
    /// are ignored: scrubbing "a" everywhere would garble the report, and they are not secret
    /// enough to matter (the env check fails them anyway).
    pub fn secret(&mut self, value: &str) {
        if value.len() >= 4 {
            self.secrets.push(value.to_owned());
        }
    }

    /// Passwords of a URL, from its userinfo and a `password=` query parameter.
    pub fn secret_url(&mut self, raw: &str) {
        if let Ok(url) = url::Url::parse(raw) {
            if let Some(password) = url.password() {
                self.secret(password);
                if let Ok(decoded) = urlencoding_decode(password) {
                    self.secret(&decoded);
                }
            }
            for (key, value) in url.query_pairs() {
                if key.eq_ignore_ascii_case("password") {
                    self.secret(&value);
                }
            }
        }
    }

    #[must_use]
    pub fn worst(&self) -> Level {
        self.checks
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }

    /// The checks with every secret replaced by `***`.
    #[must_use]
    pub fn scrubbed(&self) -> Vec<Check> {
        self.checks
            .iter()
            .map(|c| Check {
                saw: self.scrub(&c.saw),
                fix: c.fix.as_deref().map(|f| self.scrub(f)),
                ..c.clone()
            })
            .collect()
    }

    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        let checks = self.scrubbed();
        let count = |level| checks.iter().filter(|c| c.level == level).count();
        serde_json::json!({
            "ok": self.worst() != Level::Fail,
            "summary": {
                "ok": count(Level::Ok),
                "warn": count(Level::Warn),
                "fail": count(Level::Fail),
                "skip": count(Level::Skip),
            },
            "checks": checks,
        })
    }

    #[must_use]
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut section = "";
        let checks = self.scrubbed();
        for c in &checks {
            if c.section != section {
                section = c.section;
                let _ = writeln!(out, "{section}");
            }
            let _ = writeln!(out, "  [{:<4}] {:<28} {}", c.level.label(), c.name, c.saw);
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "         {:<28} fix: {fix}", "");
            }
        }
        let count = |level| checks.iter().filter(|c| c.level == level).count();
        let _ = writeln!(
            out,
            "{} ok, {} warnings, {} failures, {} skipped",
            count(Level::Ok),
            count(Level::Warn),
            count(Level::Fail),
            count(Level::Skip)
        );
        out
    }
}

/// Percent-decoding for URL passwords, so a password with `@` or `/` is scrubbed in both forms.
fn urlencoding_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'%', Some(&h), Some(&l)) = (bytes[i], bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_output() {
        let mut report = Report::default();
        report.secret_url("postgres://u:p%40ssw0rd@db.example.com/x?password=other-secret");
        report.secret("a-jwt-secret-of-some-length");
        let mut s = Section::new("database");
        s.fail(
            "reachable",
            "postgres://u:p%40ssw0rd@db: p@ssw0rd other-secret a-jwt-secret-of-some-length",
            "x",
        );
        report.add(s);
        let text = report.text() + &report.json().to_string();
        for secret in ["p%40ssw0rd", "p@ssw0rd", "other-secret", "a-jwt-secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(report.worst(), Level::Fail);
    }
}
