//! The standalone API honours the documented settings (ALLOWED_ORIGINS, MAX_UPLOAD_BYTES,
//! LOGIN_RATE_LIMIT), read through `ApiConfig` as `pdfq-api` reads them; `pdfctl up` runs the
//! same checks (crates/pdfctl/tests/up.rs).

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_api::{ApiConfig, Settings};
use pdfq_e2e::{TestApp, on_both_backends_with};
use pdfq_test_support::service_checks::{service_flags, the_service_settings_apply};

on_both_backends_with!(configured_as_pdfq_api => the_documented_settings_apply);

/// The test settings with the service settings `pdfq-api` would read from the environment.
fn configured_as_pdfq_api(settings: &mut Settings) {
    let mut args = vec![
        "pdfq-api".to_owned(),
        "--database-url=postgres://unused@127.0.0.1/unused".to_owned(),
        "--redis-url=redis://127.0.0.1:6379".to_owned(),
        "--env=development".to_owned(),
    ];
    args.extend(service_flags());
    let config = ApiConfig::from_args(args).unwrap();
    settings.apply(&config.service);
}

async fn the_documented_settings_apply(app: TestApp) {
    let user = app.user().await;
    the_service_settings_apply(&app.client.url(""), &user.email, &user.password).await;
}
