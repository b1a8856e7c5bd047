//! The audit log: operator actions recorded by the admin API, read back newest first.

use time::OffsetDateTime;

use super::SqlStore;
use crate::StoreError;
use crate::dialect::{Both, Columns, Dialect, Stmt, Typed};
use crate::model::{AuditEntry, NewAuditEntry};

/// The columns of [`AuditEntry`].
const AUDIT_COLUMNS: &str = "id, at, actor_id, actor_email, action, target, count, detail";

/// Records `$1` to `$6` (actor id and email, action, target, count, detail); then the time.
const RECORD: Both = Both {
    postgres: "insert into audit_log (actor_id, actor_email, action, target, count, detail)
               values ($1, $2, $3, $4, $5, $6)
               returning id, at, actor_id, actor_email, action, target, count, detail",
    sqlite: "insert into audit_log (actor_id, actor_email, action, target, count, detail, at)
             values ($1, $2, $3, $4, $5, $6, $7)
             returning id, at, actor_id, actor_email, action, target, count, detail",
};

/// Entries at or after `$1` and before entry `$2` (each null for any), newest first, at most
/// `$3`.
const PAGE: Both = Both {
    postgres: "where ($1::timestamptz is null or at >= $1) and ($2::bigint is null or id < $2)
               order by id desc limit $3",
    sqlite: "where ($1 is null or at >= $1) and ($2 is null or id < $2)
             order by id desc limit $3",
};

impl<D: Dialect> SqlStore<D> {
    pub(crate) async fn record_audit(
        &self,
        entry: &NewAuditEntry<'_>,
    ) -> Result<AuditEntry, StoreError> {
        let mut tx = self.begin_write().await?;
        let recorded = Stmt::<D>::of(RECORD)
            .typed(Typed::OptId(entry.actor_id.map(Into::into)))
            .text(entry.actor_email)
            .text(entry.action)
            .opt_text(entry.target)
            .count(entry.count)
            .opt_text(entry.detail)
            .now()
            .fetch_one_as(&mut tx, audit_of)
            .await?;
        tx.commit().await?;
        Ok(recorded)
    }

    pub(crate) async fn audit_entries(
        &self,
        since: Option<OffsetDateTime>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("select {AUDIT_COLUMNS} from audit_log {}", D::sql(PAGE));
        Stmt::<D>::new(&sql)
            .typed(Typed::OptTime(since))
            .opt_int(before)
            .int(limit)
            .fetch_all_as(&mut *self.conn().await?, audit_of)
            .await
    }
}

fn audit_of<D: Dialect>(c: &Columns<'_, D>) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: c.int("id")?,
        at: c.time("at")?,
        actor_id: c.opt_id("actor_id")?,
        actor_email: c.text("actor_email")?,
        action: c.text("action")?,
        target: c.opt_text("target")?,
        count: c.count("count")?,
        detail: c.opt_text("detail")?,
    })
}
