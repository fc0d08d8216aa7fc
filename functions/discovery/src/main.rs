//! `discovery`: RFC 8414 / OIDC Discovery metadata and the JWKS.

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;
use shared::discovery::DiscoveryDocuments;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let keys = shared::keys::load_key_set(&config.key_source).await?;
    let documents = DiscoveryDocuments::new(&config.issuer, &keys)?;
    run(service_fn(|req| handler::handle(&documents, req))).await
}
