//! `pdfctl plan`: the original design's sizing rules as a table with a verdict: each process's
//! database pool for the Railway plan, the total of every process's connections (a redeploy's
//! overlap and a pdfctl run included) against the Supabase session pooler's client limit and the
//! database's max_connections, the largest pool size that fits, and whether each worker's pool
//! covers its concurrency.

use std::process::ExitCode;

use serde::Serialize;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each process may open pool_size + max_overflow connections; the plan sets pool_size (Starter 5,
Hobby 10, Pro 20). Counted: the API replicas, the workers, the old replicas a redeploy keeps
running until the new ones are healthy (--redeploy-overlap), and a pdfctl run (2). The verdict
is fail when that total exceeds the session pooler's client limit (Supabase's Supavisor in
session mode caps clients at its pool size: 15 on small projects) or --db-max-connections,
warn above 80% of max_connections or when a worker's pool is below concurrency x 2. The table
ends with the largest DB_POOL_SIZE (and DB_MAX_OVERFLOW) that fits. Exit status 1 on fail.

Example: pdfctl plan --api-replicas 2 --workers 1 --pooler-max-clients 15")]
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
    /// The session pooler's client limit (Supabase: its pool size, 15 on small projects);
    /// 0 when the processes connect to the database directly.
    #[arg(long, env = "DB_POOLER_MAX_CLIENTS", default_value_t = 15)]
    pooler_max_clients: u32,
    /// Processes a redeploy runs next to the new ones until they are healthy (default: the
    /// larger of --api-replicas and --workers: services redeploy one at a time; a push that
    /// redeploys both at once overlaps them all).
    #[arg(long)]
    redeploy_overlap: Option<u32>,
    /// Connections a process may open beyond its pool under a burst (DB_MAX_OVERFLOW).
    #[arg(long, default_value_t = 5)]
    max_overflow: u32,
    /// Each process's pool (DB_POOL_SIZE), instead of the plan's: to check the size this
    /// command suggested.
    #[arg(long)]
    db_pool_size: Option<u32>,
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

/// What pdfctl itself holds while it runs doctor or migrate: its pool opens connections
/// lazily and its work is sequential.
pub const PDFCTL_CONNECTIONS: u32 = 2;

/// The processes that hold a pool at the worst moment: every API replica and worker, plus the
/// old replicas of a redeploy (each process may open DB_POOL_SIZE + DB_MAX_OVERFLOW), plus a
/// pdfctl run. The one count `pdfctl plan` and `pdfctl doctor` both check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Processes {
    pub api_replicas: u32,
    pub workers: u32,
    pub redeploy_overlap: u32,
}

impl Processes {
    /// `overlap` None: the larger service's replicas (services redeploy one at a time).
    #[must_use]
    pub fn new(api_replicas: u32, workers: u32, overlap: Option<u32>) -> Self {
        Self {
            api_replicas,
            workers,
            redeploy_overlap: overlap.unwrap_or(api_replicas.max(workers)),
        }
    }

    /// Processes that hold a full pool.
    #[must_use]
    pub fn pooled(self) -> u32 {
        self.api_replicas
            .saturating_add(self.workers)
            .saturating_add(self.redeploy_overlap)
    }

    /// The most connections they may open together, each holding up to `max_each`.
    #[must_use]
    pub fn connections(self, max_each: u32) -> u32 {
        self.pooled()
            .saturating_mul(max_each)
            .saturating_add(PDFCTL_CONNECTIONS)
    }

    /// The largest (DB_POOL_SIZE, DB_MAX_OVERFLOW) with which every process fits in `limit`
    /// connections: the overflow kept at `max_overflow` when the pool still gets a connection,
    /// else 0 (the whole share as pool); None when not even one connection each fits.
    #[must_use]
    pub fn largest_pool(self, limit: u32, max_overflow: u32) -> Option<(u32, u32)> {
        let each = limit
            .checked_sub(PDFCTL_CONNECTIONS)?
            .checked_div(self.pooled().max(1))?;
        if each == 0 {
            return None;
        }
        Some(if each > max_overflow {
            (each - max_overflow, max_overflow)
        } else {
            (each, 0)
        })
    }

    /// "2 API + 1 worker + 2 overlapping a redeploy" and pdfctl, for messages.
    #[must_use]
    pub fn describe(self, max_each: u32) -> String {
        format!(
            "({} API + {} workers + {} overlapping a redeploy) x {max_each} + {PDFCTL_CONNECTIONS} for pdfctl",
            self.api_replicas, self.workers, self.redeploy_overlap
        )
    }
}

/// The advice for a pool that does not fit `limit`: the largest pool size that does.
#[must_use]
pub fn fitting_advice(processes: Processes, limit: u32, max_overflow: u32) -> String {
    match processes.largest_pool(limit, max_overflow) {
        Some((pool, overflow)) => format!(
            "set DB_POOL_SIZE={pool} and DB_MAX_OVERFLOW={overflow} on the API and the worker (the largest that fits {limit}), or use fewer replicas"
        ),
        None => format!(
            "{} processes cannot share {limit} connections even with one each: use fewer replicas or a larger limit",
            processes.pooled()
        ),
    }
}

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
    /// The session pooler's client limit; 0: no pooler.
    pub pooler_max_clients: u32,
    /// The largest (pool size, max overflow) that fits every limit; None: none does.
    pub largest_fitting_pool: Option<(u32, u32)>,
    /// workers x concurrency x 2: the design's connections for the workers' jobs.
    pub worker_connections_needed: u32,
    /// `ok`, `warn` or `fail`.
    pub verdict: &'static str,
    pub findings: Vec<String>,
}

/// The sizing's inputs.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    pub processes: Processes,
    pub concurrency: u32,
    pub plan: RailwayPlan,
    /// DB_POOL_SIZE when given; else the plan's.
    pub pool_size: Option<u32>,
    pub db_max_connections: u32,
    pub pooler_max_clients: u32,
    pub max_overflow: u32,
}

#[must_use]
pub fn size(inputs: Inputs) -> Sizing {
    let Inputs {
        processes,
        concurrency,
        plan,
        pool_size,
        db_max_connections,
        pooler_max_clients,
        max_overflow,
    } = inputs;
    let pool = pool_size.unwrap_or(plan.pool_size());
    let max_each = pool.saturating_add(max_overflow);
    let row = |process, count: u32, pool_size, max_each: u32| Row {
        process,
        count,
        pool_size,
        max_each,
        total: count.saturating_mul(max_each),
    };
    let rows = vec![
        row("api", processes.api_replicas, pool, max_each),
        row("worker", processes.workers, pool, max_each),
        row("redeploy", processes.redeploy_overlap, pool, max_each),
        row("pdfctl", 1, PDFCTL_CONNECTIONS, PDFCTL_CONNECTIONS),
    ];
    let total = processes.connections(max_each);
    let needed = processes
        .workers
        .saturating_mul(concurrency)
        .saturating_mul(2);
    let limit = if pooler_max_clients == 0 {
        db_max_connections
    } else {
        pooler_max_clients.min(db_max_connections)
    };
    let largest = processes.largest_pool(limit, max_overflow);
    let mut findings = Vec::new();
    let mut verdict = "ok";
    let per_worker = concurrency.saturating_mul(2);
    if pool < per_worker {
        verdict = "warn";
        findings.push(format!(
            "each worker runs {concurrency} jobs and wants {per_worker} connections (concurrency x 2) but its pool is {pool}: set DB_POOL_SIZE={per_worker} on the workers or lower WORKER_CONCURRENCY"
        ));
    }
    if pooler_max_clients > 0 && total > pooler_max_clients {
        verdict = "fail";
        findings.push(format!(
            "{total} connections at most against the session pooler's {pooler_max_clients} clients (\"max clients reached in session mode\" once they are all open): {}",
            fitting_advice(processes, limit, max_overflow)
        ));
    } else if pooler_max_clients > 0 {
        findings.push(format!(
            "{total} connections at most of the session pooler's {pooler_max_clients} clients: they fit"
        ));
    }
    // 80 %: room for migrations and consoles next to the counted processes.
    let comfortable = db_max_connections / 5 * 4;
    if total > db_max_connections {
        verdict = "fail";
        findings.push(format!(
            "{total} connections at most against the database's {db_max_connections}: under load new connections will be refused; {}",
            fitting_advice(processes, limit, max_overflow)
        ));
    } else if total > comfortable {
        if verdict == "ok" {
            verdict = "warn";
        }
        findings.push(format!(
            "{total} connections at most is over 80% of the database's {db_max_connections}: little room for consoles and migrations"
        ));
    } else {
        findings.push(format!(
            "{total} connections at most of the database's {db_max_connections}: room to spare"
        ));
    }
    if let Some((fit_pool, fit_overflow)) = largest
        && fit_pool.saturating_add(fit_overflow) < per_worker
    {
        findings.push(format!(
            "at the largest pool that fits, a worker has {} connections for {concurrency} jobs (wants {per_worker}): lower WORKER_CONCURRENCY, or raise the limit (Supabase: a larger compute size raises the pooler's pool size)",
            fit_pool.saturating_add(fit_overflow)
        ));
    }
    Sizing {
        plan,
        rows,
        total,
        db_max_connections,
        pooler_max_clients,
        largest_fitting_pool: largest,
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
    let limits = if sizing.pooler_max_clients == 0 {
        format!("of max_connections {}", sizing.db_max_connections)
    } else {
        format!(
            "of the pooler's {} clients and max_connections {}",
            sizing.pooler_max_clients, sizing.db_max_connections
        )
    };
    let _ = writeln!(
        out,
        "{:<8}  {:>5}  {:>9}  {:>8}  {:>6}  {limits}",
        "total", "", "", "", sizing.total
    );
    let _ = match sizing.largest_fitting_pool {
        Some((pool, overflow)) => writeln!(
            out,
            "largest pool that fits: DB_POOL_SIZE={pool} DB_MAX_OVERFLOW={overflow} ({} a process)",
            pool + overflow
        ),
        None => writeln!(out, "largest pool that fits: none (too many processes)"),
    };
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
    let sizing = size(Inputs {
        processes: Processes::new(args.api_replicas, args.workers, args.redeploy_overlap),
        concurrency: args.concurrency,
        plan: args.plan,
        pool_size: args.db_pool_size,
        db_max_connections: args.db_max_connections,
        pooler_max_clients: args.pooler_max_clients,
        max_overflow: args.max_overflow,
    });
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

    fn inputs(api: u32, workers: u32, concurrency: u32, plan: RailwayPlan) -> Inputs {
        Inputs {
            processes: Processes::new(api, workers, Some(0)),
            concurrency,
            plan,
            pool_size: None,
            db_max_connections: 100,
            pooler_max_clients: 0,
            max_overflow: 5,
        }
    }

    #[test]
    fn the_designs_examples_size_as_expected() {
        // 3 workers x 2 concurrent = 12 connections for the jobs, as in the design.
        let s = size(inputs(1, 3, 2, RailwayPlan::Hobby));
        assert_eq!(s.worker_connections_needed, 12);
        assert_eq!(s.total, 15 + 45 + 2);
        assert_eq!(s.verdict, "ok");

        let s = size(inputs(1, 1, 4, RailwayPlan::Starter));
        assert_eq!(s.verdict, "warn", "{:?}", s.findings);

        let s = size(inputs(3, 4, 4, RailwayPlan::Pro));
        assert_eq!(s.total, 3 * 25 + 4 * 25 + 2);
        assert_eq!(s.verdict, "fail");
        assert!(table(&s).contains("verdict: fail"));
    }

    #[test]
    fn a_15_client_pooler_fits_a_pool_of_two_for_two_apis_and_a_worker() {
        // 2 API + 1 worker + 2 overlapping a redeploy = 5 pools, + 2 for pdfctl.
        let processes = Processes::new(2, 1, None);
        assert_eq!(processes.pooled(), 5);
        assert_eq!(processes.connections(15), 77);
        assert_eq!(processes.largest_pool(15, 5), Some((2, 0)));
        assert_eq!(processes.largest_pool(100, 5), Some((14, 5)));
        assert_eq!(processes.connections(2), 12);
        assert!(processes.connections(3) > 15);
        let s = size(Inputs {
            processes,
            concurrency: 2,
            plan: RailwayPlan::Hobby,
            pool_size: None,
            db_max_connections: 60,
            pooler_max_clients: 15,
            max_overflow: 5,
        });
        assert_eq!(s.verdict, "fail");
        assert_eq!(s.largest_fitting_pool, Some((2, 0)));
        let text = table(&s);
        assert!(
            text.contains("largest pool that fits: DB_POOL_SIZE=2 DB_MAX_OVERFLOW=0"),
            "{text}"
        );
        assert!(
            text.contains("set DB_POOL_SIZE=2 and DB_MAX_OVERFLOW=0"),
            "{text}"
        );
        assert_eq!(Processes::new(20, 20, None).largest_pool(15, 5), None);
    }
}
