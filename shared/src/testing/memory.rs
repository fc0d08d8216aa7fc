//! The in-memory twin of the DynamoDB store, for fast unit tests of logic. It passes the
//! same behaviour tests (`testing::behaviour`) as the real one.

use crate::domain::*;
use crate::feed::{self, LogRecord, ShardRead, WholeBuckets};
use crate::ids::{ClientId, FamilyId, Sid, Subject};
use crate::store::*;
use crate::time::{UnixMillis, UnixTime};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Clone, Default)]
struct Inner {
    clients: HashMap<ClientId, ClientRecord>,
    users: HashMap<String, UserRecord>,
    sessions: HashMap<Sid, SessionRecord>,
    families: HashMap<FamilyId, FamilyRecord>,
    markers: Markers,
    deliveries: HashMap<String, DeliveryRecord>,
    failures: HashMap<Attempted, FailureCount>,
    authorizations: HashMap<String, AuthorizationRequest>,
    origins: HashMap<String, std::collections::BTreeSet<ClientId>>,
    codes: HashMap<String, AuthorizationCode>,
    /// Used DPoP proof and client assertion ids, each with its `expires_at`.
    used_once: HashMap<OneTimeId, UnixTime>,
}

/// Denylist entries, each with its `expires_at`.
#[derive(Clone, Default)]
struct Markers {
    tokens: HashMap<crate::ids::Jti, UnixTime>,
    families: HashMap<FamilyId, UnixTime>,
    sessions: HashMap<Sid, UnixTime>,
    /// `(not_before, expires_at)`
    subjects: HashMap<Subject, (UnixTime, UnixTime)>,
    /// `(not_before, expires_at)`
    clients: HashMap<ClientId, (UnixTime, UnixTime)>,
    /// The feed's log: each marker's latest write, by its key.
    log: HashMap<String, LogRecord>,
}

fn live<T>(entry: Option<&T>, expires_at: impl Fn(&T) -> UnixTime, now: UnixTime) -> Option<&T> {
    entry.filter(|e| !expires_at(e).has_passed(now))
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every delivery record, settled or not (what a test asks of the audit trail).
    pub fn deliveries(&self) -> StoreResult<Vec<DeliveryRecord>> {
        Ok(self.lock()?.deliveries.values().cloned().collect())
    }

    /// Overwrite a code as it stands (a test's way to age one).
    pub fn overwrite_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.lock()?.codes.insert(code.digest.clone(), code.clone());
        Ok(())
    }

    /// An independent copy of everything stored now: a property test asks "what could
    /// each token still do?" of copies, leaving the original as it is.
    pub fn snapshot(&self) -> StoreResult<Self> {
        Ok(Self { inner: Mutex::new(self.lock()?.clone()) })
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Inner>> {
        // A poisoned lock means a test panicked mid-write; report it like an outage.
        self.inner.lock().map_err(|_| StoreError::Unavailable("memory store poisoned".into()))
    }
}

#[async_trait]
impl ClientRead for MemoryStore {
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        Ok(self.lock()?.clients.get(id).cloned())
    }
}

#[async_trait]
impl ClientAdmin for MemoryStore {
    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()> {
        client.validate().map_err(|e| StoreError::Rejected(e.to_string()))?;
        let mut inner = self.lock()?;
        if inner.clients.contains_key(&client.id) {
            return Err(StoreError::Conflict);
        }
        inner.register(client);
        Ok(())
    }

    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()> {
        client.validate().map_err(|e| StoreError::Rejected(e.to_string()))?;
        self.lock()?.register(client);
        Ok(())
    }

    async fn remove_client(&self, id: &ClientId, marker: &Marker) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        let Some(removed) = inner.clients.remove(id) else {
            return Ok(false);
        };
        inner.unregister_origins(&removed, &Default::default());
        put(&mut inner.markers, marker);
        Ok(true)
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        let mut all: Vec<ClientRecord> = self.lock()?.clients.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }
}

#[async_trait]
impl OriginRead for MemoryStore {
    async fn origin_registered(&self, origin: &str) -> StoreResult<bool> {
        Ok(self.lock()?.origins.get(origin).is_some_and(|clients| !clients.is_empty()))
    }
}

#[async_trait]
impl UserRead for MemoryStore {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self.lock()?.users.get(username).cloned())
    }

    async fn user_profile_by_subject(&self, sub: &Subject) -> StoreResult<Option<UserProfile>> {
        Ok(self.lock()?.users.values().find(|u| &u.sub == sub).map(UserProfile::from))
    }
}

#[async_trait]
impl FailureStore for MemoryStore {
    async fn user_for_login(&self, username: &str) -> StoreResult<(Option<UserRecord>, FailureCount)> {
        let inner = self.lock()?;
        Ok((inner.users.get(username).cloned(), inner.failures_of(&Attempted::Username(username.into()))))
    }

    async fn client_for_auth(&self, id: &ClientId) -> StoreResult<(Option<ClientRecord>, FailureCount)> {
        let inner = self.lock()?;
        Ok((inner.clients.get(id).cloned(), inner.failures_of(&Attempted::Client(id.clone()))))
    }

    async fn record_failure(&self, attempted: &Attempted, now: UnixTime) -> StoreResult<FailureCount> {
        let mut inner = self.lock()?;
        let before = inner.failures.get(attempted).copied().unwrap_or_default().at(now);
        let after = FailureCount { failures: before.failures.saturating_add(1), last_failed_at: now };
        inner.failures.insert(attempted.clone(), after);
        Ok(after)
    }

    async fn clear_failures(&self, attempted: &Attempted) -> StoreResult<()> {
        self.lock()?.failures.remove(attempted);
        Ok(())
    }
}

impl Inner {
    fn register(&mut self, client: &ClientRecord) {
        if let Some(old) = self.clients.get(&client.id).cloned() {
            self.unregister_origins(&old, &client.origins());
        }
        for origin in client.origins() {
            self.origins.entry(origin).or_default().insert(client.id.clone());
        }
        self.clients.insert(client.id.clone(), client.clone());
    }

    /// `client`'s origins no longer name it, but for those it `keeps`.
    fn unregister_origins(&mut self, client: &ClientRecord, keeps: &std::collections::BTreeSet<String>) {
        for origin in client.origins().difference(keeps) {
            if let Some(clients) = self.origins.get_mut(origin) {
                clients.remove(&client.id);
            }
        }
    }

    fn failures_of(&self, attempted: &Attempted) -> FailureCount {
        self.failures.get(attempted).copied().unwrap_or_default().at(UnixTime::now())
    }
}

/// A revoke-all or disable of the code's user since the login it stands for.
fn revoked_since_login(inner: &Inner, code: &AuthorizationCode, now: UnixTime) -> bool {
    live(inner.markers.subjects.get(&code.sub), |(_, exp)| *exp, now)
        .is_some_and(|(not_before, _)| code.auth_time < *not_before)
}

#[async_trait]
impl SignInStore for MemoryStore {
    async fn save_authorization(&self, request: &AuthorizationRequest) -> StoreResult<()> {
        self.lock()?.authorizations.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn authorization(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>> {
        Ok(live(self.lock()?.authorizations.get(id), |r| r.expires_at, UnixTime::now()).cloned())
    }

    async fn complete_login(
        &self,
        session: &SessionRecord,
        code: &AuthorizationCode,
        request_id: &str,
    ) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        if inner.sessions.contains_key(&session.sid) || inner.codes.contains_key(&code.digest) {
            return Err(StoreError::Conflict);
        }
        if inner.authorizations.remove(request_id).is_none() {
            return Ok(false);
        }
        inner.sessions.insert(session.sid.clone(), session.clone());
        inner.codes.insert(code.digest.clone(), code.clone());
        Ok(true)
    }

    async fn save_code(&self, code: &AuthorizationCode) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        if inner.codes.contains_key(&code.digest) {
            return Err(StoreError::Conflict);
        }
        if revoked_since_login(&inner, code, UnixTime::now()) {
            return Ok(false);
        }
        inner.codes.insert(code.digest.clone(), code.clone());
        Ok(true)
    }

    async fn code(&self, digest: &str) -> StoreResult<Option<AuthorizationCode>> {
        Ok(live(self.lock()?.codes.get(digest), |c| c.expires_at, UnixTime::now()).cloned())
    }

    async fn redeem_code(
        &self,
        code: &AuthorizationCode,
        family: &FamilyRecord,
        now: UnixTime,
    ) -> StoreResult<Redemption> {
        let mut inner = self.lock()?;
        let stored = live(inner.codes.get(&code.digest), |c| c.expires_at, now).cloned();
        match stored {
            Some(stored) if stored.redeemed_by.is_none() && now < stored.valid_until => {}
            Some(stored) => return Ok(Redemption::Spent(stored.redeemed_by)),
            None => return Ok(Redemption::Spent(None)),
        }
        if live(inner.sessions.get(&family.sid), |s| s.expires_at, now).is_none() {
            return Ok(Redemption::SessionGone);
        }
        if revoked_since_login(&inner, code, now) {
            return Ok(Redemption::SessionGone);
        }
        if inner.families.contains_key(&family.fid) {
            return Err(StoreError::Conflict);
        }
        if let Some(stored) = inner.codes.get_mut(&code.digest) {
            stored.redeemed_by = Some(family.fid.clone());
        }
        if let Some(session) = inner.sessions.get_mut(&family.sid) {
            session.client_ids.insert(family.client_id.clone());
        }
        inner.families.insert(family.fid.clone(), family.clone());
        Ok(Redemption::Redeemed)
    }
}

#[async_trait]
impl RevocationRead for MemoryStore {
    async fn revocation_status(&self, query: &RevocationQuery) -> StoreResult<RevocationStatus> {
        let now = UnixTime::now();
        let inner = self.lock()?;
        let m = &inner.markers;
        let marked = |expires_at: Option<&UnixTime>| live(expires_at, |e| *e, now).is_some();
        let line_crossed = |line: Option<&(UnixTime, UnixTime)>, issued_at: &UnixTime| {
            live(line, |(_, exp)| *exp, now).is_some_and(|(not_before, _)| issued_at < not_before)
        };
        let subject_revoked =
            query.subject.as_ref().is_some_and(|(sub, issued_at)| line_crossed(m.subjects.get(sub), issued_at));
        let client_removed =
            query.client.as_ref().is_some_and(|(id, issued_at)| line_crossed(m.clients.get(id), issued_at));
        let user_refused = query.username.as_ref().is_some_and(|name| inner.users.get(name).is_none_or(|u| u.disabled));
        let found = [
            (query.jti.as_ref().is_some_and(|jti| marked(m.tokens.get(jti))), RevocationReason::TokenRevoked),
            (query.fid.as_ref().is_some_and(|fid| marked(m.families.get(fid))), RevocationReason::FamilyRevoked),
            (query.sid.as_ref().is_some_and(|sid| marked(m.sessions.get(sid))), RevocationReason::SessionRevoked),
            (subject_revoked, RevocationReason::SubjectRevoked),
            (client_removed, RevocationReason::ClientRemoved),
            (user_refused, RevocationReason::UserDisabled),
        ];
        Ok(RevocationStatus::from_reasons(found.into_iter().filter(|(hit, _)| *hit).map(|(_, reason)| reason)))
    }
}

#[async_trait]
impl UserAdmin for MemoryStore {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        let mut inner = self.lock()?;
        if inner.users.contains_key(&user.username) {
            return Err(StoreError::Conflict);
        }
        inner.users.insert(user.username.clone(), user.clone());
        Ok(())
    }

    async fn replace_user(&self, user: &UserRecord) -> StoreResult<()> {
        let mut inner = self.lock()?;
        match inner.users.get_mut(&user.username) {
            Some(existing) => {
                *existing = user.clone();
                Ok(())
            }
            None => Err(StoreError::Conflict),
        }
    }
}

#[async_trait]
impl SessionWrite for MemoryStore {
    async fn begin_session(&self, session: &SessionRecord, family: &FamilyRecord) -> StoreResult<()> {
        let mut inner = self.lock()?;
        if inner.sessions.contains_key(&session.sid) || inner.families.contains_key(&family.fid) {
            return Err(StoreError::Conflict);
        }
        inner.sessions.insert(session.sid.clone(), session.clone());
        inner.families.insert(family.fid.clone(), family.clone());
        Ok(())
    }
}

#[async_trait]
impl FamilyRead for MemoryStore {
    async fn family(&self, fid: &FamilyId) -> StoreResult<Option<FamilyRecord>> {
        let now = UnixTime::now();
        Ok(live(self.lock()?.families.get(fid), |f| f.expires_at, now).cloned())
    }
}

#[async_trait]
impl FamilyWrite for MemoryStore {
    async fn rotate(&self, rotation: &Rotation) -> StoreResult<RotationOutcome> {
        let mut inner = self.lock()?;
        let now = rotation.now;
        let guard = &rotation.guard;
        let family = live(inner.families.get(&rotation.family), |f| f.expires_at, now);
        let family_ok = family.is_some_and(|f| {
            f.status == FamilyStatus::Active
                && match rotation.kind {
                    RotationKind::Advance { from } => {
                        f.generation == from && (rotation.bind_dpop_jkt.is_none() || f.dpop_jkt.is_none())
                    }
                    RotationKind::Grace { current, rotated_since } => {
                        f.generation == current && f.rotated_at >= rotated_since
                    }
                }
        });
        if !family_ok {
            return Ok(RotationOutcome::FamilyChanged(family.cloned()));
        }
        let user_ok = inner.users.get(&guard.username).is_some_and(|u| u.sub == guard.sub && !u.disabled);
        if !user_ok {
            return Ok(RotationOutcome::UserRefused);
        }
        let markers = &inner.markers;
        let subject_revoked = live(markers.subjects.get(&guard.sub), |(_, exp)| *exp, now)
            .is_some_and(|(not_before, _)| guard.family_created_at < *not_before);
        if subject_revoked {
            return Ok(RotationOutcome::SubjectRevoked);
        }
        if live(markers.sessions.get(&guard.sid), |exp| *exp, now).is_some() {
            return Ok(RotationOutcome::SessionRevoked);
        }
        if live(markers.families.get(&rotation.family), |exp| *exp, now).is_some() {
            return Ok(RotationOutcome::FamilyRevoked);
        }
        if let (RotationKind::Advance { from }, Some(f)) = (rotation.kind, inner.families.get_mut(&rotation.family)) {
            f.generation = from + 1;
            f.rotated_at = now;
            if let Some(jkt) = &rotation.bind_dpop_jkt {
                f.dpop_jkt = Some(jkt.clone());
            }
        }
        Ok(RotationOutcome::Committed)
    }

    async fn revoke_family(
        &self,
        fid: &FamilyId,
        revoked_at: UnixTime,
        reason: RevocationCause,
        marker_expires_at: UnixTime,
    ) -> StoreResult<FamilyRevocation> {
        let mut inner = self.lock()?;
        let now = UnixTime::now();
        match inner.families.get_mut(fid).filter(|family| !family.expires_at.has_passed(now)) {
            Some(family) => family.status = FamilyStatus::Revoked,
            None => return Ok(FamilyRevocation::FamilyAbsent),
        }
        let marker = Marker::Family { fid: fid.clone(), revoked_at, reason, expires_at: marker_expires_at };
        put(&mut inner.markers, &marker);
        Ok(FamilyRevocation::Revoked)
    }
}

#[async_trait]
impl FeedLog for MemoryStore {
    async fn feed_shard(&self, shard: u8, from: UnixMillis, limit: usize) -> StoreResult<ShardRead> {
        let inner = self.lock()?;
        let mut records: Vec<&LogRecord> =
            inner.markers.log.values().filter(|r| feed::shard_of(&r.key) == shard && r.stamp >= from).collect();
        records.sort_by(|a, b| (a.stamp, &a.key).cmp(&(b.stamp, &b.key)));
        let mut cut = WholeBuckets::new(limit);
        for record in records {
            if !cut.offer(record.clone()) {
                break;
            }
        }
        Ok(cut.finish())
    }
}

#[async_trait]
impl OneTimeUse for MemoryStore {
    async fn use_once(&self, id: &OneTimeId, expires_at: UnixTime) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        let now = UnixTime::now();
        if live(inner.used_once.get(id), |at| *at, now).is_some() {
            return Ok(false);
        }
        inner.used_once.insert(id.clone(), expires_at);
        Ok(true)
    }
}

#[async_trait]
impl MarkerWrite for MemoryStore {
    async fn put_marker(&self, marker: &Marker) -> StoreResult<()> {
        put(&mut self.lock()?.markers, marker);
        Ok(())
    }
}

/// Write a marker and, as the same write, its feed record (as `DynamoStore` does).
fn put(markers: &mut Markers, marker: &Marker) {
    if let Marker::Subject { sub, not_before, .. } = marker
        && markers.subjects.get(sub).is_some_and(|(line, _)| line > not_before)
    {
        // A later revoke-all never moves the line back: nothing is written.
        return;
    }
    let entry = feed::entry_of(marker);
    let key = format!("{}#{}", entry.kind.as_str(), entry.value);
    markers.log.insert(key.clone(), LogRecord { stamp: UnixMillis::now(), key, entry });
    match marker {
        Marker::Token { jti, expires_at } => {
            markers.tokens.insert(jti.clone(), *expires_at);
        }
        Marker::Family { fid, expires_at, .. } => {
            markers.families.insert(fid.clone(), *expires_at);
        }
        Marker::Session { sid, expires_at, .. } => {
            markers.sessions.insert(sid.clone(), *expires_at);
        }
        Marker::Subject { sub, not_before, expires_at } => {
            markers.subjects.insert(sub.clone(), (*not_before, *expires_at));
        }
        Marker::Client { client_id, not_before, expires_at } => {
            markers.clients.insert(client_id.clone(), (*not_before, *expires_at));
        }
    }
}

#[async_trait]
impl SessionRead for MemoryStore {
    async fn session(&self, sid: &Sid) -> StoreResult<Option<SessionRecord>> {
        let now = UnixTime::now();
        Ok(live(self.lock()?.sessions.get(sid), |s| s.expires_at, now).cloned())
    }

    async fn sessions_of(&self, sub: &Subject) -> StoreResult<Vec<SessionRecord>> {
        let now = UnixTime::now();
        let mut found: Vec<SessionRecord> = self
            .lock()?
            .sessions
            .values()
            .filter(|s| &s.sub == sub && !s.expires_at.has_passed(now))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.sid.cmp(&b.sid));
        Ok(found)
    }
}

#[async_trait]
impl SessionEnd for MemoryStore {
    async fn end_session(&self, sid: &Sid, marker: &Marker, deliveries: &[DeliveryRecord]) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        if inner.sessions.remove(sid).is_none() {
            return Ok(false);
        }
        put(&mut inner.markers, marker);
        for delivery in deliveries {
            inner.deliveries.insert(delivery.id.clone(), delivery.clone());
        }
        Ok(true)
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn save_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()> {
        self.lock()?.deliveries.insert(delivery.id.clone(), delivery.clone());
        Ok(())
    }

    async fn delivery(&self, id: &str) -> StoreResult<Option<DeliveryRecord>> {
        Ok(live(self.lock()?.deliveries.get(id), |d| d.expires_at, UnixTime::now()).cloned())
    }

    async fn due_deliveries(&self, now: UnixTime, limit: usize) -> StoreResult<Vec<DeliveryRecord>> {
        let mut due: Vec<DeliveryRecord> = self
            .lock()?
            .deliveries
            .values()
            .filter(|d| {
                d.status == DeliveryStatus::Pending && d.next_attempt_at <= now && !d.expires_at.has_passed(now)
            })
            .cloned()
            .collect();
        due.sort_by_key(|d| (d.next_attempt_at, d.id.clone()));
        due.truncate(limit);
        Ok(due)
    }

    async fn claim_delivery(&self, delivery: &DeliveryRecord, lease_until: UnixTime) -> StoreResult<bool> {
        let mut inner = self.lock()?;
        match inner.deliveries.get_mut(&delivery.id) {
            Some(d) if d.status == DeliveryStatus::Pending && d.attempts == delivery.attempts => {
                d.attempts += 1;
                d.next_attempt_at = lease_until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::testing::behaviour;

    #[tokio::test]
    async fn memory_store_passes_the_behaviour_suite() {
        behaviour::run_all(&MemoryStore::new()).await;
    }
}
