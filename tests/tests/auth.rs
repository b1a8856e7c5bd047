//! Authentication: registration and login rules, refresh rotation, logout, and the token
//! attacks, every one answered 401 in the error shape.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pdfq_client::Client;
use pdfq_client::types::JobListQuery;
use pdfq_e2e::{JWT_SECRET, TestApp, TestUser, on_both_backends};
use serde::Serialize;

on_both_backends!(
    registration_and_login,
    logins_are_limited_per_email,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_ends_sessions,
    token_attacks_are_all_401,
);

async fn registration_and_login(app: TestApp) {
    let user = app
        .client
        .register("Someone@Example.com", "a good password")
        .await
        .unwrap();
    assert_eq!(user.role, "user");
    let err = app
        .client
        .register("someone@example.com", "another password")
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("email_taken")));
    let err = app.client.register("x@y.z", "short").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(422), Some("validation_failed"))
    );
    let err = app
        .client
        .register("not-an-email", "long enough")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));

    let tokens = app
        .client
        .login("Someone@Example.com", "a good password")
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(tokens.access_token.split('.').count(), 3);
    for (email, password) in [
        ("Someone@Example.com", "a wrong password"),
        ("nobody@example.com", "a good password"),
    ] {
        let err = app.client.login(email, password).await.unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(401), Some("unauthorized"))
        );
    }
}

async fn logins_are_limited_per_email(app: TestApp) {
    assert_eq!(app.settings.login_rate_limit.max, 30);
    let user = app.user().await; // one login spent
    for _ in 0..20 {
        let err = app
            .client
            .login(&user.email, "wrong password")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(401));
    }
    for _ in 0..9 {
        app.client.login(&user.email, &user.password).await.unwrap();
    }
    // The 31st attempt within the hour is refused, even with the right password.
    let err = app
        .client
        .login(&user.email.to_uppercase(), &user.password)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(429), Some("rate_limited")),
        "{err}"
    );
    let pdfq_client::ClientError::Api { retry_after, .. } = err else {
        unreachable!()
    };
    assert!(retry_after.is_some_and(|s| s > 0));
    // Another account is not affected, nor are this user's tokens.
    let other = app.user().await;
    app.client
        .login(&other.email, &other.password)
        .await
        .unwrap();
    app.client
        .refresh(&user.tokens.refresh_token)
        .await
        .unwrap();
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
    let user = app.user().await;
    let first = user.tokens.refresh_token.clone();
    let second = app.client.refresh(&first).await.unwrap();
    assert_ne!(second.refresh_token, first);
    // The new access token works.
    app.client
        .with_token(&second.access_token)
        .jobs(&JobListQuery::default())
        .await
        .unwrap();
    let third = app.client.refresh(&second.refresh_token).await.unwrap();

    // The first token again: theft is assumed, the whole family is revoked.
    let err = app.client.refresh(&first).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("unauthorized"))
    );
    let err = app.client.refresh(&third.refresh_token).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "the live successor is revoked too");

    // Another login is another family, unaffected.
    let other = app.client.login(&user.email, &user.password).await.unwrap();
    app.client.refresh(&other.refresh_token).await.unwrap();
}

async fn logout_ends_sessions(app: TestApp) {
    let user = app.user().await;
    let second = app.client.login(&user.email, &user.password).await.unwrap();
    user.client
        .logout(Some(&user.tokens.refresh_token))
        .await
        .unwrap();
    let err = app
        .client
        .refresh(&user.tokens.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    // The other session lives until a logout without a token ends them all.
    let second = app.client.refresh(&second.refresh_token).await.unwrap();
    user.client.logout(None).await.unwrap();
    let err = app.client.refresh(&second.refresh_token).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let err = app.client.logout(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "logout needs an access token");
}

#[derive(Serialize, Clone)]
struct Claims {
    sub: String,
    role: String,
    typ: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

fn claims(user: &TestUser) -> Claims {
    let now = jsonwebtoken::get_current_timestamp();
    Claims {
        sub: user.id.to_string(),
        role: "user".into(),
        typ: "access".into(),
        iss: "pdfq".into(),
        aud: "pdfq-api".into(),
        iat: now,
        exp: now + 600,
        jti: uuid::Uuid::new_v4().to_string(),
    }
}

fn sign(alg: Algorithm, key: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn assert_401(app: &TestApp, token: &str, what: &str) {
    let err = app
        .client
        .with_token(token)
        .jobs(&JobListQuery::default())
        .await
        .expect_err(what);
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("unauthorized")),
        "{what}: {err}"
    );
}

async fn token_attacks_are_all_401(app: TestApp) {
    let user = app.user().await;
    let key = JWT_SECRET.as_bytes();
    let good = claims(&user);

    // The forging itself is right: the same claims signed properly are accepted.
    let genuine = sign(Algorithm::HS256, key, &good);
    app.client
        .with_token(&genuine)
        .jobs(&JobListQuery::default())
        .await
        .expect("a correctly forged token is accepted, so the refusals below mean something");

    let payload = b64(&serde_json::to_value(&good).unwrap());
    let none = format!(
        "{}.{payload}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"}))
    );
    assert_401(&app, &none, "alg none").await;
    let none_sig = format!(
        "{}.{payload}.{}",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        genuine.rsplit('.').next().unwrap()
    );
    assert_401(&app, &none_sig, "alg none with a signature").await;

    assert_401(&app, &sign(Algorithm::HS512, key, &good), "HS512").await;
    assert_401(&app, &sign(Algorithm::HS384, key, &good), "HS384").await;
    assert_401(
        &app,
        &sign(
            Algorithm::HS256,
            b"another key, also 32 bytes long!!",
            &good,
        ),
        "another key",
    )
    .await;

    // Tampered payload: make the user an admin, keep the signature.
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let mut admin = serde_json::to_value(&good).unwrap();
    admin["role"] = "admin".into();
    parts[1] = b64(&admin);
    assert_401(&app, &parts.join("."), "tampered payload").await;
    // Tampered signature.
    let mut sig = genuine.clone();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'B' } else { 'A' });
    assert_401(&app, &sig, "tampered signature").await;

    let now = jsonwebtoken::get_current_timestamp();
    let expired = Claims {
        iat: now - 7200,
        exp: now - 60,
        ..good.clone()
    };
    assert_401(&app, &sign(Algorithm::HS256, key, &expired), "expired").await;
    let wrong_iss = Claims {
        iss: "someone-else".into(),
        ..good.clone()
    };
    assert_401(&app, &sign(Algorithm::HS256, key, &wrong_iss), "wrong iss").await;
    let wrong_aud = Claims {
        aud: "another-api".into(),
        ..good.clone()
    };
    assert_401(&app, &sign(Algorithm::HS256, key, &wrong_aud), "wrong aud").await;
    let wrong_typ = Claims {
        typ: "refresh".into(),
        ..good.clone()
    };
    assert_401(&app, &sign(Algorithm::HS256, key, &wrong_typ), "wrong typ").await;

    // Tokens of the wrong kind, both ways.
    assert_401(
        &app,
        &user.tokens.refresh_token,
        "refresh token as access token",
    )
    .await;
    let err = app
        .client
        .refresh(&user.tokens.access_token)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("unauthorized")),
        "access token as refresh token"
    );

    // Garbage and missing headers.
    for junk in ["", "x", "a.b.c", "...."] {
        assert_401(&app, junk, "junk").await;
    }
    let raw = reqwest::Client::new();
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "bearer  ", &genuine] {
        let response = raw
            .get(app.client.url("/api/v1/jobs"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
    let anonymous: Client = app.client.clone();
    let err = anonymous.jobs(&JobListQuery::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
}
