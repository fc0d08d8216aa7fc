//! `refresh`: `POST /oauth2/refresh`, refresh-token rotation only. The same shared code
//! answers `grant_type=refresh_token` at `/oauth2/token`; this function exists so the hot
//! refresh path scales, throttles and alarms on its own.

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let issuer = shared::init::token_issuer(config).await?;
    run(service_fn(|req| handler::handle(&issuer, req))).await
}
