//! Refresh tokens: 256 random bits, given to the client once; only their SHA-256 is stored, so
//! a leaked database cannot be replayed as sessions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pdfq_domain::UserId;
use pdfq_store::NewRefreshToken;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;

/// A new token: the text for the client and the row to store.
pub fn generate(
    user: UserId,
    family: Uuid,
    ttl: std::time::Duration,
) -> Result<(String, NewRefreshToken), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("random source: {e}")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::days(30));
    let row = NewRefreshToken {
        id: Uuid::new_v4(),
        user_id: user,
        family_id: family,
        token_hash: digest(&token),
        expires_at: OffsetDateTime::now_utc() + ttl,
    };
    Ok((token, row))
}

/// The stored form of a presented token.
#[must_use]
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let user = UserId::new();
        let family = Uuid::new_v4();
        let day = std::time::Duration::from_secs(86_400);
        let (a, row) = generate(user, family, day).unwrap();
        let (b, _) = generate(user, family, day).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(row.token_hash, digest(&a));
        assert_ne!(row.token_hash, a.as_bytes());
    }
}
