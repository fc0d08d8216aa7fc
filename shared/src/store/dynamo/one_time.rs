//! Single use of DPoP proof and client assertion identifiers: one conditional put per
//! use, kept by TTL until the identifier could no longer be accepted anyway.

use super::codec::{self, Item, Key, n};
use super::{DynamoStore, classify};
use crate::domain::OneTimeId;
use crate::store::{OneTimeUse, StoreResult};
use crate::time::UnixTime;
use async_trait::async_trait;

#[async_trait]
impl OneTimeUse for DynamoStore {
    async fn use_once(&self, id: &OneTimeId, expires_at: UnixTime) -> StoreResult<bool> {
        let mut item = Item::keyed(Key::one_time(id));
        item.set(codec::EXPIRES_AT, n(expires_at.0));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.0))
            // An entry TTL has not deleted yet, but whose time is over, is no use.
            .condition_expression("attribute_not_exists(pk) OR #expires <= :now")
            .expression_attribute_names("#expires", codec::EXPIRES_AT)
            .expression_attribute_values(":now", n(UnixTime::now().0))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }
}
