//! `rotate-keys`: the Secrets Manager rotation function of the signing keys. Its only
//! state is the Secrets Manager client: it must start while the secret still holds the
//! template's placeholder, before any key set exists.

use crate::config::Config;
use crate::keys::rotation::RotationTiming;
use crate::keys::secrets_manager::{Rotator, client};
use crate::lambda::EventHandler;
use crate::services::InitError;
use crate::time::UnixTime;
use serde::Deserialize;
use std::time::Instant;

/// What Secrets Manager sends a rotation function.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    step: String,
    secret_id: String,
    client_request_token: String,
}

pub struct KeyRotation {
    rotator: Rotator,
}

impl KeyRotation {
    pub async fn from_config(config: Config) -> Result<Self, InitError> {
        let rotator = Rotator {
            client: client(&config.aws).await,
            algorithm: config.signing_algorithm,
            timing: RotationTiming::for_reload_interval(config.key_reload.as_secs()),
        };
        Ok(Self { rotator })
    }
}

impl EventHandler for KeyRotation {
    type Event = RotationEvent;
    type Output = ();

    async fn handle(&self, event: RotationEvent, _deadline: Instant) -> Result<(), InitError> {
        tracing::info!(event = "keys.rotation_step", step = %event.step, secret_id = %event.secret_id);
        self.rotator.step(&event.step, &event.secret_id, &event.client_request_token, UnixTime::now()).await?;
        Ok(())
    }
}
