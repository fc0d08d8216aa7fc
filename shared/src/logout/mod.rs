//! Ending sessions and telling the relying parties: OIDC Back-Channel Logout 1.0 with
//! revocation semantics 3 and 4 (docs/ARCHITECTURE.md §3).
//!
//! * Ending a session writes its denylist marker (its access tokens fail every check,
//!   its refresh families cannot rotate) and removes it.
//! * Revoke-all for a subject writes the subject marker first, so that everything issued
//!   before that instant is dead even if a session was missed; then ends every session
//!   it can find.
//! * Every RP of an ended session with a `backchannel_logout_uri` gets a logout token,
//!   all RPs in parallel, with in-line retries inside the call's deadline. What is still
//!   undelivered is recorded, and `logout-retry` keeps trying until it is too old.

pub mod delivery;
pub mod retry;

use crate::config::Config;
use crate::domain::{ClientRecord, DeliveryRecord, DeliveryStatus, Marker, RevocationCause, SessionRecord};
use crate::ids::{ClientId, Sid, Subject, random_id};
use crate::keys::{KeyRing, KeySet};
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::{OAuthError, OAuthErrorCode, OAuthRequest};
use crate::policy::Covers;
use crate::store::{LogoutStore, StoreError};
use crate::time::UnixTime;
use crate::tokens::refresh::RefreshToken;
use delivery::{AttemptError, Notifier, Target};
use futures::FutureExt;
use futures::future::join_all;
use serde::Serialize;
use std::sync::Arc;
use tokio::time::Instant;

/// The wait an RP asked for with `Retry-After` (already clamped), in seconds.
fn asked_wait(error: &Option<AttemptError>) -> u64 {
    match error {
        Some(AttemptError::Retryable { retry_after: Some(wait), .. }) => wait.as_secs(),
        _ => 0,
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct LogoutSummary {
    pub sessions_ended: Vec<String>,
    pub deliveries: Vec<DeliveryReport>,
}

/// An RP of an ended session.
enum Recipient {
    Known(Target),
    /// Its registration could not be read: the error.
    Unresolved(Target, String),
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DeliveryReport {
    pub client_id: String,
    pub sid: String,
    /// `delivered`, `pending` (recorded; `logout-retry` will try again) or `failed`.
    pub status: &'static str,
    pub attempts: u32,
}

pub struct LogoutService {
    pub(crate) config: Arc<Config>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clients: Arc<ClientDirectory>,
    pub(crate) store: Arc<dyn LogoutStore>,
    pub(crate) notifier: Notifier,
}

impl LogoutService {
    /// `POST /oauth2/logout`: exactly one of `refresh_token`, `sid` or `sub`.
    pub async fn logout(&self, req: &OAuthRequest) -> Result<LogoutSummary, OAuthError> {
        let keys = self.keys.current().await;
        let caller = self.clients.authenticate(req).await?;
        let given = ["refresh_token", "sid", "sub"].into_iter().filter(|p| req.param(p).is_some()).count();
        if given != 1 {
            return Err(OAuthError::invalid_request("give exactly one of refresh_token, sid or sub"));
        }
        if let Some(token) = req.param("refresh_token") {
            let session = self.session_of_refresh_token(&keys, &caller, token).await?;
            return Ok(self.end_sessions(&keys, session.into_iter().collect(), RevocationCause::Logout).await?);
        }
        if let Some(sid) = req.param("sid") {
            if !crate::policy::valid_random_id(sid) {
                return Err(OAuthError::invalid_request("unknown session"));
            }
            return match self.store.session(&Sid::new(sid)).await? {
                Some(session) if session.client_ids.contains(&caller.id) => {
                    Ok(self.end_sessions(&keys, vec![session], RevocationCause::Logout).await?)
                }
                _ => Err(OAuthError::invalid_request("unknown session")),
            };
        }
        if !caller.admin {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "only admin clients may end every session of a subject",
            ));
        }
        let sub = req.param("sub").unwrap_or_default();
        if !crate::policy::valid_subject(sub) {
            return Err(OAuthError::invalid_request("the subject is malformed"));
        }
        let sub = Subject::new(sub);
        Ok(self.revoke_all_with(&keys, &sub, RevocationCause::AdminLogout).await?)
    }

    async fn session_of_refresh_token(
        &self,
        keys: &KeySet,
        caller: &ClientRecord,
        token: &str,
    ) -> Result<Option<SessionRecord>, OAuthError> {
        let refresh = RefreshToken::decode(token, keys.refresh_mac_key())
            .map_err(|_| OAuthError::invalid_grant("the refresh token is invalid"))?;
        match self.store.family(&refresh.family).await? {
            Some(family) if family.client_id == caller.id && family.client_epoch == caller.epoch => {
                Ok(self.store.session(&family.sid).await?)
            }
            _ => Err(OAuthError::invalid_grant("the refresh token is invalid")),
        }
    }

    /// Semantics 4: every session, family and access token of `sub` issued before now
    /// is dead, and every RP of every session is told. Used by admin logout, password
    /// change and `tokenctl user revoke-all`.
    pub async fn revoke_all(&self, sub: &Subject, cause: RevocationCause) -> Result<LogoutSummary, StoreError> {
        let keys = self.keys.current().await;
        self.revoke_all_with(&keys, sub, cause).await
    }

    async fn revoke_all_with(
        &self,
        keys: &KeySet,
        sub: &Subject,
        cause: RevocationCause,
    ) -> Result<LogoutSummary, StoreError> {
        let now = UnixTime::now();
        // `not_before` is the next second: anything issued in this second, before or
        // after this line, is covered (claims have one-second resolution).
        let expires_at = self.config.lifetimes.marker_expiry(Covers::Subject, now);
        let marker = Marker::Subject { sub: sub.clone(), not_before: now.plus(1), expires_at };
        self.store.put_marker(&marker).await?;
        tracing::warn!(event = "subject.revoked_all", sub = %sub, reason = cause.as_str());
        let sessions = self.store.sessions_of(sub).await?;
        self.end_sessions(keys, sessions, cause).await
    }

    /// Semantics 3 for each session, then one parallel fan-out to all their RPs. The
    /// sessions end concurrently too: wall time stays near one round trip plus the
    /// slowest RP, whatever their number (docs/ARCHITECTURE.md §5).
    ///
    /// A session that could not be ended makes the whole call fail (after the others'
    /// RPs were told): the caller must not believe a logout that did not happen, and
    /// calling again ends what is left.
    async fn end_sessions(
        &self,
        keys: &KeySet,
        sessions: Vec<SessionRecord>,
        cause: RevocationCause,
    ) -> Result<LogoutSummary, StoreError> {
        let deadline = Instant::now() + self.config.logout.deadline;
        let ended = join_all(sessions.into_iter().map(|session| self.end_session(session, cause))).await;
        let (mut sessions_ended, mut recipients, mut first_failure) = (Vec::new(), Vec::new(), None);
        for result in ended {
            match result {
                Ok((sid, session_recipients)) => {
                    sessions_ended.push(sid);
                    recipients.extend(session_recipients);
                }
                Err(err) => first_failure = first_failure.or(Some(err)),
            }
        }
        // All RPs at once: the call takes as long as the slowest RP, not the sum.
        let deliveries = join_all(recipients.into_iter().map(|recipient| match recipient {
            Recipient::Known(target) => self.notify(keys, target, deadline).boxed(),
            Recipient::Unresolved(target, error) => self.defer(target, error).boxed(),
        }))
        .await;
        match first_failure {
            Some(err) => Err(err),
            None => Ok(LogoutSummary { sessions_ended, deliveries }),
        }
    }

    /// End one session; returns its id and the RPs to tell, or the error if it could not
    /// be ended (its RPs are then not told anything untrue).
    async fn end_session(
        &self,
        session: SessionRecord,
        cause: RevocationCause,
    ) -> Result<(String, Vec<Recipient>), StoreError> {
        let now = UnixTime::now();
        let marker = Marker::Session {
            sid: session.sid.clone(),
            revoked_at: now,
            reason: cause,
            // Until the last access token and the family itself could be alive.
            expires_at: self.config.lifetimes.marker_expiry(Covers::Session(&session), now),
        };
        if let Err(err) = self.store.end_session(&session.sid, &marker).await {
            tracing::error!(event = "session.end_failed", sid = %session.sid);
            return Err(err);
        }
        tracing::warn!(event = "session.ended", sid = %session.sid, sub = %session.sub, reason = cause.as_str());
        Ok((session.sid.to_string(), self.recipients(&session).await))
    }

    /// Every client of the session that is an RP. One whose record cannot be read now is
    /// still an RP: it gets a pending delivery, which `logout-retry` resolves against its
    /// registration later, so no RP of an ended session is ever left out.
    async fn recipients(&self, session: &SessionRecord) -> Vec<Recipient> {
        let lookups = join_all(session.client_ids.iter().map(|id| self.clients.get(id))).await;
        let target = |client_id: &ClientId, alg, uri: String| Target {
            client_id: client_id.clone(),
            alg,
            uri,
            sid: session.sid.clone(),
            sub: session.sub.clone(),
        };
        lookups
            .into_iter()
            .zip(&session.client_ids)
            .filter_map(|(found, id)| match found {
                Ok(client) => {
                    let client = client?;
                    Some(Recipient::Known(target(id, client.id_token_alg(), client.backchannel_logout_uri?)))
                }
                // The algorithm and URI are resolved from the registration at the retry.
                Err(err) => Some(Recipient::Unresolved(
                    target(id, crate::domain::SigningAlgorithm::Rs256, String::new()),
                    err.to_string(),
                )),
            })
            .collect()
    }

    /// A recipient whose registration could not be read: recorded as pending.
    async fn defer(&self, target: Target, error: String) -> DeliveryReport {
        tracing::warn!(event = "backchannel_logout.deferred", client_id = %target.client_id, sid = %target.sid,
            error = %error, "client lookup failed");
        let outcome = delivery::Outcome {
            delivered: false,
            attempts: 0,
            last_error: Some(AttemptError::Retryable { reason: "client lookup failed".into(), retry_after: None }),
        };
        let status = self.record(&target, &outcome, DeliveryStatus::Pending).await;
        DeliveryReport { client_id: target.client_id.to_string(), sid: target.sid.to_string(), status, attempts: 0 }
    }

    async fn notify(&self, keys: &KeySet, target: Target, deadline: Instant) -> DeliveryReport {
        let outcome = self.notifier.deliver(keys, &target, deadline).await;
        let report = |status| DeliveryReport {
            client_id: target.client_id.to_string(),
            sid: target.sid.to_string(),
            status,
            attempts: outcome.attempts,
        };
        match &outcome.last_error {
            None => {
                tracing::info!(event = "backchannel_logout.delivered", client_id = %target.client_id, sid = %target.sid,
                    attempts = outcome.attempts);
                report("delivered")
            }
            Some(AttemptError::Permanent(reason)) => {
                tracing::warn!(event = "backchannel_logout.failed", client_id = %target.client_id, sid = %target.sid,
                    attempts = outcome.attempts, error = %reason);
                let status = self.record(&target, &outcome, DeliveryStatus::Failed).await;
                report(status)
            }
            Some(AttemptError::Retryable { reason, .. }) => {
                tracing::warn!(event = "backchannel_logout.deferred", client_id = %target.client_id, sid = %target.sid,
                    attempts = outcome.attempts, error = %reason);
                let status = self.record(&target, &outcome, DeliveryStatus::Pending).await;
                report(status)
            }
        }
    }

    /// Keep a record of what did not get through: pending ones for `logout-retry`,
    /// failed ones for audit.
    async fn record(&self, target: &Target, outcome: &delivery::Outcome, status: DeliveryStatus) -> &'static str {
        let now = UnixTime::now();
        let settings = self.config.logout;
        let record = DeliveryRecord {
            id: random_id(),
            client_id: target.client_id.clone(),
            sid: target.sid.clone(),
            sub: target.sub.clone(),
            uri: target.uri.clone(),
            created_at: now,
            attempts: outcome.attempts,
            // The first durable retry comes `retry_base` later (or when the RP asked, within
            // the backoff bounds); then it doubles.
            next_attempt_at: now.plus(settings.retry_base.max(asked_wait(&outcome.last_error))),
            last_error: outcome.last_error.as_ref().map(|e| e.reason().to_string()),
            status,
            expires_at: now.plus(settings.retry_max_age + retry::AUDIT_RETENTION),
        };
        match self.store.save_delivery(&record).await {
            Ok(()) => status.as_str(),
            Err(err) => {
                // Not even the record could be kept: say so loudly, the RP was not told.
                tracing::error!(event = "backchannel_logout.failed", client_id = %target.client_id, sid = %target.sid,
                    error = %err, "could not record the undelivered logout");
                DeliveryStatus::Failed.as_str()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientRecord, GrantType};
    use crate::store::{ClientAdmin, DeliveryStore, SessionWrite};
    use crate::testing::decorated::Injected;
    use crate::testing::faults::Faulty;
    use crate::testing::kit;
    use crate::testing::memory::MemoryStore;
    use crate::testing::rp::TestRp;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// GIVEN a session at two RPs, WHEN one RP's registration cannot be read during the
    /// logout, THEN that RP still gets a pending delivery (resolved later by
    /// logout-retry), and the other is told at once: no RP ends in nothing.
    #[tokio::test]
    async fn an_rp_whose_registration_cannot_be_read_is_recorded_not_dropped() {
        let rp = TestRp::start(Duration::ZERO, "200 OK").await;
        let store = Arc::new(MemoryStore::new());
        let (mut session, family) = kit::session(UnixTime::now(), 3600);
        session.client_ids = [ClientId::new("a"), ClientId::new("b")].into_iter().collect();
        for id in ["a", "b"] {
            let client =
                ClientRecord { backchannel_logout_uri: Some(rp.uri()), ..kit::client(id, &[GrantType::Password], "") };
            store.put_client(&client).await.unwrap();
        }
        store.begin_session(&session, &family).await.unwrap();
        let lookups = Arc::new(AtomicUsize::new(0));
        let seen = lookups.clone();
        let faulty = Arc::new(Faulty::with_plan(store.clone(), move |op| {
            if op == "client_for_auth" && seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Injected::Fail(StoreError::Unavailable("throttled".into()))
            } else {
                Injected::Proceed
            }
        }));
        let service = kit::services_over(faulty).logout().unwrap();
        let keys = service.keys.current().await;
        let summary = service.end_sessions(&keys, vec![session.clone()], RevocationCause::Logout).await.unwrap();
        let mut statuses: Vec<&str> = summary.deliveries.iter().map(|d| d.status).collect();
        statuses.sort();
        assert_eq!(statuses, vec!["delivered", "pending"], "{summary:?}");
        assert_eq!(rp.received(), 1);
        let pending = store.due_deliveries(UnixTime::now().plus(3600), 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].sid.clone(), pending[0].status), (session.sid.clone(), DeliveryStatus::Pending));
    }
}
