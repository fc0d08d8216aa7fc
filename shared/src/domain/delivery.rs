//! Durable back-channel logout deliveries.

use crate::ids::{ClientId, Sid, Subject};
use crate::time::UnixTime;

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
