//! Webhooks in the store: registration, the outbox written with each job status change, and
//! the workers' claims and attempts. Cases of `store.rs`, run on both backends.

use std::collections::HashSet;
use std::time::Duration;

use pdfq_domain::UserId;
use pdfq_store::{
    AttemptOutcome, DeliveryStatus, NewWebhook, NextStep, Store, StoreError, Webhook,
};
use uuid::Uuid;

use crate::common::{claimed_job, job, tick, user};

/// A lease long enough that nothing is due again during a test.
const LEASE: Duration = Duration::from_secs(300);

async fn hook(store: &Store, owner: UserId, events: &[&str]) -> Webhook {
    store
        .create_webhook(&NewWebhook {
            id: Uuid::new_v4(),
            owner,
            url: "https://example.com/hook".into(),
            events: events.iter().map(|&e| e.to_owned()).collect(),
            secret: "whsec_test".into(),
        })
        .await
        .unwrap()
}

fn outcome(status_code: Option<u16>, next: NextStep) -> AttemptOutcome {
    AttemptOutcome {
        status_code,
        error: status_code.is_none().then(|| "timed out".to_owned()),
        duration: Duration::from_millis(12),
        next,
    }
}

pub async fn webhooks_belong_to_their_owner(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;
    let first = hook(store, ann.id, &["job.completed"]).await;
    let second = hook(store, ann.id, &["job.failed", "job.cancelled"]).await;
    assert_eq!(first.events, ["job.completed"]);
    assert_eq!(first.secret, "whsec_test");
    let listed = store.webhooks_of(ann.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|h| h.id).collect::<HashSet<_>>(),
        HashSet::from([first.id, second.id])
    );
    assert!(store.webhooks_of(bob.id).await.unwrap().is_empty());
    assert!(
        store
            .webhook_for_owner(first.id, bob.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.delete_webhook(first.id, bob.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_webhook(first.id, ann.id).await.unwrap();
    assert_eq!(store.webhooks_of(ann.id).await.unwrap(), [second]);
}

pub async fn each_subscribed_status_change_writes_a_delivery(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;
    let finished = hook(store, ann.id, &["job.completed", "job.failed"]).await;
    let all = hook(store, ann.id, &pdfq_domain::webhook::EVENTS).await;
    let bobs = hook(store, bob.id, &pdfq_domain::webhook::EVENTS).await;
    let (j, a) = claimed_job(store, ann.id, "a.pdf").await;
    store.complete_job(j.id, a, 1, 0).await.unwrap();

    let events = |hook: Uuid| async move {
        let mut found: Vec<String> = store
            .webhook_deliveries(hook, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.event)
            .collect();
        found.sort();
        found
    };
    assert_eq!(events(finished.id).await, ["job.completed"]);
    assert_eq!(
        events(all.id).await,
        ["job.completed", "job.pending", "job.processing"]
    );
    assert!(events(bobs.id).await.is_empty(), "another owner's job");

    let delivery = &store.webhook_deliveries(finished.id, 50).await.unwrap()[0];
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.job_id, j.id);
    assert!(delivery.attempts.is_empty());
    let body: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(body["id"], delivery.id.to_string());
    assert_eq!(body["event"], "job.completed");
    assert_eq!(body["data"]["job_id"], j.id.to_string());
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(body["data"]["attempt"], 1);
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
}

pub async fn deliveries_are_retried_until_delivered_or_given_up(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let h = hook(store, ann.id, &["job.pending", "job.cancelled"]).await;
    let j = job(store, ann.id, "a.pdf").await;
    store.cancel_job(j.id).await.unwrap();
    tick().await;

    let due = store.claim_webhook_deliveries(10, LEASE).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|d| d.attempt == 1 && d.url == h.url));
    assert!(due.iter().all(|d| d.secret == "whsec_test"));
    assert!(
        store
            .claim_webhook_deliveries(10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "leased deliveries are not taken twice"
    );
    let (pending, cancelled) = if due[0].event == "job.pending" {
        (&due[0], &due[1])
    } else {
        (&due[1], &due[0])
    };

    // The first fails and is retried; the second attempt is delivered.
    let retried = outcome(Some(500), NextStep::RetryIn(Duration::ZERO));
    assert!(
        store
            .record_webhook_attempt(pending.id, 1, &retried)
            .await
            .unwrap()
    );
    tick().await;
    let again = store.claim_webhook_deliveries(10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempt), (pending.id, 2));
    let delivered = outcome(Some(204), NextStep::Delivered);
    assert!(
        store
            .record_webhook_attempt(pending.id, 2, &delivered)
            .await
            .unwrap()
    );

    // The other times out and is given up.
    let given_up = outcome(None, NextStep::GiveUp);
    assert!(
        store
            .record_webhook_attempt(cancelled.id, 1, &given_up)
            .await
            .unwrap()
    );
    tick().await;
    assert!(
        store
            .claim_webhook_deliveries(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );

    let log = store.webhook_deliveries(h.id, 50).await.unwrap();
    let of = |id: Uuid| log.iter().find(|d| d.id == id).unwrap();
    let done = of(pending.id);
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert!(done.finished_at.is_some() && done.next_attempt_at.is_none());
    assert_eq!(
        done.attempts
            .iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (2, Some(204))]
    );
    assert_eq!(done.attempts[0].duration_ms, 12);
    let failed = of(cancelled.id);
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.attempts.len(), 1);
    assert_eq!(failed.attempts[0].status_code, None);
    assert_eq!(failed.attempts[0].error.as_deref(), Some("timed out"));
}

pub async fn a_delivery_whose_lease_ran_out_is_taken_again(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let h = hook(store, ann.id, &["job.pending"]).await;
    job(store, ann.id, "a.pdf").await;
    tick().await;
    let lost = store
        .claim_webhook_deliveries(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    tick().await;
    let retaken = store.claim_webhook_deliveries(10, LEASE).await.unwrap();
    assert_eq!((retaken[0].id, retaken[0].attempt), (lost[0].id, 2));
    // The first worker's late answer is logged but decides nothing.
    let late = outcome(Some(200), NextStep::Delivered);
    assert!(
        !store
            .record_webhook_attempt(lost[0].id, 1, &late)
            .await
            .unwrap()
    );
    let log = &store.webhook_deliveries(h.id, 50).await.unwrap()[0];
    assert_eq!(log.status, DeliveryStatus::Pending);
    assert_eq!(log.attempts.len(), 1);
    let failed = outcome(Some(502), NextStep::GiveUp);
    assert!(
        store
            .record_webhook_attempt(lost[0].id, 2, &failed)
            .await
            .unwrap()
    );
    // A repeated record (safe commit's retry after a lost answer) changes nothing.
    assert!(
        !store
            .record_webhook_attempt(lost[0].id, 2, &failed)
            .await
            .unwrap()
    );
    let log = &store.webhook_deliveries(h.id, 50).await.unwrap()[0];
    assert_eq!(log.status, DeliveryStatus::Failed);
    assert_eq!(log.attempts.len(), 2);
}

pub async fn concurrent_claimers_take_each_delivery_once(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    hook(store, ann.id, &["job.pending"]).await;
    for n in 0..30 {
        job(store, ann.id, &format!("{n}.pdf")).await;
    }
    tick().await;
    let claimers = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let due = store.claim_webhook_deliveries(3, LEASE).await.unwrap();
                if due.is_empty() {
                    return mine;
                }
                mine.extend(due.into_iter().map(|d| d.id));
            }
        })
    });
    let mut all = Vec::new();
    for claimer in claimers.collect::<Vec<_>>() {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 30, "every delivery taken");
    assert_eq!(distinct.len(), 30, "none taken twice");
}

/// Settling and then rescheduling on the same connections: each keeps its own delay (a
/// statement prepared for one must not read the other's parameters).
pub async fn retries_keep_their_delay_between_settled_deliveries(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let h = hook(store, ann.id, &["job.pending"]).await;
    for n in 0..8 {
        job(store, ann.id, &format!("{n}.pdf")).await;
    }
    tick().await;
    let due = store.claim_webhook_deliveries(8, LEASE).await.unwrap();
    assert_eq!(due.len(), 8);
    let hour = Duration::from_secs(3600);
    for (n, delivery) in due.iter().enumerate() {
        // Settled first, on every connection in use; then rescheduled on the same ones.
        let next = if n < 4 {
            NextStep::GiveUp
        } else {
            NextStep::RetryIn(hour)
        };
        assert!(
            store
                .record_webhook_attempt(delivery.id, 1, &outcome(Some(500), next))
                .await
                .unwrap()
        );
    }
    let now = time::OffsetDateTime::now_utc();
    let log = store.webhook_deliveries(h.id, 50).await.unwrap();
    let retried: Vec<_> = log
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .collect();
    assert_eq!(retried.len(), 4);
    for d in retried {
        let wait = d.next_attempt_at.unwrap() - now;
        assert!(
            (3500..3700).contains(&wait.whole_seconds()),
            "{wait:?} instead of an hour"
        );
    }
}

pub async fn settled_deliveries_are_pruned_after_their_retention(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let h = hook(store, ann.id, &["job.pending", "job.cancelled"]).await;
    let j = job(store, ann.id, "a.pdf").await;
    store.cancel_job(j.id).await.unwrap();
    tick().await;
    let due = store.claim_webhook_deliveries(1, LEASE).await.unwrap();
    let done = outcome(Some(200), NextStep::Delivered);
    store
        .record_webhook_attempt(due[0].id, 1, &done)
        .await
        .unwrap();
    tick().await;
    assert_eq!(
        store
            .prune_webhook_deliveries(Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "kept within the retention"
    );
    assert_eq!(
        store
            .prune_webhook_deliveries(Duration::ZERO)
            .await
            .unwrap(),
        1,
        "the settled one goes; the pending one stays"
    );
    let left = store.webhook_deliveries(h.id, 50).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, DeliveryStatus::Pending);
}

pub async fn deleting_a_webhook_deletes_its_deliveries(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let h = hook(store, ann.id, &["job.pending"]).await;
    let j = job(store, ann.id, "a.pdf").await;
    // A deleted job's deliveries still go out.
    store.delete_job(j.id).await.unwrap();
    assert_eq!(store.webhook_deliveries(h.id, 50).await.unwrap().len(), 1);
    store.delete_webhook(h.id, ann.id).await.unwrap();
    tick().await;
    assert!(store.webhook_deliveries(h.id, 50).await.unwrap().is_empty());
    assert!(
        store
            .claim_webhook_deliveries(10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}
