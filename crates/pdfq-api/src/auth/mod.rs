//! Authentication: access tokens ([`jwt`]), passwords ([`password`]), refresh tokens
//! ([`refresh`]), event-stream tickets ([`ticket`]), the extractors that guard handlers ([`extract`]) and the auth endpoints
//! ([`handlers`]).

pub mod extract;
pub mod handlers;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod ticket;

pub use extract::{AdminUser, AuthUser};
