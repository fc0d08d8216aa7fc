//! A store wrapped by a [`Hook`] that sees every call before it reaches the store: the
//! counting wrapper (round trips, for the budgets) and the fault injector (errors and
//! lost answers, for the property tests) are two hooks on this one delegation.

use crate::domain::*;
use crate::ids::{ClientId, FamilyId, Sid, Subject};
use crate::store::*;
use crate::time::UnixTime;
use async_trait::async_trait;
use std::sync::Arc;

/// What happens to one call.
pub enum Injected {
    /// The store answers.
    Proceed,
    /// The call fails before the store sees it (nothing happens).
    Fail(StoreError),
    /// The store applies the call, but its answer is lost: the caller sees this error
    /// (a timeout after the write committed).
    FailAfter(StoreError),
    /// A transaction cancelled because a concurrent one touched its items
    /// (`TransactionConflict`): nothing is written. A rotation answers `Contended`, any
    /// other write fails with `Conflict`.
    Contended,
    /// A conditional write refused as its condition failed, nothing written, answered as
    /// the store answers a lost condition: a rotation with the family as it is now
    /// (`with_item`, DynamoDB's `ALL_OLD`) or as gone; a family revocation with
    /// `FamilyAbsent`; a delivery claim with `false`; an exclusive create with `Conflict`.
    ConditionLost { with_item: bool },
}

/// One store call as a hook sees it.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// The store trait method's name.
    pub op: &'static str,
    /// How many items a batch read asks for (1 for anything else).
    pub items: usize,
}

pub trait Hook: Send + Sync {
    /// Called before every store call.
    fn before(&self, call: Call) -> Injected;
}

pub struct Decorated<S, H> {
    pub(crate) inner: Arc<S>,
    pub(crate) hook: H,
}

impl<S, H: Hook> Decorated<S, H> {
    async fn call<T>(&self, op: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.call_items(op, 1, call).await
    }

    async fn call_items<T>(
        &self,
        op: &'static str,
        items: usize,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.apply(self.hook.before(Call { op, items }), call).await
    }

    /// What an injection means for a call with no answer of its own to a lost race.
    async fn apply<T>(&self, injected: Injected, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        match injected {
            Injected::Proceed => call.await,
            Injected::Fail(err) => Err(err),
            Injected::FailAfter(err) => {
                call.await?;
                Err(err)
            }
            Injected::Contended | Injected::ConditionLost { .. } => Err(StoreError::Conflict),
        }
    }
}

#[async_trait]
impl<H: Hook, S: ClientRead> ClientRead for Decorated<S, H> {
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        self.call("client", self.inner.client(id)).await
    }
}

#[async_trait]
impl<H: Hook, S: FailureStore> FailureStore for Decorated<S, H> {
    async fn user_for_login(&self, username: &str) -> StoreResult<(Option<UserRecord>, FailureCount)> {
        self.call_items("user_for_login", 2, self.inner.user_for_login(username)).await
    }

    async fn client_for_auth(&self, id: &ClientId) -> StoreResult<(Option<ClientRecord>, FailureCount)> {
        self.call_items("client_for_auth", 2, self.inner.client_for_auth(id)).await
    }

    async fn record_failure(&self, attempted: &Attempted, now: UnixTime) -> StoreResult<FailureCount> {
        self.call("record_failure", self.inner.record_failure(attempted, now)).await
    }

    async fn clear_failures(&self, attempted: &Attempted) -> StoreResult<()> {
        self.call("clear_failures", self.inner.clear_failures(attempted)).await
    }
}

#[async_trait]
impl<H: Hook, S: SignInStore> SignInStore for Decorated<S, H> {
    async fn save_authorization(&self, request: &AuthorizationRequest) -> StoreResult<()> {
        self.call("save_authorization", self.inner.save_authorization(request)).await
    }

    async fn authorization(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>> {
        self.call("authorization", self.inner.authorization(id)).await
    }

    async fn complete_login(
        &self,
        session: &SessionRecord,
        code: &AuthorizationCode,
        request_id: &str,
    ) -> StoreResult<bool> {
        self.call_items("complete_login", 3, self.inner.complete_login(session, code, request_id)).await
    }

    async fn save_code(&self, code: &AuthorizationCode) -> StoreResult<bool> {
        self.call("save_code", self.inner.save_code(code)).await
    }

    async fn code(&self, digest: &str) -> StoreResult<Option<AuthorizationCode>> {
        self.call("code", self.inner.code(digest)).await
    }

    async fn redeem_code(
        &self,
        code: &AuthorizationCode,
        family: &FamilyRecord,
        now: UnixTime,
    ) -> StoreResult<Redemption> {
        match self.hook.before(Call { op: "redeem_code", items: 4 }) {
            Injected::ConditionLost { .. } => Ok(Redemption::Spent(None)),
            other => self.apply(other, self.inner.redeem_code(code, family, now)).await,
        }
    }
}

#[async_trait]
impl<H: Hook, S: OriginRead> OriginRead for Decorated<S, H> {
    async fn origin_registered(&self, origin: &str) -> StoreResult<bool> {
        self.call("origin_registered", self.inner.origin_registered(origin)).await
    }
}

#[async_trait]
impl<H: Hook, S: ClientAdmin> ClientAdmin for Decorated<S, H> {
    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.call("create_client", self.inner.create_client(client)).await
    }

    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.call("put_client", self.inner.put_client(client)).await
    }

    async fn remove_client(&self, id: &ClientId, marker: &Marker) -> StoreResult<bool> {
        self.call("remove_client", self.inner.remove_client(id, marker)).await
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        self.call("list_clients", self.inner.list_clients()).await
    }
}

#[async_trait]
impl<H: Hook, S: UserRead> UserRead for Decorated<S, H> {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.call("user", self.inner.user(username)).await
    }

    async fn user_profile_by_subject(&self, sub: &Subject) -> StoreResult<Option<UserProfile>> {
        self.call("user_profile_by_subject", self.inner.user_profile_by_subject(sub)).await
    }
}

#[async_trait]
impl<H: Hook, S: UserAdmin> UserAdmin for Decorated<S, H> {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.call("create_user", self.inner.create_user(user)).await
    }

    async fn replace_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.call("replace_user", self.inner.replace_user(user)).await
    }
}

#[async_trait]
impl<H: Hook, S: RevocationRead> RevocationRead for Decorated<S, H> {
    async fn revocation_status(&self, query: &RevocationQuery) -> StoreResult<RevocationStatus> {
        self.call_items("revocation_status", query.items(), self.inner.revocation_status(query)).await
    }
}

#[async_trait]
impl<H: Hook, S: FeedLog> FeedLog for Decorated<S, H> {
    async fn feed_shard(
        &self,
        shard: u8,
        from: crate::time::UnixMillis,
        limit: usize,
    ) -> StoreResult<crate::feed::ShardRead> {
        self.call("feed_shard", self.inner.feed_shard(shard, from, limit)).await
    }
}

#[async_trait]
impl<H: Hook, S: SessionWrite> SessionWrite for Decorated<S, H> {
    async fn begin_session(&self, session: &SessionRecord, family: &FamilyRecord) -> StoreResult<()> {
        self.call("begin_session", self.inner.begin_session(session, family)).await
    }
}

#[async_trait]
impl<H: Hook, S: SessionRead> SessionRead for Decorated<S, H> {
    async fn session(&self, sid: &Sid) -> StoreResult<Option<SessionRecord>> {
        self.call("session", self.inner.session(sid)).await
    }

    async fn sessions_of(&self, sub: &Subject) -> StoreResult<Vec<SessionRecord>> {
        self.call("sessions_of", self.inner.sessions_of(sub)).await
    }
}

#[async_trait]
impl<H: Hook, S: SessionEnd> SessionEnd for Decorated<S, H> {
    async fn end_session(&self, sid: &Sid, marker: &Marker, deliveries: &[DeliveryRecord]) -> StoreResult<bool> {
        self.call_items("end_session", 2 + deliveries.len(), self.inner.end_session(sid, marker, deliveries)).await
    }
}

#[async_trait]
impl<H: Hook, S: FamilyRead> FamilyRead for Decorated<S, H> {
    async fn family(&self, fid: &FamilyId) -> StoreResult<Option<FamilyRecord>> {
        self.call("family", self.inner.family(fid)).await
    }
}

#[async_trait]
impl<H: Hook, S: FamilyWrite> FamilyWrite for Decorated<S, H> {
    async fn rotate(&self, rotation: &Rotation) -> StoreResult<RotationOutcome> {
        match self.hook.before(Call { op: "rotate", items: 1 }) {
            Injected::Contended => Ok(RotationOutcome::Contended),
            Injected::ConditionLost { with_item: true } => {
                Ok(RotationOutcome::FamilyChanged(self.inner.family(&rotation.family).await?))
            }
            Injected::ConditionLost { with_item: false } => Ok(RotationOutcome::FamilyChanged(None)),
            other => self.apply(other, self.inner.rotate(rotation)).await,
        }
    }

    async fn revoke_family(
        &self,
        fid: &FamilyId,
        revoked_at: UnixTime,
        reason: RevocationCause,
        marker_expires_at: UnixTime,
    ) -> StoreResult<FamilyRevocation> {
        match self.hook.before(Call { op: "revoke_family", items: 1 }) {
            Injected::ConditionLost { .. } => Ok(FamilyRevocation::FamilyAbsent),
            other => self.apply(other, self.inner.revoke_family(fid, revoked_at, reason, marker_expires_at)).await,
        }
    }
}

#[async_trait]
impl<H: Hook, S: OneTimeUse> OneTimeUse for Decorated<S, H> {
    async fn use_once(&self, id: &OneTimeId, expires_at: UnixTime) -> StoreResult<bool> {
        match self.hook.before(Call { op: "use_once", items: 1 }) {
            // A lost condition is the store's "used before".
            Injected::ConditionLost { .. } => Ok(false),
            injected => self.apply(injected, self.inner.use_once(id, expires_at)).await,
        }
    }
}

#[async_trait]
impl<H: Hook, S: MarkerWrite> MarkerWrite for Decorated<S, H> {
    async fn put_marker(&self, marker: &Marker) -> StoreResult<()> {
        self.call("put_marker", self.inner.put_marker(marker)).await
    }
}

#[async_trait]
impl<H: Hook, S: DeliveryStore> DeliveryStore for Decorated<S, H> {
    async fn save_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()> {
        self.call("save_delivery", self.inner.save_delivery(delivery)).await
    }

    async fn delivery(&self, id: &str) -> StoreResult<Option<DeliveryRecord>> {
        self.call("delivery", self.inner.delivery(id)).await
    }

    async fn due_deliveries(&self, now: UnixTime, limit: usize) -> StoreResult<Vec<DeliveryRecord>> {
        self.call("due_deliveries", self.inner.due_deliveries(now, limit)).await
    }

    async fn claim_delivery(&self, delivery: &DeliveryRecord, lease_until: UnixTime) -> StoreResult<bool> {
        match self.hook.before(Call { op: "claim_delivery", items: 1 }) {
            Injected::ConditionLost { .. } => Ok(false),
            other => self.apply(other, self.inner.claim_delivery(delivery, lease_until)).await,
        }
    }
}
