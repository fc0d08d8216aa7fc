//! Where a key set comes from. Locally a file made by `tokenctl keys generate`; in AWS a
//! Secrets Manager secret (the deploy issue adds that source behind the same trait).

use super::{KeyError, KeySet, KeySetDocument};
use crate::config::KeySourceConfig;
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

/// Load and build the key set named by the configuration: once per cold start.
pub async fn load_key_set(source: &KeySourceConfig) -> Result<KeySet, KeyError> {
    let document = match source {
        KeySourceConfig::File(path) => FileKeySource { path: path.clone() }.load().await?,
    };
    KeySet::from_document(&document)
}
