//! The password check every user sign-in runs (the password grant, the login page):
//! argon2id against the stored hash, the same work for a username nobody holds, and
//! brute-force throttling per username (`policy::FREE_FAILURES`, then a doubling window).
//!
//! The user and the failures counted against the username come in one read, so a
//! successful sign-in costs no extra round trip; a failure costs one atomic update.

use crate::domain::{Attempted, UserRecord};
use crate::secrets::{PasswordHashString, SecretString};
use crate::store::{FailureStore, StoreError};
use crate::time::UnixTime;
use std::sync::Arc;

/// Why a sign-in is refused. Unknown user and wrong password are one answer.
#[derive(Debug)]
pub enum PasswordRefusal {
    BadCredentials,
    /// The password was right, but the user is disabled.
    Disabled,
    /// Too many failures in a row: not checked, try again in this many seconds.
    Throttled(u64),
    Store(StoreError),
}

impl From<StoreError> for PasswordRefusal {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

pub struct PasswordCheck {
    pub(crate) store: Arc<dyn FailureStore>,
}

impl PasswordCheck {
    pub fn new(store: Arc<dyn FailureStore>) -> Self {
        Self { store }
    }

    /// The user `username` names, if `password` is theirs and they may sign in.
    pub async fn check(&self, username: &str, password: &SecretString) -> Result<UserRecord, PasswordRefusal> {
        // A username no user can have costs like an unknown one, with no read at all.
        if crate::policy::validate_username(username).is_err() {
            PasswordHashString::verify_against_dummy(password);
            tracing::warn!(event = "login.refused", reason = "malformed_username");
            return Err(PasswordRefusal::BadCredentials);
        }
        let (user, failures) = self.store.user_for_login(username).await?;
        let now = UnixTime::now();
        let sub = user.as_ref().map(|u| u.sub.to_string());
        if let Some(retry_after) = failures.retry_after(now) {
            // The username is not logged: a password typed into its field would be.
            tracing::warn!(event = "login.throttled", sub, retry_after, failures = failures.failures);
            return Err(PasswordRefusal::Throttled(retry_after));
        }
        let attempted = Attempted::Username(username.to_string());
        let user = match user {
            Some(user) if user.password_hash.verify(password) => user,
            known => {
                if known.is_none() {
                    PasswordHashString::verify_against_dummy(password);
                }
                let failures = self.store.record_failure(&attempted, now).await?;
                let reason = if known.is_some() { "wrong_password" } else { "unknown_user" };
                tracing::warn!(event = "login.refused", reason, sub, failures = failures.failures);
                return Err(PasswordRefusal::BadCredentials);
            }
        };
        if failures.failures > 0 {
            // Best effort: a count left behind lapses on its own.
            if let Err(err) = self.store.clear_failures(&attempted).await {
                err.report();
            }
        }
        if user.disabled {
            tracing::warn!(event = "login.refused", reason = "user_disabled", sub = %user.sub);
            return Err(PasswordRefusal::Disabled);
        }
        Ok(user)
    }
}
