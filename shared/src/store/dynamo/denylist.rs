//! The denylist check: one strongly consistent batch read of the markers that could
//! revoke a token (docs/ARCHITECTURE.md §4). A marker past its `expires_at` is ignored, since
//! TTL deletes within days, not seconds.

use super::DynamoStore;
use super::codec::{self, Key};
use crate::domain::{RevocationQuery, RevocationReason, RevocationStatus};
use crate::store::{RevocationRead, StoreResult};
use crate::time::UnixTime;
use async_trait::async_trait;
use std::collections::HashMap;

#[async_trait]
impl RevocationRead for DynamoStore {
    async fn revocation_status(&self, query: &RevocationQuery) -> StoreResult<RevocationStatus> {
        use RevocationReason::*;
        let mut keys: Vec<(Key, RevocationReason)> = Vec::with_capacity(5);
        if let Some(jti) = &query.jti {
            keys.push((Key::token_marker(jti), TokenRevoked));
        }
        if let Some(fid) = &query.fid {
            keys.push((Key::family_marker(fid), FamilyRevoked));
        }
        if let Some(sid) = &query.sid {
            keys.push((Key::session_marker(sid), SessionRevoked));
        }
        if let Some((sub, _)) = &query.subject {
            keys.push((Key::subject_marker(sub), SubjectRevoked));
        }
        if let Some((client_id, _)) = &query.client {
            keys.push((Key::client_marker(client_id), ClientRemoved));
        }
        if let Some(username) = &query.username {
            keys.push((Key::user(username), UserDisabled));
        }
        if keys.is_empty() {
            return Ok(RevocationStatus::Clear);
        }
        let reasons: HashMap<String, RevocationReason> =
            keys.iter().map(|(key, reason)| (key.pk().to_string(), *reason)).collect();
        let found =
            self.batch_get(keys.into_iter().map(|(key, _)| key).collect(), Some(codec::DENYLIST_PROJECTION)).await?;

        let now = UnixTime::now();
        let mut user_seen = false;
        let mut revoked = Vec::new();
        for item in &found {
            let Some(reason) = item.pk().and_then(|pk| reasons.get(pk)).copied() else { continue };
            let applies = match reason {
                UserDisabled => {
                    user_seen = true;
                    item.disabled()?
                }
                _ if item.expires_at()?.is_some_and(|at| at.has_passed(now)) => false,
                // A line: what was issued before `not_before` is dead.
                SubjectRevoked | ClientRemoved => {
                    let issued_at = query.issued_at(reason).unwrap_or(UnixTime(0));
                    item.not_before()?.is_some_and(|not_before| issued_at < not_before)
                }
                TokenRevoked | FamilyRevoked | SessionRevoked => true,
            };
            if applies {
                revoked.push(reason);
            }
        }
        // A user that is gone is as refused as a disabled one.
        if query.username.is_some() && !user_seen {
            revoked.push(UserDisabled);
        }
        // Report in a fixed order, whatever order DynamoDB answered in.
        Ok(RevocationStatus::from_reasons(revoked))
    }
}
