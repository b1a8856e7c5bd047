//! Users on SQLite.

use pdfq_domain::UserId;

use super::{SqliteStore, user_from_row};
use crate::StoreError;
use crate::error::ResultExt;
use crate::model::{Role, User};

impl SqliteStore {
    pub(crate) async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(
            "insert into users (id, email, password_hash, role)
             values ($1, $2, $3, $4)
             returning id, email, password_hash, role, created_at",
        )
        .bind(UserId::new().to_string())
        .bind(email.trim())
        .bind(password_hash)
        .bind(role.as_str())
        .fetch_one(&self.pool)
        .await
        .on_constraint("users_email_key", |_| {
            StoreError::Conflict("this email is already registered".into())
        })?;
        user_from_row(&row)
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(
            "select id, email, password_hash, role, created_at
             from users
             where lower(email) = lower($1)",
        )
        .bind(email.trim())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    pub(crate) async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        sqlx::query("select id, email, password_hash, role, created_at from users where id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    pub(crate) async fn set_role(&self, id: UserId, role: Role) -> Result<User, StoreError> {
        let row = sqlx::query(
            "update users set role = $2 where id = $1
             returning id, email, password_hash, role, created_at",
        )
        .bind(id.to_string())
        .bind(role.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    pub(crate) async fn reset_credentials(
        &self,
        id: UserId,
        password_hash: &str,
        role: Role,
    ) -> Result<(User, Vec<uuid::Uuid>), StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "update users set password_hash = $2, role = $3 where id = $1
             returning id, email, password_hash, role, created_at",
        )
        .bind(id.to_string())
        .bind(password_hash)
        .bind(role.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let sessions = super::tokens::revoke_user(&mut tx, id).await?;
        tx.commit().await?;
        Ok((user_from_row(&row)?, sessions))
    }

    pub(crate) async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        let done = sqlx::query("delete from users where id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn count_admins(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("select count(*) from users where role = 'admin'")
            .fetch_one(&self.pool)
            .await?;
        crate::decode::u64_of(n, "count")
    }
}
