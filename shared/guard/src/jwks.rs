//! The issuer's public keys, cached. Requests only read the cache; it is refreshed on a
//! schedule (by [`crate::Guard`]) and, for a token signed with a key it does not know yet
//! (a rotation published a new key, docs/ARCHITECTURE.md §6), refetched on the request
//! path: single-flight and at most once per `min_refetch`, so a stream of tokens with
//! made-up `kid`s costs the issuer one fetch per interval, not one per request.

use crate::verify::KeySet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Where keys come from (the issuer's `jwks_uri` over HTTP, or a fixed set in tests).
pub trait KeySource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<KeySet, KeysError>> + Send;
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("the JWKS answered HTTP {0}")]
    Status(u16),
    #[error("the JWKS could not be reached: {0}")]
    Transport(String),
    #[error("malformed JWKS: {0}")]
    Malformed(String),
}

/// A fixed key set: a key source for tests and benchmarks.
impl KeySource for KeySet {
    async fn fetch(&self) -> Result<KeySet, KeysError> {
        Ok(self.clone())
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`KeySource`] made object-safe, so that the cache (and the guard holding it) is not
/// generic over its source.
trait DynKeySource: Send + Sync {
    fn fetch_boxed(&self) -> BoxFuture<'_, Result<KeySet, KeysError>>;
}

impl<T: KeySource> DynKeySource for T {
    fn fetch_boxed(&self) -> BoxFuture<'_, Result<KeySet, KeysError>> {
        Box::pin(self.fetch())
    }
}

pub struct KeyCache {
    current: RwLock<Arc<KeySet>>,
    /// Held for the duration of any fetch (single flight); holds when the last
    /// request-path refetch began (the rate limit).
    fetching: tokio::sync::Mutex<Option<Instant>>,
    min_refetch: Duration,
    source: Box<dyn DynKeySource>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").field("keys", &self.current().len()).field("min_refetch", &self.min_refetch).finish()
    }
}

/// What started a fetch, for the log.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    Schedule,
    UnknownKid,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::UnknownKid => "unknown_kid",
        }
    }
}

impl KeyCache {
    /// An empty cache: call [`KeyCache::refresh`] to load it.
    pub fn new(source: impl KeySource + 'static, min_refetch: Duration) -> Self {
        Self {
            current: RwLock::new(Arc::new(KeySet::default())),
            fetching: tokio::sync::Mutex::new(None),
            min_refetch,
            source: Box::new(source),
        }
    }

    /// The keys as last fetched.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Fetch and replace the keys (start-up and the schedule). Not rate-limited; a
    /// failure keeps the keys held.
    pub async fn refresh(&self) -> Result<usize, KeysError> {
        let _single_flight = self.fetching.lock().await;
        self.fetch(Trigger::Schedule).await
    }

    /// For a token whose `kid` is not in the cache: the key set to verify it with, if a
    /// refetch (or one that finished while this request waited) found the key. `None`
    /// when the key is still unknown, including when the rate limit allowed no refetch.
    pub async fn refetch_for(&self, kid: &str) -> Option<Arc<KeySet>> {
        let mut last_refetch = self.fetching.lock().await;
        // Another request's refetch may have brought the key while this one waited.
        let keys = self.current();
        if keys.contains(kid) {
            return Some(keys);
        }
        let now = Instant::now();
        if last_refetch.is_some_and(|at| now.saturating_duration_since(at) < self.min_refetch) {
            return None;
        }
        *last_refetch = Some(now);
        self.fetch(Trigger::UnknownKid).await.ok()?;
        Some(self.current()).filter(|keys| keys.contains(kid))
    }

    /// Call with `fetching` held.
    async fn fetch(&self, trigger: Trigger) -> Result<usize, KeysError> {
        match self.source.fetch_boxed().await {
            Ok(keys) => {
                let count = keys.len();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                tracing::info!(event = "jwks.refetched", keys = count, trigger = trigger.as_str());
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(event = "jwks.refetch_failed", error = %error, trigger = trigger.as_str());
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source that counts fetches and takes a while, so that concurrent requests
    /// overlap.
    struct Counting {
        fetches: Arc<AtomicUsize>,
    }

    impl KeySource for Counting {
        async fn fetch(&self) -> Result<KeySet, KeysError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(KeysError::Status(503))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_kids_refetch_once_per_interval_however_many_arrive() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(KeyCache::new(Counting { fetches: fetches.clone() }, Duration::from_secs(10)));

        // GIVEN twenty concurrent requests with unknown kids
        let requests: Vec<_> = (0..20)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.refetch_for(&format!("kid{i}")).await })
            })
            .collect();
        for request in requests {
            assert!(request.await.unwrap().is_none());
        }
        // THEN the issuer saw one fetch
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // AND another within the interval does not fetch, one after it does
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(cache.refetch_for("kid").await.is_none());
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(cache.refetch_for("kid").await.is_none());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        // AND the schedule is not rate-limited
        assert!(cache.refresh().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }
}
