//! The first admin, from PDFQ_ADMIN_EMAIL and PDFQ_ADMIN_PASSWORD at start-up, or from pdfctl
//! through [`bootstrap_admin`].
//!
//! Only someone who knows the configured password may hold the configured admin account. When
//! the account exists with another password (anyone could have registered the address first),
//! the password is replaced by the configured one and every session of the account is ended
//! before it is promoted: the configuration, not whoever registered first, decides who is admin.

use pdfq_queue::Broker;
use pdfq_store::{Role, Store, StoreError, User};

use crate::auth::handlers::normalize_email;
use crate::auth::password;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long an ended session is remembered when `bootstrap_admin` ends one: the longest an
/// access token lives (one hour) plus the clock leeway.
const SESSION_MEMORY: std::time::Duration = std::time::Duration::from_secs(3600 + 60);

/// Makes `email` an admin whose password is `password`: creates the account if it does not
/// exist; promotes it if its password is `password`; otherwise resets its password to
/// `password`, ends its sessions (refresh tokens revoked, access tokens refused) and promotes
/// it. Idempotent.
pub async fn bootstrap_admin(
    store: &Store,
    broker: &Broker,
    email: &str,
    password: &str,
) -> Result<User, BootstrapError> {
    let email = normalize_email(email).map_err(|e| BootstrapError::Invalid(e.to_string()))?;
    password::validate(password).map_err(|e| BootstrapError::Invalid(e.to_string()))?;
    if let Some(user) = store.user_by_email(&email).await? {
        return take_over(store, broker, user, password).await;
    }
    let hash = hash(password).await?;
    match store.create_user(&email, &hash, Role::Admin).await {
        Ok(user) => Ok(user),
        // Another instance or a registration created it at the same moment.
        Err(StoreError::Conflict(_)) => {
            let user = store
                .user_by_email(&email)
                .await?
                .ok_or(StoreError::NotFound)?;
            take_over(store, broker, user, password).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The existing account `user` as the configured admin.
async fn take_over(
    store: &Store,
    broker: &Broker,
    user: User,
    password: &str,
) -> Result<User, BootstrapError> {
    let knows_password = password::verify(password.to_owned(), user.password_hash.clone())
        .await
        .map_err(|e: ApiError| BootstrapError::Invalid(e.to_string()))?;
    if knows_password {
        if user.role == Role::Admin {
            return Ok(user);
        }
        return Ok(store.set_role(user.id, Role::Admin).await?);
    }
    let hash = hash(password).await?;
    let (user, sessions) = store.reset_credentials(user.id, &hash, Role::Admin).await?;
    tracing::warn!(
        email = %user.email,
        sessions = sessions.len(),
        "the admin account existed with another password: password reset to the configured one, its sessions ended"
    );
    for session in sessions {
        if let Err(e) = broker.end_session(session, SESSION_MEMORY).await {
            tracing::warn!(error = %e, "an ended session's access tokens stay valid until they expire");
        }
    }
    Ok(user)
}

async fn hash(password: &str) -> Result<String, BootstrapError> {
    password::hash(password.to_owned())
        .await
        .map_err(|e: ApiError| BootstrapError::Invalid(e.to_string()))
}
