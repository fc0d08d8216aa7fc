//! `rotate-keys`: the Secrets Manager rotation function for the signing keys
//! (createSecret, setSecret, testSecret, finishSecret). A new key is published in the
//! JWKS a whole rotation period before it signs; a retired key stays until every token
//! it signed has expired.

use lambda_http::Error;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde::Deserialize;
use shared::config::Config;
use shared::keys::rotation::retire_after;
use shared::keys::secrets_manager::{Rotator, client};
use shared::time::UnixTime;

/// What Secrets Manager sends a rotation function.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RotationEvent {
    step: String,
    secret_id: String,
    client_request_token: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let rotator = Rotator {
        client: client(&config).await,
        algorithm: config.signing_algorithm,
        retire_after: retire_after(config.key_reload.as_secs()),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<RotationEvent>| {
        let rotator = &rotator;
        async move {
            let e = event.payload;
            tracing::info!(event = "keys.rotation_step", step = %e.step, secret_id = %e.secret_id);
            rotator.step(&e.step, &e.secret_id, &e.client_request_token, UnixTime::now()).await?;
            Ok::<(), Error>(())
        }
    }))
    .await
}
