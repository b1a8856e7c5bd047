//! Password hashing with argon2id (the crate's default parameters: 19 MiB, 2 passes), on a few
//! threads of its own: a hash takes tens of milliseconds of CPU that must not stall the async
//! threads. Each hashing thread keeps its 19 MiB of argon2 memory and reuses it. Allocating it
//! per hash on the blocking pool left up to 19 MiB behind in every malloc arena a pool thread
//! touched (glibc keeps freed blocks of that size): 300 MiB of resident memory after a few
//! dozen logins on two cores, against about 40 MiB now.

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

use crate::error::ApiError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters (as the OpenAPI `maxLength` counts): bounds the
/// hashing work one request can ask for (4 KiB at most).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// The most argon2 memory a stored hash may ask for when verifying (64 MiB): a hash written by
/// something else with absurd parameters must not make the API allocate gigabytes.
const MAX_VERIFY_BLOCKS: usize = 64 * 1024;

type Work = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing threads (one per core, at least two) and the permits that keep at most one job
/// per thread queued: a burst of logins waits on the semaphore, costing nothing but a task.
struct Hashers {
    queue: Mutex<mpsc::Sender<Work>>,
    permits: Semaphore,
}

fn hashers() -> Result<&'static Hashers, ApiError> {
    static HASHERS: OnceLock<Option<Hashers>> = OnceLock::new();
    HASHERS
        .get_or_init(|| {
            let threads = std::thread::available_parallelism()
                .map_or(2, std::num::NonZero::get)
                .max(2);
            let (tx, rx) = mpsc::channel::<Work>();
            let rx = std::sync::Arc::new(Mutex::new(rx));
            for n in 0..threads {
                let rx = std::sync::Arc::clone(&rx);
                let spawned = std::thread::Builder::new()
                    .name(format!("pdfq-hash-{n}"))
                    .spawn(move || {
                        let mut memory = Vec::new();
                        loop {
                            // The lock is held only while waiting for the next job.
                            let work = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            match work {
                                Ok(work) => work(&mut memory),
                                Err(_) => return,
                            }
                        }
                    });
                if spawned.is_err() {
                    return None;
                }
            }
            Some(Hashers {
                queue: Mutex::new(tx),
                permits: Semaphore::new(threads),
            })
        })
        .as_ref()
        .ok_or_else(|| ApiError::Internal("the password hashing threads did not start".into()))
}

/// Runs `work` on a hashing thread with that thread's argon2 memory.
async fn on_hasher<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let hashers = hashers()?;
    let _permit = hashers
        .permits
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("hashing permits: {e}")))?;
    let (tx, rx) = oneshot::channel();
    let job: Work = Box::new(move |memory| {
        let _ = tx.send(work(memory));
    });
    hashers
        .queue
        .lock()
        .map_err(|_| ApiError::Internal("the hashing queue is poisoned".into()))?
        .send(job)
        .map_err(|_| ApiError::Internal("the hashing threads have stopped".into()))?;
    rx.await
        .map_err(|_| ApiError::Internal("a hashing job was dropped".into()))
}

/// `memory` grown (never shrunk) to `blocks`, the argon2 working area of one hash.
fn blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    &mut memory[..blocks]
}

/// A PHC string (`$argon2id$v=19$...`) of `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    on_hasher(move |memory| hash_now(memory, &password)).await?
}

fn hash_now(memory: &mut Vec<Block>, password: &str) -> Result<String, ApiError> {
    let fail = |e: &dyn std::fmt::Display| ApiError::Internal(format!("hashing: {e}"));
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_raw,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `phc` (constant-time comparison of the outputs). A malformed
/// stored hash never matches.
fn verify_now(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    if params.block_count() > MAX_VERIFY_BLOCKS {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let block_count = params.block_count();
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_raw,
            &mut out,
            blocks(memory, block_count),
        )
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub async fn verify(password: String, phc: String) -> Result<bool, ApiError> {
    on_hasher(move |memory| verify_now(memory, &password, &phc)).await
}

/// Verifies `password` against a hash of nothing anyone knows, for a login whose email is
/// unknown: it takes as long as a wrong password, so timing does not reveal which emails exist.
pub async fn verify_against_dummy(password: String) -> Result<bool, ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    on_hasher(move |memory| {
        let phc =
            DUMMY.get_or_init(|| hash_now(memory, "pdfq: no such account").unwrap_or_default());
        verify_now(memory, &password, phc)
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

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hasher() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        // Stored by an earlier pdfq (the crate's hasher): still verifies.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify("correct horse".into(), theirs.clone())
                .await
                .unwrap()
        );
        assert!(!verify("correct horsf".into(), theirs).await.unwrap());
        // Ours: the crate's verifier accepts it.
        let ours = hash("correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_absurd_memory_never_matches() {
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY";
        assert!(!verify("anything".into(), greedy.into()).await.unwrap());
    }

    #[test]
    fn rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate(&"x".repeat(2000)).is_err());
    }
}
