//! `logout-retry`: run by an EventBridge schedule. Retries back-channel logouts that
//! have not reached their relying party yet, until they do or grow too old.

use lambda_http::Error;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use shared::config::Config;
use shared::logout::LogoutService;
use shared::logout::retry::RetryReport;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let service = shared::init::logout_service(Config::from_env()?).await?;
    lambda_runtime::run(service_fn(|event| handle(&service, event))).await
}

/// The schedule's event carries nothing we need.
async fn handle(service: &LogoutService, _event: LambdaEvent<serde_json::Value>) -> Result<RetryReport, Error> {
    let report = service.retry_due().await?;
    tracing::info!(
        event = "logout_retry.run",
        delivered = report.delivered,
        rescheduled = report.rescheduled,
        failed = report.failed
    );
    Ok(report)
}
