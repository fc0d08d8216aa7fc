//! Test support, compiled only for this crate's tests and for crates that enable the
//! `testing` feature (the integration tests, the benchmarks): never in a function binary.
//!
//! * `kit`: one configuration, one way to make a client, a session or a token's claims;
//! * `memory`: the in-memory twin of the DynamoDB store;
//! * `decorated`: one delegating store wrapper with a hook per call; `counting` (round
//!   trips, for the budgets) and `faults` (injected failures) are its hooks;
//! * `behaviour`: the behaviour every store must show;
//! * `costs`: DynamoDB capacity per call, for the cost table;
//! * `rp`: a relying party on loopback for back-channel logout.

pub mod behaviour;
pub mod costs;
pub mod counting;
pub mod decorated;
pub mod dpop;
pub mod faults;
pub mod kit;
pub mod memory;
pub mod rp;
