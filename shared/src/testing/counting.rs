//! A store wrapper that counts calls. Every store method is one DynamoDB request (the
//! paginated listings and the sharded pending-delivery query aside, and batch reads retry
//! unprocessed keys within one call), so the count is the round-trip count the budgets in
//! docs/ARCHITECTURE.md §5 speak of; it is deterministic, so tests may assert it.

use super::decorated::{Call, Decorated, Hook, Injected};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub struct CallCount(AtomicUsize);

impl Hook for CallCount {
    fn before(&self, _call: Call) -> Injected {
        self.0.fetch_add(1, Ordering::SeqCst);
        Injected::Proceed
    }
}

pub type Counting<S> = Decorated<S, CallCount>;

impl<S> Decorated<S, CallCount> {
    pub fn new(inner: Arc<S>) -> Self {
        Decorated { inner, hook: CallCount::default() }
    }

    pub fn round_trips(&self) -> usize {
        self.hook.0.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.hook.0.store(0, Ordering::SeqCst);
    }
}
