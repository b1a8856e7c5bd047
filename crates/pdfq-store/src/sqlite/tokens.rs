//! Refresh tokens on SQLite. The write lock taken at `begin immediate` serialises consumers, so
//! of two presenting the same token only the first finds it live.

use pdfq_domain::UserId;
use sqlx::Row;
use uuid::Uuid;

use super::{SqliteStore, now, parse_id, ts};
use crate::StoreError;
use crate::model::{NewRefreshToken, RefreshOutcome};

impl SqliteStore {
    pub(crate) async fn insert_refresh_token(
        &self,
        token: &NewRefreshToken,
    ) -> Result<(), StoreError> {
        insert(&mut *self.pool.acquire().await?, token).await
    }

    /// See the PostgreSQL twin for the rules, the grace replay included.
    pub(crate) async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        successor: Option<&NewRefreshToken>,
        grace: std::time::Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let at = now();
        let spent = sqlx::query(
            "update refresh_tokens
             set used_at = $2
             where token_hash = $1 and used_at is null and revoked_at is null and expires_at > $2
             returning user_id, family_id",
        )
        .bind(token_hash)
        .bind(&at)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = spent {
            let user_id: UserId = parse_id(&row.try_get::<String, _>("user_id")?)?;
            let family_id: Uuid = parse_id(&row.try_get::<String, _>("family_id")?)?;
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

        let since = ts(time::OffsetDateTime::now_utc()
            - time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO));
        let found = sqlx::query(
            "select t.user_id, t.family_id,
                    (t.used_at is not null or t.revoked_at is not null) as spent,
                    (t.revoked_at is null
                     and t.used_at > $3
                     and exists (select 1 from refresh_tokens s
                                 where s.token_hash = $2 and s.family_id = t.family_id
                                   and s.used_at is null and s.revoked_at is null
                                   and s.expires_at > $4)) as replay
             from refresh_tokens t
             where t.token_hash = $1",
        )
        .bind(token_hash)
        .bind(successor.map(|s| s.token_hash.as_slice()))
        .bind(&since)
        .bind(&at)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match found {
            None => RefreshOutcome::Unknown,
            Some(row) if row.try_get::<Option<bool>, _>("replay")? == Some(true) => {
                RefreshOutcome::Valid {
                    user_id: parse_id(&row.try_get::<String, _>("user_id")?)?,
                    family_id: parse_id(&row.try_get::<String, _>("family_id")?)?,
                }
            }
            Some(row) if row.try_get::<bool, _>("spent")? => {
                let family_id: Uuid = parse_id(&row.try_get::<String, _>("family_id")?)?;
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

    pub(crate) async fn revoke_family_of(
        &self,
        token_hash: &[u8],
        user_id: UserId,
    ) -> Result<Option<Uuid>, StoreError> {
        let family: Vec<String> = sqlx::query_scalar(
            "update refresh_tokens set revoked_at = $3
             where family_id = (select family_id from refresh_tokens
                                where token_hash = $1 and user_id = $2)
               and revoked_at is null
             returning family_id",
        )
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        family.first().map(|f| parse_id(f)).transpose()
    }

    pub(crate) async fn revoke_all_for_user(
        &self,
        user_id: UserId,
    ) -> Result<Vec<Uuid>, StoreError> {
        revoke_user(&mut *self.pool.acquire().await?, user_id).await
    }
}

async fn insert(
    conn: &mut sqlx::SqliteConnection,
    token: &NewRefreshToken,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(token.id.to_string())
    .bind(token.user_id.to_string())
    .bind(token.family_id.to_string())
    .bind(&token.token_hash)
    .bind(ts(token.expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

async fn revoke(conn: &mut sqlx::SqliteConnection, family_id: Uuid) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "update refresh_tokens set revoked_at = $2
         where family_id = $1 and revoked_at is null",
    )
    .bind(family_id.to_string())
    .bind(now())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every live token of `user_id`; the families that had one.
pub(super) async fn revoke_user(
    conn: &mut sqlx::SqliteConnection,
    user_id: UserId,
) -> Result<Vec<Uuid>, StoreError> {
    let families: Vec<String> = sqlx::query_scalar(
        "update refresh_tokens set revoked_at = $2
         where user_id = $1 and revoked_at is null
         returning family_id",
    )
    .bind(user_id.to_string())
    .bind(now())
    .fetch_all(conn)
    .await?;
    let mut families = families
        .iter()
        .map(|f| parse_id(f))
        .collect::<Result<Vec<Uuid>, _>>()?;
    families.sort_unstable();
    families.dedup();
    Ok(families)
}
