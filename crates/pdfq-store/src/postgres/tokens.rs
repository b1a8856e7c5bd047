//! Refresh tokens on PostgreSQL: stored hashed, rotated within a family, and the whole family
//! revoked when a spent token comes back.

use pdfq_domain::UserId;
use sqlx::Row;
use uuid::Uuid;

use super::PgStore;
use crate::StoreError;
use crate::model::{NewRefreshToken, RefreshOutcome};

impl PgStore {
    pub(crate) async fn insert_refresh_token(
        &self,
        token: &NewRefreshToken,
    ) -> Result<(), StoreError> {
        insert(&mut *self.pool.acquire().await?, token).await
    }

    /// Spends the token and, when it was live and `successor` is given, stores the successor in
    /// the same family, all in one transaction. The update only matches a live token, so of two
    /// concurrent consumers exactly one sees it live (the winner's row lock makes the loser
    /// wait for its commit). The loser is a replay within `grace` when the token was spent that
    /// recently and `successor` (the same row: successors are derived from the token) is
    /// stored and still unused: it is answered as valid. Any other spent token revokes the
    /// family, successors included.
    pub(crate) async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        successor: Option<&NewRefreshToken>,
        grace: std::time::Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "update refresh_tokens
             set used_at = now()
             where token_hash = $1 and used_at is null and revoked_at is null and expires_at > now()
             returning user_id, family_id",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = spent {
            let user_id = UserId::from_uuid(row.try_get("user_id")?);
            let family_id: Uuid = row.try_get("family_id")?;
            if let Some(next) = successor {
                let next = NewRefreshToken {
                    user_id,
                    family_id,
                    ..next.clone()
                };
                insert(&mut tx, &next).await?;
            }
            tx.commit().await?;
            return Ok(RefreshOutcome::Valid { user_id, family_id });
        }

        let found = sqlx::query(
            "select t.user_id, t.family_id,
                    (t.used_at is not null or t.revoked_at is not null) as spent,
                    (t.revoked_at is null
                     and t.used_at > now() - make_interval(secs => $3)
                     and exists (select 1 from refresh_tokens s
                                 where s.token_hash = $2 and s.family_id = t.family_id
                                   and s.used_at is null and s.revoked_at is null
                                   and s.expires_at > now())) as replay
             from refresh_tokens t
             where t.token_hash = $1",
        )
        .bind(token_hash)
        .bind(successor.map(|s| s.token_hash.as_slice()))
        .bind(grace.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match found {
            None => RefreshOutcome::Unknown,
            Some(row) if row.try_get::<Option<bool>, _>("replay")? == Some(true) => {
                RefreshOutcome::Valid {
                    user_id: UserId::from_uuid(row.try_get("user_id")?),
                    family_id: row.try_get("family_id")?,
                }
            }
            Some(row) if row.try_get::<bool, _>("spent")? => {
                let family_id: Uuid = row.try_get("family_id")?;
                revoke(&mut tx, family_id).await?;
                RefreshOutcome::Reused { family_id }
            }
            Some(_) => RefreshOutcome::Expired,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    pub(crate) async fn revoke_family(&self, family_id: Uuid) -> Result<u64, StoreError> {
        revoke(&mut *self.pool.acquire().await?, family_id).await
    }

    /// Revokes the family of the token `token_hash` if it belongs to `user_id`; its family id.
    pub(crate) async fn revoke_family_of(
        &self,
        token_hash: &[u8],
        user_id: UserId,
    ) -> Result<Option<Uuid>, StoreError> {
        let family = sqlx::query_scalar(
            "update refresh_tokens set revoked_at = now()
             where family_id = (select family_id from refresh_tokens
                                where token_hash = $1 and user_id = $2)
               and revoked_at is null
             returning family_id",
        )
        .bind(token_hash)
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        Ok(family.into_iter().next())
    }

    pub(crate) async fn revoke_all_for_user(
        &self,
        user_id: UserId,
    ) -> Result<Vec<Uuid>, StoreError> {
        revoke_user(&mut *self.pool.acquire().await?, user_id).await
    }
}

async fn insert(conn: &mut sqlx::PgConnection, token: &NewRefreshToken) -> Result<(), StoreError> {
    sqlx::query(
        "insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(token.id)
    .bind(token.user_id.as_uuid())
    .bind(token.family_id)
    .bind(&token.token_hash)
    .bind(token.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn revoke(conn: &mut sqlx::PgConnection, family_id: Uuid) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "update refresh_tokens set revoked_at = now()
         where family_id = $1 and revoked_at is null",
    )
    .bind(family_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every live token of `user_id`; the families that had one.
pub(super) async fn revoke_user(
    conn: &mut sqlx::PgConnection,
    user_id: UserId,
) -> Result<Vec<Uuid>, StoreError> {
    let mut families: Vec<Uuid> = sqlx::query_scalar(
        "update refresh_tokens set revoked_at = now()
         where user_id = $1 and revoked_at is null
         returning family_id",
    )
    .bind(user_id.as_uuid())
    .fetch_all(conn)
    .await?;
    families.sort_unstable();
    families.dedup();
    Ok(families)
}
