//! Authentication: registration and login rules, refresh rotation, logout, and the token
//! attacks, every one answered 401 in the error shape.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pdfq_client::Client;
use pdfq_client::types::JobListQuery;
use pdfq_e2e::{JWT_SECRET, TestApp, TestUser, on_both_backends, on_both_backends_with};
use reqwest::StatusCode;
use serde::Serialize;

on_both_backends!(
    registration_and_login,
    refresh_rotates_and_reuse_revokes_the_family,
    concurrent_refreshes_keep_the_session,
    logout_ends_sessions,
    logout_ends_access_tokens_and_streams,
    another_users_refresh_token_cannot_end_a_session,
    logout_needs_no_body,
    a_deleted_users_token_gets_401,
    an_account_registered_first_does_not_become_admin,
    token_attacks_are_all_401,
);

on_both_backends_with!(
    reserving_the_admin =>
    the_configured_admin_email_cannot_be_registered,
);

const ADMIN_EMAIL: &str = "boss@example.com";

fn reserving_the_admin(settings: &mut pdfq_api::Settings) {
    settings.reserve_email(ADMIN_EMAIL);
}

on_both_backends_with!(
    behind_a_proxy =>
    login_failures_are_limited_per_account_and_address,
    registrations_are_limited_per_address,
);

/// Clients told apart by X-Forwarded-For from the test's loopback "proxy", with low limits.
fn behind_a_proxy(settings: &mut pdfq_api::Settings) {
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    settings.login_rate_limit = "5/hour".parse().unwrap();
    settings.login_address_rate_limit = "8/hour".parse().unwrap();
    settings.register_rate_limit = "3/hour".parse().unwrap();
}

/// Posts `body` to `path` as a client at `from`; the status.
async fn post_from(app: &TestApp, from: &str, path: &str, body: serde_json::Value) -> StatusCode {
    reqwest::Client::new()
        .post(app.client.url(path))
        .header("x-forwarded-for", from)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn login_from(app: &TestApp, from: &str, email: &str, password: &str) -> StatusCode {
    let body = serde_json::json!({"email": email, "password": password});
    post_from(app, from, "/api/v1/auth/login", body).await
}

const ATTACKER: &str = "203.0.113.9";
const OWNER: &str = "198.51.100.7";

async fn login_failures_are_limited_per_account_and_address(app: TestApp) {
    let user = app.user().await;
    // Successes never count: the owner logs in more often than any limit.
    for _ in 0..12 {
        let status = login_from(&app, OWNER, &user.email, &user.password).await;
        assert_eq!(status, StatusCode::OK);
    }
    // Guessing: 5 failures for this account from the attacker's address, then refused, even
    // with the right password.
    for _ in 0..5 {
        let status = login_from(&app, ATTACKER, &user.email, "a wrong guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = login_from(&app, ATTACKER, &user.email, &user.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The attacker cannot lock the owner out: the owner's address has its own count.
    let status = login_from(&app, OWNER, &user.email, &user.password).await;
    assert_eq!(status, StatusCode::OK, "the owner still logs in");
    // Spraying: one password over many accounts from one address stops at the address's
    // limit (8 failures an hour, 5 of them spent above).
    let sprayed: Vec<StatusCode> = {
        let mut out = Vec::new();
        for i in 0..4 {
            let email = format!("victim{i}@example.com");
            out.push(login_from(&app, ATTACKER, &email, "Summer2026!").await);
        }
        out
    };
    assert_eq!(
        sprayed,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // A header the peer was not trusted for would change nothing; here the proxy is trusted,
    // and another client behind it is unaffected.
    let status = login_from(&app, "192.0.2.44", &user.email, &user.password).await;
    assert_eq!(status, StatusCode::OK);
}

async fn registrations_are_limited_per_address(app: TestApp) {
    let register = |from: &'static str, i: u32| {
        let body = serde_json::json!({"email": format!("new{i}-{from}@example.com"), "password": "long enough"});
        post_from(&app, from, "/api/v1/auth/register", body)
    };
    for i in 0..3 {
        assert_eq!(register(ATTACKER, i).await, StatusCode::CREATED);
    }
    // Taken or not, every attempt counts: "email taken" answers are worth slowing too.
    assert_eq!(register(ATTACKER, 99).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(register(OWNER, 0).await, StatusCode::CREATED);
}

async fn an_account_registered_first_does_not_become_admin(app: TestApp) {
    // Someone registers the address the operator is about to configure, and logs in.
    let squatter = app.user_with(ADMIN_EMAIL).await;
    let configured = "the operator's configured password";
    let admin = pdfq_api::bootstrap_admin(&app.store, &app.broker, ADMIN_EMAIL, configured)
        .await
        .unwrap();
    assert_eq!(admin.id, squatter.id);
    // Their password, tokens and sessions are gone; only the configured password opens it.
    let err = app
        .client
        .login(ADMIN_EMAIL, &squatter.password)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let err = squatter.client.admin_overview().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "their access token is refused");
    let err = app
        .client
        .refresh(&squatter.tokens.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "their refresh token is revoked");
    let tokens = app.client.login(ADMIN_EMAIL, configured).await.unwrap();
    app.client
        .with_token(&tokens.access_token)
        .admin_overview()
        .await
        .unwrap();
    // Starting again with the same configuration changes nothing and ends no session.
    pdfq_api::bootstrap_admin(&app.store, &app.broker, ADMIN_EMAIL, configured)
        .await
        .unwrap();
    app.client.refresh(&tokens.refresh_token).await.unwrap();
}

async fn the_configured_admin_email_cannot_be_registered(app: TestApp) {
    let err = app
        .client
        .register(&ADMIN_EMAIL.to_uppercase(), "a password long enough")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(409), Some("email_taken")),
        "said as for any taken address"
    );
}

async fn concurrent_refreshes_keep_the_session(app: TestApp) {
    let user = app.user().await;
    let token = user.tokens.refresh_token.clone();
    // Two tabs refresh with the same token at once, 10 times over: both always succeed and get
    // the same successor.
    let mut current = token;
    for _ in 0..10 {
        let (a, b) = tokio::join!(app.client.refresh(&current), app.client.refresh(&current));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.refresh_token, b.refresh_token);
        current = a.refresh_token;
    }
    // A late retry of an old token whose successor has been used revokes the family, as always.
    let next = app.client.refresh(&current).await.unwrap();
    app.client.refresh(&next.refresh_token).await.unwrap();
    let err = app.client.refresh(&current).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let err = app.client.refresh(&next.refresh_token).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "the family is revoked");
}

async fn logout_ends_access_tokens_and_streams(app: TestApp) {
    let user = app.user().await;
    let second = app.client.login(&user.email, &user.password).await.unwrap();
    let second_client = app.client.with_token(&second.access_token);
    let job = user
        .client
        .upload("a.pdf", pdfq_e2e::pdf::hello())
        .await
        .unwrap()
        .job_id;
    // A progress stream of the first session is open while that session logs out.
    let stream = reqwest::Client::new()
        .get(app.client.url(&format!("/api/v1/jobs/{job}/events")))
        .bearer_auth(&user.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    user.client
        .logout(Some(&user.tokens.refresh_token))
        .await
        .unwrap();
    let err = user
        .client
        .jobs(&JobListQuery::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(401),
        "the logged-out session's access token"
    );
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), stream.text())
        .await
        .expect("the stream ends with its session")
        .unwrap();
    assert!(!body.contains("event: end"), "{body}");
    // The other session is untouched until a logout without a token ends them all.
    second_client.jobs(&JobListQuery::default()).await.unwrap();
    second_client.logout(None).await.unwrap();
    let err = second_client
        .jobs(&JobListQuery::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
}

async fn another_users_refresh_token_cannot_end_a_session(app: TestApp) {
    let victim = app.user().await;
    let attacker = app.user().await;
    attacker
        .client
        .logout(Some(&victim.tokens.refresh_token))
        .await
        .unwrap();
    victim.client.jobs(&JobListQuery::default()).await.unwrap();
    app.client
        .refresh(&victim.tokens.refresh_token)
        .await
        .expect("the victim's token is neither spent nor revoked");
}

async fn logout_needs_no_body(app: TestApp) {
    let user = app.user().await;
    let response = reqwest::Client::new()
        .post(app.client.url("/api/v1/auth/logout"))
        .bearer_auth(&user.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let err = app
        .client
        .refresh(&user.tokens.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "every session ended");
}

async fn a_deleted_users_token_gets_401(app: TestApp) {
    let user = app.user().await;
    app.delete_user(user.id).await;
    let err = user
        .client
        .upload("a.pdf", pdfq_e2e::pdf::hello())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("unauthorized")),
        "{err}"
    );
}

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
    // The other session lives until a logout without a token ends them all; the ended
    // session's access token can no longer do even that.
    let second = app.client.refresh(&second.refresh_token).await.unwrap();
    let err = user.client.logout(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    app.client
        .with_token(&second.access_token)
        .logout(None)
        .await
        .unwrap();
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
    sid: String,
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
        sid: uuid::Uuid::new_v4().to_string(),
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
    let issued_later = Claims {
        iat: now + 3600,
        exp: now + 7200,
        ..good.clone()
    };
    assert_401(
        &app,
        &sign(Algorithm::HS256, key, &issued_later),
        "iat ahead",
    )
    .await;
    let mut not_yet = serde_json::to_value(&good).unwrap();
    not_yet["nbf"] = (now + 3600).into();
    let not_yet = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &not_yet,
        &EncodingKey::from_secret(key),
    )
    .unwrap();
    assert_401(&app, &not_yet, "nbf ahead").await;
    let mut no_session = serde_json::to_value(&good).unwrap();
    no_session.as_object_mut().unwrap().remove("sid");
    let no_session = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &no_session,
        &EncodingKey::from_secret(key),
    )
    .unwrap();
    assert_401(&app, &no_session, "no session").await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_unreachable_logins_are_still_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = pdfq_store::Store::sqlite(&dir.path().join("pdfq.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker: pdfq_queue::Broker = pdfq_queue::RedisBroker::connect_url(
        &format!("redis://127.0.0.1:{port}"),
        "pdfq-test-down",
        pdfq_queue::QueueOptions::default(),
    )
    .await
    .unwrap()
    .into();
    let mut settings = pdfq_e2e::test_settings();
    settings.login_rate_limit = "3/hour".parse().unwrap();
    let app = TestApp::spawn_on(store, broker, settings).await;
    app.client
        .register("someone@example.com", "the right password")
        .await
        .unwrap();
    for _ in 0..3 {
        let err = app
            .client
            .login("someone@example.com", "a wrong guess")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(401));
    }
    let err = app
        .client
        .login("someone@example.com", "the right password")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(429), Some("rate_limited")),
        "counted in the API process while Redis is down: {err}"
    );
}
