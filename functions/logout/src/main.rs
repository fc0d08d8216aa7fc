//! `logout`: `POST /oauth2/logout`. Ends a session (or every session of a subject) and
//! notifies every relying party through OIDC Back-Channel Logout.

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let service = shared::init::logout_service(Config::from_env()?).await?;
    run(service_fn(|req| handler::handle(&service, req))).await
}
