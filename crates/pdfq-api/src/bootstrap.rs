//! The first admin: created, or promoted if the account exists, from PDFQ_ADMIN_EMAIL and
//! PDFQ_ADMIN_PASSWORD at start-up, or by pdfctl through [`bootstrap_admin`].

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

/// Makes `email` an admin: creates the account with `password` if it does not exist, otherwise
/// promotes it (its password is left as it is). Idempotent.
pub async fn bootstrap_admin(
    store: &Store,
    email: &str,
    password: &str,
) -> Result<User, BootstrapError> {
    let email = normalize_email(email).map_err(|e| BootstrapError::Invalid(e.to_string()))?;
    if let Some(user) = store.user_by_email(&email).await? {
        if user.role == Role::Admin {
            return Ok(user);
        }
        return Ok(store.set_role(user.id, Role::Admin).await?);
    }
    password::validate(password).map_err(|e| BootstrapError::Invalid(e.to_string()))?;
    let hash = password::hash(password.to_owned())
        .await
        .map_err(|e: ApiError| BootstrapError::Invalid(e.to_string()))?;
    match store.create_user(&email, &hash, Role::Admin).await {
        Ok(user) => Ok(user),
        // Another instance created it at the same moment: promote that one.
        Err(StoreError::Conflict(_)) => {
            let user = store
                .user_by_email(&email)
                .await?
                .ok_or(StoreError::NotFound)?;
            Ok(store.set_role(user.id, Role::Admin).await?)
        }
        Err(e) => Err(e.into()),
    }
}
