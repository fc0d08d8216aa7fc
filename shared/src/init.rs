//! Cold-start assembly of each function's state: everything expensive (SDK client, keys,
//! caches) is built here once, never per request (ARCHITECTURE.md §5).

use crate::config::Config;
use crate::grants::TokenIssuer;
use crate::keys::{KeyError, load_key_set};
use crate::oauth::client_auth::ClientDirectory;
use crate::store::dynamo::DynamoStore;
use std::sync::Arc;

pub async fn token_issuer(config: Config) -> Result<TokenIssuer, KeyError> {
    let keys = Arc::new(load_key_set(&config.key_source).await?);
    let store = Arc::new(DynamoStore::connect(&config).await);
    Ok(TokenIssuer {
        clients: ClientDirectory::new(store.clone(), config.client_cache_ttl),
        users: store.clone(),
        sessions: store.clone(),
        families: store,
        keys,
        config,
    })
}
