//! Keys in AWS Secrets Manager: the source every function reads (`AWSCURRENT`), and the
//! four steps of the Secrets Manager rotation contract that `rotate-keys` runs.
//!
//! `createSecret` writes the rotated set as `AWSPENDING`; `setSecret` has nothing to do
//! (no other system holds these keys); `testSecret` proves the pending set loads;
//! `finishSecret` moves `AWSCURRENT` to it. Each step is safe to run again, as the
//! contract requires.

use super::rotation::{FINISH_WINDOW_SECONDS, RotationTiming, rotate};
use super::{KeyError, KeySet, KeySetDocument, KeySource};
use crate::config::AwsSettings;
use crate::domain::SigningAlgorithm;
use crate::time::UnixTime;
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

pub async fn client(aws: &AwsSettings) -> Client {
    let shared = crate::store::dynamo::sdk_config(aws).await;
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(&shared);
    if let Some(endpoint) = &aws.secrets_manager_endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}

pub struct SecretKeySource {
    client: Client,
    secret_id: String,
}

impl SecretKeySource {
    pub async fn connect(aws: &AwsSettings, secret_id: &str) -> Self {
        Self { client: client(aws).await, secret_id: secret_id.to_string() }
    }
}

#[async_trait]
impl KeySource for SecretKeySource {
    async fn load(&self) -> Result<KeySetDocument, KeyError> {
        let value = read(&self.client, &self.secret_id, None, CURRENT).await?;
        parse(&value)
    }
}

fn parse(value: &str) -> Result<KeySetDocument, KeyError> {
    // The error names no content: the secret's text must never reach a log.
    serde_json::from_str(value).map_err(|_| KeyError::Unreadable("the secret is not a key set".into()))
}

async fn read(client: &Client, secret_id: &str, version: Option<&str>, stage: &str) -> Result<String, KeyError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .set_version_id(version.map(str::to_string))
        .version_stage(stage)
        .send()
        .await
        .map_err(|e| KeyError::Unreadable(format!("secret {secret_id} ({stage}): {}", DisplayErrorContext(&e))))?;
    out.secret_string.ok_or_else(|| KeyError::Unreadable(format!("secret {secret_id} has no string value")))
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("unknown rotation step {0:?}")]
    UnknownStep(String),
    #[error("secret {0} is not set up for rotation with this token")]
    NotPendingVersion(String),
    #[error("secrets manager: {0}")]
    SecretsManager(String),
    #[error("the pending set of secret {0} was prepared too long ago to finish; the next rotation starts afresh")]
    StalePending(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

fn sm_error<E: std::error::Error + 'static>(err: E) -> RotationError {
    RotationError::SecretsManager(DisplayErrorContext(&err).to_string())
}

/// The rotation Lambda's work, step by step.
pub struct Rotator {
    pub client: Client,
    pub algorithm: SigningAlgorithm,
    pub timing: RotationTiming,
}

/// The template's placeholder value of a new secret: the only value from which a
/// rotation may start a new key set.
fn is_placeholder(value: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(value).is_ok_and(|map| map.is_empty())
}

impl Rotator {
    /// One step; a failure is logged (`keys.rotation_failed`) and returned, so Secrets
    /// Manager records the rotation as failed and the current keys stay in place.
    pub async fn step(&self, step: &str, secret_id: &str, token: &str, now: UnixTime) -> Result<(), RotationError> {
        let result = self.run_step(step, secret_id, token, now).await;
        if let Err(err) = &result {
            tracing::error!(event = "keys.rotation_failed", step, secret_id, error = %err);
        }
        result
    }

    async fn run_step(&self, step: &str, secret_id: &str, token: &str, now: UnixTime) -> Result<(), RotationError> {
        self.check_token(secret_id, token, step).await?;
        match step {
            "createSecret" => self.create(secret_id, token, now).await,
            "setSecret" => Ok(()),
            "testSecret" => self.test(secret_id, token, now).await,
            "finishSecret" => self.finish(secret_id, token, now).await,
            other => Err(RotationError::UnknownStep(other.to_string())),
        }
    }

    /// The contract: a token that names a version of this secret must name the one
    /// staged `AWSPENDING` (or already `AWSCURRENT`, when a finished rotation is retried).
    /// An unknown token is only acceptable to `createSecret`, which creates it.
    async fn check_token(&self, secret_id: &str, token: &str, step: &str) -> Result<(), RotationError> {
        let described = self.client.describe_secret().secret_id(secret_id).send().await.map_err(sm_error)?;
        let stages = described.version_ids_to_stages().and_then(|versions| versions.get(token));
        match stages {
            Some(stages) if stages.iter().any(|s| s == PENDING || s == CURRENT) => Ok(()),
            None if step == "createSecret" => Ok(()),
            _ => Err(RotationError::NotPendingVersion(secret_id.to_string())),
        }
    }

    async fn create(&self, secret_id: &str, token: &str, now: UnixTime) -> Result<(), RotationError> {
        if read(&self.client, secret_id, Some(token), PENDING).await.is_ok() {
            return Ok(());
        }
        // A new secret holds the template's placeholder: only then does a rotation make a
        // set from nothing. Any failure to read or understand the current set fails the
        // step; starting over would drop every key and the refresh MAC key.
        let value = read(&self.client, secret_id, None, CURRENT).await?;
        let current = if is_placeholder(&value) { None } else { Some(parse(&value)?) };
        let rotated = rotate(current.as_ref(), self.algorithm, now, self.timing)?;
        let value =
            serde_json::to_string(&rotated).map_err(|e| RotationError::Keys(KeyError::Unreadable(e.to_string())))?;
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value)
            .version_stages(PENDING)
            .send()
            .await
            .map_err(sm_error)?;
        let kids: Vec<String> = rotated.keys.iter().map(|k| format!("{}:{:?}", k.kid, k.state)).collect();
        tracing::info!(event = "keys.rotation_created", secret_id, keys = ?kids);
        Ok(())
    }

    async fn test(&self, secret_id: &str, token: &str, now: UnixTime) -> Result<(), RotationError> {
        let pending = parse(&read(&self.client, secret_id, Some(token), PENDING).await?)?;
        KeySet::from_document_at(&pending, now)?;
        Ok(())
    }

    async fn finish(&self, secret_id: &str, token: &str, now: UnixTime) -> Result<(), RotationError> {
        let described = self.client.describe_secret().secret_id(secret_id).send().await.map_err(sm_error)?;
        let current = described
            .version_ids_to_stages()
            .and_then(|versions| versions.iter().find(|(_, stages)| stages.iter().any(|s| s == CURRENT)))
            .map(|(version, _)| version.clone());
        if current.as_deref() == Some(token) {
            return Ok(());
        }
        // The retire times were set at createSecret; they hold only if the set becomes
        // current promptly. A rotation resumed later is dropped (its pending label
        // removed, so the next rotation may start) instead of cutting retirements short.
        let pending = parse(&read(&self.client, secret_id, Some(token), PENDING).await?)?;
        if pending.prepared_at.is_none_or(|at| at.plus(FINISH_WINDOW_SECONDS) < now) {
            self.client
                .update_secret_version_stage()
                .secret_id(secret_id)
                .version_stage(PENDING)
                .remove_from_version_id(token)
                .send()
                .await
                .map_err(sm_error)?;
            return Err(RotationError::StalePending(secret_id.to_string()));
        }
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(CURRENT)
            .move_to_version_id(token)
            .set_remove_from_version_id(current)
            .send()
            .await
            .map_err(sm_error)?;
        tracing::info!(event = "keys.rotated", secret_id);
        Ok(())
    }
}
