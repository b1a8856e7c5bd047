//! Users.

use pdfq_domain::UserId;

use super::{SqlStore, delete_by_id, tokens, user_columns, user_of};
use crate::StoreError;
use crate::dialect::{Dialect, Stmt};
use crate::error::ResultExt;
use crate::model::{Role, User};

impl<D: Dialect> SqlStore<D> {
    pub(crate) async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        Stmt::<D>::new(concat!(
            "insert into users (id, email, password_hash, role) values ($1, $2, $3, $4)
             returning ",
            user_columns!()
        ))
        .id(UserId::new())
        .text(email.trim())
        .text(password_hash)
        .text(role.as_str())
        .fetch_one_as(&mut *self.conn().await?, user_of)
        .await
        .on_constraint("users_email_key", |_| {
            StoreError::Conflict("this email is already registered".into())
        })
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Stmt::<D>::new(concat!(
            "select ",
            user_columns!(),
            " from users where lower(email) = lower($1)"
        ))
        .text(email.trim())
        .fetch_optional_as(&mut *self.conn().await?, user_of)
        .await
    }

    pub(crate) async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Stmt::<D>::new(concat!(
            "select ",
            user_columns!(),
            " from users where id = $1"
        ))
        .id(id)
        .fetch_optional_as(&mut *self.conn().await?, user_of)
        .await
    }

    pub(crate) async fn set_role(&self, id: UserId, role: Role) -> Result<User, StoreError> {
        Stmt::<D>::new(concat!(
            "update users set role = $2 where id = $1 returning ",
            user_columns!()
        ))
        .id(id)
        .text(role.as_str())
        .fetch_one_as(&mut *self.conn().await?, user_of)
        .await
    }

    pub(crate) async fn reset_credentials(
        &self,
        id: UserId,
        password_hash: &str,
        role: Role,
    ) -> Result<(User, Vec<uuid::Uuid>), StoreError> {
        let mut tx = self.begin_write().await?;
        let user = Stmt::<D>::new(concat!(
            "update users set password_hash = $2, role = $3 where id = $1 returning ",
            user_columns!()
        ))
        .id(id)
        .text(password_hash)
        .text(role.as_str())
        .fetch_one_as(&mut tx, user_of)
        .await?;
        let sessions = tokens::revoke_user::<D>(&mut tx, id).await?;
        tx.commit().await?;
        Ok((user, sessions))
    }

    pub(crate) async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        delete_by_id::<D>(
            &mut *self.conn().await?,
            "delete from users where id = $1",
            id,
        )
        .await
    }

    pub(crate) async fn count_admins(&self) -> Result<u64, StoreError> {
        Stmt::<D>::new("select count(*) as n from users where role = 'admin'")
            .fetch_one_as(&mut *self.conn().await?, |c| c.count("n"))
            .await
    }
}
