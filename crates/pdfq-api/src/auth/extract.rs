//! The extractors that guard handlers: [`AuthUser`] needs a valid access token of a session
//! that has not ended (logout, a reused refresh token, the admin password reset at start-up),
//! [`AdminUser`] also needs the admin role as the database has it now (a demotion takes effect
//! at once, not when the token expires).

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use pdfq_domain::UserId;
use pdfq_store::Role;
use uuid::Uuid;

use crate::auth::jwt::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    /// The login session the token belongs to.
    pub session: Uuid,
}

/// A caller whose account has the admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::from_headers(&parts.headers, state).await
    }
}

impl AuthUser {
    /// The caller named by `headers`' `Authorization: Bearer` access token.
    pub(crate) async fn from_headers(
        headers: &HeaderMap,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let header = headers.get(AUTHORIZATION).ok_or(ApiError::Unauthorized(
            "missing Authorization: Bearer token",
        ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be \"Bearer <access token>\"",
            ))?;
        let claims = state.jwt.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::Unauthorized("the access token has expired"),
            TokenError::Invalid => ApiError::Unauthorized("the access token is invalid"),
        })?;
        let role = claims
            .role
            .parse()
            .map_err(|_| ApiError::Unauthorized("the access token is invalid"))?;
        if session_ended(state, claims.sid).await {
            return Err(ApiError::Unauthorized(
                "this session has ended (logged out or revoked); log in again",
            ));
        }
        Ok(Self {
            id: UserId::from_uuid(claims.sub),
            role,
            session: claims.sid,
        })
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let current = state
            .store
            .user_by_id(user.id)
            .await?
            .ok_or(ApiError::Unauthorized("the account no longer exists"))?;
        if current.role != Role::Admin {
            return Err(ApiError::Forbidden);
        }
        Ok(Self(AuthUser {
            role: Role::Admin,
            ..user
        }))
    }
}

/// Whether `session` has ended. With the broker unreachable the token is accepted (and the
/// outage logged): refusing every request while Redis is down would take the whole API down
/// with it, and a logged-out token is at most one access-token lifetime old.
pub(crate) async fn session_ended(state: &AppState, session: Uuid) -> bool {
    match state.broker.session_ended(session).await {
        Ok(ended) => ended,
        Err(e) => {
            tracing::warn!(error = %e, "ended sessions unknown: the broker is unreachable");
            false
        }
    }
}
