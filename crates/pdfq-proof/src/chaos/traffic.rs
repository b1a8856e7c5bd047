//! The driver's HTTP traffic: users registering and logging in, uploads paced over the run
//! (retried on 503, 429 and transport errors, as a client would), and a poller reading health
//! and job status. Every answer's status is logged with its time, so the report can show what
//! the API answered during each fault.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use pdfq_client::{Client, ClientError};
use pdfq_domain::JobId;
use reqwest::Method;
use tokio::sync::Semaphore;

use super::jobs::JobSpec;

/// Which kind of call an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    Upload,
    Health,
    JobStatus,
}

impl Call {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Call::Upload => "upload",
            Call::Health => "health",
            Call::JobStatus => "job status",
        }
    }
}

/// One answer (or a failure to get one: `status` `None`).
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub at: Instant,
    pub call: Call,
    pub status: Option<u16>,
    /// How long the call took.
    pub took: Duration,
}

/// Every answer seen, in order, and why each call left unanswered was.
#[derive(Debug, Default)]
pub struct AnswerLog {
    answers: Mutex<Vec<Answer>>,
    unanswered: Mutex<BTreeMap<String, u64>>,
}

impl AnswerLog {
    fn record(&self, call: Call, status: Option<u16>, sent: Instant) {
        if let Ok(mut log) = self.answers.lock() {
            log.push(Answer {
                at: Instant::now(),
                call,
                status,
                took: sent.elapsed(),
            });
        }
    }

    /// Records the outcome of a call sent at `sent`: its status, or for a call that got no
    /// answer, its error (whose text holds reqwest's causes), which the report counts so that
    /// a failure says why.
    pub fn record_outcome(&self, call: Call, outcome: Result<u16, &ClientError>, sent: Instant) {
        let status = match outcome {
            Ok(status) => Some(status),
            Err(error) => {
                if let Ok(mut unanswered) = self.unanswered.lock() {
                    *unanswered
                        .entry(format!("{}: {error}", call.name()))
                        .or_insert(0) += 1;
                }
                None
            }
        };
        self.record(call, status, sent);
    }

    #[must_use]
    pub fn all(&self) -> Vec<Answer> {
        self.answers
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }

    /// Calls that got no answer, by call and error.
    #[must_use]
    pub fn unanswered(&self) -> BTreeMap<String, u64> {
        self.unanswered
            .lock()
            .map(|map| map.clone())
            .unwrap_or_default()
    }
}

/// The status key used in the report: the code, or `transport` when there was no answer.
#[must_use]
pub fn status_key(status: Option<u16>) -> String {
    status.map_or_else(|| "transport".to_owned(), |s| s.to_string())
}

/// Counts answers by status.
#[must_use]
pub fn count(answers: &[&Answer]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for answer in answers {
        *out.entry(status_key(answer.status)).or_insert(0) += 1;
    }
    out
}

/// A user of the run with a logged-in client.
#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub client: Client,
}

fn http(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()
        .context("building the HTTP client")
}

/// Registers and logs in `count` users named `<suite>-<n>-...` (retrying while the API is
/// busy); their clients give up on a call after 60 s. The load suite uses them too.
pub async fn create_users(api_url: &str, suite: &str, count: usize) -> anyhow::Result<Vec<User>> {
    let anon = Client::with_http(http(Duration::from_secs(60))?, api_url);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut users = Vec::with_capacity(count);
    for n in 0..count {
        let email = format!("{suite}-{n}-{}@example.invalid", &run[..8]);
        let password = format!("{suite}-password-{run}");
        retry(|| anon.register(&email, &password))
            .await
            .with_context(|| format!("registering {email}"))?;
        let tokens = retry(|| anon.login(&email, &password))
            .await
            .with_context(|| format!("logging in {email}"))?;
        users.push(User {
            email,
            client: anon.with_token(&tokens.access_token),
        });
    }
    Ok(users)
}

async fn retry<T, F, Fut>(mut call: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(e) if tries < 20 && transient(&e) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

fn transient(e: &ClientError) -> bool {
    match e.status() {
        None => true,
        Some(status) => status == 429 || status >= 500,
    }
}

/// A job the API accepted (202).
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub job: JobId,
    pub spec: JobSpec,
    pub at: Instant,
    /// Upload attempts it took.
    pub tries: u32,
}

/// How the uploads went.
#[derive(Debug, Default)]
pub struct Submissions {
    pub accepted: Mutex<Vec<Accepted>>,
    /// Uploads answered with a 4xx other than 429: (file name, status, message).
    pub rejected: Mutex<Vec<(String, u16, String)>>,
    /// Uploads given up on at the submission deadline (file name, last error).
    pub abandoned: Mutex<Vec<(String, String)>>,
}

impl Submissions {
    #[must_use]
    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().map(|a| a.clone()).unwrap_or_default()
    }

    #[must_use]
    pub fn last_accepted(&self) -> Option<Accepted> {
        self.accepted.lock().ok().and_then(|a| a.last().copied())
    }
}

/// Uploads jobs from their users: a steady stream, and bursts taken from a reserve just before
/// a fault so that it hits a backlog. At most `parallel` uploads run at once; each is retried
/// until accepted or the deadline.
#[derive(Debug)]
pub struct Uploader {
    users: Arc<Vec<User>>,
    deadline: Instant,
    log: Arc<AnswerLog>,
    out: Arc<Submissions>,
    slots: Arc<Semaphore>,
    steady: Mutex<VecDeque<JobSpec>>,
    reserve: Mutex<VecDeque<JobSpec>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Uploader {
    /// The last `reserve` specs are kept for bursts; the others go out steadily.
    #[must_use]
    pub fn new(
        users: Arc<Vec<User>>,
        mut specs: Vec<JobSpec>,
        reserve: usize,
        parallel: usize,
        deadline: Instant,
        log: Arc<AnswerLog>,
        out: Arc<Submissions>,
    ) -> Arc<Self> {
        let kept = specs.split_off(specs.len().saturating_sub(reserve));
        Arc::new(Self {
            users,
            deadline,
            log,
            out,
            slots: Arc::new(Semaphore::new(parallel.max(1))),
            steady: Mutex::new(specs.into()),
            reserve: Mutex::new(kept.into()),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Uploads the steady specs at `per_second` until they are all out.
    pub async fn run_steady(self: Arc<Self>, per_second: f64) {
        let mut interval =
            tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(0.01)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let next = self.steady.lock().ok().and_then(|mut q| q.pop_front());
            match next {
                Some(spec) => self.spawn(spec),
                None => return,
            }
        }
    }

    /// Starts `count` uploads from the reserve at once; returns how many.
    pub fn burst(&self, count: usize) -> usize {
        let specs: Vec<JobSpec> = match self.reserve.lock() {
            Ok(mut reserve) => {
                let n = count.min(reserve.len());
                reserve.drain(..n).collect()
            }
            Err(_) => Vec::new(),
        };
        let n = specs.len();
        for spec in specs {
            self.spawn(spec);
        }
        n
    }

    /// Sends whatever the reserve still holds, then waits for every upload to end.
    pub async fn finish(&self) {
        self.burst(usize::MAX);
        loop {
            let tasks: Vec<_> = match self.tasks.lock() {
                Ok(mut tasks) => tasks.drain(..).collect(),
                Err(_) => return,
            };
            if tasks.is_empty() {
                return;
            }
            for task in tasks {
                let _ = task.await;
            }
        }
    }

    fn spawn(&self, spec: JobSpec) {
        let Some(user) = self.users.get(spec.user).cloned() else {
            return;
        };
        let (slots, log, out, deadline) = (
            self.slots.clone(),
            self.log.clone(),
            self.out.clone(),
            self.deadline,
        );
        let task = tokio::spawn(async move {
            let Ok(_permit) = slots.acquire_owned().await else {
                return;
            };
            upload_one(&user, spec, deadline, &log, &out).await;
        });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }
}

async fn upload_one(
    user: &User,
    spec: JobSpec,
    deadline: Instant,
    log: &AnswerLog,
    out: &Submissions,
) {
    let name = spec.file_name();
    let bytes = spec.bytes();
    let mut tries = 0u32;
    loop {
        tries += 1;
        let sent = Instant::now();
        let result = user.client.upload(&name, bytes.clone()).await;
        log.record_outcome(Call::Upload, answered(&result, 202), sent);
        let error = match result {
            Ok(accepted) => {
                if let Ok(mut list) = out.accepted.lock() {
                    list.push(Accepted {
                        job: accepted.job_id,
                        spec,
                        at: Instant::now(),
                        tries,
                    });
                }
                return;
            }
            Err(e) => e,
        };
        if !transient(&error) {
            if let Ok(mut list) = out.rejected.lock() {
                list.push((name, error.status().unwrap_or(0), error.to_string()));
            }
            return;
        }
        let wait = match &error {
            ClientError::Api {
                retry_after: Some(secs),
                ..
            } => Duration::from_secs((*secs).min(10)),
            _ => Duration::from_millis(250 * u64::from(tries.min(12))),
        };
        if Instant::now() + wait > deadline {
            if let Ok(mut list) = out.abandoned.lock() {
                list.push((name, error.to_string()));
            }
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// The status of a client call's answer (`ok` on success), or the error of one not answered.
fn answered<T>(result: &Result<T, ClientError>, ok: u16) -> Result<u16, &ClientError> {
    match result {
        Ok(_) => Ok(ok),
        Err(e) => e.status().ok_or(e),
    }
}

/// Until `stop` is set: every 500 ms, the health check and the newest accepted job's status.
pub async fn poll(
    users: Arc<Vec<User>>,
    submissions: Arc<Submissions>,
    log: Arc<AnswerLog>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(first) = users.first() else {
        return;
    };
    let Ok(http) = http(Duration::from_secs(30)) else {
        return;
    };
    let anon = Client::with_http(http, first.client.base_url());
    while !*stop.borrow() {
        let sent = Instant::now();
        let health = anon
            .request(Method::GET, "/api/v1/health")
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(ClientError::from);
        log.record_outcome(Call::Health, health.as_ref().copied(), sent);
        if let Some(job) = submissions.last_accepted()
            && let Some(user) = users.get(job.spec.user)
        {
            let sent = Instant::now();
            let result = user.client.job(job.job).await;
            log.record_outcome(Call::JobStatus, answered(&result, 200), sent);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
