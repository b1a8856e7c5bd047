//! Environment checks: the variables a distributed deployment needs, present and well-formed,
//! and a JWT_SECRET strong enough to sign tokens with.

use super::Inputs;
use super::report::Section;

/// The API refuses a shorter secret (pdfq-api's MIN_JWT_SECRET_BYTES).
const MIN_JWT_SECRET_BYTES: usize = 32;

pub fn check(inputs: &Inputs) -> Section {
    let mut s = Section::new("env");
    match inputs.database_url.as_deref() {
        None => s.warn(
            "DATABASE_URL",
            "not set: database checks skipped (the embedded `pdfctl up` needs none)",
            "for a deployment, set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB (Supabase: Project settings > Database > Session pooler)",
        ),
        Some(url) if url.starts_with("sqlite:") => {
            s.ok("DATABASE_URL", "sqlite: the embedded store");
        }
        Some(url) => match pdfq_store::normalize_database_url(url) {
            Ok(normalized) => s.ok(
                "DATABASE_URL",
                format!("set: {}", pdfq_domain::secret::redact_url(&normalized)),
            ),
            Err(e) => s.fail(
                "DATABASE_URL",
                format!("not usable: {e}"),
                "set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB; percent-encode special characters in the password",
            ),
        },
    }
    match inputs.redis_url.as_deref() {
        None => s.warn(
            "REDIS_URL",
            "not set: Redis and queue checks skipped (the embedded `pdfctl up` needs none)",
            "for a deployment, set REDIS_URL=redis://default:PASSWORD@HOST:6379 (Railway: the Redis service's REDIS_URL variable)",
        ),
        Some(url) => match pdfq_queue::normalize_redis_url(url, inputs.redis_tls) {
            Ok(normalized) => s.ok(
                "REDIS_URL",
                format!("set: {}", pdfq_domain::secret::redact_url(&normalized)),
            ),
            Err(e) => s.fail(
                "REDIS_URL",
                format!("not usable: {e}"),
                "set REDIS_URL=redis://[:PASSWORD@]HOST:PORT[/DB]",
            ),
        },
    }
    jwt_secret(
        &mut s,
        inputs.jwt_secret.as_deref(),
        inputs.database_url.is_some(),
    );
    s
}

fn jwt_secret(s: &mut Section, secret: Option<&str>, distributed: bool) {
    const FIX: &str =
        "generate one with `openssl rand -base64 48` and set JWT_SECRET to it on every API replica";
    let Some(secret) = secret else {
        if distributed {
            s.fail(
                "JWT_SECRET",
                "not set: the API refuses to start in production without it",
                FIX,
            );
        } else {
            s.skip(
                "JWT_SECRET",
                "not set (the embedded `pdfctl up` makes its own)",
            );
        }
        return;
    };
    let len = secret.len();
    if len < MIN_JWT_SECRET_BYTES {
        s.fail(
            "JWT_SECRET",
            format!("{len} bytes: the API needs at least {MIN_JWT_SECRET_BYTES}"),
            FIX,
        );
        return;
    }
    let distinct = secret
        .bytes()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let lower = secret.to_ascii_lowercase();
    let placeholder = [
        "changeme",
        "change-me",
        "secret",
        "example",
        "your-",
        "password",
    ]
    .iter()
    .any(|word| lower.contains(word));
    if distinct < 10 || placeholder {
        s.warn(
            "JWT_SECRET",
            format!(
                "{len} bytes but guessable ({})",
                if placeholder {
                    "looks like a placeholder"
                } else {
                    "few distinct characters"
                }
            ),
            FIX,
        );
    } else {
        s.ok(
            "JWT_SECRET",
            format!("{len} bytes, {distinct} distinct characters"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::report::Level;

    fn inputs(jwt: Option<&str>) -> Inputs {
        Inputs {
            database_url: Some("postgresql://u:hunter22@db.example.com:5432/app".to_owned()),
            redis_url: Some("redis://127.0.0.1:6379".to_owned()),
            redis_tls: false,
            jwt_secret: jwt.map(str::to_owned),
            ..Inputs::default()
        }
    }

    fn level(section: &Section, name: &str) -> Level {
        section
            .checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.level)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn jwt_secret_strength_is_judged() {
        assert_eq!(level(&check(&inputs(None)), "env.JWT_SECRET"), Level::Fail);
        assert_eq!(
            level(&check(&inputs(Some("short"))), "env.JWT_SECRET"),
            Level::Fail
        );
        assert_eq!(
            level(&check(&inputs(Some(&"a".repeat(40)))), "env.JWT_SECRET"),
            Level::Warn
        );
        assert_eq!(
            level(
                &check(&inputs(Some("changeme-changeme-changeme-changeme"))),
                "env.JWT_SECRET"
            ),
            Level::Warn
        );
        let good = check(&inputs(Some("q8Yz2mB7xL0pV4nR6tK1wE9sD3fG5hJ+aC/uI=")));
        assert_eq!(level(&good, "env.JWT_SECRET"), Level::Ok);
        assert_eq!(level(&good, "env.DATABASE_URL"), Level::Ok);
        assert!(!format!("{:?}", good.checks).contains("hunter22"));
    }
}
