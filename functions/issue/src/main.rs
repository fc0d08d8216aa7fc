//! `issue`: the OAuth 2.0 token endpoint, `POST /oauth2/token`.

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
