//! Redis checks: reachable (with latency), TLS, an eviction policy that cannot drop queued jobs,
//! persistence, and memory.

use std::collections::HashMap;
use std::time::Duration;

use pdfq_queue::{QueueOptions, RedisBroker};
use redis::aio::MultiplexedConnection;

use super::Inputs;
use super::report::Section;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The checks, and the broker for the queue checks when Redis answered.
pub async fn check(inputs: &Inputs) -> (Section, Option<RedisBroker>) {
    let mut s = Section::new("redis");
    let Some(raw) = inputs.redis_url.as_deref() else {
        s.skip("reachable", "REDIS_URL is not set");
        return (s, None);
    };
    let Ok(url) = pdfq_queue::normalize_redis_url(raw, inputs.redis_tls) else {
        s.skip("reachable", "REDIS_URL is not usable (see env)");
        return (s, None);
    };
    let shown = pdfq_domain::secret::redact_url(&url);
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    // The broker first: connecting it also installs the TLS provider a rediss:// URL needs.
    let broker =
        match RedisBroker::connect_url(&url, &inputs.redis_key_prefix, QueueOptions::default())
            .await
        {
            Ok(broker) => broker,
            Err(e) => {
                s.fail(
                    "reachable",
                    format!("{shown}: {e}"),
                    "set REDIS_URL=redis://[:PASSWORD@]HOST:PORT[/DB]",
                );
                return (s, None);
            }
        };
    match tokio::time::timeout(TIMEOUT, broker.ping()).await {
        Ok(Ok(ping)) => s.ok(
            "reachable",
            format!(
                "{shown} answered PING in {:.1} ms",
                ping.latency.as_secs_f64() * 1000.0
            ),
        ),
        Ok(Err(e)) => {
            let message = e.to_string();
            let fix = if message.contains("WRONGPASS")
                || message.contains("NOAUTH")
                || message.contains("uthentication")
            {
                "put the right password in REDIS_URL (redis://default:PASSWORD@HOST:PORT)"
            } else {
                "check the host and port in REDIS_URL, REDIS_TLS, and that Redis is up and reachable from here"
            };
            s.fail("reachable", format!("{shown}: {message}"), fix);
            return (s, None);
        }
        Err(_) => {
            s.fail(
                "reachable",
                format!("{shown}: no answer within {}s", TIMEOUT.as_secs()),
                "check the host and port; a TLS-only Redis needs REDIS_TLS=true (rediss://)",
            );
            return (s, None);
        }
    }
    tls(&mut s, &url, &host, inputs.redis_tls);

    let conn = match redis::Client::open(url.as_str()) {
        Ok(client) => {
            tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection()).await
        }
        Err(e) => {
            s.warn(
                "config",
                format!("cannot open a second connection: {e}"),
                "retry",
            );
            return (s, Some(broker));
        }
    };
    let Ok(Ok(mut conn)) = conn else {
        s.warn("config", "cannot open a second connection", "retry");
        return (s, Some(broker));
    };
    eviction(&mut s, &mut conn).await;
    persistence(&mut s, &mut conn).await;
    memory(&mut s, &mut conn).await;
    (s, Some(broker))
}

fn tls(s: &mut Section, url: &str, host: &str, wanted: bool) {
    let encrypted = url.starts_with("rediss:");
    let local = matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]");
    if encrypted {
        s.ok("tls", "rediss://: the connection is encrypted");
    } else if wanted {
        // normalize_redis_url turns redis:// into rediss:// with REDIS_TLS=true, so this is a
        // URL scheme we cannot encrypt (a unix socket).
        s.fail(
            "tls",
            "REDIS_TLS=true but the URL cannot use TLS",
            "use a rediss:// or redis:// URL",
        );
    } else if local || host.ends_with(".railway.internal") {
        s.ok(
            "tls",
            format!("not encrypted; not needed on {host} (local or private network)"),
        );
    } else {
        s.warn(
            "tls",
            format!("the connection to {host} is not encrypted"),
            "if the provider supports TLS, set REDIS_TLS=true (or use rediss://)",
        );
    }
}

async fn config_get(
    conn: &mut MultiplexedConnection,
    name: &str,
) -> Result<Option<String>, String> {
    let pairs: Vec<String> = tokio::time::timeout(
        TIMEOUT,
        redis::cmd("CONFIG").arg("GET").arg(name).query_async(conn),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    Ok(pairs.get(1).cloned())
}

async fn info(
    conn: &mut MultiplexedConnection,
    section: &str,
) -> Result<HashMap<String, String>, String> {
    let text: String =
        tokio::time::timeout(TIMEOUT, redis::cmd("INFO").arg(section).query_async(conn))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect())
}

async fn eviction(s: &mut Section, conn: &mut MultiplexedConnection) {
    match config_get(conn, "maxmemory-policy").await {
        Ok(Some(policy)) if policy == "noeviction" => {
            s.ok("maxmemory-policy", "noeviction: a full Redis refuses writes instead of dropping keys");
        }
        Ok(Some(policy)) => s.fail(
            "maxmemory-policy",
            format!("{policy}: under memory pressure Redis deletes keys, and with them queued jobs, heartbeats and dead letters"),
            "CONFIG SET maxmemory-policy noeviction (and persist it in redis.conf, or the provider's settings)",
        ),
        Ok(None) => s.warn("maxmemory-policy", "not reported", "check it is noeviction in the provider's settings"),
        Err(e) => s.warn(
            "maxmemory-policy",
            format!("cannot read it ({e}): managed Redis often disables CONFIG"),
            "check in the provider's settings that the policy is noeviction",
        ),
    }
}

async fn persistence(s: &mut Section, conn: &mut MultiplexedConnection) {
    let info = match info(conn, "persistence").await {
        Ok(info) => info,
        Err(e) => {
            s.warn(
                "persistence",
                format!("cannot read INFO persistence: {e}"),
                "check the provider's settings",
            );
            return;
        }
    };
    let aof = info.get("aof_enabled").is_some_and(|v| v == "1");
    let save = config_get(conn, "save")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let bgsave_ok = info.get("rdb_last_bgsave_status").is_none_or(|v| v == "ok");
    if !bgsave_ok {
        s.fail(
            "persistence",
            "the last RDB snapshot failed",
            "check Redis's disk (space, permissions) and its log",
        );
    } else if aof {
        s.ok("persistence", "append-only file on");
    } else if !save.trim().is_empty() {
        s.ok(
            "persistence",
            format!("RDB snapshots ({save}); a crash loses the writes since the last one"),
        );
    } else {
        s.warn(
            "persistence",
            "none: a restart empties the queue (pending jobs are re-queued from the database by the sweeper, dead letters and counters are lost)",
            "enable appendonly yes, or RDB snapshots (save 60 1000)",
        );
    }
}

async fn memory(s: &mut Section, conn: &mut MultiplexedConnection) {
    let info = match info(conn, "memory").await {
        Ok(info) => info,
        Err(e) => {
            s.warn(
                "memory",
                format!("cannot read INFO memory: {e}"),
                "check the provider's dashboard",
            );
            return;
        }
    };
    let used: u64 = info
        .get("used_memory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: u64 = info
        .get("maxmemory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let used_text = crate::commands::format::bytes(used);
    if max == 0 {
        s.ok("memory", format!("{used_text} in use, no maxmemory limit"));
    } else if used.saturating_mul(5) > max.saturating_mul(4) {
        s.warn(
            "memory",
            format!("{used_text} in use of {} (over 80%)", crate::commands::format::bytes(max)),
            "raise maxmemory or the plan; purge dead letters (`pdfctl queue purge-dead`); lower RESULT_TTL",
        );
    } else {
        s.ok(
            "memory",
            format!(
                "{used_text} in use of {}",
                crate::commands::format::bytes(max)
            ),
        );
    }
}
