//! `pdfctl plan`: the original design's sizing rules as a table with a verdict: each process's
//! database pool for the Railway plan, the total of every process's connections against the
//! database's limit, and whether each worker's pool covers its concurrency.

use std::process::ExitCode;

use serde::Serialize;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each process may open pool_size + max_overflow connections; the plan sets pool_size (Starter 5,
Hobby 10, Pro 20). The verdict is fail when every process together may open more than
--db-max-connections, warn above 80% (a rolling deploy runs old and new replicas at once) or
when a worker's pool is below concurrency x 2. Exit status 1 on fail.

Example: pdfctl plan --api-replicas 2 --workers 3 --concurrency 2 --plan hobby --db-max-connections 60")]
pub struct Args {
    /// API replicas.
    #[arg(long, default_value_t = 1)]
    api_replicas: u32,
    /// Worker replicas.
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// Jobs each worker runs at once (WORKER_CONCURRENCY).
    #[arg(long, default_value_t = 2)]
    concurrency: u32,
    /// The Railway plan, which sets each process's pool size (starter 5, hobby 10, pro 20).
    #[arg(long, value_enum, default_value_t = RailwayPlan::Hobby)]
    plan: RailwayPlan,
    /// The database's connection limit (100 on Supabase's free tier).
    #[arg(long, default_value_t = 100)]
    db_max_connections: u32,
    /// Connections a process may open beyond its pool under a burst (DB_MAX_OVERFLOW).
    #[arg(long, default_value_t = 5)]
    max_overflow: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RailwayPlan {
    Starter,
    Hobby,
    Pro,
}

impl RailwayPlan {
    /// The design's pool_size per process for the plan.
    #[must_use]
    pub const fn pool_size(self) -> u32 {
        match self {
            Self::Starter => 5,
            Self::Hobby => 10,
            Self::Pro => 20,
        }
    }
}

/// What pdfctl itself holds while it runs doctor or migrate.
const PDFCTL_CONNECTIONS: u32 = 2;

/// One kind of process in the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub process: &'static str,
    pub count: u32,
    pub pool_size: u32,
    pub max_each: u32,
    pub total: u32,
}

/// The sizing and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sizing {
    pub plan: RailwayPlan,
    pub rows: Vec<Row>,
    pub total: u32,
    pub db_max_connections: u32,
    /// workers x concurrency x 2: the design's connections for the workers' jobs.
    pub worker_connections_needed: u32,
    /// `ok`, `warn` or `fail`.
    pub verdict: &'static str,
    pub findings: Vec<String>,
}

#[must_use]
pub fn size(
    api_replicas: u32,
    workers: u32,
    concurrency: u32,
    plan: RailwayPlan,
    db_max_connections: u32,
    max_overflow: u32,
) -> Sizing {
    let pool = plan.pool_size();
    let max_each = pool.saturating_add(max_overflow);
    let row = |process, count: u32, pool_size, max_each: u32| Row {
        process,
        count,
        pool_size,
        max_each,
        total: count.saturating_mul(max_each),
    };
    let rows = vec![
        row("api", api_replicas, pool, max_each),
        row("worker", workers, pool, max_each),
        row("pdfctl", 1, PDFCTL_CONNECTIONS, PDFCTL_CONNECTIONS),
    ];
    let total = rows.iter().map(|r| r.total).fold(0u32, u32::saturating_add);
    let needed = workers.saturating_mul(concurrency).saturating_mul(2);
    let mut findings = Vec::new();
    let mut verdict = "ok";
    let per_worker = concurrency.saturating_mul(2);
    if pool < per_worker {
        verdict = "warn";
        findings.push(format!(
            "each worker runs {concurrency} jobs and wants {per_worker} connections (concurrency x 2) but its pool is {pool}: set DB_POOL_SIZE={per_worker} on the workers or lower WORKER_CONCURRENCY"
        ));
    }
    // 80 %: room for migrations, consoles and a rolling deploy, when old and new replicas
    // overlap and hold connections at once.
    let comfortable = db_max_connections / 5 * 4;
    if total > db_max_connections {
        verdict = "fail";
        findings.push(format!(
            "{total} connections at most against the database's {db_max_connections}: under load new connections will be refused; lower DB_POOL_SIZE / DB_MAX_OVERFLOW, use fewer replicas, or a larger database"
        ));
    } else if total > comfortable {
        if verdict == "ok" {
            verdict = "warn";
        }
        findings.push(format!(
            "{total} connections at most is over 80% of the database's {db_max_connections}: a rolling deploy doubles the replicas for a while and may run out"
        ));
    } else {
        findings.push(format!(
            "{total} connections at most of the database's {db_max_connections}: room to spare"
        ));
    }
    Sizing {
        plan,
        rows,
        total,
        db_max_connections,
        worker_connections_needed: needed,
        verdict,
        findings,
    }
}

#[must_use]
pub fn table(sizing: &Sizing) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<8}  {:>5}  {:>9}  {:>8}  {:>6}\n",
        "process", "count", "pool_size", "max_each", "total"
    );
    for r in &sizing.rows {
        let _ = writeln!(
            out,
            "{:<8}  {:>5}  {:>9}  {:>8}  {:>6}",
            r.process, r.count, r.pool_size, r.max_each, r.total
        );
    }
    let _ = writeln!(
        out,
        "{:<8}  {:>5}  {:>9}  {:>8}  {:>6}  of {} allowed",
        "total", "", "", "", sizing.total, sizing.db_max_connections
    );
    let _ = writeln!(
        out,
        "workers x concurrency x 2 = {} connections for the jobs",
        sizing.worker_connections_needed
    );
    let _ = writeln!(out, "verdict: {}", sizing.verdict);
    for finding in &sizing.findings {
        let _ = writeln!(out, "  - {finding}");
    }
    out
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let sizing = size(
        args.api_replicas,
        args.workers,
        args.concurrency,
        args.plan,
        args.db_max_connections,
        args.max_overflow,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sizing)?);
    } else {
        print!("{}", table(&sizing));
    }
    Ok(if sizing.verdict == "fail" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_designs_examples_size_as_expected() {
        // 3 workers x 2 concurrent = 12 connections for the jobs, as in the design.
        let s = size(1, 3, 2, RailwayPlan::Hobby, 100, 5);
        assert_eq!(s.worker_connections_needed, 12);
        assert_eq!(s.total, 15 + 45 + 2);
        assert_eq!(s.verdict, "ok");

        let s = size(1, 1, 4, RailwayPlan::Starter, 100, 5);
        assert_eq!(s.verdict, "warn", "{:?}", s.findings);

        let s = size(3, 4, 4, RailwayPlan::Pro, 100, 5);
        assert_eq!(s.total, 3 * 25 + 4 * 25 + 2);
        assert_eq!(s.verdict, "fail");
        assert!(table(&s).contains("verdict: fail"));
    }
}
