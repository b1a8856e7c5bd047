//! Typed identifiers. Each wraps a UUID (v7 for jobs, so they sort by creation time).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $new:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh identifier.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::$new())
            }

            /// Wraps an existing UUID, e.g. one read from the database.
            #[must_use]
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// A job: one uploaded PDF and its processing.
    JobId,
    now_v7
);
uuid_id!(
    /// A registered user of the API.
    UserId,
    new_v4
);

/// The name a worker process consumes the queue under. Unique per process start, never reused:
/// host, pid and a random suffix, so a restarted process never inherits a dead one's deliveries.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(String);

impl WorkerId {
    /// A new identity for this process start.
    #[must_use]
    pub fn generate(host: &str, pid: u32) -> Self {
        let host: String = host
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .take(48)
            .collect();
        let host = if host.is_empty() {
            "host".to_owned()
        } else {
            host
        };
        let suffix = Uuid::new_v4().simple().to_string();
        Self(format!("{host}-{pid}-{}", &suffix[..8]))
    }

    /// Wraps a name read back from storage.
    #[must_use]
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkerId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_sort_by_creation() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b, "v7 ids must be time ordered");
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = UserId::new();
        let parsed: UserId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert!("not-a-uuid".parse::<JobId>().is_err());
    }

    #[test]
    fn worker_ids_are_unique_per_start_and_sanitised() {
        let a = WorkerId::generate("web-1.internal", 42);
        let b = WorkerId::generate("web-1.internal", 42);
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("web-1.internal-42-"));
        let odd = WorkerId::generate("bad host/\u{0}", 7);
        assert!(odd.as_str().starts_with("badhost-7-"), "{odd}");
    }
}
