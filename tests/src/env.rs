//! Where the stack under test lives (set by `make test`), and its stores.

use shared::config::Config;
use shared::ids::random_id;
use shared::store::dynamo::{DynamoStore, schema};

pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests with `make test`, which starts moto and cargo lambda watch")
    })
}

/// The DynamoDB store the functions under test use (same table, same endpoint).
pub async fn stack_store() -> DynamoStore {
    DynamoStore::connect(&store_config(&required_env("TABLE_NAME")).aws).await
}

/// The outage stack's store (before the test stops it).
pub async fn outage_store() -> DynamoStore {
    DynamoStore::connect(&config_at(&required_env("OUTAGE_DYNAMODB_ENDPOINT")).aws).await
}

/// The stack's configuration, with DynamoDB at `endpoint` instead.
pub fn config_at(endpoint: &str) -> Config {
    let endpoint = endpoint.to_string();
    Config::from_lookup(move |name| match name {
        "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

/// The stack's configuration with Secrets Manager at the stack's moto too (moto serves
/// every AWS service on one port).
pub fn secrets_config() -> Config {
    let endpoint = required_env("DYNAMODB_ENDPOINT");
    Config::from_lookup(move |name| match name {
        "SECRETS_MANAGER_ENDPOINT" => Some(endpoint.clone()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

/// The race tests' own DynamoDB (see infra/test.sh), with time budgets for an emulator
/// that applies requests one at a time: fifty concurrent transactions queue there for
/// seconds, where DynamoDB would run them side by side.
pub fn race_config() -> Config {
    let endpoint = required_env("RACE_DYNAMODB_ENDPOINT");
    Config::from_lookup(move |name| match name {
        "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
        "STORE_ATTEMPT_TIMEOUT_MS" => Some("20000".into()),
        "STORE_OPERATION_TIMEOUT_MS" => Some("40000".into()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

/// A table of its own, for store tests that must not see other tests' items.
pub async fn fresh_table_store() -> DynamoStore {
    let store = DynamoStore::connect(&store_config(&format!("test-{}", random_id())).aws).await;
    schema::create_table(store.sdk_client(), store.table()).await.expect("create table");
    store
}

fn store_config(table: &str) -> Config {
    let table = table.to_string();
    Config::from_lookup(move |name| match name {
        "TABLE_NAME" => Some(table.clone()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

/// Every event named `event` the stack's functions have logged so far (their JSON log
/// lines' `fields`), from the log file `make test` names in `E2E_FUNCTION_LOG`.
pub fn logged_events(event: &str) -> Vec<serde_json::Value> {
    let path = required_env("E2E_FUNCTION_LOG");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|line| line["fields"].clone())
        .filter(|fields| fields["event"] == event)
        .collect()
}
