//! The revocation feed's log: a query of one feed partition of the index, from an
//! instant on (docs/ARCHITECTURE.md §3.11). The index is eventually consistent, which
//! the feed's cursor allows for (`feed::page`).

use super::codec::{self, Item};
use super::{DynamoStore, classify};
use crate::feed::{ShardRead, WholeBuckets};
use crate::store::{FeedLog, StoreResult};
use crate::time::UnixMillis;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

/// What a feed read returns of each marker; the IAM policies of the functions that read
/// the feed allow exactly these attributes.
pub(crate) const FEED_PROJECTION: &str = "#pk, #gsi1sk, #expires_at, #not_before";

#[async_trait]
impl FeedLog for DynamoStore {
    async fn feed_shard(&self, shard: u8, from: UnixMillis, limit: usize) -> StoreResult<ShardRead> {
        let mut cut = WholeBuckets::new(limit);
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(super::schema::SUBJECT_INDEX)
                .key_condition_expression("gsi1pk = :shard AND gsi1sk >= :from")
                .expression_attribute_values(":shard", AttributeValue::S(codec::feed_partition(shard)))
                .expression_attribute_values(":from", AttributeValue::S(codec::feed_from_key(from)))
                .projection_expression(FEED_PROJECTION)
                .set_expression_attribute_names(Some(codec::projection_names(FEED_PROJECTION)))
                // One more than the limit: enough to know whether the bucket ends there.
                .limit(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in out.items.unwrap_or_default().into_iter().map(Item) {
                if !cut.offer(item.to_log_record()?) {
                    return Ok(cut.finish());
                }
            }
            match out.last_evaluated_key {
                // A bucket larger than one query's page: read on to its end.
                Some(key) => start = Some(key),
                None => return Ok(cut.finish()),
            }
        }
    }
}
