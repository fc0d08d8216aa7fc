//! Ending sessions and telling the relying parties: OIDC Back-Channel Logout 1.0 with
//! revocation semantics 3 and 4 (docs/ARCHITECTURE.md §3).
//!
//! * Ending a session writes its denylist marker (its access tokens fail every check,
//!   its refresh families cannot rotate) and removes it.
//! * Revoke-all for a subject writes the subject marker first, so that everything issued
//!   before that instant is dead even if a session was missed; then ends every session
//!   it can find.
//! * Every RP of an ended session with a `backchannel_logout_uri` gets a logout token,
//!   all RPs in parallel, with in-line retries inside the call's deadline. A pending
//!   delivery of each RP is written in the very transaction that ends the session (an
//!   outbox), so no RP of an ended session is ever left untold, whatever fails after;
//!   the in-line attempt then settles it (delivered, failed, or still pending for
//!   `logout-retry`, which keeps trying until it is too old). Delivery is at least once.

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

    /// RP-initiated logout: end the session `sid`, if it is still live, and tell every
    /// relying party of it.
    pub async fn end_session_by_id(&self, sid: &Sid, cause: RevocationCause) -> Result<LogoutSummary, StoreError> {
        let keys = self.keys.current().await;
        let sessions = self.store.session(sid).await?.into_iter().collect();
        self.end_sessions(&keys, sessions, cause).await
    }

    /// End a session the caller has just read (ending it is conditional on its item:
    /// nothing happens twice).
    pub async fn end_read_session(
        &self,
        session: SessionRecord,
        cause: RevocationCause,
    ) -> Result<LogoutSummary, StoreError> {
        let keys = self.keys.current().await;
        self.end_sessions(&keys, vec![session], cause).await
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
                Ok(Some((sid, session_recipients))) => {
                    sessions_ended.push(sid);
                    recipients.extend(session_recipients);
                }
                // Another call ended it, and tells its RPs.
                Ok(None) => {}
                Err(err) => first_failure = first_failure.or(Some(err)),
            }
        }
        // All RPs at once: the call takes as long as the slowest RP, not the sum.
        let deliveries = join_all(recipients.into_iter().map(|(recipient, record)| match recipient {
            Recipient::Known(target) => self.notify(keys, target, record, deadline).boxed(),
            Recipient::Unresolved(target, error) => self.defer(target, record, error).boxed(),
        }))
        .await;
        match first_failure {
            Some(err) => Err(err),
            None => Ok(LogoutSummary { sessions_ended, deliveries }),
        }
    }

    /// End one session, with a pending delivery for each of its RPs in the same
    /// transaction; returns its id and the RPs to tell, `None` if another call ended it
    /// first, or the error if it could not be ended (its RPs are then told nothing untrue).
    async fn end_session(
        &self,
        session: SessionRecord,
        cause: RevocationCause,
    ) -> Result<Option<(String, Vec<(Recipient, DeliveryRecord)>)>, StoreError> {
        let recipients = self.recipients(&session).await;
        let now = UnixTime::now();
        let marker = Marker::Session {
            sid: session.sid.clone(),
            revoked_at: now,
            reason: cause,
            // Until the last access token and the family itself could be alive.
            expires_at: self.config.lifetimes.marker_expiry(Covers::Session(&session), now),
        };
        let outbox: Vec<DeliveryRecord> = recipients.iter().map(|r| self.pending(r.target(), now)).collect();
        match self.store.end_session(&session.sid, &marker, &outbox).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(event = "session.already_ended", sid = %session.sid);
                return Ok(None);
            }
            Err(err) => {
                tracing::error!(event = "session.end_failed", sid = %session.sid);
                return Err(err);
            }
        }
        tracing::warn!(event = "session.ended", sid = %session.sid, sub = %session.sub, reason = cause.as_str());
        Ok(Some((session.sid.to_string(), recipients.into_iter().zip(outbox).collect())))
    }

    /// Every client of the session that is an RP. One whose record cannot be read now is
    /// still an RP: its delivery is resolved against its registration by `logout-retry`
    /// later, so no RP of an ended session is ever left out.
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

    /// The outbox record of one RP: pending, first due once the in-line attempts are
    /// over, so that `logout-retry` picks it up only if they did not settle it.
    fn pending(&self, target: &Target, now: UnixTime) -> DeliveryRecord {
        let settings = self.config.logout;
        let in_line = (settings.deadline + settings.rp_timeout).as_secs() + 1;
        DeliveryRecord {
            id: random_id(),
            client_id: target.client_id.clone(),
            sid: target.sid.clone(),
            sub: target.sub.clone(),
            uri: target.uri.clone(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now.plus(settings.retry_base.max(in_line)),
            last_error: None,
            status: DeliveryStatus::Pending,
            expires_at: now.plus(settings.retry_max_age + retry::AUDIT_RETENTION),
        }
    }

    /// A recipient whose registration could not be read: its pending record stands.
    async fn defer(&self, target: Target, mut record: DeliveryRecord, error: String) -> DeliveryReport {
        tracing::warn!(event = "backchannel_logout.deferred", client_id = %target.client_id, sid = %target.sid,
            error = %error, "client lookup failed");
        record.last_error = Some("client lookup failed".into());
        let status = self.record_outcome(record, DeliveryStatus::Pending).await;
        DeliveryReport { client_id: target.client_id.to_string(), sid: target.sid.to_string(), status, attempts: 0 }
    }

    async fn notify(&self, keys: &KeySet, target: Target, record: DeliveryRecord, deadline: Instant) -> DeliveryReport {
        let outcome = self.notifier.deliver(keys, &target, deadline).await;
        let report = |status| DeliveryReport {
            client_id: target.client_id.to_string(),
            sid: target.sid.to_string(),
            status,
            attempts: outcome.attempts,
        };
        let mut record = DeliveryRecord { attempts: outcome.attempts, ..record };
        match &outcome.last_error {
            None => {
                tracing::info!(event = "backchannel_logout.delivered", client_id = %target.client_id, sid = %target.sid,
                    attempts = outcome.attempts);
                // The RP has it, whatever the record says: a record left pending only
                // means it may be told twice (logout tokens are idempotent).
                self.record_outcome(record, DeliveryStatus::Delivered).await;
                report("delivered")
            }
            Some(AttemptError::Permanent(reason)) => {
                tracing::warn!(event = "backchannel_logout.failed", client_id = %target.client_id, sid = %target.sid,
                    attempts = outcome.attempts, error = %reason);
                record.last_error = Some(reason.clone());
                report(self.record_outcome(record, DeliveryStatus::Failed).await)
            }
            Some(AttemptError::Retryable { reason, .. }) => {
                tracing::warn!(event = "backchannel_logout.deferred", client_id = %target.client_id, sid = %target.sid,
                    attempts = outcome.attempts, error = %reason);
                // The first durable retry comes `retry_base` later (or when the RP asked,
                // within the backoff bounds); then it doubles.
                let wait = self.config.logout.retry_base.max(asked_wait(&outcome.last_error));
                record.next_attempt_at = UnixTime::now().plus(wait);
                record.last_error = Some(reason.clone());
                report(self.record_outcome(record, DeliveryStatus::Pending).await)
            }
        }
    }

    /// Write what the in-line attempts came to; the status the store now holds. If the
    /// write fails, the outbox record stays pending and `logout-retry` takes over.
    async fn record_outcome(&self, mut record: DeliveryRecord, status: DeliveryStatus) -> &'static str {
        record.status = status;
        if status != DeliveryStatus::Pending {
            // Settled: kept for audit only.
            record.expires_at = UnixTime::now().plus(retry::AUDIT_RETENTION);
        }
        match self.store.save_delivery(&record).await {
            Ok(()) => status.as_str(),
            Err(err) => {
                tracing::error!(event = "backchannel_logout.settle_failed", client_id = %record.client_id,
                    sid = %record.sid, error = %err, "the delivery stays pending for logout-retry");
                DeliveryStatus::Pending.as_str()
            }
        }
    }
}

impl Recipient {
    fn target(&self) -> &Target {
        match self {
            Self::Known(target) | Self::Unresolved(target, _) => target,
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

    /// GIVEN a session at an RP that is down, WHEN DynamoDB fails every write after the
    /// session ended, THEN the RP's delivery is still pending: it was written with the
    /// session's end (the outbox), so logout-retry will tell the RP.
    #[tokio::test]
    async fn an_rp_stays_pending_when_no_write_succeeds_after_the_session_ended() {
        let rp = TestRp::start(Duration::ZERO, "503 Service Unavailable").await;
        let store = Arc::new(MemoryStore::new());
        let (session, family) = kit::session(UnixTime::now(), 3600);
        let id = session.client_ids.first().unwrap().clone();
        let client = ClientRecord {
            dpop_bound_access_tokens: false,
            backchannel_logout_uri: Some(rp.uri()),
            ..kit::client(id.as_str(), &[GrantType::Password], "")
        };
        store.put_client(&client).await.unwrap();
        store.begin_session(&session, &family).await.unwrap();
        let faulty = Arc::new(Faulty::with_plan(store.clone(), |op| match op {
            "save_delivery" => Injected::Fail(StoreError::Unavailable("throttled".into())),
            _ => Injected::Proceed,
        }));
        let service = kit::services_over(faulty).logout().unwrap();
        let keys = service.keys.current().await;
        let summary = service.end_sessions(&keys, vec![session.clone()], RevocationCause::Logout).await.unwrap();
        assert_eq!(summary.deliveries.iter().map(|d| d.status).collect::<Vec<_>>(), ["pending"]);
        let records = store.deliveries().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(
            (&records[0].sid, &records[0].client_id, records[0].status),
            (&session.sid, &id, DeliveryStatus::Pending)
        );
    }
}
