//! The table definition, used by `tokenctl table create` and by the tests. The SAM
//! template declares the same table for AWS.

use super::{built, classify};
use crate::store::StoreResult;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

pub const SUBJECT_INDEX: &str = "by_subject";

/// Create the table with its GSI and TTL. Safe to run again: an existing table is kept.
/// Returns whether the table was created by this call.
pub async fn create_table(client: &Client, table: &str) -> StoreResult<bool> {
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let attr =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let index = built(
        GlobalSecondaryIndex::builder()
            .index_name(SUBJECT_INDEX)
            .key_schema(built(key("gsi1pk", KeyType::Hash))?)
            .key_schema(built(key("gsi1sk", KeyType::Range))?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build(),
    )?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(built(key("pk", KeyType::Hash))?)
        .key_schema(built(key("sk", KeyType::Range))?)
        .attribute_definitions(built(attr("pk"))?)
        .attribute_definitions(built(attr("sk"))?)
        .attribute_definitions(built(attr("gsi1pk"))?)
        .attribute_definitions(built(attr("gsi1sk"))?)
        .global_secondary_indexes(index)
        .send()
        .await;
    let created = match created {
        Ok(_) => true,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => false,
        Err(err) => return Err(classify(err)),
    };
    if created {
        let ttl =
            built(TimeToLiveSpecification::builder().attribute_name(super::codec::EXPIRES_AT).enabled(true).build())?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(classify)?;
    }
    Ok(created)
}
