//! `userinfo`: OIDC UserInfo, `GET /userinfo` (and POST, OIDC Core §5.3.1).

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let userinfo = shared::init::userinfo(Config::from_env()?).await?;
    run(service_fn(|req| handler::handle(&userinfo, req))).await
}
