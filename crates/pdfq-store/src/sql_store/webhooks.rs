//! Webhooks: their registration, the outbox of deliveries written with each job status change
//! ([`enqueue_deliveries`], called by `record_event` in the change's own transaction), and the
//! workers' side: taking due deliveries and recording each attempt.

use std::collections::HashMap;
use std::time::Duration;

use pdfq_domain::{JobId, UserId, webhook};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Entry, SqlStore};
use crate::StoreError;
use crate::decode;
use crate::dialect::{Both, Columns, DbConnection, Dialect, Stmt};
use crate::model::{
    AttemptOutcome, DeliveryStatus, DueDelivery, NewWebhook, NextStep, Webhook, WebhookAttempt,
    WebhookDelivery,
};

macro_rules! webhook_columns {
    () => {
        "id, owner_id, url, events, secret, created_at"
    };
}

macro_rules! delivery_columns {
    () => {
        "id, webhook_id, event, job_id, payload, status, next_attempt_at, created_at, finished_at"
    };
}

/// Takes at most `$1` due deliveries for a new attempt, moving each one's next attempt past the
/// lease (`$2` from now) so that a delivery whose worker died is due again after it. PostgreSQL
/// skips rows another worker is taking; SQLite has one writer at a time. SQLite then binds the
/// time (`$3`).
const CLAIM_DUE: Both = Both {
    postgres: concat!(
        "update webhook_deliveries
         set attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
         where id in (select id from webhook_deliveries
                      where status = 'pending' and next_attempt_at <= now()
                      order by next_attempt_at limit $1
                      for update skip locked)
         returning attempts, ",
        delivery_columns!(),
        ", (select url from webhooks w where w.id = webhook_deliveries.webhook_id) as url,
           (select secret from webhooks w where w.id = webhook_deliveries.webhook_id) as secret"
    ),
    sqlite: concat!(
        "update webhook_deliveries
         set attempts = attempts + 1, next_attempt_at = $2
         where id in (select id from webhook_deliveries
                      where status = 'pending' and next_attempt_at <= $3
                      order by next_attempt_at limit $1)
         returning attempts, ",
        delivery_columns!(),
        ", (select url from webhooks w where w.id = webhook_deliveries.webhook_id) as url,
           (select secret from webhooks w where w.id = webhook_deliveries.webhook_id) as secret"
    ),
};

/// Attempt `$2` of delivery `$1` failed: the next is due `$3` from now. A later attempt (the
/// lease ran out and another worker took it) has moved `attempts` on, so this matches nothing.
/// Its own statement, not a variant of [`SETTLE`]: a prepared statement keeps the parameter
/// types it was first run with.
const RETRY_LATER: Both = Both {
    postgres: "update webhook_deliveries
               set next_attempt_at = now() + make_interval(secs => $3)
               where id = $1 and attempts = $2 and status = 'pending'",
    sqlite: "update webhook_deliveries set next_attempt_at = $3
             where id = $1 and attempts = $2 and status = 'pending'",
};

/// Attempt `$2` of delivery `$1` settles it for good, as status `$3`; then the time.
const SETTLE: Both = Both {
    postgres: "update webhook_deliveries set status = $3, finished_at = now()
               where id = $1 and attempts = $2 and status = 'pending'",
    sqlite: "update webhook_deliveries set status = $3, finished_at = $4
             where id = $1 and attempts = $2 and status = 'pending'",
};

/// Deletes deliveries delivered or failed more than `$1` ago (their attempts go with them).
const PRUNE: Both = Both {
    postgres: "delete from webhook_deliveries
               where status <> 'pending' and finished_at < now() - make_interval(secs => $1)",
    sqlite: "delete from webhook_deliveries where status <> 'pending' and finished_at < $1",
};

impl<D: Dialect> SqlStore<D> {
    pub(crate) async fn prune_webhook_deliveries(&self, age: Duration) -> Result<u64, StoreError> {
        Stmt::<D>::of(PRUNE)
            .ago(age)
            .execute(&mut *self.conn().await?)
            .await
    }

    pub(crate) async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook, StoreError> {
        let events = events_text(&new.events)?;
        Stmt::<D>::new(concat!(
            "insert into webhooks (id, owner_id, url, events, secret) values ($1, $2, $3, $4, $5)
             returning ",
            webhook_columns!()
        ))
        .id(new.id)
        .id(new.owner)
        .text(&new.url)
        .text(&events)
        .text(&new.secret)
        .fetch_one_as(&mut *self.conn().await?, webhook_of)
        .await
    }

    pub(crate) async fn webhooks_of(&self, owner: UserId) -> Result<Vec<Webhook>, StoreError> {
        Stmt::<D>::new(concat!(
            "select ",
            webhook_columns!(),
            " from webhooks where owner_id = $1 order by created_at, id"
        ))
        .id(owner)
        .fetch_all_as(&mut *self.conn().await?, webhook_of)
        .await
    }

    pub(crate) async fn webhook_for_owner(
        &self,
        id: Uuid,
        owner: UserId,
    ) -> Result<Option<Webhook>, StoreError> {
        Stmt::<D>::new(concat!(
            "select ",
            webhook_columns!(),
            " from webhooks where id = $1 and owner_id = $2"
        ))
        .id(id)
        .id(owner)
        .fetch_optional_as(&mut *self.conn().await?, webhook_of)
        .await
    }

    pub(crate) async fn delete_webhook(&self, id: Uuid, owner: UserId) -> Result<(), StoreError> {
        match Stmt::<D>::new("delete from webhooks where id = $1 and owner_id = $2")
            .id(id)
            .id(owner)
            .execute(&mut *self.conn().await?)
            .await?
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub(crate) async fn webhook_deliveries(
        &self,
        webhook_id: Uuid,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut tx = self.begin_read().await?;
        let mut deliveries = Stmt::<D>::new(concat!(
            "select ",
            delivery_columns!(),
            " from webhook_deliveries where webhook_id = $1
              order by created_at desc, id desc limit $2"
        ))
        .id(webhook_id)
        .int(limit)
        .fetch_all_as(&mut tx, delivery_of)
        .await?;
        let attempts = Stmt::<D>::new(
            "select a.delivery_id, a.attempt, a.at, a.status_code, a.error, a.duration_ms
             from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id
             where d.webhook_id = $1
             order by a.delivery_id, a.attempt",
        )
        .id(webhook_id)
        .fetch_all_as(&mut tx, |c| {
            Ok((c.id::<Uuid>("delivery_id")?, attempt_of(c)?))
        })
        .await?;
        tx.commit().await?;
        let mut by_delivery: HashMap<Uuid, Vec<WebhookAttempt>> = HashMap::new();
        for (delivery, attempt) in attempts {
            by_delivery.entry(delivery).or_default().push(attempt);
        }
        for delivery in &mut deliveries {
            delivery.attempts = by_delivery.remove(&delivery.id).unwrap_or_default();
        }
        Ok(deliveries)
    }

    pub(crate) async fn claim_webhook_deliveries(
        &self,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut tx = self.begin_write().await?;
        let due = Stmt::<D>::of(CLAIM_DUE)
            .int(limit)
            .later(lease)
            .now()
            .fetch_all_as(&mut tx, |c| {
                Ok(DueDelivery {
                    id: c.id("id")?,
                    webhook_id: c.id("webhook_id")?,
                    attempt: c.u32("attempts")?,
                    event: c.text("event")?,
                    job_id: c.id("job_id")?,
                    payload: c.text("payload")?,
                    created_at: c.time("created_at")?,
                    url: c.text("url")?,
                    secret: c.text("secret")?,
                })
            })
            .await?;
        tx.commit().await?;
        Ok(due)
    }

    pub(crate) async fn record_webhook_attempt(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let (status, retry_in) = match outcome.next {
            NextStep::Delivered => (DeliveryStatus::Delivered, None),
            NextStep::RetryIn(delay) => (DeliveryStatus::Pending, Some(delay)),
            NextStep::GiveUp => (DeliveryStatus::Failed, None),
        };
        let mut tx = self.begin_write().await?;
        // The attempt happened whatever the delivery's row says now: it is always logged.
        Stmt::<D>::new(
            "insert into webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
             values ($1, $2, $3, $4, $5)
             on conflict (delivery_id, attempt) do nothing",
        )
        .id(id)
        .int(attempt)
        .opt_int(outcome.status_code.map(i64::from))
        .opt_text(outcome.error.as_deref())
        .count(u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX))
        .execute(&mut tx)
        .await?;
        let settle = match retry_in {
            Some(delay) => Stmt::<D>::of(RETRY_LATER).id(id).int(attempt).later(delay),
            None => Stmt::<D>::of(SETTLE)
                .id(id)
                .int(attempt)
                .text(status.as_str())
                .now(),
        };
        let settled = settle.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(settled == 1)
    }
}

/// Writes the deliveries of a job's status change for each of its owner's webhooks (`hooks`,
/// a JSON array of `[webhook id, its events as JSON text]`) that subscribed to the event, in
/// the caller's transaction.
pub(super) async fn enqueue_deliveries<D: Dialect>(
    conn: &mut DbConnection<D>,
    hooks: &str,
    job: JobId,
    entry: Entry<'_>,
) -> Result<(), StoreError> {
    let Entry {
        attempt,
        status,
        message,
        ..
    } = entry;
    let hooks: Vec<(Uuid, String)> = serde_json::from_str(hooks)
        .map_err(|e| StoreError::Corrupt(format!("the job owner's webhooks: {e}")))?;
    if hooks.is_empty() {
        return Ok(());
    }
    let event = webhook::event_of(decode::status(status)?);
    let created_at = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("the time: {e}")))?;
    for (webhook_id, events) in hooks {
        if !events_of(&events)?.iter().any(|e| e == event) {
            continue;
        }
        let id = Uuid::now_v7();
        let payload = serde_json::json!({
            "id": id,
            "event": event,
            "created_at": created_at,
            "data": {
                "job_id": job,
                "status": status,
                "attempt": attempt.get(),
                "message": message,
            },
        })
        .to_string();
        Stmt::<D>::new(
            "insert into webhook_deliveries (id, webhook_id, event, job_id, payload)
             values ($1, $2, $3, $4, $5)",
        )
        .id(id)
        .id(webhook_id)
        .text(event)
        .id(job)
        .text(&payload)
        .execute(conn)
        .await?;
    }
    Ok(())
}

fn events_text(events: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(events).map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))
}

fn events_of(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))
}

fn webhook_of<D: Dialect>(c: &Columns<'_, D>) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: c.id("id")?,
        owner_id: c.id("owner_id")?,
        url: c.text("url")?,
        events: events_of(&c.text("events")?)?,
        secret: c.text("secret")?,
        created_at: c.time("created_at")?,
    })
}

fn delivery_of<D: Dialect>(c: &Columns<'_, D>) -> Result<WebhookDelivery, StoreError> {
    let status: DeliveryStatus = c.text("status")?.parse().map_err(StoreError::Corrupt)?;
    Ok(WebhookDelivery {
        id: c.id("id")?,
        webhook_id: c.id("webhook_id")?,
        event: c.text("event")?,
        job_id: c.id("job_id")?,
        payload: c.text("payload")?,
        status,
        next_attempt_at: match status {
            DeliveryStatus::Pending => Some(c.time("next_attempt_at")?),
            _ => None,
        },
        created_at: c.time("created_at")?,
        finished_at: c.opt_time("finished_at")?,
        attempts: Vec::new(),
    })
}

fn attempt_of<D: Dialect>(c: &Columns<'_, D>) -> Result<WebhookAttempt, StoreError> {
    Ok(WebhookAttempt {
        attempt: c.u32("attempt")?,
        at: c.time("at")?,
        status_code: c
            .opt_int("status_code")?
            .map(|code| u16::try_from(code).unwrap_or(0)),
        error: c.opt_text("error")?,
        duration_ms: c.count("duration_ms")?,
    })
}
