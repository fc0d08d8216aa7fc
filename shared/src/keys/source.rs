//! Where a key set comes from: a file made by `tokenctl keys generate` (local), or a
//! Secrets Manager secret kept by the `rotate-keys` function (AWS).

use super::{KeyError, KeySetDocument};
use crate::config::{Config, KeySourceConfig};
use async_trait::async_trait;
use std::path::PathBuf;

#[async_trait]
pub trait KeySource: Send + Sync {
    async fn load(&self) -> Result<KeySetDocument, KeyError>;
}

pub struct FileKeySource {
    pub path: PathBuf,
}

#[async_trait]
impl KeySource for FileKeySource {
    async fn load(&self) -> Result<KeySetDocument, KeyError> {
        let raw = tokio::fs::read(&self.path)
            .await
            .map_err(|e| KeyError::Unreadable(format!("{}: {e}", self.path.display())))?;
        serde_json::from_slice(&raw).map_err(|e| KeyError::Unreadable(format!("{}: {e}", self.path.display())))
    }
}

/// The source named by `KEY_SOURCE`.
pub async fn key_source(config: &Config) -> Box<dyn KeySource> {
    match &config.key_source {
        KeySourceConfig::File(path) => Box::new(FileKeySource { path: path.clone() }),
        KeySourceConfig::SecretsManager(secret_id) => {
            Box::new(super::secrets_manager::SecretKeySource::connect(config, secret_id).await)
        }
    }
}
