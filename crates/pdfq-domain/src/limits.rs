//! Validated configuration values, parsed from the text people write in environment variables.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A value that could not be parsed; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseValueError(String);

/// A number of events per window, written like `10/hour` or `100/minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl RateLimit {
    /// The original design's upload limit: 10 per hour per user.
    pub const DEFAULT_UPLOADS: Self = Self {
        max: 10,
        window: Duration::from_secs(3600),
    };
}

impl FromStr for RateLimit {
    type Err = ParseValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ParseValueError(format!(
                "expected a rate like 10/hour or 100/minute (per second, minute, hour or day), got {s:?}"
            ))
        };
        let (count, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let max: u32 = count.trim().parse().map_err(|_| bad())?;
        if max == 0 {
            return Err(ParseValueError(format!(
                "a rate limit of 0 would refuse everything, got {s:?}"
            )));
        }
        let secs = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hr" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        Ok(Self {
            max,
            window: Duration::from_secs(secs),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.window.as_secs() {
            1 => "second",
            60 => "minute",
            3600 => "hour",
            86_400 => "day",
            other => return write!(f, "{}/{}s", self.max, other),
        };
        write!(f, "{}/{unit}", self.max)
    }
}

/// Parses a duration: a plain number of seconds (`1500`) or a number with a unit
/// (`500ms`, `30s`, `25m`, `1h`, `2d`). Zero is allowed; callers reject it where it makes no sense.
pub fn parse_duration(s: &str) -> Result<Duration, ParseValueError> {
    let text = s.trim();
    let bad = || {
        ParseValueError(format!(
            "expected a duration such as 30, 30s, 25m, 1h or 500ms, got {s:?}"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let millis_per_unit: u64 = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1000,
        "ms" => 1,
        "m" | "min" | "mins" => 60_000,
        "h" | "hr" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// Parses a byte size: a plain number of bytes or a number with KB, MB, GB (powers of 1024;
/// KiB, MiB, GiB are accepted too).
pub fn parse_bytes(s: &str) -> Result<u64, ParseValueError> {
    let text = s.trim();
    let bad = || {
        ParseValueError(format!(
            "expected a size such as 52428800, 50MB or 1GiB, got {s:?}"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!(
            "10/hour".parse::<RateLimit>().unwrap(),
            RateLimit::DEFAULT_UPLOADS
        );
        let r: RateLimit = " 100 / minute ".parse().unwrap();
        assert_eq!((r.max, r.window.as_secs()), (100, 60));
        assert_eq!("5/d".parse::<RateLimit>().unwrap().window.as_secs(), 86_400);
        assert_eq!(r.to_string(), "100/minute");
        for bad in ["10", "ten/hour", "10/fortnight", "0/hour", "-1/hour", ""] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1500").unwrap(), Duration::from_secs(1500));
        assert_eq!(parse_duration("25m").unwrap(), Duration::from_secs(1500));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "m", "1.5h", "-3", "10 parsecs", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(parse_bytes("52428800").unwrap(), 50 << 20);
        assert_eq!(parse_bytes("50MB").unwrap(), 50 << 20);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("99999999999999GB").is_err());
    }
}

/// Folds a multi-line command-line error (as clap renders it) into the one line that start-up
/// prints: the first line without its `error: ` label, followed by the lines that list what is
/// missing, without the usage and help hints.
#[must_use]
pub fn one_line_error(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect();
    let joined = parts.join(" ");
    joined.strip_prefix("error: ").unwrap_or(&joined).to_owned()
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line_error;

    #[test]
    fn clap_errors_fold_into_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  --database-url <DATABASE_URL>\n\nUsage: pdfq-api --database-url <DATABASE_URL>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_error(rendered),
            "the following required arguments were not provided: --database-url <DATABASE_URL>"
        );
    }
}
