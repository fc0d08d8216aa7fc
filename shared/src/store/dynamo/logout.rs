//! Ending sessions and the durable back-channel logout deliveries.

use super::codec::{self, Item, Key, n, s};
use super::{DynamoStore, built, classify, lost_condition};
use crate::domain::{DeliveryRecord, DeliveryStatus, Marker};
use crate::ids::Sid;
use crate::store::{DeliveryStore, SessionEnd, StoreResult};
use crate::time::UnixTime;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

/// DynamoDB's limit of items in one transaction.
const TRANSACTION_ITEMS: usize = 100;

#[async_trait]
impl SessionEnd for DynamoStore {
    async fn end_session(&self, sid: &Sid, marker: &Marker, deliveries: &[DeliveryRecord]) -> StoreResult<bool> {
        let put = built(Put::builder().table_name(&self.table).set_item(Some(self.marker_item(marker).0)).build())?;
        let delete = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Key::session(sid).into_map()))
                // Exactly one call ends a session and tells its RPs.
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        // A session of more RPs than one transaction holds (an unlikely hundred) has the
        // rest of its deliveries written first: at worst an RP hears of a logout that then
        // fails, which errs toward logging out.
        let in_transaction = deliveries.len().min(TRANSACTION_ITEMS - 2);
        let (before, within) = deliveries.split_at(deliveries.len() - in_transaction);
        for delivery in before {
            self.save_delivery(delivery).await?;
        }
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build());
        for delivery in within {
            let item = Item::from_delivery(delivery).0;
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .put(built(Put::builder().table_name(&self.table).set_item(Some(item)).build())?)
                    .build(),
            );
        }
        match transaction.send().await {
            Ok(_) => Ok(true),
            Err(err) if lost_condition(&err) => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }
}

impl DynamoStore {
    async fn due_in_shard(&self, shard: u32, now: UnixTime, limit: usize) -> StoreResult<Vec<DeliveryRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(super::schema::SUBJECT_INDEX)
            .key_condition_expression("gsi1pk = :pending AND gsi1sk <= :due")
            .expression_attribute_values(":pending", AttributeValue::S(codec::pending_partition(shard)))
            .expression_attribute_values(":due", AttributeValue::S(codec::due_key(now)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        let mut due = Vec::new();
        for item in out.items.unwrap_or_default().into_iter().map(Item) {
            // Expired items are absent (TTL is lazy), like every other read.
            if !item.expires_at()?.is_some_and(|at| at.has_passed(now)) {
                due.push(item.to_delivery()?);
            }
        }
        Ok(due)
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn save_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Item::from_delivery(delivery).0))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delivery(&self, id: &str) -> StoreResult<Option<DeliveryRecord>> {
        self.get_live(Key::delivery(id)).await?.map(|item| item.to_delivery()).transpose()
    }

    /// One query per shard of the pending index, all at once; the oldest `limit` of them.
    async fn due_deliveries(&self, now: UnixTime, limit: usize) -> StoreResult<Vec<DeliveryRecord>> {
        let shards = (0..codec::PENDING_SHARDS).map(|shard| self.due_in_shard(shard, now, limit));
        let mut due = Vec::new();
        for shard in futures::future::join_all(shards).await {
            due.extend(shard?);
        }
        due.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn claim_delivery(&self, delivery: &DeliveryRecord, lease_until: UnixTime) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Key::delivery(&delivery.id).into_map()))
            .update_expression("SET attempts = :next, next_attempt_at = :lease, gsi1sk = :lease_key")
            .condition_expression("attempts = :seen AND #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":seen", n(u64::from(delivery.attempts)))
            .expression_attribute_values(":next", n(u64::from(delivery.attempts) + 1))
            .expression_attribute_values(":lease", n(lease_until.0))
            .expression_attribute_values(":lease_key", s(codec::delivery_index_key(lease_until, &delivery.id)))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }
}
