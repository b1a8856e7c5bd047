//! The per-user limits an upload is checked against: USER_STORAGE_QUOTA and
//! USER_MAX_ACTIVE_JOBS. The API checks them early to refuse cheaply; the job's own transaction
//! checks them again, holding the owner's row, so uploads received together cannot all see the
//! same free room.

use super::Usage;

/// What one user may hold; `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    /// Bytes of files still kept.
    pub stored_bytes: Option<u64>,
    /// Jobs not yet ended (pending, processing, retrying).
    pub active_jobs: Option<u64>,
}

/// The limit a new job would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("{max} jobs not yet ended already")]
    ActiveJobs { max: u64 },
    #[error("stored files would exceed the quota of {quota} bytes ({used} used)")]
    StoredBytes { quota: u64, used: u64 },
}

impl Quotas {
    /// No limit at all.
    pub const NONE: Self = Self {
        stored_bytes: None,
        active_jobs: None,
    };

    #[must_use]
    pub fn is_unlimited(self) -> bool {
        self == Self::NONE
    }

    /// Whether a new job with a file of `size` bytes fits beside `usage`. A user already at a
    /// limit is refused whatever the size (0 before the file is received).
    pub fn check(self, usage: Usage, size: u64) -> Result<(), QuotaExceeded> {
        if let Some(max) = self.active_jobs
            && usage.active_jobs >= max
        {
            return Err(QuotaExceeded::ActiveJobs { max });
        }
        if let Some(quota) = self.stored_bytes
            && (usage.stored_bytes.saturating_add(size) > quota || usage.stored_bytes >= quota)
        {
            return Err(QuotaExceeded::StoredBytes {
                quota,
                used: usage.stored_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_fits_until_a_limit_is_reached() {
        let usage = |stored_bytes, active_jobs| Usage {
            stored_bytes,
            active_jobs,
        };
        let quotas = Quotas {
            stored_bytes: Some(100),
            active_jobs: Some(2),
        };
        assert_eq!(quotas.check(usage(60, 1), 40), Ok(()));
        assert_eq!(
            quotas.check(usage(60, 1), 41),
            Err(QuotaExceeded::StoredBytes {
                quota: 100,
                used: 60
            })
        );
        assert!(quotas.check(usage(100, 0), 0).is_err());
        assert_eq!(
            quotas.check(usage(0, 2), 1),
            Err(QuotaExceeded::ActiveJobs { max: 2 })
        );
        assert_eq!(Quotas::NONE.check(usage(u64::MAX, u64::MAX), 1), Ok(()));
    }
}
