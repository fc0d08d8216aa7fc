//! Storage behind small capability traits, so each service holds only the rights it
//! needs. Two implementations, one behaviour: `dynamo` (the real table) and
//! `testing::memory` (fast unit tests); `testing::behaviour` holds the tests both pass.
//!
//! Every read treats an item whose `expires_at` has passed as absent: DynamoDB TTL deletes
//! within days, not seconds (docs/ARCHITECTURE.md §3.8).

pub mod dynamo;

use crate::domain::{
    Attempted, AuthorizationCode, AuthorizationRequest, ClientRecord, DeliveryRecord, FailureCount, FamilyRecord,
    FamilyRevocation, Marker, OneTimeId, Redemption, RevocationCause, RevocationQuery, RevocationStatus, Rotation,
    RotationOutcome, SessionRecord, UserProfile, UserRecord,
};
use crate::feed::ShardRead;
use crate::ids::{ClientId, FamilyId, Sid, Subject};
use crate::time::{UnixMillis, UnixTime};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the call: callers fail closed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A conditional write lost: the item exists, or changed since it was read.
    #[error("conflict")]
    Conflict,
    /// An item is present but cannot be understood; never trusted.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// The request was refused as malformed (a record that breaks its invariants): a bug
    /// or an input that slipped past the wire checks, never an outage. Nothing was written.
    #[error("rejected: {0}")]
    Rejected(String),
}

impl StoreError {
    /// Log the error, once, with the event operators alert on: an outage is
    /// `store.unavailable`, anything else `store.error`.
    pub fn report(&self) {
        match self {
            Self::Unavailable(_) => tracing::error!(event = "store.unavailable", error = %self),
            _ => tracing::error!(event = "store.error", error = %self),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait ClientRead: Send + Sync {
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>>;
}

/// The browser origins some client registered (CORS): what a preflight, which names no
/// client, is answered from.
#[async_trait]
pub trait OriginRead: Send + Sync {
    async fn origin_registered(&self, origin: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait ClientAdmin: ClientRead {
    /// Register a new client, and its origins (`ClientRecord::origins`); `Conflict` if
    /// the id is taken.
    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// Create or replace a client, and register its origins; those of the replaced
    /// registration that the new one drops no longer name it. An origin is registered
    /// while some client names it, and then passes CORS at every endpoint that checks
    /// origins: CORS decides who may read an answer, and every answer but the public
    /// documents needs the client's own credentials anyway.
    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// Remove a client, unregister its origins and write its revocation marker, in one
    /// transaction. Returns whether a client was there to remove (if not, nothing is
    /// written).
    async fn remove_client(&self, id: &ClientId, marker: &Marker) -> StoreResult<bool>;
    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>>;
}

/// Who is authenticating, with their failure count, in one round trip; and the count's
/// updates. Every read is of the present: a lapsed count is none.
#[async_trait]
pub trait FailureStore: Send + Sync {
    /// The user (if any) and the failures counted against the username.
    async fn user_for_login(&self, username: &str) -> StoreResult<(Option<UserRecord>, FailureCount)>;
    /// The client (if any) and the failures counted against the client id.
    async fn client_for_auth(&self, id: &ClientId) -> StoreResult<(Option<ClientRecord>, FailureCount)>;
    /// One more failure at `now` (a lapsed count starts again): the count after it.
    /// Concurrent failures are all counted.
    async fn record_failure(&self, attempted: &Attempted, now: UnixTime) -> StoreResult<FailureCount>;
    /// A success ends the run of failures.
    async fn clear_failures(&self, attempted: &Attempted) -> StoreResult<()>;
}

#[async_trait]
pub trait UserRead: Send + Sync {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// The profile of the user with this subject identifier (through the `by_subject`
    /// index): the only user read a resource-facing function makes, and it never reads
    /// the password hash.
    async fn user_profile_by_subject(&self, sub: &Subject) -> StoreResult<Option<UserProfile>>;
}

#[async_trait]
pub trait UserAdmin: UserRead {
    /// Create a user; `Conflict` if the username is taken.
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// Replace an existing user; `Conflict` if there is none.
    async fn replace_user(&self, user: &UserRecord) -> StoreResult<()>;
}

#[async_trait]
pub trait SessionWrite: Send + Sync {
    /// Start a login: the session and its first refresh-token family in one atomic write
    /// (one round trip: docs/ARCHITECTURE.md §5).
    async fn begin_session(&self, session: &SessionRecord, family: &FamilyRecord) -> StoreResult<()>;
}

#[async_trait]
pub trait FamilyRead: Send + Sync {
    async fn family(&self, fid: &FamilyId) -> StoreResult<Option<FamilyRecord>>;
}

/// Refresh-token rotation. Each method is one round trip.
#[async_trait]
pub trait FamilyWrite: FamilyRead {
    /// The conditional write that makes races impossible (docs/ARCHITECTURE.md §3.7): the
    /// family update and the login guard checks commit together or not at all.
    async fn rotate(&self, rotation: &Rotation) -> StoreResult<RotationOutcome>;
    /// Mark the family revoked and write its denylist marker in one transaction, so that
    /// neither its refresh token nor any access token issued from it is honoured again.
    /// `Conflict` when a concurrent transaction cancelled it (nothing was written): the
    /// caller retries, and falls back on the marker alone, which rotation also refuses
    /// (`revocation::revoke_family` does all of that).
    async fn revoke_family(
        &self,
        fid: &FamilyId,
        revoked_at: UnixTime,
        reason: RevocationCause,
        marker_expires_at: UnixTime,
    ) -> StoreResult<FamilyRevocation>;
}

/// The denylist check behind introspection, the authorizer and userinfo.
#[async_trait]
pub trait RevocationRead: Send + Sync {
    /// One round trip. Markers past their `expires_at` are ignored (TTL is lazy).
    async fn revocation_status(&self, query: &RevocationQuery) -> StoreResult<RevocationStatus>;
}

/// The revocation feed's log: every marker, in the order its writer stamped it
/// (docs/ARCHITECTURE.md §3.11). Every marker write above also writes its log record,
/// in the same item.
#[async_trait]
pub trait FeedLog: Send + Sync {
    /// One shard's records stamped at or after `from`, in stamp order and whole buckets
    /// (`feed::WholeBuckets`): at least `limit` of them unless fewer exist. One query
    /// (more only for a bucket that outgrows a query's page).
    async fn feed_shard(&self, shard: u8, from: UnixMillis, limit: usize) -> StoreResult<ShardRead>;
}

/// Single use of the identifiers a caller chooses (DPoP proofs, client assertions).
#[async_trait]
pub trait OneTimeUse: Send + Sync {
    /// Record the use of `id`, remembered until `expires_at`: `true` the first time,
    /// `false` for a replay before then. One conditional write; an entry past its
    /// `expires_at` counts as absent (TTL deletes lazily).
    async fn use_once(&self, id: &OneTimeId, expires_at: UnixTime) -> StoreResult<bool>;
}

#[async_trait]
pub trait MarkerWrite: Send + Sync {
    async fn put_marker(&self, marker: &Marker) -> StoreResult<()>;
}

#[async_trait]
pub trait SessionRead: Send + Sync {
    async fn session(&self, sid: &Sid) -> StoreResult<Option<SessionRecord>>;
    /// Every live session of a subject (through the `by_subject` index).
    async fn sessions_of(&self, sub: &Subject) -> StoreResult<Vec<SessionRecord>>;
}

/// Browser sign-in: pending authorization requests, codes, and the sessions they begin.
#[async_trait]
pub trait SignInStore: Send + Sync {
    async fn save_authorization(&self, request: &AuthorizationRequest) -> StoreResult<()>;
    /// A pending request, if it is still live.
    async fn authorization(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>>;
    /// A login on the page completes `request_id`: the browser's session begins, its
    /// code is stored and the request is used up, in one transaction. `false`: the
    /// request was used up already (a form posted twice), and nothing was written.
    async fn complete_login(
        &self,
        session: &SessionRecord,
        code: &AuthorizationCode,
        request_id: &str,
    ) -> StoreResult<bool>;
    /// A code for a live session (single sign-on), in one transaction with a check that
    /// no revoke-all or disable of the user came since the login (`code.auth_time`);
    /// `false`, and nothing written, if one did.
    async fn save_code(&self, code: &AuthorizationCode) -> StoreResult<bool>;
    /// The code whose digest this is, redeemed or not, while its record lives.
    async fn code(&self, digest: &str) -> StoreResult<Option<AuthorizationCode>>;
    /// The exchange, in one transaction: the code is marked redeemed by `family` (if it
    /// was not, and is within its minute at `now`), the family begins, and its session
    /// (which must still exist) gains the family's client as a relying party.
    async fn redeem_code(
        &self,
        code: &AuthorizationCode,
        family: &FamilyRecord,
        now: UnixTime,
    ) -> StoreResult<Redemption>;
}

/// Ending sessions (logout, revoke-all).
#[async_trait]
pub trait SessionEnd: Send + Sync {
    /// Write the session's denylist marker, remove the session and write a pending
    /// delivery for each of its RPs (`deliveries`), in one transaction: from then on its
    /// access tokens fail every check, its families cannot rotate, and no RP of it can be
    /// forgotten. `false`: the session was already gone (ended by another call, or
    /// expired), and nothing was written.
    async fn end_session(&self, sid: &Sid, marker: &Marker, deliveries: &[DeliveryRecord]) -> StoreResult<bool>;
}

/// Durable back-channel logout deliveries.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Create or replace a delivery; pending ones are indexed by their next attempt.
    async fn save_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()>;
    async fn delivery(&self, id: &str) -> StoreResult<Option<DeliveryRecord>>;
    /// Pending deliveries whose next attempt is due, oldest first.
    async fn due_deliveries(&self, now: UnixTime, limit: usize) -> StoreResult<Vec<DeliveryRecord>>;
    /// Take a due delivery for one attempt: succeeds for exactly one worker, and hides it
    /// from other workers until `lease_until`.
    async fn claim_delivery(&self, delivery: &DeliveryRecord, lease_until: UnixTime) -> StoreResult<bool>;
}

/// What client lookups need, as one object: clients with their failure counts, and the
/// origins clients registered.
pub trait ClientLookup: FailureStore + OriginRead {}
impl<T: FailureStore + OriginRead> ClientLookup for T {}

/// What browser sign-in needs, as one object: its own items, and the sessions a
/// browser cookie points at.
pub trait BrowserStore: SignInStore + SessionRead {}
impl<T: SignInStore + SessionRead> BrowserStore for T {}

/// What the logout path needs, as one object.
pub trait LogoutStore: FamilyRead + SessionRead + SessionEnd + MarkerWrite + DeliveryStore {}
impl<T: FamilyRead + SessionRead + SessionEnd + MarkerWrite + DeliveryStore> LogoutStore for T {}

/// Everything a complete store implements: what the one assembly (`Services`) is built
/// from, and what the behaviour suite checks.
pub trait FullStore:
    ClientAdmin
    + ClientLookup
    + UserAdmin
    + FailureStore
    + BrowserStore
    + SessionWrite
    + SessionRead
    + FamilyWrite
    + MarkerWrite
    + RevocationRead
    + FeedLog
    + OneTimeUse
    + LogoutStore
{
}
impl<T> FullStore for T where
    T: ClientAdmin
        + ClientLookup
        + UserAdmin
        + FailureStore
        + BrowserStore
        + SessionWrite
        + SessionRead
        + FamilyWrite
        + MarkerWrite
        + RevocationRead
        + FeedLog
        + OneTimeUse
        + LogoutStore
{
}
