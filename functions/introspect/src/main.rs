//! `introspect`: RFC 7662 token introspection, `POST /oauth2/introspect`.

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let introspector = shared::init::introspector(Config::from_env()?).await?;
    run(service_fn(|req| handler::handle(&introspector, req))).await
}
