//! Test support, compiled only for this crate's tests and for crates that enable the
//! `testing` feature (the integration tests, the benchmarks): never in a function binary.
//!
//! * `kit`: one configuration, one way to make a client, a session or a token's claims;
//! * `memory`: the in-memory twin of the DynamoDB store;
//! * `counting`: a store wrapper counting round trips, for the budgets;
//! * `behaviour`: the behaviour every store must show.

pub mod behaviour;
pub mod counting;
pub mod kit;
pub mod memory;
