//! Cold-start assembly of each function's state: everything expensive (SDK client, keys,
//! caches) is built here once, never per request (ARCHITECTURE.md §5).

use crate::authorizer::Authorizer;
use crate::config::Config;
use crate::grants::TokenIssuer;
use crate::introspection::Introspector;
use crate::keys::{KeyRing, key_source};
use crate::logout::LogoutService;
use crate::logout::delivery::Notifier;
use crate::oauth::client_auth::ClientDirectory;
use crate::revocation::Revoker;
use crate::store::dynamo::DynamoStore;
use crate::userinfo::UserInfo;
use crate::verify::TokenChecker;
use std::sync::Arc;

pub type InitError = Box<dyn std::error::Error + Send + Sync>;

/// The key ring of a function, reloading from `KEY_SOURCE`.
pub async fn key_ring(config: &Config) -> Result<Arc<KeyRing>, InitError> {
    Ok(Arc::new(KeyRing::load(key_source(config).await, config.key_reload).await?))
}

/// The parts every function shares: the key ring and the table.
async fn parts(config: &Config) -> Result<(Arc<KeyRing>, Arc<DynamoStore>), InitError> {
    let keys = key_ring(config).await?;
    let store = Arc::new(DynamoStore::connect(config).await);
    Ok((keys, store))
}

fn checker(config: &Config, keys: &Arc<KeyRing>, store: &Arc<DynamoStore>) -> TokenChecker {
    TokenChecker { keys: keys.clone(), issuer: config.issuer.clone(), revocations: store.clone() }
}

pub async fn token_issuer(config: Config) -> Result<TokenIssuer, InitError> {
    let (keys, store) = parts(&config).await?;
    Ok(TokenIssuer {
        clients: ClientDirectory::new(store.clone(), config.client_cache_ttl),
        users: store.clone(),
        sessions: store.clone(),
        families: store,
        keys,
        config,
    })
}

pub async fn revoker(config: Config) -> Result<Revoker, InitError> {
    let (keys, store) = parts(&config).await?;
    Ok(Revoker {
        clients: ClientDirectory::new(store.clone(), config.client_cache_ttl),
        families: store.clone(),
        markers: store,
        keys,
        config,
    })
}

pub async fn introspector(config: Config) -> Result<Introspector, InitError> {
    let (keys, store) = parts(&config).await?;
    Ok(Introspector {
        clients: ClientDirectory::new(store.clone(), config.client_cache_ttl),
        checker: checker(&config, &keys, &store),
        families: store.clone(),
        revocations: store,
        keys,
        config,
    })
}

pub async fn userinfo(config: Config) -> Result<UserInfo, InitError> {
    let (keys, store) = parts(&config).await?;
    Ok(UserInfo { checker: checker(&config, &keys, &store), users: store })
}

pub async fn logout_service(config: Config) -> Result<LogoutService, InitError> {
    let (keys, store) = parts(&config).await?;
    let notifier = Notifier::new(keys.clone(), config.issuer.clone(), config.logout.rp_timeout)?;
    Ok(LogoutService {
        clients: ClientDirectory::new(store.clone(), config.client_cache_ttl),
        store,
        notifier,
        keys,
        config,
    })
}

pub async fn authorizer(config: Config) -> Result<Authorizer, InitError> {
    let audience = config
        .expected_audience
        .clone()
        .ok_or("EXPECTED_AUDIENCE is not set: a comma-separated list of accepted audiences, or * for any")?;
    let (keys, store) = parts(&config).await?;
    Ok(Authorizer { checker: checker(&config, &keys, &store), audience: audience.as_list() })
}
