//! A login: the session (what logout ends) and its refresh-token family (one login of
//! one client, rotated generation by generation), and the rotation of a family.

use crate::domain::Scope;
use crate::ids::{ClientEpoch, ClientId, FamilyId, Sid, Subject};
use crate::time::UnixTime;
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub sid: Sid,
    pub sub: Subject,
    /// Every client that holds tokens of this session: the back-channel logout audience.
    pub client_ids: BTreeSet<ClientId>,
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
    /// A session begun on the login page: what its browser cookie proves. Read only
    /// through the session's own item (`SessionRead::session`), never the index.
    pub browser: Option<super::BrowserLogin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyStatus {
    Active,
    Revoked,
}

impl FamilyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyRecord {
    pub fid: FamilyId,
    pub sid: Sid,
    pub sub: Subject,
    /// The user's login name: the key of the user item a refresh re-checks (disabled?).
    pub username: String,
    pub client_id: ClientId,
    /// The client's registration at login: a family never outlives it.
    pub client_epoch: ClientEpoch,
    pub scope: Scope,
    /// The only generation whose refresh token is live.
    pub generation: u32,
    pub created_at: UnixTime,
    pub rotated_at: UnixTime,
    pub status: FamilyStatus,
    /// The absolute end of the family: after it nothing issued from it can be valid.
    pub expires_at: UnixTime,
    /// The DPoP key (RFC 7638 thumbprint) a public client's family is bound to: every
    /// refresh must come with a proof by that key (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

/// What a refresh re-checks atomically with its write: the user may not be disabled, and
/// no revoke-all of the subject or logout of the session may have happened since login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginGuard {
    pub username: String,
    pub sub: Subject,
    pub sid: Sid,
    pub family_created_at: UnixTime,
}

impl LoginGuard {
    pub fn of(family: &FamilyRecord) -> Self {
        Self {
            username: family.username.clone(),
            sub: family.sub.clone(),
            sid: family.sid.clone(),
            family_created_at: family.created_at,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationKind {
    /// Advance the family from generation `from` to `from + 1`.
    Advance { from: u32 },
    /// Answer again for a token rotated at or after `rotated_since`: the family must
    /// still be at `current` (the successor's generation). Nothing advances.
    Grace { current: u32, rotated_since: UnixTime },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub family: FamilyId,
    pub kind: RotationKind,
    pub now: UnixTime,
    pub guard: LoginGuard,
    /// An advance that binds a public client's unbound family to the DPoP key of the
    /// request (RFC 9449 §5): written with the advance, only if no key is bound yet.
    pub bind_dpop_jkt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
// Returned once per refresh and matched at once: boxing the family would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum RotationOutcome {
    Committed,
    /// The family was not as expected (another rotation, a revoke, expiry); its state
    /// at that moment, if it still exists.
    FamilyChanged(Option<FamilyRecord>),
    UserRefused,
    SubjectRevoked,
    SessionRevoked,
    /// The family's denylist marker exists: a revocation whose family update was lost
    /// (a cancelled transaction) still stops the family.
    FamilyRevoked,
    /// DynamoDB cancelled the transaction because another one touched the same items;
    /// nothing was written and the caller may start over.
    Contended,
}

/// What a family revocation's one transaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyRevocation {
    /// The family item is revoked and its marker written.
    Revoked,
    /// There is no family item (expired, or TTL removed it): nothing was written.
    FamilyAbsent,
}
