//! What each store call costs in DynamoDB on-demand capacity, as the DynamoDB
//! implementation makes it: a hook that meters, for the cost table of
//! docs/deployment.md (`make cost-table`), so the table follows the code.
//!
//! The unit rules (DynamoDB on-demand, items under 1 KB read and 4 KB written):
//! * a strongly consistent read of an item, present or not: 1 read unit;
//! * a query of the `by_subject` index (eventually consistent, under 4 KB): 0.5;
//! * a write: 1 write unit, plus 1 for each `by_subject` index entry it writes or deletes
//!   (2 when it moves an entry's sort key);
//! * a transaction: 2 write units per item, condition checks included.

use super::decorated::{Call, Decorated, Hook, Injected};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Units {
    pub requests: u32,
    pub reads: f64,
    pub writes: f64,
}

/// The units one call consumes.
pub fn units_of(call: Call) -> Units {
    let (requests, reads, writes) = match call.op {
        "client" | "user" | "session" | "family" | "delivery" | "authorization" | "code" | "origin_registered" => {
            (1, 1.0, 0.0)
        }
        "save_authorization" => (1, 0.0, 1.0),
        // The code's put and the user's line checked, transactional.
        "save_code" => (1, 0.0, 4.0),
        // Request delete + session put (and its index entry) + code put, transactional.
        "complete_login" => (1, 0.0, 7.0),
        // Code update + family put + session update + the subject-line check,
        // transactional; the session's `by_subject` index entry is rewritten as the client
        // joins (a client already in the session has a condition check instead: one less).
        "redeem_code" => (1, 0.0, 9.0),
        "revocation_status" | "user_for_login" | "client_for_auth" => (1, call.items as f64, 0.0),
        "user_profile_by_subject" | "sessions_of" => (1, 0.5, 0.0),
        // Sixteen shards of the pending index, one query each.
        "due_deliveries" => (16, 8.0, 0.0),
        "create_client" | "put_client" | "record_failure" | "clear_failures" => (1, 0.0, 1.0),
        // One conditional put (a used DPoP proof or client assertion id); a replay's
        // failed condition costs the same unit.
        "use_once" => (1, 0.0, 1.0),
        // Every marker has a feed index entry (docs/ARCHITECTURE.md §3.11).
        "put_marker" => (1, 0.0, 2.0),
        // One feed shard, eventually consistent: half a unit per 4 KB read (a quiet shard
        // reads nothing and still costs the half).
        "feed_shard" => (1, 0.5, 0.0),
        // The user item has a `by_subject` index entry; a pending delivery too.
        "create_user" | "replace_user" | "save_delivery" => (1, 0.0, 2.0),
        // Its index sort key moves: the entry is deleted and written again.
        "claim_delivery" => (1, 0.0, 3.0),
        // Session put + family put, and the session's index entry.
        "begin_session" => (1, 0.0, 5.0),
        // Marker put (and its feed index entry) + session delete, and the session's index
        // entry; then each RP's pending delivery (transaction put + its pending-index
        // entry).
        "end_session" => (1, 0.0, 6.0 + 3.0 * call.items.saturating_sub(2) as f64),
        // Family update + four condition checks (user, subject line, session marker,
        // family marker).
        "rotate" => (1, 0.0, 10.0),
        // Family update (client delete) + marker put, and the marker's feed index entry.
        "revoke_family" | "remove_client" => (1, 0.0, 5.0),
        _ => (1, 0.0, 0.0),
    };
    Units { requests, reads, writes }
}

#[derive(Default)]
pub struct Meter(Mutex<Units>);

impl Hook for Meter {
    fn before(&self, call: Call) -> Injected {
        let units = units_of(call);
        if let Ok(mut total) = self.0.lock() {
            total.requests += units.requests;
            total.reads += units.reads;
            total.writes += units.writes;
        }
        Injected::Proceed
    }
}

pub type Metered<S> = Decorated<S, Meter>;

impl<S> Decorated<S, Meter> {
    pub fn metered(inner: Arc<S>) -> Self {
        Decorated { inner, hook: Meter::default() }
    }

    /// What was consumed since the last call, and start again.
    pub fn take(&self) -> Units {
        self.hook.0.lock().map(|mut total| std::mem::take(&mut *total)).unwrap_or_default()
    }
}
