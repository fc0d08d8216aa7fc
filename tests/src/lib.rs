//! Helpers for tests that talk to the real local stack over HTTP: moto (DynamoDB) and
//! `cargo lambda watch` (the functions). `make test` starts both and exports where they
//! are; run outside it, these tests stop with a message saying so.
//!
//! * `env`: where the stack is, and its stores and configurations;
//! * `http`: the stack's endpoints over HTTP;
//! * `seed`: clients and users registered for one test;
//! * `rp`: relying parties on loopback (PyJWT receivers);
//! * `apigw`, `lambda_runtime`, `template`, `recorder`: the deployment contract's parts;
//! * `fault_proxy`: an unreliable AWS in front of moto, which also records every call;
//! * `iam`: the IAM check moto does not make, of recorded calls against a policy.

pub mod apigw;
mod env;
pub mod fault_proxy;
mod http;
pub mod iam;
pub mod lambda_runtime;
pub mod recorder;
mod rp;
mod seed;
pub mod template;

pub use env::*;
pub use http::*;
pub use rp::*;
pub use seed::*;
