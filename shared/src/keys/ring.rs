//! The key set a function uses, reloaded from its source every few minutes so that a
//! warm instance sees a rotation within a bounded time (`KEY_RELOAD_SECONDS`, default
//! 300), while a request never waits on more than one reload at a time.

use super::{KeyError, KeySet, KeySource};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct KeyRing {
    source: Option<Box<dyn KeySource>>,
    reload_every: Duration,
    loaded: RwLock<(Arc<KeySet>, Instant)>,
    reloading: tokio::sync::Mutex<()>,
}

impl KeyRing {
    /// A set that never changes: tests, benchmarks, the admin CLI.
    pub fn fixed(set: KeySet) -> Self {
        Self {
            source: None,
            reload_every: Duration::MAX,
            loaded: RwLock::new((Arc::new(set), Instant::now())),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// A fresh set held in memory only: tests and benchmarks.
    pub fn ephemeral(algorithm: crate::domain::SigningAlgorithm) -> Result<Self, KeyError> {
        Ok(Self::fixed(KeySet::from_document(&super::KeySetDocument::generate(algorithm)?)?))
    }

    /// Load once now (cold start; a failure stops the instance), then reload every
    /// `reload_every`.
    pub async fn load(source: Box<dyn KeySource>, reload_every: Duration) -> Result<Self, KeyError> {
        let set = KeySet::from_document(&source.load().await?)?;
        Ok(Self {
            source: Some(source),
            reload_every,
            loaded: RwLock::new((Arc::new(set), Instant::now())),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The set as last loaded, without reloading.
    pub fn snapshot(&self) -> Arc<KeySet> {
        match self.loaded.read() {
            Ok(guard) => guard.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// The current set, reloading first if it is older than the reload interval. A
    /// failed reload keeps the set it had (and says so in the log): the keys it holds
    /// stay valid for at least a rotation period.
    pub async fn current(&self) -> Arc<KeySet> {
        let (set, at) = match self.loaded.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let Some(source) = &self.source else { return set };
        if at.elapsed() < self.reload_every {
            return set;
        }
        // One reload at a time; everyone else carries on with the current set.
        let Ok(_reloading) = self.reloading.try_lock() else { return set };
        let fresh = match source.load().await.and_then(|doc| KeySet::from_document(&doc)) {
            Ok(fresh) => {
                if fresh.signing_key().kid != set.signing_key().kid {
                    tracing::info!(event = "keys.reloaded", signing_kid = %fresh.signing_key().kid);
                }
                Arc::new(fresh)
            }
            Err(err) => {
                tracing::error!(event = "keys.reload_failed", error = %err, "keeping the current key set");
                set
            }
        };
        if let Ok(mut guard) = self.loaded.write() {
            *guard = (fresh.clone(), Instant::now());
        }
        fresh
    }
}
