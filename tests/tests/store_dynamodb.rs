//! The DynamoDB store passes the same behaviour suite as the in-memory one, against a
//! DynamoDB-compatible server (moto) over HTTP.

use shared::testing::behaviour;

#[tokio::test]
async fn dynamodb_store_passes_the_behaviour_suite() {
    let store = tests::fresh_table_store().await;
    behaviour::run_all(&store).await;
}

#[tokio::test]
async fn creating_the_table_twice_keeps_it() {
    let store = tests::fresh_table_store().await;
    let again = shared::store::dynamo::schema::create_table(store.sdk_client(), store.table()).await.unwrap();
    assert!(!again, "the second create reports an existing table");
}
