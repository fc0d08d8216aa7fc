//! What the service is about, independent of how it is stored or spoken on the wire:
//! clients, users, logins (sessions and refresh-token families), revocation markers,
//! back-channel deliveries, failed-authentication counts, scopes and signing algorithms. Both `store` and `oauth` sit
//! above this layer; nothing here reaches up.

mod algorithm;
mod client;
mod client_keys;
mod delivery;
mod login;
mod one_time;
mod revocation;
mod scope;
mod signin;
mod throttle;
mod user;

pub use algorithm::SigningAlgorithm;
pub use client::{BrowserSettings, ClientAuthentication, ClientLifetimes, ClientRecord, ClientSigning, GrantType};
pub use client_keys::{CLIENT_KEY_ALGORITHMS, ClientJwks, InvalidClientJwks, MAX_CLIENT_KEYS, algorithm_of};
pub use delivery::{DeliveryRecord, DeliveryStatus};
pub use login::{
    FamilyRecord, FamilyRevocation, FamilyStatus, LoginGuard, Rotation, RotationKind, RotationOutcome, SessionRecord,
};
pub use one_time::OneTimeId;
pub use revocation::{Marker, RevocationCause, RevocationQuery, RevocationReason, RevocationStatus};
pub use scope::{InvalidScope, Scope};
pub use signin::{AuthorizationCode, AuthorizationRequest, BrowserLogin, Prompt, Redemption};
pub use throttle::{Attempted, FailureCount};
pub use user::{UserProfile, UserRecord};
