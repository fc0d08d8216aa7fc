//! The one assembly: every service built from the configuration, the key ring and a
//! store. Functions (through `lambda`), tests, benchmarks and `bench-serve` all build
//! their services here, so a service is wired in exactly one place. Everything
//! expensive (SDK client, keys, caches) is built once per cold start, never per request
//! (docs/ARCHITECTURE.md §5).
//!
//! The store comes in as one object and goes out to each service as the capability
//! traits that service needs, and no more.

use crate::admin::ClientRegistry;
use crate::authorizer::Authorizer;
use crate::authorizer::DenylistCheck;
use crate::config::RevocationCheck;
use crate::config::{Config, KeySourceConfig};
use crate::discovery::Discovery;
use crate::dpop::{DpopProofs, ProofReplay, ReplayCache};
use crate::feed::{FeedReader, LocalDenylist, RevocationFeed};
use crate::grants::TokenIssuer;
use crate::http::cors::Cors;
use crate::introspection::Introspector;
use crate::keys::secrets_manager::SecretKeySource;
use crate::keys::{FileKeySource, KeyRing, KeySource};
use crate::logout::LogoutService;
use crate::logout::delivery::Notifier;
use crate::oauth::client_auth::ClientDirectory;
use crate::passwords::PasswordCheck;
use crate::revocation::Revoker;
use crate::signin::SignIn;
use crate::store::FullStore;
use crate::store::dynamo::DynamoStore;
use crate::userinfo::UserInfo;
use crate::verify::TokenChecker;
use std::sync::Arc;

pub type InitError = Box<dyn std::error::Error + Send + Sync>;

pub struct Services {
    config: Arc<Config>,
    keys: Arc<KeyRing>,
    store: Arc<dyn FullStore>,
    /// One client cache for every service of an instance.
    clients: Arc<ClientDirectory>,
}

impl Services {
    pub fn new(config: Config, keys: Arc<KeyRing>, store: Arc<dyn FullStore>) -> Self {
        let clients =
            Arc::new(ClientDirectory::new(store.clone(), store.clone(), &config.issuer, config.client_cache_ttl));
        Self { config: Arc::new(config), keys, store, clients }
    }

    /// What a function runs on: the key set from `KEY_SOURCE` and the DynamoDB table.
    pub async fn from_config(config: Config) -> Result<Self, InitError> {
        let keys = Arc::new(KeyRing::load(key_source(&config).await, config.key_reload).await?);
        let store = Arc::new(DynamoStore::connect(&config.aws).await);
        Ok(Self::new(config, keys, store))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    pub fn store(&self) -> &Arc<dyn FullStore> {
        &self.store
    }

    pub fn token_issuer(&self) -> TokenIssuer {
        TokenIssuer {
            config: self.config.clone(),
            keys: self.keys.clone(),
            clients: self.clients.clone(),
            passwords: PasswordCheck::new(self.store.clone()),
            sessions: self.store.clone(),
            families: self.store.clone(),
            markers: self.store.clone(),
            revocations: self.store.clone(),
            signins: self.store.clone(),
            proofs: DpopProofs::new(ProofReplay::Shared(self.store.clone())),
        }
    }

    pub fn revoker(&self) -> Revoker {
        Revoker {
            config: self.config.clone(),
            keys: self.keys.clone(),
            clients: self.clients.clone(),
            families: self.store.clone(),
            markers: self.store.clone(),
        }
    }

    pub fn introspector(&self) -> Introspector {
        Introspector {
            config: self.config.clone(),
            keys: self.keys.clone(),
            clients: self.clients.clone(),
            checker: self.checker(),
            families: self.store.clone(),
            revocations: self.store.clone(),
        }
    }

    pub fn userinfo(&self) -> UserInfo {
        UserInfo {
            keys: self.keys.clone(),
            checker: self.checker(),
            users: self.store.clone(),
            proofs: DpopProofs::new(ProofReplay::Shared(self.store.clone())),
        }
    }

    /// The authorizer needs `EXPECTED_AUDIENCE`; the other functions do not.
    pub fn authorizer(&self) -> Result<Authorizer, InitError> {
        let audience = self
            .config
            .expected_audience
            .clone()
            .ok_or("EXPECTED_AUDIENCE is not set: a comma-separated list of accepted audiences, or * for any")?;
        // Feed mode makes no round trip per request, and neither does its replay check.
        let (denylist, replay) = match self.config.revocation_check {
            RevocationCheck::Strict => (DenylistCheck::Strict(self.checker()), ProofReplay::Shared(self.store.clone())),
            RevocationCheck::Feed(settings) => (
                DenylistCheck::Feed {
                    issuer: self.config.issuer.clone(),
                    copy: Box::new(LocalDenylist::new(self.revocation_feed(), settings)),
                },
                ProofReplay::Local(ReplayCache::default()),
            ),
        };
        let proofs = DpopProofs::new(replay);
        Ok(Authorizer {
            keys: self.keys.clone(),
            denylist,
            audience: audience.as_list(),
            proofs,
            answers_are_cached: self.config.authorizer_cache_ttl > 0,
        })
    }

    /// Logout and its durable retry: one HTTP client (connection pool) for every RP.
    pub fn logout(&self) -> Result<LogoutService, InitError> {
        let notifier = Notifier::new(self.config.issuer.clone(), self.config.logout.rp_timeout)?;
        Ok(LogoutService {
            config: self.config.clone(),
            keys: self.keys.clone(),
            clients: self.clients.clone(),
            store: self.store.clone(),
            notifier,
        })
    }

    /// The revocation feed, as resource servers read it over HTTP.
    pub fn feed_reader(&self) -> FeedReader {
        FeedReader { clients: self.clients.clone(), feed: self.revocation_feed() }
    }

    /// The revocation feed, read straight from the store (the authorizer in feed mode).
    pub fn revocation_feed(&self) -> RevocationFeed {
        RevocationFeed::new(self.store.clone())
    }

    /// Who may read answers from browser code: origins some client registered.
    pub fn cors(&self) -> Cors {
        Cors::RegisteredOrigins(self.clients.clone())
    }

    /// Browser sign-in and RP-initiated logout.
    pub fn sign_in(&self) -> Result<SignIn, InitError> {
        Ok(SignIn {
            config: self.config.clone(),
            keys: self.keys.clone(),
            clients: self.clients.clone(),
            store: self.store.clone(),
            passwords: PasswordCheck::new(self.store.clone()),
            logout: self.logout()?,
        })
    }

    /// Client administration (`tokenctl client …`).
    pub fn client_registry(&self) -> ClientRegistry {
        ClientRegistry::new(self.store.clone(), self.config.lifetimes, self.config.client_cache_ttl)
    }

    pub fn discovery(&self) -> Discovery {
        Discovery::new(self.config.issuer.clone(), self.keys.clone())
    }

    fn checker(&self) -> TokenChecker {
        TokenChecker { issuer: self.config.issuer.clone(), revocations: self.store.clone() }
    }
}

/// The source named by `KEY_SOURCE`.
pub async fn key_source(config: &Config) -> Box<dyn KeySource> {
    match &config.key_source {
        KeySourceConfig::File(path) => Box::new(FileKeySource { path: path.clone() }),
        KeySourceConfig::SecretsManager(secret_id) => Box::new(SecretKeySource::connect(&config.aws, secret_id).await),
    }
}
