//! Identifier types. Each one is its own type so that a `Sid` can never be passed where a
//! `Jti` is expected: such a mix-up would be a revocation bug, not a typo.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::fmt;

/// 128 random bits, base64url: unguessable identifiers for tokens, sessions and families.
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// Random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system RNG failing leaves no safe way to mint anything; aborting the instance
    // is the fail-closed answer, and Lambda starts a fresh one.
    SystemRandom::new().fill(&mut bytes).unwrap_or_else(|_| std::process::abort());
    bytes
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn random() -> Self {
                Self(random_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An OAuth client (RFC 6749 §2.2).
    ClientId
);
id_type!(
    /// A JWT ID (RFC 7519 §4.1.7): the key of a per-token denylist entry.
    Jti
);
id_type!(
    /// A login session (OIDC `sid`): what logout ends.
    Sid
);
id_type!(
    /// A refresh-token family: one login of one client, rotated generation by generation.
    FamilyId
);
id_type!(
    /// The stable subject identifier of a user (`sub`), distinct from the login name.
    Subject
);
id_type!(
    /// One registration of a client id. Removing a client and adding one with the same id
    /// makes a new registration: families bound to the old one never rotate again.
    ClientEpoch
);
