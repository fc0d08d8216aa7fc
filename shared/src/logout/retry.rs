//! The durable half of back-channel logout: `logout-retry`, run on a schedule, retries
//! every pending delivery whose time has come, with exponential backoff, until it is
//! delivered or too old (then `backchannel_logout.failed`).
//!
//! A run takes the due deliveries from every shard of the pending index, attempts them
//! with bounded concurrency, stops taking new ones before its own deadline, and carries
//! on past a store error on one delivery (counted, logged; the next run retries it).

use super::LogoutService;
use super::delivery::{AttemptError, Target};
use crate::domain::{DeliveryRecord, DeliveryStatus};
use crate::keys::KeySet;
use crate::store::StoreError;
use crate::time::UnixTime;
use futures::StreamExt;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Settled deliveries stay a week for audit before TTL removes them.
pub const AUDIT_RETENTION: u64 = 7 * 24 * 3600;
/// Backoff never exceeds an hour between attempts, whatever an RP asks for.
const MAX_BACKOFF: u64 = super::delivery::MAX_RETRY_AFTER.as_secs();
/// Deliveries taken per run; the schedule brings the next batch.
const BATCH: usize = 200;
/// Deliveries attempted at once: enough to keep a run short when RPs are slow, few
/// enough not to exhaust the instance's sockets or memory.
const CONCURRENCY: usize = 16;
/// Room left at the end of a run for the last attempts' writes and the log.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// `base * 2^(attempts-1)`, capped.
pub fn backoff(base: u64, attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct RetryReport {
    pub delivered: usize,
    pub rescheduled: usize,
    pub failed: usize,
    /// Deliveries whose store write or read failed; they stay pending for the next run.
    pub errors: usize,
    /// Due deliveries left for the next run because this one reached its deadline.
    pub deferred: usize,
}

impl LogoutService {
    /// One run, which must be over by `deadline` (the invocation's).
    pub async fn retry_due(&self, deadline: Instant) -> Result<RetryReport, StoreError> {
        let keys = self.keys.current().await;
        let mut report = RetryReport::default();
        let due = self.store.due_deliveries(UnixTime::now(), BATCH).await?;
        // A delivery is started only if a whole attempt still fits before the deadline.
        let last_start = deadline.checked_sub(self.config.logout.rp_timeout + DEADLINE_MARGIN);
        let outcomes: Vec<Option<Result<DeliveryStatus, StoreError>>> = futures::stream::iter(due)
            .map(|delivery| {
                let keys = &keys;
                async move {
                    if last_start.is_none_or(|at| Instant::now() >= at) {
                        return None;
                    }
                    Some(self.retry_one(keys, delivery).await)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                None => report.deferred += 1,
                Some(Ok(DeliveryStatus::Delivered)) => report.delivered += 1,
                Some(Ok(DeliveryStatus::Pending)) => report.rescheduled += 1,
                Some(Ok(DeliveryStatus::Failed)) => report.failed += 1,
                Some(Err(err)) => {
                    err.report();
                    report.errors += 1;
                }
            }
        }
        Ok(report)
    }

    /// How long a claimed delivery is hidden from other runs: longer than one attempt can
    /// take, so that a slow RP is never delivered to twice at once.
    fn lease(&self) -> u64 {
        self.config.logout.rp_timeout.as_secs() + 1 + DEADLINE_MARGIN.as_secs() * 6
    }

    async fn retry_one(&self, keys: &KeySet, mut delivery: DeliveryRecord) -> Result<DeliveryStatus, StoreError> {
        let now = UnixTime::now();
        let settings = self.config.logout;
        if now.0.saturating_sub(delivery.created_at.0) > settings.retry_max_age {
            return self
                .settle(delivery, DeliveryStatus::Failed, Some("gave up: older than the maximum age".into()))
                .await;
        }
        // Another run may hold it; only the claim's winner attempts.
        if !self.store.claim_delivery(&delivery, now.plus(self.lease())).await? {
            return Ok(DeliveryStatus::Pending);
        }
        delivery.attempts = delivery.attempts.saturating_add(1);
        // Only the currently registered URI (and algorithm) is ever used.
        let registered = self.clients.get(&delivery.client_id).await?;
        let alg = registered.as_ref().map(|c| c.id_token_alg()).unwrap_or(crate::domain::SigningAlgorithm::Rs256);
        let Some(uri) = registered.and_then(|c| c.backchannel_logout_uri) else {
            return self
                .settle(delivery, DeliveryStatus::Failed, Some("the client no longer has a logout URI".into()))
                .await;
        };
        delivery.uri = uri;
        let target = Target {
            client_id: delivery.client_id.clone(),
            alg,
            uri: delivery.uri.clone(),
            sid: delivery.sid.clone(),
            sub: delivery.sub.clone(),
        };
        match self.notifier.attempt(keys, &target).await {
            Ok(()) => self.settle(delivery, DeliveryStatus::Delivered, None).await,
            Err(AttemptError::Permanent(reason)) => self.settle(delivery, DeliveryStatus::Failed, Some(reason)).await,
            Err(AttemptError::Retryable { reason, retry_after }) => {
                // The RP may ask for a longer wait, within the backoff bounds.
                let asked = retry_after.map(|d| d.as_secs()).unwrap_or(0).min(MAX_BACKOFF);
                let wait = asked.max(backoff(settings.retry_base, delivery.attempts));
                delivery.next_attempt_at = UnixTime::now().plus(wait);
                delivery.last_error = Some(reason);
                tracing::warn!(event = "backchannel_logout.deferred", client_id = %delivery.client_id,
                    sid = %delivery.sid, attempts = delivery.attempts, next_attempt_at = delivery.next_attempt_at.0);
                self.store.save_delivery(&delivery).await?;
                Ok(DeliveryStatus::Pending)
            }
        }
    }

    async fn settle(
        &self,
        mut delivery: DeliveryRecord,
        status: DeliveryStatus,
        error: Option<String>,
    ) -> Result<DeliveryStatus, StoreError> {
        delivery.status = status;
        if error.is_some() {
            delivery.last_error = error;
        }
        delivery.expires_at = UnixTime::now().plus(AUDIT_RETENTION);
        match status {
            DeliveryStatus::Delivered => tracing::info!(event = "backchannel_logout.delivered",
                client_id = %delivery.client_id, sid = %delivery.sid, attempts = delivery.attempts, retried = true),
            _ => tracing::warn!(event = "backchannel_logout.failed", client_id = %delivery.client_id,
                sid = %delivery.sid, attempts = delivery.attempts, error = delivery.last_error.as_deref().unwrap_or("")),
        }
        self.store.save_delivery(&delivery).await?;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::{ClientRecord, GrantType};
    use crate::ids::{ClientId, Sid, Subject, random_id};
    use crate::store::{ClientAdmin, DeliveryStore};
    use crate::testing::decorated::Injected;
    use crate::testing::faults::Faulty;
    use crate::testing::kit;
    use crate::testing::memory::MemoryStore;
    use crate::testing::rp::TestRp;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!((backoff(30, 1), backoff(30, 2), backoff(30, 3)), (30, 60, 120));
        assert_eq!(backoff(30, 40), 3600);
        assert_eq!(backoff(1, 0), 1);
    }

    async fn pending_to(store: &MemoryStore, rp: &TestRp, count: usize) -> Vec<DeliveryRecord> {
        let client =
            ClientRecord { backchannel_logout_uri: Some(rp.uri()), ..kit::client("rp", &[GrantType::Password], "") };
        store.put_client(&client).await.unwrap();
        let now = UnixTime::now();
        let mut saved = Vec::new();
        for _ in 0..count {
            let delivery = DeliveryRecord {
                id: random_id(),
                client_id: ClientId::new("rp"),
                sid: Sid::random(),
                sub: Subject::random(),
                uri: rp.uri(),
                created_at: now,
                attempts: 1,
                next_attempt_at: now,
                last_error: Some("connection failed".into()),
                status: DeliveryStatus::Pending,
                expires_at: now.plus(3600),
            };
            store.save_delivery(&delivery).await.unwrap();
            saved.push(delivery);
        }
        saved
    }

    fn service(store: Arc<dyn crate::store::FullStore>, rp_timeout: Duration) -> LogoutService {
        let mut config = kit::config();
        config.logout.rp_timeout = rp_timeout;
        let config = Config { client_cache_ttl: Duration::ZERO, ..config };
        kit::services_with(config, store).logout().unwrap()
    }

    #[tokio::test]
    async fn a_run_delivers_concurrently_within_bounds_and_leaves_what_it_has_no_time_for() {
        let rp = TestRp::start(Duration::from_millis(150), "200 OK").await;
        let store = Arc::new(MemoryStore::new());
        pending_to(&store, &rp, 40).await;
        let service = service(store.clone(), Duration::from_secs(2));
        let report = service.retry_due(Instant::now() + Duration::from_secs(60)).await.unwrap();
        assert_eq!((report.delivered, report.errors, report.deferred), (40, 0, 0), "{report:?}");
        assert!((2..=CONCURRENCY).contains(&rp.max_in_flight()), "in flight at once: {}", rp.max_in_flight());

        // Out of time: nothing is started, everything stays pending for the next run.
        pending_to(&store, &rp, 5).await;
        let report = service.retry_due(Instant::now()).await.unwrap();
        assert_eq!((report.deferred, report.delivered), (5, 0), "{report:?}");
        assert_eq!(rp.received(), 40);
        assert_eq!(store.due_deliveries(UnixTime::now(), 100).await.unwrap().len(), 5);
    }

    #[tokio::test]
    async fn a_store_error_on_one_delivery_does_not_stop_the_others() {
        let rp = TestRp::start(Duration::ZERO, "200 OK").await;
        let store = Arc::new(MemoryStore::new());
        pending_to(&store, &rp, 3).await;
        let claims = Arc::new(AtomicUsize::new(0));
        let counter = claims.clone();
        let faulty = Arc::new(Faulty::with_plan(store.clone(), move |op| {
            if op == "claim_delivery" && counter.fetch_add(1, Ordering::SeqCst) == 1 {
                Injected::Fail(StoreError::Unavailable("throttled".into()))
            } else {
                Injected::Proceed
            }
        }));
        let report = service(faulty, Duration::from_secs(2)).retry_due(Instant::now() + Duration::from_secs(60)).await;
        let report = report.expect("the run completes");
        assert_eq!((report.delivered, report.errors), (2, 1), "{report:?}");
        assert_eq!(store.due_deliveries(UnixTime::now(), 10).await.unwrap().len(), 1, "the failed one waits its turn");
    }

    /// A claim hides a delivery from other runs for longer than one attempt may take, so
    /// that a slow RP is never delivered to twice at once.
    #[tokio::test]
    async fn the_claim_outlasts_a_whole_attempt() {
        let rp = TestRp::start(Duration::from_millis(500), "200 OK").await;
        let store = Arc::new(MemoryStore::new());
        let delivery = pending_to(&store, &rp, 1).await.remove(0);
        let service = service(store.clone(), Duration::from_secs(120));
        let run = tokio::spawn(async move { service.retry_due(Instant::now() + Duration::from_secs(300)).await });
        while rp.received() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let claimed = store.delivery(&delivery.id).await.unwrap().unwrap();
        assert!(claimed.next_attempt_at >= UnixTime::now().plus(120), "leased until {:?}", claimed.next_attempt_at);
        assert_eq!(run.await.unwrap().unwrap().delivered, 1);
    }
}
