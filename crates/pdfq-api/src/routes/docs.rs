//! `GET /api/v1/docs`: the API reference page, Swagger UI over `/api/v1/openapi.json`, with
//! try-it against this server. Its files are embedded in the binary (`utoipa-swagger-ui`'s
//! `vendored` feature), so the page works offline and loads nothing from another host.

use std::sync::{Arc, LazyLock};

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// Where the page finds the document (the route in [`super::openapi`]).
pub const SPEC_URL: &str = "/api/v1/openapi.json";

/// Swagger UI's settings, written into its `swagger-initializer.js`.
static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::from(SPEC_URL)
            .try_it_out_enabled(true)
            // A frontend developer reads the names the generated clients use.
            .display_operation_id(true),
    )
});

/// The page. Ours rather than Swagger UI's `index.html`, whose relative asset paths break at
/// `/api/v1/docs` without the trailing slash.
#[utoipa::path(get, path = "/api/v1/docs", tag = "operations",
    responses((status = 200, content_type = "text/html",
               description = "the API reference page (Swagger UI, with try-it); also at `/api/v1/docs/`")))]
pub async fn docs_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("docs/index.html"),
    )
}

/// The page's scripts, styles and icons, under `/api/v1/docs/`.
pub async fn docs_asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::RouteNotFound(format!("/api/v1/docs/{file}"));
    let asset = utoipa_swagger_ui::serve(&file, Arc::clone(&CONFIG))
        .map_err(|e| ApiError::Internal(format!("Swagger UI's configuration: {e}")))?
        .ok_or_else(not_found)?;
    Ok((
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.bytes.into_owned(),
    )
        .into_response())
}
