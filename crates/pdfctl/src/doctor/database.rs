//! Database checks: reachable (with latency), TLS for a remote host, server version,
//! max_connections and the session pooler's client limit against every process's pool,
//! migrations applied and the schema verified, and the Supabase traps (the transaction-mode
//! poolers, the IPv6-only direct host, the per-project pooler host prefix).

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use pdfq_store::Store;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, PgConnection};

use super::Inputs;
use super::report::Section;
use crate::commands::plan::{Processes, fitting_advice};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The checks, and the store for the queue checks when the database could be opened.
pub async fn check(inputs: &Inputs) -> (Section, Option<Store>) {
    let mut s = Section::new("database");
    let Some(raw) = inputs.database_url.as_deref() else {
        s.skip("reachable", "DATABASE_URL is not set");
        return (s, None);
    };
    if raw.starts_with("sqlite:") {
        let store = match Store::connect(raw).await {
            Ok(store) => {
                s.ok("reachable", format!("opened {raw}"));
                store
            }
            Err(e) => {
                s.fail(
                    "reachable",
                    format!("cannot open {raw}: {e}"),
                    "check the path exists and is writable",
                );
                return (s, None);
            }
        };
        migrations(&mut s, &store).await;
        return (s, Some(store));
    }
    let Ok(url) = pdfq_store::normalize_database_url(raw) else {
        s.skip("reachable", "DATABASE_URL is not usable (see env)");
        return (s, None);
    };
    let (host, port) = host_port(&url);
    supabase_pooler(&mut s, &host, port, inputs);

    let Some(mut conn) = connect(&mut s, &url, &host).await else {
        return (s, None);
    };
    server(&mut s, &mut conn, &host, inputs).await;
    let _ = conn.close().await;

    let store = match Store::connect(&url).await {
        Ok(store) => store,
        Err(e) => {
            s.fail(
                "migrations",
                format!("cannot open the pool: {e}"),
                "see database.reachable",
            );
            return (s, None);
        }
    };
    migrations(&mut s, &store).await;
    (s, Some(store))
}

fn host_port(url: &str) -> (String, u16) {
    url::Url::parse(url).map_or_else(
        |_| (String::new(), 5432),
        |u| {
            (
                u.host_str().unwrap_or_default().to_owned(),
                u.port().unwrap_or(5432),
            )
        },
    )
}

fn is_local(host: &str) -> bool {
    matches!(host, "" | "localhost" | "127.0.0.1" | "::1" | "[::1]") || host.starts_with('/')
}

/// Every process the deployment runs, as the inputs describe it.
fn processes(inputs: &Inputs) -> Processes {
    Processes::new(inputs.api_replicas, inputs.workers, inputs.redeploy_overlap)
}

fn supabase_pooler(s: &mut Section, host: &str, port: u16, inputs: &Inputs) {
    let direct = host.starts_with("db.") && host.ends_with(".supabase.co");
    let shared = host.ends_with(".pooler.supabase.com");
    let session_fix = "use the session pooler: Supabase > Connect > Session pooler (port 5432, user postgres.<ref>), its host copied as shown";
    if port == 6543 && direct {
        s.fail(
            "pooler",
            format!("{host}:6543 is Supabase's dedicated PgBouncer pooler, in transaction mode"),
            format!("transaction mode keeps no session between transactions and breaks the prepared statements sqlx uses: {session_fix}"),
        );
        return;
    }
    if port == 6543 && shared {
        s.fail(
            "pooler",
            format!(
                "{host}:6543 is Supabase's shared transaction pooler (Supavisor, transaction mode)"
            ),
            format!("transaction mode breaks the prepared statements sqlx uses: {session_fix}"),
        );
        return;
    }
    if port == 6543 {
        s.warn(
            "pooler",
            format!("{host}:6543 is usually a transaction-mode pooler (PgBouncer's port)"),
            "transaction mode breaks the prepared statements sqlx uses: connect in session mode",
        );
        return;
    }
    if !shared {
        return;
    }
    let processes = processes(inputs);
    let per_process = inputs.db_pool_size.saturating_add(inputs.db_max_overflow);
    let total = processes.connections(per_process);
    let limit = inputs.pooler_max_clients;
    let saw = format!(
        "{host}:{port}: Supabase's session pooler, at most {limit} clients (--pooler-max-clients); the pools may open {total}: {}",
        processes.describe(per_process)
    );
    if limit > 0 && total > limit {
        s.fail(
            "pooler",
            saw + " (\"max clients reached in session mode\" once they are all open)",
            fitting_advice(processes, limit, inputs.db_max_overflow),
        );
    } else {
        s.ok("pooler", saw);
    }
}

async fn connect(s: &mut Section, url: &str, host: &str) -> Option<PgConnection> {
    let options = match PgConnectOptions::from_str(url) {
        Ok(options) => options.disable_statement_logging(),
        Err(e) => {
            s.fail(
                "reachable",
                format!("DATABASE_URL does not parse: {e}"),
                "set DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB",
            );
            return None;
        }
    };
    let user = options.get_username().to_owned();
    let started = Instant::now();
    let result = tokio::time::timeout(TIMEOUT, options.connect()).await;
    let elapsed = started.elapsed();
    match result {
        Ok(Ok(mut conn)) => {
            // The round trip of one query, which is what every request pays; the connect time
            // includes the TLS handshake and authentication.
            let ping = Instant::now();
            let _ = sqlx::query("select 1").execute(&mut conn).await;
            s.ok(
                "reachable",
                format!(
                    "{} answered: {:.1} ms a query ({:.0} ms to connect)",
                    pdfq_domain::secret::redact_url(url),
                    ping.elapsed().as_secs_f64() * 1000.0,
                    elapsed.as_secs_f64() * 1000.0
                ),
            );
            Some(conn)
        }
        Ok(Err(e)) => {
            let message = e.to_string();
            let (saw, fix) = diagnose_connect_error(&message, host, &user);
            s.fail("reachable", saw, fix);
            None
        }
        Err(_) => {
            s.fail(
                "reachable",
                format!("{host}: no answer within {}s", TIMEOUT.as_secs()),
                "check the host and port, and that this machine may reach it (firewall, allow-list, private network)",
            );
            None
        }
    }
}

/// What a connection error means, and what to do about it.
fn diagnose_connect_error(message: &str, host: &str, user: &str) -> (String, String) {
    let lower = message.to_ascii_lowercase();
    let direct_supabase = host.starts_with("db.") && host.ends_with(".supabase.co");
    if lower.contains("password authentication failed") || lower.contains("28p01") {
        return (
            format!("{host} refused the password for user {user:?}"),
            "put the right password in DATABASE_URL (Supabase: Project settings > Database > Reset password), percent-encoding special characters".to_owned(),
        );
    }
    if lower.contains("tenant or user not found") {
        return (
            format!("{host}: {message}"),
            "Supabase's pooler answers this for a wrong user or a wrong host: the user must be postgres.<project-ref> (not just postgres), and the host's prefix (aws-<N>-<region>) differs from project to project; copy the Session pooler string as shown in Supabase > Connect".to_owned(),
        );
    }
    if lower.contains("does not exist") && lower.contains("database") {
        return (
            format!("{host}: {message}"),
            "create the database, or fix its name at the end of DATABASE_URL".to_owned(),
        );
    }
    if direct_supabase
        && (lower.contains("network is unreachable")
            || lower.contains("no address")
            || lower.contains("failed to lookup")
            || lower.contains("name or service not known")
            || lower.contains("cannot assign requested address"))
    {
        return (
            format!("{host}: {message}; Supabase's direct host db.<ref>.supabase.co has only an IPv6 address, and this host has no IPv6 egress"),
            "use the session pooler instead: postgresql://postgres.<ref>:PASSWORD@aws-<N>-<region>.pooler.supabase.com:5432/postgres, copied from Supabase > Connect > Session pooler (the aws-<N> prefix differs from project to project), or turn IPv6 egress on".to_owned(),
        );
    }
    if lower.contains("ssl") || lower.contains("tls") {
        return (
            format!("{host}: {message}"),
            "the server's TLS setup does not match: try sslmode=require (or disable for a local server) in DATABASE_URL".to_owned(),
        );
    }
    (
        format!("{host}: {message}"),
        "check the host and port in DATABASE_URL and that the server is up and reachable from here"
            .to_owned(),
    )
}

async fn server(s: &mut Section, conn: &mut PgConnection, host: &str, inputs: &Inputs) {
    match sqlx::query_scalar::<_, String>("show server_version")
        .fetch_one(&mut *conn)
        .await
    {
        Ok(version) => {
            let major: u32 = version
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major >= 13 {
                s.ok("version", format!("PostgreSQL {version}"));
            } else {
                s.warn(
                    "version",
                    format!("PostgreSQL {version}"),
                    "pdfq is tested on PostgreSQL 13 and later; upgrade the server",
                );
            }
        }
        Err(e) => s.warn(
            "version",
            format!("cannot read: {e}"),
            "check the role's rights",
        ),
    }

    let ssl: Result<Option<bool>, _> =
        sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
            .fetch_optional(&mut *conn)
            .await;
    match (ssl, is_local(host)) {
        (Ok(Some(true)), _) => s.ok("tls", "the connection is encrypted"),
        (Ok(_), true) => s.ok("tls", format!("not encrypted; not needed for the local host {host:?}")),
        (Ok(_), false) => s.fail(
            "tls",
            format!("the connection to {host} is not encrypted: passwords and data cross the network in clear"),
            "add sslmode=require to DATABASE_URL (pdfq adds it when no sslmode is given; remove sslmode=disable/prefer)",
        ),
        (Err(e), _) => s.warn("tls", format!("cannot read pg_stat_ssl: {e}"), "check the role's rights"),
    }

    let max: Result<String, _> = sqlx::query_scalar("show max_connections")
        .fetch_one(&mut *conn)
        .await;
    let in_use: i64 = sqlx::query_scalar("select count(*) from pg_stat_activity")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(0);
    match max.ok().and_then(|m| m.parse::<u32>().ok()) {
        Some(max) => {
            let processes = processes(inputs);
            let per_process = inputs.db_pool_size.saturating_add(inputs.db_max_overflow);
            let total = processes.connections(per_process);
            let saw = format!(
                "max_connections {max}, {in_use} open now; the pools may open {total}: {}",
                processes.describe(per_process)
            );
            let fix = format!(
                "{}; or raise max_connections (`pdfctl plan` sizes it)",
                fitting_advice(processes, max, inputs.db_max_overflow)
            );
            if total > max {
                s.fail("max_connections", saw, fix);
            } else if total > max / 5 * 4 {
                s.warn(
                    "max_connections",
                    saw + " (over 80%: little room for consoles and migrations)",
                    fix,
                );
            } else {
                s.ok("max_connections", saw);
            }
        }
        None => s.warn("max_connections", "cannot read", "check the role's rights"),
    }
}

async fn migrations(s: &mut Section, store: &Store) {
    match store.migration_status().await {
        Ok(list) => {
            let pending: Vec<String> = list
                .iter()
                .filter(|m| m.applied_at.is_none())
                .map(|m| format!("{} {}", m.version, m.description))
                .collect();
            let changed: Vec<String> = list
                .iter()
                .filter(|m| m.checksum_mismatch)
                .map(|m| m.version.to_string())
                .collect();
            if !pending.is_empty() {
                s.fail(
                    "migrations",
                    format!(
                        "{} of {} not applied: {}",
                        pending.len(),
                        list.len(),
                        pending.join(", ")
                    ),
                    "run `pdfctl migrate run` with this DATABASE_URL (or start the API with MIGRATE_ON_START=true)",
                );
            } else if !changed.is_empty() {
                s.fail(
                    "migrations",
                    format!("applied scripts differ from this build's: {}", changed.join(", ")),
                    "the database was migrated by another pdfq version; deploy the matching version",
                );
            } else {
                s.ok("migrations", format!("all {} applied", list.len()));
            }
        }
        Err(e) => s.fail(
            "migrations",
            format!("cannot read: {e}"),
            "see database.reachable; `pdfctl migrate status` shows more",
        ),
    }
    match store.verify_schema().await {
        Ok(differences) if differences.is_empty() => {
            s.ok("schema", "matches the migrations");
        }
        Ok(differences) => {
            let shown: Vec<String> = differences
                .iter()
                .take(5)
                .map(ToString::to_string)
                .collect();
            s.fail(
                "schema",
                format!(
                    "{} differences from the migrations: {}{}",
                    differences.len(),
                    shown.join("; "),
                    if differences.len() > 5 { "; ..." } else { "" }
                ),
                "`pdfctl migrate run` applies pending migrations; `pdfctl migrate verify` lists every difference",
            );
        }
        Err(e) => s.warn(
            "schema",
            format!("cannot verify: {e}"),
            "`pdfctl migrate verify` shows more",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supabase_traps_are_named() {
        let (saw, fix) = diagnose_connect_error(
            "error communicating with database: Network is unreachable (os error 101)",
            "db.abcdefgh.supabase.co",
            "postgres",
        );
        assert!(saw.contains("IPv6"), "{saw}");
        assert!(fix.contains("pooler.supabase.com:5432"), "{fix}");

        assert!(!fix.contains("aws-0"), "{fix}");

        let (_, fix) = diagnose_connect_error(
            "error returned from database: FATAL: Tenant or user not found",
            "aws-1-eu-west-1.pooler.supabase.com",
            "postgres",
        );
        assert!(fix.contains("postgres.<project-ref>"), "{fix}");
        assert!(
            fix.contains("prefix"),
            "a wrong host prefix is named: {fix}"
        );

        let inputs = Inputs {
            api_replicas: 2,
            workers: 1,
            db_pool_size: 10,
            db_max_overflow: 5,
            pooler_max_clients: 15,
            ..Inputs::default()
        };
        for host in [
            "aws-1-eu-west-1.pooler.supabase.com",
            "db.abcdefgh.supabase.co",
        ] {
            let mut s = Section::new("database");
            supabase_pooler(&mut s, host, 6543, &inputs);
            let check = &s.checks[0];
            assert_eq!(check.level, super::super::report::Level::Fail, "{host}");
            assert!(check.fix.as_deref().unwrap_or_default().contains("5432"));
        }
    }

    #[test]
    fn the_session_poolers_client_limit_counts_every_process() {
        let mut inputs = Inputs {
            api_replicas: 2,
            workers: 1,
            db_pool_size: 10,
            db_max_overflow: 5,
            pooler_max_clients: 15,
            ..Inputs::default()
        };
        let mut s = Section::new("database");
        supabase_pooler(&mut s, "aws-1-eu-west-1.pooler.supabase.com", 5432, &inputs);
        let check = &s.checks[0];
        assert_eq!(check.level, super::super::report::Level::Fail);
        assert!(check.saw.contains("may open 77"), "{}", check.saw);
        assert!(
            check
                .fix
                .as_deref()
                .unwrap_or_default()
                .contains("DB_POOL_SIZE=2 and DB_MAX_OVERFLOW=0"),
            "{:?}",
            check.fix
        );
        inputs.db_pool_size = 2;
        inputs.db_max_overflow = 0;
        let mut s = Section::new("database");
        supabase_pooler(&mut s, "aws-1-eu-west-1.pooler.supabase.com", 5432, &inputs);
        assert_eq!(s.checks[0].level, super::super::report::Level::Ok);
    }
}
