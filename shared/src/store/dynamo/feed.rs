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

impl DynamoStore {
    /// Give every live marker that has no feed entry (one written before the feed
    /// existed) its entry, stamped now: once, after upgrading a table, so that feed
    /// readers see revocations made before the upgrade (`tokenctl table backfill-feed`).
    /// Returns how many markers it stamped. Safe to run again, and beside live traffic: a
    /// marker rewritten meanwhile already has its entry, and is left alone.
    pub async fn backfill_feed(&self) -> StoreResult<usize> {
        let now = crate::time::UnixTime::now();
        let mut stamped = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :markers) AND attribute_not_exists(gsi1pk) AND expires_at > :now")
                .expression_attribute_values(":markers", AttributeValue::S("REVOKED#".into()))
                .expression_attribute_values(":now", codec::n(now.0))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for key in page.items.unwrap_or_default() {
                let Some(pk) = key.get("pk").and_then(|v| v.as_s().ok()).cloned() else { continue };
                let (partition, sort) = codec::feed_index_keys(&pk, self.feed_stamp());
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression("SET gsi1pk = :partition, gsi1sk = :sort")
                    .condition_expression("attribute_exists(pk) AND attribute_not_exists(gsi1pk)")
                    .expression_attribute_values(":partition", partition)
                    .expression_attribute_values(":sort", sort)
                    .send()
                    .await;
                match result {
                    Ok(_) => stamped += 1,
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(err) => return Err(classify(err)),
                }
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(stamped),
            }
        }
    }
}
