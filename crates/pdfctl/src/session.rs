//! Saved logins: one token pair per API URL, in the user's config directory, mode 0600.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use pdfq_api_types::TokenPair;
use pdfq_client::Client;
use serde::{Deserialize, Serialize};

/// A login kept for one API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds after which the access token must be refreshed.
    pub expires_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    apis: BTreeMap<String, Saved>,
}

/// `$PDFQ_CONFIG_DIR`, else `$XDG_CONFIG_HOME/pdfq`, else `~/.config/pdfq`.
fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PDFQ_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(dir).join("pdfq"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set PDFQ_CONFIG_DIR")?;
    Ok(PathBuf::from(home).join(".config").join("pdfq"))
}

fn credentials_path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

fn load() -> anyhow::Result<Credentials> {
    let path = credentials_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is damaged; delete it and log in again", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn store(credentials: &Credentials) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    let path = credentials_path()?;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // An older file may have been created with a wider mode.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(&serde_json::to_vec_pretty(credentials)?)?;
    Ok(path)
}

/// Remembers `tokens` for `api_url`; returns where they are kept.
pub fn save(api_url: &str, email: &str, tokens: &TokenPair) -> anyhow::Result<PathBuf> {
    let mut credentials = load()?;
    credentials
        .apis
        .insert(api_url.to_owned(), saved(email, tokens));
    store(&credentials)
}

/// Forgets the login for `api_url`, returning it if there was one.
pub fn forget(api_url: &str) -> anyhow::Result<Option<Saved>> {
    let mut credentials = load()?;
    let removed = credentials.apis.remove(api_url);
    store(&credentials)?;
    Ok(removed)
}

fn saved(email: &str, tokens: &TokenPair) -> Saved {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Saved {
        email: email.to_owned(),
        access_token: tokens.access_token.clone(),
        refresh_token: tokens.refresh_token.clone(),
        expires_at: now + i64::try_from(tokens.expires_in).unwrap_or(3600),
    }
}

/// A client for `api_url` carrying the saved access token, refreshed first when it has expired
/// (or is about to).
pub async fn authenticated(api_url: &str) -> anyhow::Result<Client> {
    let client = Client::new(api_url).with_context(|| format!("bad API URL {api_url}"))?;
    let mut credentials = load()?;
    let Some(login) = credentials.apis.get(api_url).cloned() else {
        bail!("not logged in to {api_url}: run `pdfctl --api-url {api_url} login --email EMAIL`");
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if now + 30 < login.expires_at {
        return Ok(client.with_token(&login.access_token));
    }
    let tokens = client.refresh(&login.refresh_token).await.map_err(|e| {
        anyhow::anyhow!("the saved login for {api_url} has expired ({e}); run `pdfctl login` again")
    })?;
    credentials
        .apis
        .insert(api_url.to_owned(), saved(&login.email, &tokens));
    store(&credentials)?;
    Ok(client.with_token(&tokens.access_token))
}
