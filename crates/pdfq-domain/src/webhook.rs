//! Webhooks: the events a user can subscribe to, and which URLs pdfq may call. The address
//! rule is here, once, for the API (at registration) and the worker (at each delivery, since
//! DNS can change in between).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

use crate::JobStatus;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Every event name, one per status a job can enter: `job.<status>`.
pub const EVENTS: [&str; 6] = [
    "job.pending",
    "job.processing",
    "job.retrying",
    "job.completed",
    "job.failed",
    "job.cancelled",
];

/// The event a job entering `status` sends.
#[must_use]
pub const fn event_of(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Pending => "job.pending",
        JobStatus::Processing => "job.processing",
        JobStatus::Retrying => "job.retrying",
        JobStatus::Completed => "job.completed",
        JobStatus::Failed => "job.failed",
        JobStatus::Cancelled => "job.cancelled",
    }
}

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("not a valid URL: {0}")]
    Malformed(String),
    #[error("the URL must be http or https, not {0}")]
    Scheme(String),
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the URL has no host")]
    NoHost,
    #[error(
        "{host} resolves to {addr}, a {kind} address; pdfq does not call internal networks (set WEBHOOK_ALLOW_PRIVATE=true to allow it)"
    )]
    Private {
        host: String,
        addr: IpAddr,
        kind: &'static str,
    },
    #[error("{host} does not resolve: {reason}")]
    Unresolvable { host: String, reason: String },
}

/// Parses a webhook URL: http or https, a host, no credentials, at most [`MAX_URL_LEN`].
pub fn parse_url(text: &str) -> Result<Url, UrlRefused> {
    if text.len() > MAX_URL_LEN {
        return Err(UrlRefused::TooLong);
    }
    let url = Url::parse(text).map_err(|e| UrlRefused::Malformed(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    if url.host().is_none() {
        return Err(UrlRefused::NoHost);
    }
    Ok(url)
}

/// The kind of internal address `addr` is, or `None` for a public one. Covers loopback,
/// private (RFC 1918), carrier-grade NAT, link-local (cloud metadata at 169.254.169.254),
/// unspecified, broadcast, documentation and benchmark ranges, IPv6 unique-local and
/// link-local, and IPv4 addresses wrapped in IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::`).
#[must_use]
pub fn internal_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else if ip.is_documentation() || (a == 198 && (18..20).contains(&b)) || (a == 192 && b == 0) {
        Some("reserved")
    } else {
        None
    }
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let segments = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if segments[0] & 0xffc0 == 0xfec0 {
        Some("site-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0; 6] {
        // NAT64 and the deprecated IPv4-compatible form both reach an IPv4 address.
        let [.., hi, lo] = segments;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        internal_v4(v4)
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        Some("documentation")
    } else {
        None
    }
}

/// Checks every address `host` resolved to: one internal address refuses the URL, since the
/// connection could go to any of them.
pub fn check_addresses(
    host: &str,
    addrs: impl IntoIterator<Item = IpAddr>,
) -> Result<(), UrlRefused> {
    for addr in addrs {
        if let Some(kind) = internal_kind(addr) {
            return Err(UrlRefused::Private {
                host: host.to_owned(),
                addr,
                kind,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<&'static str> {
        internal_kind(text.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for (addr, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.1.2.3", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "unique-local"),
            ("fc00::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::7f00:1", "loopback"),
            ("::127.0.0.1", "loopback"),
        ] {
            assert_eq!(kind(addr), Some(expected), "{addr}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(kind(public), None, "{public}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        assert!(parse_url("https://example.com/hook?x=1").is_ok());
        assert_eq!(
            parse_url("ftp://example.com/"),
            Err(UrlRefused::Scheme("ftp".into()))
        );
        assert_eq!(
            parse_url("https://u:p@example.com/"),
            Err(UrlRefused::Credentials)
        );
        assert!(matches!(
            parse_url("not a url"),
            Err(UrlRefused::Malformed(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(parse_url(&long), Err(UrlRefused::TooLong));
    }

    #[test]
    fn every_status_has_its_event() {
        for status in [
            JobStatus::Pending,
            JobStatus::Processing,
            JobStatus::Retrying,
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ] {
            let event = event_of(status);
            assert!(EVENTS.contains(&event));
            assert_eq!(event, format!("job.{}", status.as_str()));
        }
    }
}
