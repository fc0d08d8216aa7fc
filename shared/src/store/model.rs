//! The records the store holds. Secrets appear only in hashed form.

use crate::ids::{ClientId, FamilyId, Sid, Subject};
use crate::oauth::scope::Scope;
use crate::secrets::{ClientSecretHash, PasswordHashString};
use crate::time::UnixTime;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    ClientCredentials,
    Password,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [Self::ClientCredentials, Self::Password, Self::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| format!("unknown grant type {s:?}"))
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-client overrides of the configured lifetimes, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientLifetimes {
    pub access_token: Option<u64>,
    pub refresh_absolute: Option<u64>,
    pub refresh_idle: Option<u64>,
    pub refresh_grace: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: ClientId,
    pub secret_hash: ClientSecretHash,
    pub grant_types: BTreeSet<GrantType>,
    pub scopes: Scope,
    /// The `aud` of this client's access tokens; the issuer when unset.
    pub audience: Option<String>,
    /// A resource server allowed to introspect any token (RFC 7662 §2.1).
    pub may_introspect: bool,
    /// May end every session of a subject.
    pub admin: bool,
    pub backchannel_logout_uri: Option<String>,
    pub lifetimes: ClientLifetimes,
}

impl ClientRecord {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    pub sub: Subject,
    pub password_hash: PasswordHashString,
    pub disabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub sid: Sid,
    pub sub: Subject,
    /// Every client that holds tokens of this session: the back-channel logout audience.
    pub client_ids: BTreeSet<ClientId>,
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
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
    pub scope: Scope,
    /// The only generation whose refresh token is live.
    pub generation: u32,
    pub created_at: UnixTime,
    pub rotated_at: UnixTime,
    pub status: FamilyStatus,
    /// The absolute end of the family: after it nothing issued from it can be valid.
    pub expires_at: UnixTime,
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotationOutcome {
    Committed,
    /// The family was not as expected (another rotation, a revoke, expiry); its state
    /// at that moment, if it still exists.
    FamilyChanged(Option<FamilyRecord>),
    UserRefused,
    SubjectRevoked,
    SessionRevoked,
    /// DynamoDB cancelled the transaction because another one touched the same items;
    /// nothing was written and the caller may start over.
    Contended,
}

/// A revocation marker: the denylist entries every token check consults
/// (ARCHITECTURE.md §4). `expires_at` is when nothing it covers can still be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    Token {
        jti: crate::ids::Jti,
        expires_at: UnixTime,
    },
    Family {
        fid: FamilyId,
        revoked_at: UnixTime,
        reason: String,
        expires_at: UnixTime,
    },
    Session {
        sid: Sid,
        revoked_at: UnixTime,
        reason: String,
        expires_at: UnixTime,
    },
    /// Everything of the subject issued before `not_before` is dead.
    Subject {
        sub: Subject,
        not_before: UnixTime,
        expires_at: UnixTime,
    },
}

/// What a token check asks the denylist: one strongly consistent batch read of at most
/// four markers (ARCHITECTURE.md §4), plus the user for refresh-token introspection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationQuery {
    pub jti: Option<crate::ids::Jti>,
    pub fid: Option<FamilyId>,
    pub sid: Option<Sid>,
    /// The subject and the token's issue time: a revoke-all kills what was issued before it.
    pub subject: Option<(Subject, UnixTime)>,
    /// Also refuse if this user is disabled or gone.
    pub username: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationStatus {
    Clear,
    Revoked(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet; `logout-retry` picks it up at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up: too old, refused by the RP, or the RP no longer registered.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// A back-channel logout that has not (yet) reached its RP: durable, so an RP that is
/// down for a while still learns about the logout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: String,
    pub client_id: ClientId,
    pub sid: Sid,
    pub sub: Subject,
    pub uri: String,
    pub created_at: UnixTime,
    pub attempts: u32,
    pub next_attempt_at: UnixTime,
    pub last_error: Option<String>,
    pub status: DeliveryStatus,
    /// Kept for audit a while after it settles, then TTL removes it.
    pub expires_at: UnixTime,
}
