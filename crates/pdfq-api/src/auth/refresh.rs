//! Refresh tokens: 256 random bits at login, given to the client once; only their SHA-256 is
//! stored, so a leaked database cannot be replayed as sessions. A rotated token's successor is
//! derived from it (HMAC-SHA256 under the server's secret): unpredictable without the secret,
//! and the same each time, so a replay within the grace window can be given the successor the
//! first request got (see `Store::rotate_refresh_token`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
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
    let row = row(&token, user, family, ttl);
    Ok((token, row))
}

/// The successor of `presented`: its text and the row to store (user and family are taken
/// from the spent token by the store).
pub fn successor(
    presented: &str,
    secret: &[u8],
    ttl: std::time::Duration,
) -> Result<(String, NewRefreshToken), ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| ApiError::Internal(format!("refresh key: {e}")))?;
    mac.update(b"pdfq refresh successor\0");
    mac.update(presented.as_bytes());
    let token = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok((
        token.clone(),
        row(&token, UserId::from_uuid(Uuid::nil()), Uuid::nil(), ttl),
    ))
}

fn row(token: &str, user: UserId, family: Uuid, ttl: std::time::Duration) -> NewRefreshToken {
    let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::days(30));
    NewRefreshToken {
        id: Uuid::new_v4(),
        user_id: user,
        family_id: family,
        token_hash: digest(token),
        expires_at: OffsetDateTime::now_utc() + ttl,
    }
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

    #[test]
    fn successors_are_stable_per_token_and_key() {
        let day = std::time::Duration::from_secs(86_400);
        let (a1, row) = successor("token-a", b"key one", day).unwrap();
        let (a2, _) = successor("token-a", b"key one", day).unwrap();
        assert_eq!(a1, a2);
        assert_eq!(row.token_hash, digest(&a1));
        assert_ne!(successor("token-b", b"key one", day).unwrap().0, a1);
        assert_ne!(successor("token-a", b"key two", day).unwrap().0, a1);
        assert_eq!(a1.len(), 43);
    }
}
