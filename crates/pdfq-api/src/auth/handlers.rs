//! `/api/v1/auth/*`: register, login, refresh (rotation, family revocation on reuse), logout.

use axum::extract::State;
use axum::http::StatusCode;
use pdfq_client::types::{
    Credentials, ErrorBody, LogoutRequest, RefreshRequest, RegisteredUser, TokenPair,
};
use pdfq_domain::UserId;
use pdfq_store::{RefreshOutcome, Role, StoreError, User};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::{AuthUser, password, refresh};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// Longest email accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// Creates an account with the user role.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses((status = 201, body = RegisteredUser),
              (status = 409, body = ErrorBody, description = "`email_taken`: an account has this email"),
              (status = 422, body = ErrorBody,
               description = "`validation_failed`: the email is not an address, or the password has fewer than 8 or more than 1024 characters; `invalid_body`: a field is missing or of the wrong type")))]
pub async fn register(
    State(state): State<AppState>,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<RegisteredUser>), ApiError> {
    let user = create_user(&state, &body.email, body.password, Role::User).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredUser {
            user_id: user.id,
            email: user.email,
            role: user.role.as_str().to_owned(),
        }),
    ))
}

/// Validates, hashes and stores a new user.
pub(crate) async fn create_user(
    state: &AppState,
    email: &str,
    password: String,
    role: Role,
) -> Result<User, ApiError> {
    let email = normalize_email(email)?;
    password::validate(&password)?;
    let hash = password::hash(password).await?;
    match state.store.create_user(&email, &hash, role).await {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(ApiError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Trimmed; one `@` with text on both sides; no whitespace or control characters; 254 bytes at
/// most.
pub(crate) fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_owned())
    } else {
        Err(ApiError::Validation(
            "the email address is not valid".into(),
        ))
    }
}

/// Exchanges an email and password for an access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = TokenPair),
              (status = 401, body = ErrorBody, description = "`unauthorized`: wrong email or password"),
              (status = 429, body = ErrorBody, description = "`rate_limited`: LOGIN_RATE_LIMIT attempts for this email",
               headers(("retry-after" = u64, description = "seconds to wait")))))]
pub async fn login(
    State(state): State<AppState>,
    Json(body): Json<Credentials>,
) -> Result<Json<TokenPair>, ApiError> {
    const WRONG: ApiError = ApiError::Unauthorized("wrong email or password");
    // No account can have an email that registration refuses, nor a password over the limit:
    // such attempts are wrong without a look at the database (a NUL byte would not even reach
    // PostgreSQL's text type).
    if body.password.chars().count() > password::MAX_PASSWORD_CHARS
        || normalize_email(&body.email).is_err()
    {
        return Err(WRONG);
    }
    match state
        .broker
        .check_rate(login_key(&body.email), state.settings.login_rate_limit)
        .await
    {
        Ok(decision) if !decision.allowed => {
            return Err(ApiError::RateLimited {
                limit: decision.limit,
                retry_after: decision.reset_after,
            });
        }
        Ok(_) => {}
        // Logging in matters more than the limiter: with Redis down, attempts go unthrottled.
        Err(e) => tracing::warn!(error = %e, "login limiter unavailable; attempt allowed"),
    }
    let user = state.store.user_by_email(body.email.trim()).await?;
    let Some(user) = user else {
        // Same work as a wrong password, so timing does not reveal which emails exist.
        let _ = password::verify_against_dummy(body.password).await;
        return Err(WRONG);
    };
    if !password::verify(body.password, user.password_hash.clone()).await? {
        return Err(WRONG);
    }
    let (refresh_token, row) =
        refresh::generate(user.id, Uuid::new_v4(), state.settings.refresh_token_ttl)?;
    state.store.insert_refresh_token(&row).await?;
    Ok(Json(pair(&state, user.id, user.role, refresh_token)?))
}

/// The login limiter's key for an email, in the rate limiter's per-user keyspace: a UUID made
/// from the email's digest, which no real (random) user id collides with.
fn login_key(email: &str) -> UserId {
    let digest = Sha256::digest(format!("pdfq-login:{}", email.trim().to_lowercase()));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UserId::from_uuid(Uuid::from_bytes(bytes))
}

/// Spends a refresh token for a new pair. A token presented a second time revokes every token
/// of its login (its family): whoever holds a copy is locked out with the owner, who logs in
/// again.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
              (status = 401, body = ErrorBody,
               description = "`unauthorized`: the refresh token is unknown, expired or already used (which revokes its whole login)")))]
pub async fn refresh_tokens(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    // The successor's user and family are taken from the spent token by the store.
    let placeholder = UserId::from_uuid(Uuid::nil());
    let (refresh_token, successor) =
        refresh::generate(placeholder, Uuid::nil(), state.settings.refresh_token_ttl)?;
    let outcome = state
        .store
        .rotate_refresh_token(&refresh::digest(&body.refresh_token), &successor)
        .await?;
    match outcome {
        RefreshOutcome::Valid { user_id, family_id } => {
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or(ApiError::Unauthorized("the account no longer exists"))?;
            tracing::debug!(user = %user_id, family = %family_id, "refresh token rotated");
            Ok(Json(pair(&state, user.id, user.role, refresh_token)?))
        }
        RefreshOutcome::Reused { family_id } => {
            tracing::warn!(family = %family_id, "refresh token reused: family revoked");
            Err(ApiError::Unauthorized(
                "this refresh token was already used; every session of its login is revoked",
            ))
        }
        RefreshOutcome::Expired => Err(ApiError::Unauthorized("the refresh token has expired")),
        RefreshOutcome::Unknown => Err(ApiError::Unauthorized("the refresh token is invalid")),
    }
}

/// Ends the session of the given refresh token (its whole family), or every session of the
/// caller when none is given.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = LogoutRequest,
    security(("bearer" = [])),
    responses((status = 204, description = "logged out")))]
pub async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    match body.refresh_token {
        Some(token) => {
            match state
                .store
                .consume_refresh_token(&refresh::digest(&token))
                .await?
            {
                RefreshOutcome::Valid { user_id, family_id } if user_id == user.id => {
                    state.store.revoke_family(family_id).await?;
                }
                // Someone else's token: not the caller's to end; say nothing about it.
                RefreshOutcome::Valid { .. } => {}
                // Already spent or revoked (the store revoked the family), expired or unknown:
                // nothing is left to end.
                RefreshOutcome::Reused { .. }
                | RefreshOutcome::Expired
                | RefreshOutcome::Unknown => {}
            }
        }
        None => {
            state.store.revoke_all_for_user(user.id).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

fn pair(
    state: &AppState,
    user: UserId,
    role: Role,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let access_token = state
        .jwt
        .issue(user, role)
        .map_err(|e| ApiError::Internal(format!("signing: {e}")))?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "bearer".into(),
        expires_in: state.jwt.ttl().as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_keys_ignore_case_and_differ_per_email() {
        assert_eq!(login_key("A@b.c "), login_key("a@B.c"));
        assert_ne!(login_key("a@b.c"), login_key("b@b.c"));
    }

    #[test]
    fn emails_are_checked_loosely_but_surely() {
        assert_eq!(normalize_email(" a@b.c ").unwrap(), "a@b.c");
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a@b@c",
            "a b@c",
            "a\0@b.c",
            &format!("{}@x", "a".repeat(300)),
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
