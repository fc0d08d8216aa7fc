//! OAuth clients as registered (`tokenctl client add`). Secrets appear only hashed.

use crate::domain::{Scope, SigningAlgorithm};
use crate::ids::{ClientEpoch, ClientId};
use crate::secrets::ClientSecretHash;
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

/// Per-client overrides of the configured lifetimes, in seconds (resolved by
/// `policy::Lifetimes::for_client`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientLifetimes {
    pub access_token: Option<u64>,
    pub refresh_absolute: Option<u64>,
    pub refresh_idle: Option<u64>,
    pub refresh_grace: Option<u64>,
}

/// The algorithms a client registered for its tokens (OIDC Registration §2
/// `id_token_signed_response_alg`); `None` takes the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientSigning {
    /// Its access tokens: the deployment's `SIGNING_ALG` (ES256) when unset.
    pub access_token: Option<SigningAlgorithm>,
    /// Its ID tokens and logout tokens: RS256 when unset (OIDC Registration §2).
    pub id_token: Option<SigningAlgorithm>,
}

/// A registered client. Its invariants are `policy`'s (`ClientRecord::validate`), checked
/// by every writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: ClientId,
    /// This registration of the id: kept by a replacement, new after a removal.
    pub epoch: ClientEpoch,
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
    pub signing: ClientSigning,
}

impl ClientRecord {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn access_token_alg(&self, default: SigningAlgorithm) -> SigningAlgorithm {
        self.signing.access_token.unwrap_or(default)
    }

    /// OIDC Registration §2: RS256 unless the client registered another.
    pub fn id_token_alg(&self) -> SigningAlgorithm {
        self.signing.id_token.unwrap_or(SigningAlgorithm::Rs256)
    }
}
