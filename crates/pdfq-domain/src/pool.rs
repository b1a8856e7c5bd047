//! A database pool's numbers, as one process sees them. The store measures them; heartbeats,
//! metrics and the admin overview carry them, so all share this one type.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PoolStats {
    /// Connections open now.
    pub size: u32,
    /// Open connections handed out.
    pub in_use: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// The most the pool will open.
    pub max: u32,
}
