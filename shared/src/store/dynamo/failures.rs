//! Failed-authentication counts (brute-force throttling): read in the same batch as the
//! user or client they guard, so that the success path costs no extra round trip; counted
//! with one atomic update per failure.

use super::codec::{self, Item, Key, n};
use super::{DynamoStore, classify};
use crate::domain::{Attempted, ClientRecord, FailureCount, UserRecord};
use crate::ids::ClientId;
use crate::policy::FAILURE_MEMORY_SECONDS;
use crate::store::{FailureStore, StoreResult};
use crate::time::UnixTime;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

impl DynamoStore {
    /// The item under `guarded` (a user or client) and the count of `attempted`.
    async fn with_failures(&self, guarded: Key, attempted: &Attempted) -> StoreResult<(Option<Item>, FailureCount)> {
        let guarded_pk = guarded.pk().to_string();
        let items = self.batch_get(vec![guarded, Key::failures(attempted)], None).await?;
        let now = UnixTime::now();
        let (mut found, mut failures) = (None, FailureCount::default());
        for item in items {
            if item.pk() == Some(guarded_pk.as_str()) {
                found = Some(item);
            } else {
                failures = item.to_failures(now)?;
            }
        }
        Ok((found, failures))
    }
}

#[async_trait]
impl FailureStore for DynamoStore {
    async fn user_for_login(&self, username: &str) -> StoreResult<(Option<UserRecord>, FailureCount)> {
        let attempted = Attempted::Username(username.to_string());
        let (user, failures) = self.with_failures(Key::user(username), &attempted).await?;
        Ok((user.map(|item| item.to_user()).transpose()?, failures))
    }

    async fn client_for_auth(&self, id: &ClientId) -> StoreResult<(Option<ClientRecord>, FailureCount)> {
        let (client, failures) = self.with_failures(Key::client(id), &Attempted::Client(id.clone())).await?;
        Ok((client.map(|item| item.to_client()).transpose()?, failures))
    }

    async fn record_failure(&self, attempted: &Attempted, now: UnixTime) -> StoreResult<FailureCount> {
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Key::failures(attempted).into_map()))
            .update_expression(
                "SET #failures = if_not_exists(#failures, :zero) + :one, #last = :now, #expires = :expires",
            )
            // A count whose TTL has passed (but that DynamoDB has not deleted yet) has lapsed.
            .condition_expression("attribute_not_exists(#failures) OR #expires > :now")
            .expression_attribute_names("#failures", codec::FAILURES)
            .expression_attribute_names("#last", codec::LAST_FAILED_AT)
            .expression_attribute_names("#expires", codec::EXPIRES_AT)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":expires", n(now.plus(FAILURE_MEMORY_SECONDS).0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match counted {
            Ok(out) => Item(out.attributes.unwrap_or_default()).to_failures(now),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                // The lapsed count starts again at this failure.
                let fresh = FailureCount { failures: 1, last_failed_at: now };
                let item = Item::from_failures(attempted, &fresh);
                self.client.put_item().table_name(&self.table).set_item(Some(item.0)).send().await.map_err(classify)?;
                Ok(fresh)
            }
            Err(err) => Err(classify(err)),
        }
    }

    async fn clear_failures(&self, attempted: &Attempted) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Key::failures(attempted).into_map()))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
