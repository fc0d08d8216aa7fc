//! Fault injection. Two hooks on the decorated store:
//! * [`Plan`]: a function of the store method's name, for a test that wants one fault
//!   at one place;
//! * [`Schedule`]: a list of [`Fault`]s taken one per store call in call order, for the
//!   property tests that drive the services through every schedule proptest finds.

use super::decorated::{Call, Decorated, Hook, Injected};
use crate::store::StoreError;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The plan: given the store method's name, what happens to this call.
pub struct Plan(Box<dyn Fn(&'static str) -> Injected + Send + Sync>);

impl Hook for Plan {
    fn before(&self, call: Call) -> Injected {
        (self.0)(call.op)
    }
}

pub type Faulty<S> = Decorated<S, Plan>;

impl<S> Decorated<S, Plan> {
    pub fn with_plan(inner: Arc<S>, plan: impl Fn(&'static str) -> Injected + Send + Sync + 'static) -> Self {
        Decorated { inner, hook: Plan(Box::new(plan)) }
    }
}

/// What DynamoDB or the network does to one call, as the services see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Throttling, a 5xx, a timeout before the request landed, or batch keys still
    /// unprocessed after the store's own retries: nothing happened.
    Unavailable,
    /// A timeout after DynamoDB applied the call: it happened, its answer is lost.
    LostAnswer,
    /// `TransactionConflict`: cancelled by a concurrent transaction, nothing written.
    TransactionConflict,
    /// A condition check failed (a concurrent writer got there first), with or without
    /// the item's current state in the answer.
    ConditionFailed {
        with_item: bool,
    },
}

/// Store calls that write under a condition or in a transaction: the only ones a
/// conflict or a lost condition can happen to. The rest (reads, unconditional puts, and
/// the puts whose lost condition means "already there") only see outages.
const CONDITIONAL: &[&str] = &[
    "rotate",
    "redeem_code",
    "complete_login",
    "save_code",
    "revoke_family",
    "claim_delivery",
    "begin_session",
    "end_session",
    "create_user",
    "create_client",
    "remove_client",
];

/// Faults taken in call order; once the list is spent every call proceeds. Every call is
/// logged with what was done to it.
#[derive(Default)]
pub struct Schedule {
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<(&'static str, Fault)>>,
}

impl Schedule {
    pub fn new(faults: impl IntoIterator<Item = Fault>) -> Self {
        Self { faults: Mutex::new(faults.into_iter().collect()), log: Mutex::default() }
    }
}

impl Hook for Schedule {
    fn before(&self, call: Call) -> Injected {
        let drawn = self.faults.lock().ok().and_then(|mut f| f.pop_front()).unwrap_or(Fault::None);
        let conditional = CONDITIONAL.contains(&call.op);
        let (fault, injected) = match drawn {
            Fault::None => (Fault::None, Injected::Proceed),
            Fault::Unavailable => (drawn, Injected::Fail(StoreError::Unavailable("injected: throttled".into()))),
            Fault::LostAnswer => {
                (drawn, Injected::FailAfter(StoreError::Unavailable("injected: timeout after commit".into())))
            }
            Fault::TransactionConflict if conditional => (drawn, Injected::Contended),
            Fault::ConditionFailed { with_item } if conditional => (drawn, Injected::ConditionLost { with_item }),
            // Nothing a read or a plain put can suffer.
            Fault::TransactionConflict | Fault::ConditionFailed { .. } => (Fault::None, Injected::Proceed),
        };
        if let Ok(mut log) = self.log.lock() {
            log.push((call.op, fault));
        }
        injected
    }
}

pub type Scheduled<S> = Decorated<S, Schedule>;

impl<S> Decorated<S, Schedule> {
    pub fn scheduled(inner: Arc<S>) -> Self {
        Decorated { inner, hook: Schedule::default() }
    }

    /// From now on, these faults in call order (replacing what was left).
    pub fn set_schedule(&self, faults: impl IntoIterator<Item = Fault>) {
        if let Ok(mut queue) = self.hook.faults.lock() {
            *queue = faults.into_iter().collect();
        }
    }

    /// The calls since the last `take_log`, each with the fault it got.
    pub fn take_log(&self) -> Vec<(&'static str, Fault)> {
        self.hook.log.lock().map(|mut log| std::mem::take(&mut *log)).unwrap_or_default()
    }
}
