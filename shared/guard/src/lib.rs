//! Accept our RFC 9068 access tokens in any resource server with no network call per
//! request, and refuse revoked ones within about a second (docs/ARCHITECTURE.md §2, §3).
//!
//! Tokens are verified locally against a cached JWKS ([`verify`], [`jwks`]); revocations
//! arrive by polling the token service's revocation feed ([`feed`]) into an in-memory
//! denylist ([`denylist`], [`sync`]). A replica that has not synced for `max_staleness`
//! refuses every token (fail closed).
//!
//! Features: `remote` (default) adds the HTTP clients and [`Guard`]; `tower` (default)
//! adds [`layer::GuardLayer`]. Without them (`default-features = false`) the crate is the
//! core the Lambda authorizer shares: feed types, denylist, replica and sync, claims,
//! verification and the key cache, with no HTTP client.

pub mod bearer;
pub mod claims;
pub mod denylist;
pub mod dpop;
pub mod feed;
pub mod jwk;
pub mod jwks;
pub mod sync;
pub mod verify;

#[cfg(feature = "remote")]
mod guard;
#[cfg(feature = "remote")]
pub mod remote;

#[cfg(feature = "tower")]
pub mod layer;

#[cfg(feature = "remote")]
pub use guard::{Guard, GuardConfig, Presentation, Refusal, StartError};

pub use claims::AccessClaims;

/// Seconds since the Unix epoch by the wall clock (tokens and feed entries use them).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
