//! Administration: what `tokenctl` does to clients, with the same invariants and the same
//! revocation semantics as the rest of the service.

use crate::domain::{ClientRecord, Marker};
use crate::ids::{ClientEpoch, ClientId};
use crate::policy::{Covers, InvalidClient, Lifetimes};
use crate::store::{ClientAdmin, StoreError};
use crate::time::UnixTime;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("client {0} exists; --replace replaces it (its refresh tokens stay valid)")]
    ClientExists(ClientId),
    #[error(transparent)]
    Invalid(#[from] InvalidClient),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Registration {
    Created,
    /// An existing registration replaced: same epoch, so its families live on (narrowed
    /// to the new scopes at their next refresh).
    Replaced,
}

pub struct ClientRegistry {
    store: Arc<dyn ClientAdmin>,
    lifetimes: Lifetimes,
    /// How long warm instances may go on trusting a removed client's cached record.
    client_cache_ttl: Duration,
}

impl ClientRegistry {
    pub fn new(store: Arc<dyn ClientAdmin>, lifetimes: Lifetimes, client_cache_ttl: Duration) -> Self {
        Self { store, lifetimes, client_cache_ttl }
    }

    /// Register `client`. A new registration gets a new epoch; without `replace`, an id
    /// that is taken is refused rather than silently replaced.
    pub async fn register(&self, mut client: ClientRecord, replace: bool) -> Result<Registration, AdminError> {
        client.validate()?;
        if replace && let Some(existing) = self.store.client(&client.id).await? {
            client.epoch = existing.epoch;
            self.store.put_client(&client).await?;
            return Ok(Registration::Replaced);
        }
        client.epoch = ClientEpoch::random();
        match self.store.create_client(&client).await {
            Ok(()) => Ok(Registration::Created),
            Err(StoreError::Conflict) => Err(AdminError::ClientExists(client.id)),
            Err(err) => Err(err.into()),
        }
    }

    /// Remove a client and, in the same write, every token issued to it: access tokens
    /// (client-credentials ones included) fail every check from now on, and its refresh
    /// families can never rotate again. The line is drawn past the client cache
    /// lifetime, since a warm instance may still mint tokens from its cached record
    /// until then. Returns whether there was a client to remove.
    pub async fn remove(&self, id: &ClientId) -> Result<bool, AdminError> {
        let now = UnixTime::now();
        let not_before = now.plus(1 + self.client_cache_ttl.as_secs());
        let expires_at = self.lifetimes.marker_expiry(Covers::Client { not_before }, now);
        let marker = Marker::Client { client_id: id.clone(), not_before, expires_at };
        let removed = self.store.remove_client(id, &marker).await?;
        if removed {
            tracing::warn!(event = "client.removed", client_id = %id, not_before = not_before.0);
        }
        Ok(removed)
    }
}
