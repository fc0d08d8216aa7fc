//! A store wrapper that counts calls. Every store method is one DynamoDB request (the
//! paginated listings aside), so the count is the round-trip count the budgets in
//! docs/ARCHITECTURE.md §5 speak of; it is deterministic, so tests may assert it.

use crate::domain::*;
use crate::ids::{ClientId, FamilyId, Sid, Subject};
use crate::store::*;
use crate::time::UnixTime;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting<S> {
    inner: Arc<S>,
    calls: AtomicUsize,
}

impl<S> Counting<S> {
    pub fn new(inner: Arc<S>) -> Self {
        Self { inner, calls: AtomicUsize::new(0) }
    }

    pub fn round_trips(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
    }

    fn count(&self) -> &S {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

#[async_trait]
impl<S: ClientRead> ClientRead for Counting<S> {
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        self.count().client(id).await
    }
}

#[async_trait]
impl<S: ClientAdmin> ClientAdmin for Counting<S> {
    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.count().put_client(client).await
    }

    async fn remove_client(&self, id: &ClientId) -> StoreResult<bool> {
        self.count().remove_client(id).await
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        self.count().list_clients().await
    }
}

#[async_trait]
impl<S: UserRead> UserRead for Counting<S> {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.count().user(username).await
    }

    async fn user_by_subject(&self, sub: &Subject) -> StoreResult<Option<UserRecord>> {
        self.count().user_by_subject(sub).await
    }
}

#[async_trait]
impl<S: UserAdmin> UserAdmin for Counting<S> {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.count().create_user(user).await
    }

    async fn replace_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.count().replace_user(user).await
    }
}

#[async_trait]
impl<S: RevocationRead> RevocationRead for Counting<S> {
    async fn revocation_status(&self, query: &RevocationQuery) -> StoreResult<RevocationStatus> {
        self.count().revocation_status(query).await
    }
}

#[async_trait]
impl<S: SessionWrite> SessionWrite for Counting<S> {
    async fn begin_session(&self, session: &SessionRecord, family: &FamilyRecord) -> StoreResult<()> {
        self.count().begin_session(session, family).await
    }
}

#[async_trait]
impl<S: SessionRead> SessionRead for Counting<S> {
    async fn session(&self, sid: &Sid) -> StoreResult<Option<SessionRecord>> {
        self.count().session(sid).await
    }

    async fn sessions_of(&self, sub: &Subject) -> StoreResult<Vec<SessionRecord>> {
        self.count().sessions_of(sub).await
    }
}

#[async_trait]
impl<S: SessionEnd> SessionEnd for Counting<S> {
    async fn end_session(&self, sid: &Sid, marker: &Marker) -> StoreResult<()> {
        self.count().end_session(sid, marker).await
    }
}

#[async_trait]
impl<S: FamilyRead> FamilyRead for Counting<S> {
    async fn family(&self, fid: &FamilyId) -> StoreResult<Option<FamilyRecord>> {
        self.count().family(fid).await
    }
}

#[async_trait]
impl<S: FamilyWrite> FamilyWrite for Counting<S> {
    async fn rotate(&self, rotation: &Rotation) -> StoreResult<RotationOutcome> {
        self.count().rotate(rotation).await
    }

    async fn revoke_family(
        &self,
        fid: &FamilyId,
        revoked_at: UnixTime,
        reason: RevocationCause,
        marker_expires_at: UnixTime,
    ) -> StoreResult<()> {
        self.count().revoke_family(fid, revoked_at, reason, marker_expires_at).await
    }
}

#[async_trait]
impl<S: MarkerWrite> MarkerWrite for Counting<S> {
    async fn put_marker(&self, marker: &Marker) -> StoreResult<()> {
        self.count().put_marker(marker).await
    }
}

#[async_trait]
impl<S: DeliveryStore> DeliveryStore for Counting<S> {
    async fn save_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()> {
        self.count().save_delivery(delivery).await
    }

    async fn delivery(&self, id: &str) -> StoreResult<Option<DeliveryRecord>> {
        self.count().delivery(id).await
    }

    async fn due_deliveries(&self, now: UnixTime, limit: usize) -> StoreResult<Vec<DeliveryRecord>> {
        self.count().due_deliveries(now, limit).await
    }

    async fn claim_delivery(&self, delivery: &DeliveryRecord, lease_until: UnixTime) -> StoreResult<bool> {
        self.count().claim_delivery(delivery, lease_until).await
    }
}
