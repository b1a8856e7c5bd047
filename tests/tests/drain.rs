//! Draining a worker through the admin API, with the real worker in the process: a drained
//! worker takes no new jobs but shows in the overview as draining; lifted, it takes them again;
//! asked to exit, it returns once idle. And the job timeline the dashboard's detail shows.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::time::{Duration, Instant};

use pdfq_client::types::InstanceView;
use pdfq_domain::JobStatus;
use pdfq_e2e::worker::test_worker;
use pdfq_e2e::{TestApp, TestUser, on_both_backends, pdf};

on_both_backends!(a_drained_worker_takes_no_jobs_until_lifted_and_exits_when_asked);

/// The worker's entry in the overview once `check` holds, within 10 s.
async fn instance_when(
    admin: &TestUser,
    id: &str,
    check: impl Fn(&InstanceView) -> bool,
) -> InstanceView {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let overview = admin.client.admin_overview().await.unwrap();
        if let Some(found) = overview.instances.into_iter().find(|i| i.id == id)
            && check(&found)
        {
            return found;
        }
        assert!(Instant::now() < deadline, "worker {id} never matched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(user: &TestUser, id: pdfq_domain::JobId, status: JobStatus) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = user.client.job(id).await.unwrap();
        if job.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "job never {status:?}: {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_drained_worker_takes_no_jobs_until_lifted_and_exits_when_asked(app: TestApp) {
    let admin = app.admin().await;
    let user = app.user().await;
    let worker = test_worker(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"), |_| {});
    let worker_id = worker.id().as_str().to_owned();
    let running = tokio::spawn(async move { worker.run(std::future::pending()).await });

    let seen = instance_when(&admin, &worker_id, |i| i.kind == "worker").await;
    assert!(!seen.draining);
    assert!(
        seen.rss_bytes.is_some_and(|b| b > 1 << 20),
        "the heartbeat carries the process's memory: {seen:?}"
    );

    // Unknown workers and non-admins are refused.
    let err = admin
        .client
        .drain_worker("nobody-1-abc", false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = user
        .client
        .drain_worker(&worker_id, false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));

    let drain = admin.client.drain_worker(&worker_id, false).await.unwrap();
    assert!(drain.draining && !drain.exit_when_idle);
    instance_when(&admin, &worker_id, |i| i.draining).await;
    let id = user
        .client
        .upload(
            "held.pdf",
            pdf::with_pages(&["Held back while the worker drains."]),
        )
        .await
        .unwrap()
        .job_id;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        user.client.job(id).await.unwrap().status,
        JobStatus::Pending,
        "a draining worker takes no new job"
    );

    let lifted = admin.client.undrain_worker(&worker_id).await.unwrap();
    assert!(!lifted.draining);
    wait_for(&user, id, JobStatus::Completed).await;
    instance_when(&admin, &worker_id, |i| !i.draining).await;

    // The timeline: created, claimed, completed, oldest first, written by this worker.
    let timeline = admin.client.admin_job_timeline(id).await.unwrap();
    assert_eq!(timeline.job.status, JobStatus::Completed);
    let statuses: Vec<JobStatus> = timeline.events.iter().map(|e| e.status).collect();
    assert_eq!(statuses.first(), Some(&JobStatus::Pending), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&JobStatus::Completed), "{statuses:?}");
    assert!(statuses.contains(&JobStatus::Processing), "{statuses:?}");
    assert!(timeline.events.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(
        timeline
            .events
            .iter()
            .any(|e| e.worker_id.as_deref() == Some(worker_id.as_str()))
    );
    let err = user.client.admin_job_timeline(id).await.unwrap_err();
    assert_eq!(err.status(), Some(403));

    // Asked to exit, the idle worker returns by itself.
    let exit = admin.client.drain_worker(&worker_id, true).await.unwrap();
    assert!(exit.exit_when_idle);
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the drained worker exits")
        .unwrap()
        .unwrap();
    // Gone: its heartbeat was removed, so a second drain finds no such worker.
    let err = admin
        .client
        .drain_worker(&worker_id, false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}
