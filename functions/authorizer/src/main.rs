//! `authorizer`: an API Gateway HTTP API Lambda authorizer (payload format 2.0, simple
//! responses). Put it in front of any route so that revoked tokens stop working there
//! on the next request.

mod handler;

use lambda_http::Error;
use lambda_http::lambda_runtime::{self, service_fn};
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let authorizer = shared::init::authorizer(Config::from_env()?).await?;
    lambda_runtime::run(service_fn(|event| handler::handle(&authorizer, event))).await
}
