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
    /// concurrent consumers exactly one sees it live; the other sees it spent and revokes the
    /// family, including a successor the winner stored (the winner's row lock makes the loser
    /// wait for its commit).
    pub(crate) async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        successor: Option<&NewRefreshToken>,
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

    pub(crate) async fn revoke_all_for_user(&self, user_id: UserId) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update refresh_tokens set revoked_at = now()
             where user_id = $1 and revoked_at is null",
        )
        .bind(user_id.as_uuid())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
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
