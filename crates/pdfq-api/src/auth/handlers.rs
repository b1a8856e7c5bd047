//! `/api/v1/auth/*`: register, login, refresh (rotation, family revocation on reuse), logout.

use axum::extract::State;
use axum::http::StatusCode;
use pdfq_api_types::{
    Credentials, ErrorBody, LogoutRequest, RefreshRequest, RegisteredUser, TokenPair,
};
use pdfq_domain::UserId;
use pdfq_store::{RefreshOutcome, Role, StoreError, User};
use uuid::Uuid;

use pdfq_queue::RateKey;

use crate::auth::{AuthUser, password, refresh};
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::extract::{Json, OptionalJson};
use crate::state::AppState;

/// Longest email accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// Creates an account with the user role.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses((status = 201, body = RegisteredUser),
              (status = 409, body = ErrorBody, description = "`email_taken`: an account has this email"),
              (status = 429, body = ErrorBody, description = "`rate_limited`: REGISTER_RATE_LIMIT registrations from this address",
               headers(("retry-after" = u64, description = "seconds to wait"))),
              (status = 422, body = ErrorBody,
               description = "`validation_failed`: the email is not an address, or the password has fewer than 8 or more than 1024 characters; `invalid_body`: a field is missing or of the wrong type")))]
pub async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<RegisteredUser>), ApiError> {
    // Every attempt counts, taken or not: "email taken" answers are an account-enumeration
    // oracle worth slowing too.
    state
        .limits
        .admit(
            &RateKey::registrations_from(client),
            state.settings.register_rate_limit,
        )
        .await?;
    if state.settings.is_reserved_email(&body.email) {
        // The bootstrap admin's address: nobody may register it first and be promoted. Said
        // as for any taken address, so it reveals nothing more.
        return Err(ApiError::EmailTaken);
    }
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
              (status = 429, body = ErrorBody, description = "`rate_limited`: LOGIN_RATE_LIMIT failed logins for this account from this address, or LOGIN_ADDRESS_RATE_LIMIT from this address",
               headers(("retry-after" = u64, description = "seconds to wait")))))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<Credentials>,
) -> Result<Json<TokenPair>, ApiError> {
    // Each attempt is counted before it is tried, against the account from this address and
    // against this address over every account, and refunded if it succeeds: only failures
    // count, exactly, however many arrive at once.
    let account = state
        .limits
        .admit(
            &RateKey::login_failures(&body.email, client),
            state.settings.login_rate_limit,
        )
        .await?;
    let address = match state
        .limits
        .admit(
            &RateKey::login_failures_from(client),
            state.settings.login_address_rate_limit,
        )
        .await
    {
        Ok(address) => address,
        Err(refused) => {
            state.limits.refund(account).await;
            return Err(refused);
        }
    };
    let Some(user) = verify_credentials(&state, body).await? else {
        return Err(ApiError::Unauthorized("wrong email or password"));
    };
    state.limits.refund(account).await;
    state.limits.refund(address).await;
    let session = Uuid::new_v4();
    let (refresh_token, row) =
        refresh::generate(user.id, session, state.settings.refresh_token_ttl)?;
    state.store.insert_refresh_token(&row).await?;
    Ok(Json(pair(
        &state,
        user.id,
        user.role,
        session,
        refresh_token,
    )?))
}

/// The account these credentials open, if they are right.
async fn verify_credentials(state: &AppState, body: Credentials) -> Result<Option<User>, ApiError> {
    // No account can have an email that registration refuses, nor a password over the limit:
    // such attempts are wrong without a look at the database (a NUL byte would not even reach
    // PostgreSQL's text type).
    if body.password.chars().count() > password::MAX_PASSWORD_CHARS
        || normalize_email(&body.email).is_err()
    {
        return Ok(None);
    }
    let Some(user) = state.store.user_by_email(body.email.trim()).await? else {
        // Same work as a wrong password, so timing does not reveal which emails exist.
        let _ = password::verify_against_dummy(body.password).await;
        return Ok(None);
    };
    if password::verify(body.password, user.password_hash.clone()).await? {
        Ok(Some(user))
    } else {
        Ok(None)
    }
}

/// Spends a refresh token for a new pair. A token presented a second time revokes every token
/// of its login (its family): whoever holds a copy is locked out with the owner, who logs in
/// again. Except within `refresh_reuse_grace` of its rotation while its successor is unused
/// (two tabs, a retried request): then the same successor is returned (RFC 9700, 4.14.2).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
              (status = 401, body = ErrorBody,
               description = "`unauthorized`: the refresh token is unknown, expired or already used (which revokes its whole login)")))]
pub async fn refresh_tokens(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let (refresh_token, successor) = refresh::successor(
        &body.refresh_token,
        state.settings.jwt_secret.expose().as_bytes(),
        state.settings.refresh_token_ttl,
    )?;
    let outcome = state
        .store
        .rotate_refresh_token(
            &refresh::digest(&body.refresh_token),
            &successor,
            state.settings.refresh_reuse_grace,
        )
        .await?;
    match outcome {
        RefreshOutcome::Valid { user_id, family_id } => {
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or(ApiError::Unauthorized("the account no longer exists"))?;
            tracing::debug!(user = %user_id, family = %family_id, "refresh token rotated");
            Ok(Json(pair(
                &state,
                user.id,
                user.role,
                family_id,
                refresh_token,
            )?))
        }
        RefreshOutcome::Reused { family_id } => {
            tracing::warn!(family = %family_id, "refresh token reused: family revoked");
            end_sessions(&state, &[family_id]).await;
            Err(ApiError::Unauthorized(
                "this refresh token was already used; every session of its login is revoked",
            ))
        }
        RefreshOutcome::Expired => Err(ApiError::Unauthorized("the refresh token has expired")),
        RefreshOutcome::Unknown => Err(ApiError::Unauthorized("the refresh token is invalid")),
    }
}

/// Ends the session of the given refresh token (its whole family) when it is the caller's, or
/// every session of the caller when none is given. The body may be left out entirely.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "optional: without it, every session ends"),
    security(("bearer" = [])),
    responses((status = 204, description = "logged out")))]
pub async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    body: OptionalJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    let token = body.0.and_then(|b| b.refresh_token);
    match token {
        Some(token) => {
            // Someone else's token is not the caller's to end: it is left untouched (and
            // unspent), and the answer says nothing about it.
            if let Some(family) = state
                .store
                .revoke_family_of(&refresh::digest(&token), user.id)
                .await?
            {
                end_sessions(&state, &[family]).await;
            }
        }
        None => {
            let families = state.store.revoke_all_for_user(user.id).await?;
            end_sessions(&state, &families).await;
            end_sessions(&state, &[user.session]).await;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ends these login sessions for as long as their access tokens live. Best effort with the
/// broker down: the refresh tokens are revoked in the database either way.
pub(crate) async fn end_sessions(state: &AppState, sessions: &[Uuid]) {
    for session in sessions {
        if let Err(e) = state
            .broker
            .end_session(*session, state.jwt.ttl() + state.settings.jwt_leeway)
            .await
        {
            tracing::warn!(error = %e, %session, "session end not recorded: its access tokens stay valid until they expire");
        }
    }
}

fn pair(
    state: &AppState,
    user: UserId,
    role: Role,
    session: Uuid,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let access_token = state
        .jwt
        .issue(user, role, session)
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
