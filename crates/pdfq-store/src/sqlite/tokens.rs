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

    pub(crate) async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        successor: Option<&NewRefreshToken>,
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

        let found = sqlx::query(
            "select family_id, (used_at is not null or revoked_at is not null) as spent
             from refresh_tokens
             where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match found {
            None => RefreshOutcome::Unknown,
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

    pub(crate) async fn revoke_all_for_user(&self, user_id: UserId) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update refresh_tokens set revoked_at = $2
             where user_id = $1 and revoked_at is null",
        )
        .bind(user_id.to_string())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
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
