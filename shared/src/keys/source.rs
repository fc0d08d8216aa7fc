//! Where a key set comes from: a file made by `tokenctl keys generate` (local), or a
//! Secrets Manager secret kept by the `rotate-keys` function (AWS).

use super::{KeyError, KeySetDocument};
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
