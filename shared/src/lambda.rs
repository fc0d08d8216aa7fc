//! The Lambda entry points: telemetry, configuration and the one assembly built once per
//! cold start, then every invocation served by the function's endpoint or handler.

use crate::config::Config;
use crate::endpoints::FromServices;
use crate::http::{self, Endpoint};
use crate::services::{InitError, Services};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{Error, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A function invoked with an event rather than an HTTP request (the authorizer, the
/// schedule, Secrets Manager rotation). `deadline` is when Lambda ends the invocation.
pub trait EventHandler: Send + Sync {
    type Event: DeserializeOwned + Send;
    type Output: Serialize + Send;
    fn handle(
        &self,
        event: Self::Event,
        deadline: Instant,
    ) -> impl Future<Output = Result<Self::Output, InitError>> + Send;
}

/// Serve an HTTP endpoint behind API Gateway (or `cargo lambda watch`).
pub async fn serve_http<E: Endpoint + FromServices>() -> Result<(), Error> {
    crate::telemetry::init();
    let services = Services::from_config(Config::from_env()?).await?;
    let endpoint = E::from_services(&services)?;
    let endpoint = &endpoint;
    let adapter =
        lambda_http::Adapter::from(service_fn(|req| async move { Ok::<_, Error>(http::serve(endpoint, req).await) }));
    lambda_runtime::run(Convertible(adapter)).await
}

/// lambda_http's adapter, given only events it can convert without panicking
/// (`http::event`).
struct Convertible<S>(S);

impl<S> lambda_http::Service<LambdaEvent<LambdaRequest>> for Convertible<S>
where
    S: lambda_http::Service<LambdaEvent<LambdaRequest>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut event: LambdaEvent<LambdaRequest>) -> Self::Future {
        http::event::make_convertible(&mut event.payload);
        self.0.call(event)
    }
}

/// Serve an event handler built from the one assembly.
pub async fn serve_events<H: EventHandler + FromServices>() -> Result<(), Error> {
    crate::telemetry::init();
    let services = Services::from_config(Config::from_env()?).await?;
    run_events(&H::from_services(&services)?).await
}

/// Serve an event handler that needs only the configuration (key rotation).
pub async fn serve_events_with<H, F>(build: impl FnOnce(Config) -> F) -> Result<(), Error>
where
    H: EventHandler,
    F: Future<Output = Result<H, InitError>>,
{
    crate::telemetry::init();
    let handler = build(Config::from_env()?).await?;
    run_events(&handler).await
}

async fn run_events<H: EventHandler>(handler: &H) -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<H::Event>| async move {
        let deadline = deadline(event.context.deadline);
        handler.handle(event.payload, deadline).await
    }))
    .await
}

/// What a handler may take when the runtime gives no usable deadline: Lambda always
/// does, but local emulators (`cargo lambda watch`) send one that has already passed.
const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(30);

/// The invocation's deadline (milliseconds since the epoch) as an instant.
fn deadline(epoch_millis: u64) -> Instant {
    let now_millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let now = Instant::now();
    let remaining = epoch_millis.checked_sub(now_millis).filter(|ms| *ms > 0).map(Duration::from_millis);
    remaining.and_then(|left| now.checked_add(left)).unwrap_or(now + UNKNOWN_DEADLINE_BUDGET)
}
