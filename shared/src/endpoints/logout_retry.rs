//! `logout-retry`, run by an EventBridge schedule: retries back-channel logouts that
//! have not reached their relying party yet, until they do or grow too old.

use super::FromServices;
use crate::lambda::EventHandler;
use crate::logout::LogoutService;
use crate::logout::retry::RetryReport;
use crate::services::{InitError, Services};
use std::time::Instant;

pub struct LogoutRetry {
    service: LogoutService,
}

impl FromServices for LogoutRetry {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { service: services.logout()? })
    }
}

impl EventHandler for LogoutRetry {
    /// The schedule's event carries nothing we need.
    type Event = serde_json::Value;
    type Output = RetryReport;

    async fn handle(&self, _event: serde_json::Value, deadline: Instant) -> Result<RetryReport, InitError> {
        let remaining_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        let report = self.service.retry_due(deadline).await?;
        tracing::info!(
            event = "logout_retry.run",
            delivered = report.delivered,
            rescheduled = report.rescheduled,
            failed = report.failed,
            errors = report.errors,
            deferred = report.deferred,
            remaining_ms
        );
        Ok(report)
    }
}
