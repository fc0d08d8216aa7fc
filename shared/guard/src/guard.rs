//! The resource server's gate: verify locally, then ask the replicated denylist, with no
//! network call per request (feature `remote`).

use crate::bearer::{Presented, bearer_credentials};
use crate::claims::AccessClaims;
use crate::dpop::{self, BindingError, ProofError, ProofTarget, ReplayCache, Scheme};
use crate::feed::{EntryKind, FeedError};
use crate::jwks::{KeyCache, KeySource, KeysError};
use crate::remote::{HttpFeed, HttpJwks, http_client};
use crate::sync::{FeedSource, SharedReplica, SourcedPage, Stale, SyncReport};
use crate::unix_now;
use crate::verify::{DEFAULT_LEEWAY, Verifier, VerifyError, key_id};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// How the guard reaches the token service, and how much staleness it tolerates.
#[derive(Clone)]
pub struct GuardConfig {
    /// The token service's issuer URL (`iss`; the JWKS and the feed live under it).
    pub issuer: String,
    /// The `aud` values this API answers to; a token must name one of them.
    pub audiences: Vec<String>,
    /// A client registered with `--introspect` (a resource server may read the feed).
    pub client_id: String,
    pub client_secret: String,
    /// How often the feed is polled: the time a revocation takes to reach this API.
    pub poll_interval: Duration,
    /// After this long without a complete sync every token is refused (503): a replica
    /// that cannot hear of revocations must not keep accepting tokens.
    pub max_staleness: Duration,
    /// The least time between two JWKS refetches caused by unknown `kid`s.
    pub jwks_min_refetch: Duration,
    /// The scheduled JWKS refresh (the issuer serves it with `max-age` 300).
    pub jwks_refresh: Duration,
    /// Clock skew allowed on `exp` and `nbf`; at most 30 s (see `Verifier::with_leeway`).
    pub leeway: Duration,
    /// The origin clients address this API by (`https://api.example.com`): DPoP proofs
    /// name it in `htu`, with the path the layer sees (so, under a nested router, the
    /// nested path). Unset, the tower layer accepts no DPoP-bound token (unless the
    /// request's URI is absolute): it never takes the origin from the caller's `Host`.
    pub public_origin: Option<String>,
}

impl GuardConfig {
    /// The defaults: poll every second, stale after 30 s, refetch the JWKS at most every
    /// 10 s for unknown keys and every 5 min anyway, 30 s leeway.
    pub fn new(
        issuer: impl Into<String>,
        audiences: Vec<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            poll_interval: Duration::from_secs(1),
            max_staleness: Duration::from_secs(30),
            jwks_min_refetch: Duration::from_secs(10),
            jwks_refresh: Duration::from_secs(300),
            leeway: DEFAULT_LEEWAY,
            public_origin: None,
        }
    }
}

impl std::fmt::Debug for GuardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardConfig")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("poll_interval", &self.poll_interval)
            .field("max_staleness", &self.max_staleness)
            .field("jwks_min_refetch", &self.jwks_min_refetch)
            .field("jwks_refresh", &self.jwks_refresh)
            .field("leeway", &self.leeway)
            .field("public_origin", &self.public_origin)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the issuer is not a URL: {0}")]
    Issuer(#[from] url::ParseError),
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error("Guard::start needs a Tokio runtime")]
    NoRuntime,
}

/// Why a request was refused. [`Refusal::status`] and its siblings say how to answer;
/// the tower layer renders them, another framework can too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No bearer credentials at all.
    #[error("no_bearer_token")]
    NoToken,
    #[error("invalid_token: {0}")]
    InvalidToken(VerifyError),
    #[error("{}", .0.reason())]
    Revoked(EntryKind),
    /// The denylist is too old to vouch for any token: fail closed.
    #[error("revocation feed stale")]
    Stale(Stale),
    /// A DPoP-bound token without a valid proof by its key, or a token presented by the
    /// wrong scheme (RFC 9449 §7).
    #[error("dpop: {0}")]
    Dpop(BindingError),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            // A full replay cache is this server's capacity, not the caller's fault.
            Self::Stale(_) | Self::Dpop(BindingError::Proof(ProofError::ReplayCacheFull)) => 503,
            Self::NoToken | Self::InvalidToken(_) | Self::Revoked(_) | Self::Dpop(_) => 401,
        }
    }

    /// RFC 6750 §3: no error code when the request carried no token (§3.1).
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            // Both schemes are offered (RFC 9449 §7.1).
            Self::NoToken => Some(dpop::NO_TOKEN_CHALLENGE),
            Self::InvalidToken(_) | Self::Revoked(_) => Some(r#"Bearer error="invalid_token""#),
            Self::Dpop(BindingError::Proof(ProofError::ReplayCacheFull)) => None,
            Self::Dpop(BindingError::Proof(_)) => Some(dpop::INVALID_PROOF_CHALLENGE),
            Self::Dpop(_) => Some(dpop::WRONG_SCHEME_CHALLENGE),
            Self::Stale(_) => None,
        }
    }

    /// Seconds after which a retry may succeed (the next poll).
    pub fn retry_after(&self) -> Option<u32> {
        self.is_unavailable().then_some(1)
    }

    /// The JSON body, if any (RFC 6750 needs none on 401).
    pub fn body(&self) -> Option<&'static str> {
        self.is_unavailable().then_some(r#"{"error":"temporarily_unavailable"}"#)
    }

    fn is_unavailable(&self) -> bool {
        self.status() == 503
    }

    /// The log event: `guard.denied` with the shared reason vocabulary, or `feed.stale`.
    fn log(&self) {
        match self {
            Self::Stale(stale) => {
                let since_last_success_ms =
                    stale.since_last_success.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                tracing::error!(event = "feed.stale", since_last_success_ms);
            }
            // A security event: someone may hold a token without its key.
            Self::Dpop(reason) => tracing::warn!(event = "dpop.proof_rejected", reason = %reason),
            refused => tracing::info!(event = "guard.denied", reason = %refused),
        }
    }
}

/// What a protected request presents. Its `Debug` shows neither the token nor the
/// proofs.
#[derive(Clone, Copy)]
pub struct Presentation<'a> {
    pub authorization: Option<&'a str>,
    /// Every `DPoP` header line (exactly one is needed with a bound token).
    pub dpop: &'a [&'a str],
    /// The request's method and URL as the client addressed it (a proof's `htm`, `htu`).
    pub method: &'a str,
    pub url: &'a str,
}

impl std::fmt::Debug for Presentation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presentation")
            .field("authorization", &self.authorization.map(|_| "<redacted>"))
            .field("dpop_proofs", &self.dpop.len())
            .field("method", &self.method)
            .field("url", &self.url)
            .finish()
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`FeedSource`] made object-safe, so that `Guard` is one type whatever its source.
trait DynFeed: Send + Sync {
    fn page_boxed<'a>(&'a self, after: Option<&'a str>) -> BoxFuture<'a, Result<SourcedPage, FeedError>>;
}

impl<T: FeedSource> DynFeed for T {
    fn page_boxed<'a>(&'a self, after: Option<&'a str>) -> BoxFuture<'a, Result<SourcedPage, FeedError>> {
        Box::pin(self.page(after))
    }
}

struct AnyFeed(Box<dyn DynFeed>);

impl FeedSource for AnyFeed {
    async fn page(&self, after: Option<&str>) -> Result<SourcedPage, FeedError> {
        self.0.page_boxed(after).await
    }
}

/// Cheap to clone; every clone checks against the same replica and keys.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

/// Whether the guard can accept any token yet.
#[derive(Clone, Copy, Debug, Default)]
struct Readiness {
    synced: bool,
    keys: bool,
}

struct Inner {
    verifier: Verifier,
    keys: KeyCache,
    /// DPoP proofs seen within their window (this process only).
    proofs: ReplayCache,
    public_origin: Option<String>,
    feed: AnyFeed,
    replica: SharedReplica,
    max_staleness: Duration,
    /// What [`Guard::ready`] waits for.
    readiness: watch::Sender<Readiness>,
    /// The background tasks, stopped with the last clone.
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner).drain(..) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("keys", &self.inner.keys)
            .field("fresh", &self.is_fresh())
            .field("denylist", &self.denylist_len())
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Over HTTP: spawns the feed poll (every `poll_interval`; a failed sync is logged
    /// and retried on the next tick) and the JWKS refresh (at once, then every
    /// `jwks_refresh`). Tokens are refused as stale until the first sync completes:
    /// await [`Guard::ready`] before serving.
    pub fn start(config: GuardConfig) -> Result<Guard, StartError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let client = http_client()?;
        let feed = HttpFeed::new(client.clone(), &config.issuer, &config.client_id, &config.client_secret)?;
        let jwks = HttpJwks::new(client, &config.issuer)?;
        let guard = Guard::from_parts(&config, feed, jwks);
        let poll = runtime.spawn(poll_feed(Arc::downgrade(&guard.inner), config.poll_interval));
        let refresh =
            runtime.spawn(refresh_keys(Arc::downgrade(&guard.inner), config.jwks_refresh, config.jwks_min_refetch));
        guard
            .inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend([poll.abort_handle(), refresh.abort_handle()]);
        Ok(guard)
    }

    /// A guard over any feed and key source, with nothing spawned and nothing loaded:
    /// call [`Guard::refresh_keys`] and [`Guard::sync_now`] (tests, benchmarks, or a
    /// host that schedules them itself). `client_id`, `client_secret`, `poll_interval`
    /// and `jwks_refresh` of `config` are not used here.
    pub fn from_parts(config: &GuardConfig, feed: impl FeedSource + 'static, keys: impl KeySource + 'static) -> Guard {
        let inner = Inner {
            verifier: Verifier::with_leeway(config.issuer.clone(), config.audiences.clone(), config.leeway),
            keys: KeyCache::new(keys, config.jwks_min_refetch),
            proofs: ReplayCache::default(),
            public_origin: config.public_origin.clone(),
            feed: AnyFeed(Box::new(feed)),
            replica: SharedReplica::new(),
            max_staleness: config.max_staleness,
            readiness: watch::Sender::new(Readiness::default()),
            tasks: Mutex::new(Vec::new()),
        };
        Guard { inner: Arc::new(inner) }
    }

    /// Accept or refuse a request by its `Authorization` header alone: a bearer token
    /// (a DPoP-bound token needs [`Guard::check_request`]). No network call, except the
    /// rate-limited JWKS refetch for a `kid` the cache does not know.
    pub async fn check(&self, authorization: Option<&str>) -> Result<AccessClaims, Refusal> {
        self.check_request(&Presentation { authorization, dpop: &[], method: "", url: "" }).await
    }

    /// Accept or refuse a request by its `Authorization` and `DPoP` headers: a bearer
    /// token, or a DPoP-bound token with a proof by its key for this method and URL,
    /// used once (in this process's memory).
    pub async fn check_request(&self, request: &Presentation<'_>) -> Result<AccessClaims, Refusal> {
        let verdict = self.decide(request).await;
        if let Err(refusal) = &verdict {
            refusal.log();
        }
        verdict
    }

    /// The origin DPoP proofs are checked against, if configured.
    pub fn public_origin(&self) -> Option<&str> {
        self.inner.public_origin.as_deref()
    }

    async fn decide(&self, request: &Presentation<'_>) -> Result<AccessClaims, Refusal> {
        let (scheme, token) = match bearer_credentials(request.authorization) {
            Presented::Bearer(token) => (Scheme::Bearer, token),
            Presented::Dpop(token) => (Scheme::Dpop, token),
            Presented::Nothing => return Err(Refusal::NoToken),
            Presented::Malformed => return Err(Refusal::InvalidToken(VerifyError::Malformed)),
        };
        let inner = &*self.inner;
        let now_unix = unix_now();
        let verified = inner.verifier.verify(&inner.keys.current(), token, now_unix);
        let claims = match verified {
            Err(VerifyError::UnknownKey) => {
                let keys = match key_id(token) {
                    Some(kid) => inner.keys.refetch_for(&kid).await,
                    None => None,
                };
                let keys = keys.ok_or(Refusal::InvalidToken(VerifyError::UnknownKey))?;
                inner.readiness.send_if_modified(|r| !std::mem::replace(&mut r.keys, true));
                inner.verifier.verify(&keys, token, now_unix)
            }
            other => other,
        }
        .map_err(Refusal::InvalidToken)?;
        // Verified first: a forged or expired token is 401 whatever the feed's state.
        match inner.replica.check(&claims.facts(), now_unix, Instant::now(), inner.max_staleness) {
            Ok(None) => {}
            Ok(Some(kind)) => return Err(Refusal::Revoked(kind)),
            Err(stale) => return Err(Refusal::Stale(stale)),
        }
        if scheme == Scheme::Dpop && request.url.is_empty() {
            tracing::error!(event = "guard.dpop_unconfigured", "set GuardConfig::public_origin to accept DPoP tokens");
        }
        let target = ProofTarget { method: request.method, url: request.url, access_token: Some(token), now: now_unix };
        if let Some(proof) =
            dpop::check_binding(scheme, claims.bound_to(), request.dpop, &target).map_err(Refusal::Dpop)?
        {
            inner.proofs.use_once(&proof, now_unix).map_err(|reason| Refusal::Dpop(BindingError::Proof(reason)))?;
        }
        Ok(claims)
    }

    /// Sync the denylist now (the poll task does this every `poll_interval`).
    pub async fn sync_now(&self) -> Result<SyncReport, FeedError> {
        self.inner.sync().await
    }

    /// Fetch the JWKS now (the refresh task does this every `jwks_refresh`).
    pub async fn refresh_keys(&self) -> Result<usize, KeysError> {
        self.inner.refresh_keys().await
    }

    /// Resolves once a sync has completed and the JWKS has been fetched: from then on
    /// tokens are checked, not refused as stale or signed by an unknown key.
    pub async fn ready(&self) {
        let mut readiness = self.inner.readiness.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = readiness.wait_for(|r| r.synced && r.keys).await;
    }

    /// Whether a complete sync began within `max_staleness`.
    pub fn is_fresh(&self) -> bool {
        self.inner.replica.read(|replica| replica.is_fresh(Instant::now(), self.inner.max_staleness))
    }

    /// Live denylist entries held.
    pub fn denylist_len(&self) -> usize {
        self.inner.replica.read(|replica| replica.denylist().len())
    }
}

impl Inner {
    async fn sync(&self) -> Result<SyncReport, FeedError> {
        let report = self.replica.sync(&self.feed, unix_now()).await?;
        if report.complete {
            self.readiness.send_if_modified(|r| !std::mem::replace(&mut r.synced, true));
        }
        Ok(report)
    }

    async fn refresh_keys(&self) -> Result<usize, KeysError> {
        let count = self.keys.refresh().await?;
        self.readiness.send_if_modified(|r| !std::mem::replace(&mut r.keys, true));
        Ok(count)
    }
}

/// Holds the guard weakly, so that dropping the last `Guard` ends the task.
async fn poll_feed(guard: Weak<Inner>, poll_interval: Duration) {
    let mut ticker = tokio::time::interval(poll_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = guard.upgrade() else { return };
        // A failure is logged (`feed.sync_failed`) by the sync; the next tick retries.
        let _ = inner.sync().await;
    }
}

/// At once, then on schedule; after a failure, again as soon as the rate limit allows.
async fn refresh_keys(guard: Weak<Inner>, every: Duration, after_failure: Duration) {
    loop {
        let Some(inner) = guard.upgrade() else { return };
        let wait = match inner.refresh_keys().await {
            Ok(_) => every,
            Err(_) => after_failure,
        };
        drop(inner);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_never_prints_its_secret() {
        let config = GuardConfig::new("https://auth.example.com", vec!["api".into()], "rs", "s3cret");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn refusals_answer_as_rfc_6750_says() {
        let stale = Refusal::Stale(Stale { since_last_success: None });
        assert_eq!((stale.status(), stale.retry_after(), stale.www_authenticate()), (503, Some(1), None));
        assert_eq!(stale.body(), Some(r#"{"error":"temporarily_unavailable"}"#));
        assert_eq!(Refusal::NoToken.www_authenticate(), Some(r#"Bearer, DPoP algs="ES256 EdDSA RS256""#));
        let revoked = Refusal::Revoked(EntryKind::Sid);
        assert_eq!((revoked.status(), revoked.to_string()), (401, "session_revoked".to_string()));
        let invalid = Refusal::InvalidToken(VerifyError::Expired);
        assert_eq!(invalid.to_string(), "invalid_token: expired");
        assert_eq!(invalid.www_authenticate(), Some(r#"Bearer error="invalid_token""#));
    }
}
