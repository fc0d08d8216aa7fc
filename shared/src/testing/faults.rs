//! A store wrapper that injects faults: each call is shown to a plan, which lets it
//! through, fails it before it reaches the store, or lets it happen and loses its answer.

use super::decorated::{Call, Decorated, Hook, Injected};
use std::sync::Arc;

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
