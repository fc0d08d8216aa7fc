//! The key set a function uses, reloaded from its source every few minutes so that a
//! warm instance sees a rotation within a bounded time (`KEY_RELOAD_SECONDS`, default
//! 300), while a request never waits on more than one reload at a time.
//!
//! A reload that fails is logged every time (`keys.reload_failed`) and the instance
//! keeps the last set it loaded, rebuilt at the present instant: a retired key past its
//! `retire_at` leaves it (and its JWKS) whether or not the source can be read.

use super::{KeyError, KeySet, KeySetDocument, KeySource};
use crate::time::UnixTime;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct KeyRing {
    source: Option<Box<dyn KeySource>>,
    reload_every: Duration,
    loaded: RwLock<Loaded>,
    reloading: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Loaded {
    set: Arc<KeySet>,
    /// What `set` was built from, so that a failed reload can rebuild it later.
    document: Option<Arc<KeySetDocument>>,
    at: Instant,
}

impl KeyRing {
    /// A set that never changes: tests, benchmarks, the admin CLI.
    pub fn fixed(set: KeySet) -> Self {
        Self::with(None, Duration::MAX, Loaded { set: Arc::new(set), document: None, at: Instant::now() })
    }

    /// A fresh set held in memory only, as a deployment whose default access-token
    /// algorithm is `default` holds it: tests and benchmarks.
    pub fn ephemeral(default: crate::domain::SigningAlgorithm) -> Result<Self, KeyError> {
        Ok(Self::fixed(KeySet::from_document(&KeySetDocument::generate_for(default)?)?))
    }

    /// Load once now (cold start; a failure stops the instance), then reload every
    /// `reload_every`.
    pub async fn load(source: Box<dyn KeySource>, reload_every: Duration) -> Result<Self, KeyError> {
        let document = source.load().await?;
        let set = KeySet::from_document(&document)?;
        let loaded = Loaded { set: Arc::new(set), document: Some(Arc::new(document)), at: Instant::now() };
        Ok(Self::with(Some(source), reload_every, loaded))
    }

    fn with(source: Option<Box<dyn KeySource>>, reload_every: Duration, loaded: Loaded) -> Self {
        Self { source, reload_every, loaded: RwLock::new(loaded), reloading: tokio::sync::Mutex::new(()) }
    }

    fn last(&self) -> Loaded {
        match self.loaded.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The set as last loaded, without reloading.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.last().set
    }

    /// The current set, reloading first if it is older than the reload interval.
    pub async fn current(&self) -> Arc<KeySet> {
        let last = self.last();
        let Some(source) = &self.source else { return last.set };
        if last.at.elapsed() < self.reload_every {
            return last.set;
        }
        // One reload at a time; everyone else carries on with the current set.
        let Ok(_reloading) = self.reloading.try_lock() else { return last.set };
        let fresh = match source.load().await.and_then(|doc| KeySet::from_document(&doc).map(|set| (set, doc))) {
            Ok((set, document)) => {
                let signers = |set: &KeySet| -> Vec<String> {
                    set.algorithms().filter_map(|alg| set.signing_key(alg).map(|k| k.kid.clone())).collect()
                };
                if signers(&set) != signers(&last.set) {
                    tracing::info!(event = "keys.reloaded", signing_kids = ?signers(&set));
                }
                Loaded { set: Arc::new(set), document: Some(Arc::new(document)), at: Instant::now() }
            }
            Err(err) => {
                tracing::error!(event = "keys.reload_failed", error = %err, "keeping the last key set");
                Loaded { set: rebuilt(&last), document: last.document.clone(), at: Instant::now() }
            }
        };
        if let Ok(mut guard) = self.loaded.write() {
            *guard = fresh.clone();
        }
        fresh.set
    }
}

/// The last set as it stands now: retired keys past their time are gone.
fn rebuilt(last: &Loaded) -> Arc<KeySet> {
    last.document
        .as_ref()
        .and_then(|doc| KeySet::from_document_at(doc, UnixTime::now()).ok())
        .map(Arc::new)
        .unwrap_or_else(|| last.set.clone())
}
