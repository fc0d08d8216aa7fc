//! `discovery`: RFC 8414 / OIDC Discovery metadata and the JWKS.

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;
use shared::discovery::Discovery;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let keys = shared::init::key_ring(&config).await?;
    let discovery = Discovery::new(config.issuer.clone(), keys);
    run(service_fn(|req| handler::handle(&discovery, req))).await
}
