//! The Railway target's six steps, each a check and an action over the Railway CLI.
//!
//! railway.json (web) and railway.worker.json (worker) are the source of truth for the services'
//! build and deploy settings. Railway stopped reading config-as-code files on 2026-12-01, so the
//! backend and worker steps apply every setting of the files themselves: one JSON patch per
//! service on the stdin of `railway environment edit`, keyed by service id, then read back from
//! `railway environment config --json` and compared.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::exec::Exec;
use super::probe;
use super::railway::{Cli, Deployment, Project, str_at};
use super::state::State;
use super::{Args, Check, Step, Target6};

pub const WEB: &str = "pdfq-api";
pub const WORKER: &str = "pdfq-worker";
pub const REDIS: &str = "Redis";

/// Deployment statuses (Railway's DeploymentStatus; the CLI 5.43.1's src/gql/schema.json).
/// Live: the deployment serves (SLEEPING: live, asleep until a request comes, App Sleeping).
const LIVE: [&str; 2] = ["SUCCESS", "SLEEPING"];
/// It ran and failed.
const FAILED: [&str; 2] = ["FAILED", "CRASHED"];
/// It will never go live: replaced by a newer deployment, or skipped.
const GONE: [&str; 3] = ["REMOVED", "REMOVING", "SKIPPED"];
/// It waits for someone to approve it in the dashboard.
const NEEDS_APPROVAL: &str = "NEEDS_APPROVAL";
/// How many of a service's latest deployments are searched for the one `up` started.
const DEPLOYMENTS_SEARCHED: u32 = 20;

#[derive(Debug)]
pub struct Railway<'a> {
    cli: Cli<'a>,
    exec: &'a Exec,
    root: PathBuf,
    scratch: PathBuf,
    project_name: String,
    link: Option<String>,
    workspace: Option<String>,
    environment: Option<String>,
    github: Option<(String, String)>,
    /// The account's workspaces, from `railway whoami --json`.
    workspaces: Vec<String>,
    database_url: Option<String>,
    key_prefix: String,
    pdfctl: Option<PathBuf>,
    timeout: Duration,
    poll: Duration,
    web_settings: Vec<(String, Value)>,
    worker_settings: Vec<(String, Value)>,
    /// `railway status` read once per check: the project and its services.
    project: Option<Project>,
}

impl<'a> Railway<'a> {
    pub fn new(args: &Args, exec: &'a Exec, root: &Path, state_dir: &Path) -> anyhow::Result<Self> {
        let cli = Cli::new(exec);
        let web_settings = settings(&root.join("railway.json"))?;
        let worker_settings = settings(&root.join("railway.worker.json"))?;
        if !args.dry_run && !args.yes {
            confirm()?;
        }
        let account = cli.preflight()?;
        if !account.who.is_empty() {
            println!("Railway CLI logged in as {}", account.who);
        }
        Ok(Self {
            cli,
            exec,
            root: root.to_path_buf(),
            scratch: state_dir.join("scratch"),
            project_name: args.project_name.clone(),
            link: args.link.clone(),
            workspace: args.workspace.clone(),
            environment: args.environment.clone(),
            github: args
                .github_repo
                .clone()
                .map(|repo| (repo, args.github_branch.clone())),
            workspaces: account.workspaces,
            database_url: args.database_url.clone(),
            key_prefix: args.key_prefix.clone(),
            pdfctl: args.pdfctl.clone(),
            timeout: Duration::from_secs(args.timeout),
            poll: Duration::from_millis(args.poll_ms),
            web_settings,
            worker_settings,
            project: None,
        })
    }

    fn refresh(&mut self) -> anyhow::Result<()> {
        self.project = self.cli.status()?;
        Ok(())
    }

    fn has_service(&self, name: &str) -> bool {
        self.project
            .as_ref()
            .is_some_and(|p| p.services.contains_key(name))
    }

    fn service_id(&self, name: &str) -> String {
        self.project
            .as_ref()
            .and_then(|p| p.services.get(name).cloned())
            .unwrap_or_default()
    }

    /// The service's entry in the environment's configuration (keyed by service id).
    fn service_config(&self, config: &Value, service: &str) -> Value {
        let id = self.service_id(service);
        config
            .get("services")
            .and_then(|s| s.get(&id))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The settings of `wanted` that the service's configuration does not have yet.
    fn settings_to_apply(
        &self,
        config: &Value,
        service: &str,
        wanted: &[(String, Value)],
    ) -> Vec<(String, Value)> {
        let current = self.service_config(config, service);
        wanted
            .iter()
            .filter(|(path, value)| {
                let mut v = Some(&current);
                for key in path.split('.') {
                    v = v.and_then(|x| x.get(key));
                }
                !v.is_some_and(|v| same(v, value))
            })
            .cloned()
            .collect()
    }

    /// Whether the service deploys from the GitHub repository and branch asked for (true when
    /// none was asked for).
    fn source_connected(&self, config: &Value, service: &str) -> bool {
        let Some((repo, branch)) = &self.github else {
            return true;
        };
        let source = self.service_config(config, service);
        str_at(&source, &["source", "repo"]) == *repo
            && str_at(&source, &["source", "branch"]) == *branch
    }

    /// Checks a service: it exists, has `vars`, has the settings (and the GitHub source when
    /// asked), and a deployment of it is live: the one the deploy started (`deployed`), or the
    /// newest.
    fn check_service(
        &mut self,
        service: &str,
        vars: &[&str],
        wanted: &[(String, Value)],
        deployed: Option<&str>,
    ) -> anyhow::Result<Check> {
        self.refresh()?;
        if !self.has_service(service) {
            return Ok(Check::Todo(format!("no service {service}")));
        }
        let present = self.cli.variables(service)?;
        let missing: Vec<&str> = vars
            .iter()
            .copied()
            .filter(|k| present.get(*k).is_none_or(String::is_empty))
            .collect();
        if !missing.is_empty() {
            return Ok(Check::Todo(format!(
                "{service} lacks variables {}",
                missing.join(", ")
            )));
        }
        let config = self.cli.environment_config()?;
        let to_apply = self.settings_to_apply(&config, service, wanted);
        if !to_apply.is_empty() {
            let paths: Vec<&str> = to_apply.iter().map(|(p, _)| p.as_str()).collect();
            return Ok(Check::Todo(format!(
                "{service} settings differ from the config file: {}",
                paths.join(", ")
            )));
        }
        if !self.source_connected(&config, service) {
            return Ok(Check::Todo(format!(
                "{service} is not connected to the GitHub repository asked for"
            )));
        }
        let deployments = self.cli.deployments(service, DEPLOYMENTS_SEARCHED)?;
        let ours = deployed.and_then(|id| deployments.iter().find(|d| d.id == id));
        let live = ours
            .filter(|d| LIVE.contains(&d.status.as_str()))
            .or_else(|| {
                deployments
                    .first()
                    .filter(|d| LIVE.contains(&d.status.as_str()))
            });
        match (live, deployments.first()) {
            (Some(d), newest) => {
                if let Some(newer) = newest.filter(|n| n.id != d.id) {
                    println!(
                        "  note: {service} has a newer deployment {} ({}) than the live one",
                        newer.id, newer.status
                    );
                }
                Ok(Check::Done(format!(
                    "{service} deployed ({}), variables and settings in place",
                    d.id
                )))
            }
            (None, Some(d)) => Ok(Check::Todo(format!(
                "{service}'s latest deployment {} is {}",
                d.id, d.status
            ))),
            (None, None) => Ok(Check::Todo(format!("{service} was never deployed"))),
        }
    }

    /// Applies the settings the service lacks as one patch, then reads the configuration back:
    /// a setting the CLI or Railway dropped is an error here, not a surprise at build time.
    fn apply_settings(&self, service: &str, wanted: &[(String, Value)]) -> anyhow::Result<()> {
        let to_apply = if self.exec.dry_run {
            wanted.to_vec()
        } else {
            let config = self.cli.environment_config()?;
            self.settings_to_apply(&config, service, wanted)
        };
        if to_apply.is_empty() {
            return Ok(());
        }
        let id = if self.exec.dry_run {
            format!("<id of {service}>")
        } else {
            self.service_id(service)
        };
        self.cli.apply_patch(&patch(&id, &to_apply))?;
        if self.exec.dry_run {
            return Ok(());
        }
        let config = self.cli.environment_config()?;
        let missing = self.settings_to_apply(&config, service, wanted);
        if !missing.is_empty() {
            let current = self.service_config(&config, service);
            let listed: Vec<String> = missing
                .iter()
                .map(|(path, value)| {
                    let mut v = Some(&current);
                    for key in path.split('.') {
                        v = v.and_then(|x| x.get(key));
                    }
                    format!(
                        "{path}: wanted {value}, has {}",
                        v.map_or("nothing".to_owned(), Value::to_string)
                    )
                })
                .collect();
            bail!(
                "Railway did not take these settings of {service} (read back with `railway \
                 environment config --json`): {}. A key the CLI does not know is dropped: check \
                 the names in the config file against Railway's service settings",
                listed.join("; ")
            );
        }
        Ok(())
    }

    /// Creates the service if missing, sets the missing variables, connects the GitHub source
    /// when asked, applies the settings, deploys and waits for that deployment to go live
    /// (Railway marks a deployment SUCCESS only after its health check passed).
    fn deploy_service(
        &mut self,
        service: &str,
        vars: &[(String, String)],
        wanted: &[(String, Value)],
    ) -> anyhow::Result<Deployment> {
        if !self.has_service(service) {
            self.cli.add_service(service)?;
            if !self.exec.dry_run {
                self.refresh()?;
            }
        }
        if !vars.is_empty() {
            self.cli.set_variables(service, vars)?;
        }
        if let Some((repo, branch)) = self.github.clone() {
            let connected = !self.exec.dry_run
                && self.source_connected(&self.cli.environment_config()?, service);
            if !connected {
                self.cli.connect_source(service, &repo, &branch)?;
            }
        }
        self.apply_settings(service, wanted)?;
        let id = self.cli.up(service)?;
        self.wait_deployment(service, &id)
    }

    /// Polls the deployment `up` started until it is live, failed, or will never go live.
    fn wait_deployment(&self, service: &str, id: &str) -> anyhow::Result<Deployment> {
        self.exec.note(&format!(
            "wait until {service}'s new deployment is SUCCESS (at most {} s)",
            self.timeout.as_secs()
        ));
        if self.exec.dry_run {
            return Ok(Deployment {
                id: String::new(),
                status: "SUCCESS".to_owned(),
            });
        }
        let deadline = Instant::now() + self.timeout;
        let mut last = "not listed yet".to_owned();
        loop {
            let deployments = self.cli.deployments(service, DEPLOYMENTS_SEARCHED)?;
            if let Some(d) = deployments.into_iter().find(|d| d.id == id) {
                let status = d.status.as_str();
                if LIVE.contains(&status) {
                    println!("  {service}: deployment {id} {status}");
                    return Ok(d);
                }
                if FAILED.contains(&status) {
                    return Err(self.failure(service, &d));
                }
                if GONE.contains(&status) {
                    bail!(
                        "{service}'s deployment {id} is {status}: it will not go live. Railway \
                         removes a deployment that a newer one replaced (a push to a connected \
                         branch, another `railway up`) and skips one queued behind a newer \
                         one. See `railway deployment list --service {service}`, then re-run \
                         to deploy again"
                    );
                }
                if status == NEEDS_APPROVAL {
                    bail!(
                        "{service}'s deployment {id} waits for approval: approve it in Railway's \
                         dashboard (project → {service} → Deployments), then re-run"
                    );
                }
                last = status.to_owned();
            }
            if Instant::now() > deadline {
                bail!(
                    "{service}'s deployment is still {id} {last} after {} s. If it is DEPLOYING, \
                     its health check has not passed: see `railway logs --service {service}`; \
                     pdfq-api answers 200 on /api/v1/health only when PostgreSQL and Redis both \
                     answer (DATABASE_URL: Supabase's session pooler with sslmode=require; \
                     REDIS_URL=${{{{Redis.REDIS_URL}}}}). Re-run with a larger --timeout to wait \
                     longer.",
                    self.timeout.as_secs()
                );
            }
            std::thread::sleep(self.poll);
        }
    }

    /// Explains a failed deployment from its build log: a health check that timed out, or a
    /// build or start failure.
    fn failure(&self, service: &str, d: &Deployment) -> anyhow::Error {
        let log = self
            .cli
            .logs(service, Some(&d.id), true)
            .unwrap_or_default();
        let lower = log.to_ascii_lowercase();
        if lower.contains("healthcheck") || lower.contains("health check") {
            anyhow::anyhow!(
                "{service}'s deployment {} {}: its health check /api/v1/health did not answer \
                 200 within healthcheckTimeout. pdfq-api answers 503 while PostgreSQL or Redis is \
                 unreachable: check DATABASE_URL (Supabase: the session pooler, port 5432, \
                 sslmode=require; the direct host is IPv6-only), REDIS_URL=${{{{Redis.REDIS_URL}}}}, \
                 and `railway logs --service {service}`",
                d.id,
                d.status
            )
        } else {
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::anyhow!(
                "{service}'s deployment {} {}. Its build log ends:\n{}\nSee `railway logs {} \
                 --build` and `railway logs --service {service}`",
                d.id,
                d.status,
                tail.join("\n"),
                d.id
            )
        }
    }

    fn backend_vars(&self) -> anyhow::Result<Vec<(String, String)>> {
        let present = if self.has_service(WEB) && !self.exec.dry_run {
            self.cli.variables(WEB)?
        } else {
            Default::default()
        };
        let mut vars = Vec::new();
        if present.get("DATABASE_URL").is_none_or(String::is_empty) {
            let url = self.database_url.as_deref().context(
                "DATABASE_URL is not set: export DATABASE_URL=<your Supabase URL> (Supabase → \
                 Connect → Session pooler: postgres://postgres.<ref>:<password>@aws-<N>-<region>.\
                 pooler.supabase.com:5432/postgres, copied as shown: the aws-<N> prefix differs \
                 from project to project) and re-run",
            )?;
            let ipv6 = ipv6_egress(&self.web_settings) && ipv6_egress(&self.worker_settings);
            vars.push(("DATABASE_URL".to_owned(), supabase_url(url, ipv6)?));
        }
        if present.get("JWT_SECRET").is_none_or(String::is_empty) {
            vars.push(("JWT_SECRET".to_owned(), random_hex(32)?));
        }
        for (k, v) in [
            ("PORT", "8000"),
            ("PDFQ_ENV", "production"),
            ("LOG_FORMAT", "json"),
            ("REDIS_URL", "${{Redis.REDIS_URL}}"),
            ("REDIS_KEY_PREFIX", self.key_prefix.as_str()),
        ] {
            if present.get(k).is_none_or(String::is_empty) {
                vars.push((k.to_owned(), v.to_owned()));
            }
        }
        Ok(vars)
    }

    fn worker_vars(&self) -> anyhow::Result<Vec<(String, String)>> {
        let present = if self.has_service(WORKER) && !self.exec.dry_run {
            self.cli.variables(WORKER)?
        } else {
            Default::default()
        };
        // The worker shares the backend's values by reference, so changing them on the backend
        // changes both.
        Ok([
            ("DATABASE_URL", "${{pdfq-api.DATABASE_URL}}"),
            ("REDIS_URL", "${{Redis.REDIS_URL}}"),
            ("REDIS_KEY_PREFIX", "${{pdfq-api.REDIS_KEY_PREFIX}}"),
            ("LOG_FORMAT", "json"),
        ]
        .into_iter()
        .filter(|(k, _)| present.get(*k).is_none_or(String::is_empty))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
    }

    fn pdfctl(&self) -> anyhow::Result<String> {
        if let Some(path) = &self.pdfctl {
            return Ok(path.display().to_string());
        }
        let out = self
            .exec
            .run("cargo", &["build", "--release", "-p", "pdfctl"])?;
        if out.ran && !out.ok {
            bail!("building pdfctl failed:\n{}", out.stderr);
        }
        Ok(crate::paths::target_dir(&self.root)
            .join("release/pdfctl")
            .display()
            .to_string())
    }

    /// The worker instances whose heartbeat is in Railway's Redis (through its public TCP
    /// proxy URL), under the backend's key prefix.
    fn worker_heartbeats(&self) -> anyhow::Result<usize> {
        let redis = self.cli.variables(REDIS)?;
        let url = redis.get("REDIS_PUBLIC_URL").context(
            "Redis has no REDIS_PUBLIC_URL: enable its TCP proxy (Railway → Redis → Settings → \
             Networking → TCP Proxy) so the heartbeat can be checked from here",
        )?;
        let web = self.cli.variables(WEB)?;
        let prefix = web
            .get("REDIS_KEY_PREFIX")
            .filter(|p| !p.is_empty())
            .map_or("pdfq", String::as_str);
        let mut conn = probe::Redis::connect(url)?;
        Ok(conn.worker_heartbeats(prefix)?.len())
    }
}

impl Target6 for Railway<'_> {
    fn check(&mut self, step: Step, state: &mut State) -> anyhow::Result<Check> {
        if self.exec.dry_run {
            return Ok(Check::Todo("(dry run: not checked)".to_owned()));
        }
        match step {
            Step::Project => {
                self.refresh()?;
                Ok(match &self.project {
                    Some(p) => {
                        state.set("project_id", p.id.clone());
                        Check::Done(format!("linked to project {} ({})", p.name, p.id))
                    }
                    None => Check::Todo("this checkout is linked to no Railway project".to_owned()),
                })
            }
            Step::Redis => {
                self.refresh()?;
                Ok(if self.has_service(REDIS) {
                    Check::Done("the project has Redis".to_owned())
                } else {
                    Check::Todo("the project has no Redis".to_owned())
                })
            }
            Step::Backend => {
                let wanted = self.web_settings.clone();
                self.check_service(
                    WEB,
                    &[
                        "DATABASE_URL",
                        "JWT_SECRET",
                        "PORT",
                        "REDIS_URL",
                        "REDIS_KEY_PREFIX",
                    ],
                    &wanted,
                    state.get("web_deployment"),
                )
            }
            Step::Migrations => {
                let pdfctl = self.pdfctl()?;
                let out = self
                    .cli
                    .run_with_service(WEB, &pdfctl, &["migrate", "verify"])?;
                Ok(if out.ok {
                    Check::Done("the deployed schema matches the migrations".to_owned())
                } else {
                    Check::Todo(format!("pdfctl migrate verify: {}", out.first_line()))
                })
            }
            Step::Worker => {
                let wanted = self.worker_settings.clone();
                let check = self.check_service(
                    WORKER,
                    &["DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX"],
                    &wanted,
                    state.get("worker_deployment"),
                )?;
                if let Check::Done(what) = check {
                    let live = self.worker_heartbeats()?;
                    return Ok(if live > 0 {
                        Check::Done(format!("{what}; {live} worker heartbeat(s) in Redis"))
                    } else {
                        Check::Todo("no worker heartbeat in Redis".to_owned())
                    });
                }
                Ok(check)
            }
            Step::Verify => Ok(match state.get("verified_deployment") {
                Some(done) if Some(done.to_owned()) == self.deployed_pair()? => Check::Done(
                    "verified already for these deployments (upload completed, no errors)"
                        .to_owned(),
                ),
                _ => Check::Todo("not verified for the current deployments".to_owned()),
            }),
        }
    }

    fn act(&mut self, step: Step, state: &mut State) -> anyhow::Result<()> {
        match step {
            Step::Project => {
                let workspace = self.workspace.as_deref();
                let environment = self.environment.as_deref();
                match &self.link {
                    Some(project) => self.cli.link(project, environment, workspace)?,
                    None => {
                        if workspace.is_none() && self.workspaces.len() > 1 {
                            bail!(
                                "your Railway account has {} workspaces ({}): set \
                                 PDFQ_DEPLOY_WORKSPACE (or --workspace) to the one to create \
                                 the project in, then re-run",
                                self.workspaces.len(),
                                self.workspaces.join(", ")
                            );
                        }
                        self.cli.init(&self.project_name, workspace)?;
                        // `init` links the new project's first environment; another one is
                        // linked by name, which fails clearly when the project lacks it.
                        if environment.is_some() {
                            self.cli.link(&self.project_name, environment, workspace)?;
                        }
                    }
                }
                Ok(())
            }
            Step::Redis => self.cli.add_redis(),
            Step::Backend => {
                if !self.exec.dry_run {
                    self.refresh()?;
                }
                let vars = self.backend_vars()?;
                let wanted = self.web_settings.clone();
                let d = self.deploy_service(WEB, &vars, &wanted)?;
                let url = self.cli.domain(WEB)?;
                if !url.is_empty() {
                    state.set("public_url", url.clone());
                    println!("  public URL: {url}");
                }
                state.set("web_deployment", d.id);
                Ok(())
            }
            Step::Migrations => {
                let pdfctl = self.pdfctl()?;
                for action in ["run", "verify"] {
                    let out = self
                        .cli
                        .run_with_service(WEB, &pdfctl, &["migrate", action])?;
                    if out.ran && !out.ok {
                        bail!(
                            "pdfctl migrate {action} on the deployed database failed: {}\n  → \
                             check DATABASE_URL (`railway variables --service {WEB}`); \
                             `pdfctl migrate status` lists what is applied",
                            out.message()
                        );
                    }
                }
                Ok(())
            }
            Step::Worker => {
                if !self.exec.dry_run {
                    self.refresh()?;
                }
                let vars = self.worker_vars()?;
                let wanted = self.worker_settings.clone();
                let d = self.deploy_service(WORKER, &vars, &wanted)?;
                state.set("worker_deployment", d.id);
                self.exec
                    .note("wait until a worker heartbeat appears in Redis");
                if self.exec.dry_run {
                    return Ok(());
                }
                let deadline = Instant::now() + self.timeout;
                while self.worker_heartbeats()? == 0 {
                    if Instant::now() > deadline {
                        bail!(
                            "the worker deployed but wrote no heartbeat within {} s: see `railway \
                             logs --service {WORKER}` (REDIS_URL and REDIS_KEY_PREFIX must be \
                             the backend's)",
                            self.timeout.as_secs()
                        );
                    }
                    std::thread::sleep(self.poll);
                }
                Ok(())
            }
            Step::Verify => {
                let url = self.cli.domain(WEB)?;
                self.exec.note(
                    "GET /api/v1/health = 200, register, login, upload a PDF, poll until completed",
                );
                self.exec.note("scan both services' logs for errors");
                if self.exec.dry_run {
                    return Ok(());
                }
                if url.is_empty() {
                    bail!("{WEB} has no public domain: run `railway domain --service {WEB}`");
                }
                let status = probe::health(&url);
                if status != 200 {
                    bail!(
                        "{url}/api/v1/health answered {status}: see `railway logs --service {WEB}`"
                    );
                }
                probe::upload_completes(&url, &self.scratch, self.timeout)?;
                let mut errors = Vec::new();
                for service in [WEB, WORKER] {
                    let log = self.cli.logs(service, None, false)?;
                    errors.extend(
                        probe::error_lines(&log)
                            .into_iter()
                            .map(|l| format!("{service}: {l}")),
                    );
                }
                if !errors.is_empty() {
                    bail!(
                        "the logs show {} error(s):\n{}",
                        errors.len(),
                        errors.join("\n")
                    );
                }
                if let Some(pair) = self.deployed_pair()? {
                    state.set("verified_deployment", pair);
                }
                println!("  verified: health 200, a PDF upload completed, no errors in the logs");
                self.github_note()
            }
        }
    }
}

impl Railway<'_> {
    /// Without --github-repo, a service with no repository source only deploys through this
    /// command: says how to connect it (advice, not a failure).
    fn github_note(&mut self) -> anyhow::Result<()> {
        self.refresh()?;
        let config = self.cli.environment_config()?;
        for service in [WEB, WORKER] {
            let source = self.service_config(&config, service);
            let repo = str_at(&source, &["source", "repo"]);
            if repo.is_empty() {
                println!(
                    "  note: {service} is not connected to GitHub, so a push does not deploy it \
                     (this command does). To deploy on push, re-run with --github-repo \
                     OWNER/REPO (and --github-branch, default main): it runs `railway service \
                     source connect` for both services."
                );
            } else {
                let branch = str_at(&source, &["source", "branch"]);
                println!("  {service} deploys from GitHub: {repo} ({branch})");
            }
        }
        Ok(())
    }

    /// "web deployment id + worker deployment id" of the live deployments: verify runs again
    /// when either changed.
    fn deployed_pair(&self) -> anyhow::Result<Option<String>> {
        let live = |service| -> anyhow::Result<Option<String>> {
            Ok(self
                .cli
                .deployments(service, DEPLOYMENTS_SEARCHED)?
                .into_iter()
                .find(|d| LIVE.contains(&d.status.as_str()))
                .map(|d| d.id))
        };
        Ok(match (live(WEB)?, live(WORKER)?) {
            (Some(w), Some(k)) => Some(format!("{w}+{k}")),
            _ => None,
        })
    }
}

/// The patch `railway environment edit` takes on stdin for `settings` (dot paths) of the
/// service `id`: `{"services": {"<id>": {"build": {...}, "deploy": {...}}}}`.
pub fn patch(id: &str, settings: &[(String, Value)]) -> Value {
    let mut service = serde_json::Map::new();
    for (path, value) in settings {
        let (section, key) = path.split_once('.').unwrap_or(("deploy", path));
        if let Value::Object(map) = service
            .entry(section.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()))
        {
            map.insert(key.to_owned(), value.clone());
        }
    }
    serde_json::json!({ "services": { id: Value::Object(service) } })
}

/// Whether a config file's settings turn IPv6 egress on (`deploy.ipv6EgressEnabled`).
fn ipv6_egress(settings: &[(String, Value)]) -> bool {
    settings
        .iter()
        .any(|(path, value)| path == "deploy.ipv6EgressEnabled" && value == &Value::Bool(true))
}

/// The `build.*` and `deploy.*` settings of a railway.json, flattened to dot paths.
pub fn settings(file: &Path) -> anyhow::Result<Vec<(String, Value)>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let json: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    let mut out = Vec::new();
    for section in ["build", "deploy"] {
        if let Some(Value::Object(map)) = json.get(section) {
            for (k, v) in map {
                out.push((format!("{section}.{k}"), v.clone()));
            }
        }
    }
    Ok(out)
}

/// Equal, also when Railway stores a number as a string or a one-command array as a string.
fn same(current: &Value, wanted: &Value) -> bool {
    if current == wanted {
        return true;
    }
    match (current, wanted) {
        (Value::String(c), Value::Number(w)) => c == &w.to_string(),
        (Value::String(c), Value::Array(w)) if w.len() == 1 => w[0].as_str() == Some(c),
        (Value::Array(c), Value::String(w)) if c.len() == 1 => c[0].as_str() == Some(w),
        _ => false,
    }
}

/// The Supabase URL as the backend needs it: sslmode=require added when absent (kept when
/// given). Refused: port 6543, the shared transaction pooler (`*.pooler.supabase.com:6543`)
/// and the dedicated PgBouncer (`db.<ref>.supabase.co:6543`), both in transaction mode, which
/// keeps no session between transactions; and the direct host (`db.<ref>.supabase.co:5432`,
/// IPv6 only) unless the config files turn IPv6 egress on (`ipv6_egress`).
pub fn supabase_url(url: &str, ipv6_egress: bool) -> anyhow::Result<String> {
    let authority = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default())
        .map(|auth| auth.rsplit_once('@').map_or(auth, |(_, host)| host))
        .unwrap_or_default();
    let (host, port) = authority
        .rsplit_once(':')
        .map_or((authority, "5432"), |(h, p)| (h, p));
    let direct = host.starts_with("db.") && host.ends_with(".supabase.co");
    let pooler = host.ends_with(".pooler.supabase.com");
    if port == "6543" && (direct || pooler) {
        bail!(
            "DATABASE_URL is Supabase's {} on port 6543, in transaction mode: it keeps no session \
             between transactions, which breaks the prepared statements pdfq uses. Use the \
             session pooler: Supabase → Connect → Session pooler (port 5432, user \
             postgres.<ref>), its host copied as shown",
            if direct {
                "dedicated PgBouncer pooler (db.<ref>.supabase.co)"
            } else {
                "shared transaction pooler"
            }
        );
    }
    if direct && !ipv6_egress {
        bail!(
            "DATABASE_URL points at Supabase's direct host, which has only an IPv6 address, and \
             railway.json / railway.worker.json do not turn IPv6 egress on: use the session \
             pooler URL (Supabase → Connect → Session pooler, port 5432), or set \
             \"ipv6EgressEnabled\": true under \"deploy\" in both files"
        );
    }
    if url.contains("sslmode=") {
        return Ok(url.to_owned());
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}sslmode=require"))
}

/// `bytes` random bytes as hex, from the kernel.
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Asks before changing anything on Railway, unless --yes.
fn confirm() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!(
            "this changes your Railway project: pass --yes to go ahead (or --dry-run to see the commands)"
        );
    }
    print!("This creates or changes services in your Railway project. Go ahead? [y/N] ");
    std::io::Write::flush(&mut std::io::stdout())?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("stopped: nothing was changed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supabase_urls_get_sslmode_and_the_wrong_hosts_are_refused() {
        assert_eq!(
            supabase_url(
                "postgres://u:p@aws-1-eu.pooler.supabase.com:5432/postgres",
                false
            )
            .expect("ok"),
            "postgres://u:p@aws-1-eu.pooler.supabase.com:5432/postgres?sslmode=require"
        );
        assert_eq!(
            supabase_url("postgres://u:p@h/db?application_name=x", false).expect("ok"),
            "postgres://u:p@h/db?application_name=x&sslmode=require"
        );
        assert_eq!(
            supabase_url("postgres://u:p@h/db?sslmode=verify-full", false).expect("ok"),
            "postgres://u:p@h/db?sslmode=verify-full"
        );
        for transaction_mode in [
            "postgres://u:p@aws-1-eu.pooler.supabase.com:6543/postgres",
            "postgres://u:p@db.abcdef.supabase.co:6543/postgres",
        ] {
            let err = supabase_url(transaction_mode, true).expect_err(transaction_mode);
            assert!(err.to_string().contains("transaction mode"), "{err}");
        }
        let direct = "postgres://postgres:p@db.abcdef.supabase.co:5432/postgres";
        assert!(supabase_url(direct, false).is_err());
        assert!(supabase_url(direct, true).is_ok());
    }

    #[test]
    fn the_config_files_flatten_to_dot_paths() {
        let web = settings(&super::super::repo_root().join("railway.json")).expect("railway.json");
        let paths: Vec<&str> = web.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"build.dockerfilePath"));
        assert!(paths.contains(&"deploy.healthcheckPath"));
        assert!(same(&Value::from("120"), &Value::from(120)));
        assert_eq!(
            patch("svc-1", &web),
            serde_json::json!({"services": {"svc-1": {
                "build": serde_json::from_str::<Value>(
                    &std::fs::read_to_string(super::super::repo_root().join("railway.json"))
                        .expect("railway.json")
                ).expect("json")["build"],
                "deploy": serde_json::from_str::<Value>(
                    &std::fs::read_to_string(super::super::repo_root().join("railway.json"))
                        .expect("railway.json")
                ).expect("json")["deploy"],
            }}})
        );
    }
}
