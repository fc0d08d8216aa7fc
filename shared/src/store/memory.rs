//! The in-memory twin of the DynamoDB store, for fast unit tests of logic. It passes the
//! same behaviour tests (`store::behaviour`) as the real one.

use super::*;
use crate::time::UnixTime;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<ClientId, ClientRecord>,
    users: HashMap<String, UserRecord>,
    sessions: HashMap<Sid, SessionRecord>,
    families: HashMap<FamilyId, FamilyRecord>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Inner>> {
        // A poisoned lock means a test panicked mid-write; report it like an outage.
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store poisoned".into()))
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
    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.lock()?
            .clients
            .insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn remove_client(&self, id: &ClientId) -> StoreResult<bool> {
        Ok(self.lock()?.clients.remove(id).is_some())
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        let mut all: Vec<ClientRecord> = self.lock()?.clients.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }
}

#[async_trait]
impl UserRead for MemoryStore {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self.lock()?.users.get(username).cloned())
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
    async fn begin_session(
        &self,
        session: &SessionRecord,
        family: &FamilyRecord,
    ) -> StoreResult<()> {
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
impl SessionRead for MemoryStore {
    async fn session(&self, sid: &Sid) -> StoreResult<Option<SessionRecord>> {
        let now = UnixTime::now();
        Ok(self
            .lock()?
            .sessions
            .get(sid)
            .filter(|s| !s.expires_at.has_passed(now))
            .cloned())
    }

    async fn family(&self, fid: &FamilyId) -> StoreResult<Option<FamilyRecord>> {
        let now = UnixTime::now();
        Ok(self
            .lock()?
            .families
            .get(fid)
            .filter(|f| !f.expires_at.has_passed(now))
            .cloned())
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

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::behaviour;

    #[tokio::test]
    async fn memory_store_passes_the_behaviour_suite() {
        behaviour::run_all(&MemoryStore::new()).await;
    }
}
