//! A store wrapper that counts calls. Every store method is one DynamoDB request (the
//! paginated admin listings aside), so the count is the round-trip count the budgets in
//! ARCHITECTURE.md §5 speak of; it is deterministic, so tests may assert it.

use super::*;
use crate::time::UnixTime;
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
impl<S: UserRead> UserRead for Counting<S> {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.count().user(username).await
    }

    async fn user_by_subject(&self, sub: &Subject) -> StoreResult<Option<UserRecord>> {
        self.count().user_by_subject(sub).await
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
        reason: &str,
        marker_expires_at: UnixTime,
    ) -> StoreResult<()> {
        self.count().revoke_family(fid, revoked_at, reason, marker_expires_at).await
    }
}
