//! Access tokens: HS256 JWTs, valid one hour, with `iss`, `aud` and `typ` checked.
//!
//! The algorithm is pinned (HS256 only: `none`, other HMAC sizes and asymmetric algorithms are
//! refused before any signature check), and the leeway on `exp`, `nbf` and `iat` is a few
//! seconds: a token issued (or valid from) later than now is refused. Each token carries its
//! login session (`sid`, the refresh-token family), so ending a session ends its access tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pdfq_domain::UserId;
use pdfq_store::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::settings::Settings;

/// `typ` claim of access tokens, so no other token this service might sign passes as one.
pub const ACCESS_TYPE: &str = "access";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: String,
    pub typ: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: Uuid,
    /// The login session: the refresh-token family this token was issued with.
    pub sid: Uuid,
}

/// Signing and checking keys with the one validation every token goes through.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Why a presented token was refused; all of them answer 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

impl JwtKeys {
    #[must_use]
    pub fn new(settings: &Settings) -> Self {
        let secret = settings.jwt_secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = settings.jwt_leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            ttl: settings.access_token_ttl,
        }
    }

    /// How long an access token lives, for `expires_in`.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A signed access token for `user` in login session `session`.
    pub fn issue(
        &self,
        user: UserId,
        role: Role,
        session: Uuid,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.as_uuid(),
            role: role.as_str().to_owned(),
            typ: ACCESS_TYPE.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            jti: Uuid::new_v4(),
            sid: session,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a valid access token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        // Belt and braces: the library already refused other algorithms.
        if data.header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        if let Some(typ) = &data.header.typ
            && !typ.eq_ignore_ascii_case("JWT")
        {
            return Err(TokenError::Invalid);
        }
        if data.claims.typ != ACCESS_TYPE {
            return Err(TokenError::Invalid);
        }
        // The library checks `exp` and `nbf` only; a token "issued" in the future was not
        // issued by this clock.
        let now = jsonwebtoken::get_current_timestamp();
        if data.claims.iat > now + self.validation.leeway {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdfq_domain::secret::Secret;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Settings::new(Secret::new("k".repeat(32))))
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_role() {
        let keys = keys();
        let user = UserId::new();
        let session = Uuid::new_v4();
        let token = keys.issue(user, Role::Admin, session).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, user.as_uuid());
        assert_eq!(claims.sid, session);
        assert_eq!(claims.role, "admin");
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn a_token_from_another_key_is_invalid() {
        let other = JwtKeys::new(&Settings::new(Secret::new("x".repeat(32))));
        let token = other
            .issue(UserId::new(), Role::User, Uuid::new_v4())
            .unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
        assert_eq!(keys().verify("not.a.jwt"), Err(TokenError::Invalid));
    }

    /// Signs `claims` with the test key, whatever they say.
    fn forge(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let settings = Settings::new(Secret::new("k".repeat(32)));
        let keys = JwtKeys::new(&settings);
        let token = keys
            .issue(UserId::new(), Role::User, Uuid::new_v4())
            .unwrap();
        let mut claims = serde_json::to_value(keys.verify(&token).unwrap()).unwrap();
        edit(&mut claims);
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn tokens_from_the_future_are_invalid() {
        let hour_ahead = jsonwebtoken::get_current_timestamp() + 3600;
        let issued_later = forge(|c| c["iat"] = hour_ahead.into());
        assert_eq!(keys().verify(&issued_later), Err(TokenError::Invalid));
        let not_yet = forge(|c| c["nbf"] = hour_ahead.into());
        assert_eq!(keys().verify(&not_yet), Err(TokenError::Invalid));
        // Within the leeway, a clock a second ahead is fine.
        let slightly = forge(|c| c["iat"] = (hour_ahead - 3599).into());
        assert!(keys().verify(&slightly).is_ok());
    }

    #[test]
    fn tokens_without_a_session_are_invalid() {
        let old_style = forge(|c| {
            c.as_object_mut().unwrap().remove("sid");
        });
        assert_eq!(keys().verify(&old_style), Err(TokenError::Invalid));
    }
}
