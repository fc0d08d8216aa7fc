//! The durable half of back-channel logout: `logout-retry`, run on a schedule, retries
//! every pending delivery whose time has come, with exponential backoff, until it is
//! delivered or too old (then `backchannel_logout.failed`).

use super::LogoutService;
use super::delivery::{AttemptError, Target};
use crate::domain::{DeliveryRecord, DeliveryStatus};
use crate::keys::KeySet;
use crate::store::StoreError;
use crate::time::UnixTime;
use serde::Serialize;

/// Settled deliveries stay a week for audit before TTL removes them.
pub const AUDIT_RETENTION: u64 = 7 * 24 * 3600;
/// How long a claimed delivery is hidden from other workers while one attempt runs.
const LEASE_SECONDS: u64 = 60;
/// Backoff never exceeds an hour between attempts.
const MAX_BACKOFF: u64 = 3600;
/// Deliveries handled per run; the schedule brings the next batch.
const BATCH: usize = 50;

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
}

impl LogoutService {
    pub async fn retry_due(&self) -> Result<RetryReport, StoreError> {
        let keys = self.keys.current().await;
        let mut report = RetryReport::default();
        let due = self.store.due_deliveries(UnixTime::now(), BATCH).await?;
        for delivery in due {
            match self.retry_one(&keys, delivery).await? {
                DeliveryStatus::Delivered => report.delivered += 1,
                DeliveryStatus::Pending => report.rescheduled += 1,
                DeliveryStatus::Failed => report.failed += 1,
            }
        }
        Ok(report)
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
        if !self.store.claim_delivery(&delivery, now.plus(LEASE_SECONDS)).await? {
            return Ok(DeliveryStatus::Pending);
        }
        delivery.attempts += 1;
        // Only the currently registered URI is ever used.
        let registered = self.clients.get(&delivery.client_id).await?.and_then(|c| c.backchannel_logout_uri);
        let Some(uri) = registered else {
            return self
                .settle(delivery, DeliveryStatus::Failed, Some("the client no longer has a logout URI".into()))
                .await;
        };
        delivery.uri = uri;
        let target = Target {
            client_id: delivery.client_id.clone(),
            uri: delivery.uri.clone(),
            sid: delivery.sid.clone(),
            sub: delivery.sub.clone(),
        };
        match self.notifier.attempt(keys, &target).await {
            Ok(()) => self.settle(delivery, DeliveryStatus::Delivered, None).await,
            Err(AttemptError::Permanent(reason)) => self.settle(delivery, DeliveryStatus::Failed, Some(reason)).await,
            Err(AttemptError::Retryable { reason, retry_after }) => {
                let wait =
                    retry_after.map(|d| d.as_secs()).unwrap_or(0).max(backoff(settings.retry_base, delivery.attempts));
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
    use super::backoff;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!((backoff(30, 1), backoff(30, 2), backoff(30, 3)), (30, 60, 120));
        assert_eq!(backoff(30, 40), 3600);
        assert_eq!(backoff(1, 0), 1);
    }
}
