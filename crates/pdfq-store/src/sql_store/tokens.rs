//! Refresh tokens: stored hashed, rotated within a family, and the whole family revoked when a
//! spent token comes back.

use std::time::Duration;

use pdfq_domain::UserId;
use uuid::Uuid;

use super::SqlStore;
use crate::StoreError;
use crate::dialect::{Both, Columns, DbConnection, Dialect, Stmt};
use crate::model::{NewRefreshToken, RefreshOutcome};

/// Spends a live token: `$1` its hash, then the time.
const SPEND: Both = Both {
    postgres: "update refresh_tokens set used_at = now()
               where token_hash = $1 and used_at is null and revoked_at is null
                 and expires_at > now()
               returning user_id, family_id",
    sqlite: "update refresh_tokens set used_at = $2
             where token_hash = $1 and used_at is null and revoked_at is null
               and expires_at > $2
             returning user_id, family_id",
};

/// What a token that could not be spent is: `$1` its hash, `$2` the successor's hash, `$3` the
/// grace (how long ago the token may have been spent for a replay), then the time.
const INSPECT: Both = Both {
    postgres: "select t.user_id, t.family_id,
                      (t.used_at is not null or t.revoked_at is not null) as spent,
                      (t.revoked_at is null
                       and t.used_at > now() - make_interval(secs => $3)
                       and exists (select 1 from refresh_tokens s
                                   where s.token_hash = $2 and s.family_id = t.family_id
                                     and s.used_at is null and s.revoked_at is null
                                     and s.expires_at > now())) as replay
               from refresh_tokens t
               where t.token_hash = $1",
    sqlite: "select t.user_id, t.family_id,
                    (t.used_at is not null or t.revoked_at is not null) as spent,
                    (t.revoked_at is null
                     and t.used_at > $3
                     and exists (select 1 from refresh_tokens s
                                 where s.token_hash = $2 and s.family_id = t.family_id
                                   and s.used_at is null and s.revoked_at is null
                                   and s.expires_at > $4)) as replay
             from refresh_tokens t
             where t.token_hash = $1",
};

/// Revokes the family of the token `$1` if it is user `$2`'s; then the time.
const REVOKE_FAMILY_OF: Both = Both {
    postgres: "update refresh_tokens set revoked_at = now()
               where family_id = (select family_id from refresh_tokens
                                  where token_hash = $1 and user_id = $2)
                 and revoked_at is null
               returning family_id",
    sqlite: "update refresh_tokens set revoked_at = $3
             where family_id = (select family_id from refresh_tokens
                                where token_hash = $1 and user_id = $2)
               and revoked_at is null
             returning family_id",
};

/// Revokes the live tokens of family `$1`; then the time.
const REVOKE_FAMILY: Both = Both {
    postgres: "update refresh_tokens set revoked_at = now()
               where family_id = $1 and revoked_at is null",
    sqlite: "update refresh_tokens set revoked_at = $2
             where family_id = $1 and revoked_at is null",
};

/// Revokes the live tokens of user `$1`, returning their families; then the time.
const REVOKE_USER: Both = Both {
    postgres: "update refresh_tokens set revoked_at = now()
               where user_id = $1 and revoked_at is null
               returning family_id",
    sqlite: "update refresh_tokens set revoked_at = $2
             where user_id = $1 and revoked_at is null
             returning family_id",
};

impl<D: Dialect> SqlStore<D> {
    pub(crate) async fn insert_refresh_token(
        &self,
        token: &NewRefreshToken,
    ) -> Result<(), StoreError> {
        insert::<D>(&mut *self.conn().await?, token).await
    }

    /// Spends the token and, when it was live and `successor` is given, stores the successor in
    /// the same family, all in one transaction. The update only matches a live token, so of two
    /// concurrent consumers exactly one sees it live (PostgreSQL's row lock, SQLite's write lock
    /// taken at `begin immediate`, makes the loser wait for the winner's commit). The loser is a
    /// replay within `grace` when the token was spent that recently and `successor` (the same
    /// row: successors are derived from the token) is stored and still unused: it is answered
    /// as valid. Any other spent token revokes the family, successors included.
    pub(crate) async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        successor: Option<&NewRefreshToken>,
        grace: Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let spent = Stmt::<D>::of(SPEND)
            .bytes(token_hash)
            .now()
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = spent {
            let c = Columns::<D>::of(&row);
            let (user_id, family_id) = (c.id("user_id")?, c.id("family_id")?);
            if let Some(next) = successor {
                let next = NewRefreshToken {
                    user_id,
                    family_id,
                    ..next.clone()
                };
                insert::<D>(&mut tx, &next).await?;
            }
            tx.commit().await?;
            return Ok(RefreshOutcome::Valid { user_id, family_id });
        }

        let found = Stmt::<D>::of(INSPECT)
            .bytes(token_hash)
            .opt_bytes(successor.map(|s| s.token_hash.as_slice()))
            .ago(grace)
            .now()
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match found {
            None => RefreshOutcome::Unknown,
            Some(row) => {
                let c = Columns::<D>::of(&row);
                if c.opt_flag("replay")? == Some(true) {
                    RefreshOutcome::Valid {
                        user_id: c.id("user_id")?,
                        family_id: c.id("family_id")?,
                    }
                } else if c.flag("spent")? {
                    let family_id = c.id("family_id")?;
                    revoke::<D>(&mut tx, family_id).await?;
                    RefreshOutcome::Reused { family_id }
                } else {
                    RefreshOutcome::Expired
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    pub(crate) async fn revoke_family(&self, family_id: Uuid) -> Result<u64, StoreError> {
        revoke::<D>(&mut *self.conn().await?, family_id).await
    }

    /// Revokes the family of the token `token_hash` if it belongs to `user_id`; its family id.
    pub(crate) async fn revoke_family_of(
        &self,
        token_hash: &[u8],
        user_id: UserId,
    ) -> Result<Option<Uuid>, StoreError> {
        let families = Stmt::<D>::of(REVOKE_FAMILY_OF)
            .bytes(token_hash)
            .id(user_id)
            .now()
            .fetch_all_as(&mut *self.conn().await?, |c| c.id("family_id"))
            .await?;
        Ok(families.into_iter().next())
    }

    pub(crate) async fn revoke_all_for_user(
        &self,
        user_id: UserId,
    ) -> Result<Vec<Uuid>, StoreError> {
        revoke_user::<D>(&mut *self.conn().await?, user_id).await
    }
}

async fn insert<D: Dialect>(
    conn: &mut DbConnection<D>,
    token: &NewRefreshToken,
) -> Result<(), StoreError> {
    Stmt::<D>::new(
        "insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
    )
    .id(token.id)
    .id(token.user_id)
    .id(token.family_id)
    .bytes(&token.token_hash)
    .time(token.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn revoke<D: Dialect>(
    conn: &mut DbConnection<D>,
    family_id: Uuid,
) -> Result<u64, StoreError> {
    Stmt::<D>::of(REVOKE_FAMILY)
        .id(family_id)
        .now()
        .execute(conn)
        .await
}

/// Revokes every live token of `user_id`; the families that had one.
pub(super) async fn revoke_user<D: Dialect>(
    conn: &mut DbConnection<D>,
    user_id: UserId,
) -> Result<Vec<Uuid>, StoreError> {
    let mut families: Vec<Uuid> = Stmt::<D>::of(REVOKE_USER)
        .id(user_id)
        .now()
        .fetch_all_as(conn, |c| c.id("family_id"))
        .await?;
    families.sort_unstable();
    families.dedup();
    Ok(families)
}
