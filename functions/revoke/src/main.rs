//! `revoke`: RFC 7009 token revocation, `POST /oauth2/revoke`.

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let revoker = shared::init::revoker(Config::from_env()?).await?;
    run(service_fn(|req| handler::handle(&revoker, req))).await
}
