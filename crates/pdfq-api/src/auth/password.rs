//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), always on the
//! blocking pool: a hash takes tens of milliseconds of CPU that must not stall the async threads.

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters (as the OpenAPI `maxLength` counts): bounds the
/// hashing work one request can ask for (4 KiB at most).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Hashes running at once: each takes 19 MiB and a core for tens of milliseconds, so a burst
/// of logins queues here instead of filling the blocking pool (512 threads, ~10 GiB).
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cores * 2)
    })
}

/// Runs `work` on the blocking pool once a hashing permit is free.
async fn limited<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = permits()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("hashing permits: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))
}

/// A PHC string (`$argon2id$v=19$...`) of `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    limited(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub async fn verify(password: String, phc: String) -> Result<bool, ApiError> {
    limited(move || {
        PasswordHash::new(&phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
}

/// Verifies `password` against a hash of nothing anyone knows, for a login whose email is
/// unknown: it takes as long as a wrong password, so timing does not reveal which emails exist.
pub async fn verify_against_dummy(password: String) -> Result<bool, ApiError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    limited(move || {
        let phc = DUMMY.get_or_init(|| hash_now("pdfq: no such account").unwrap_or_default());
        PasswordHash::new(phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
}

/// The password rules: 8 to 1024 characters.
pub fn validate(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::Validation(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(ApiError::Validation(format!(
            "the password must have at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salts differ");
        assert!(verify("correct horse".into(), a.clone()).await.unwrap());
        assert!(!verify("wrong horse".into(), a).await.unwrap());
        assert!(!verify("x".into(), "garbage".into()).await.unwrap());
    }

    #[test]
    fn rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate(&"x".repeat(2000)).is_err());
    }
}
