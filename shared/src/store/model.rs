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
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| format!("unknown grant type {s:?}"))
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
