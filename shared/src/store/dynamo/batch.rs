//! One logical, strongly consistent read of several items: a `BatchGetItem`, asked again
//! for whatever DynamoDB leaves unprocessed (throttling) after a pause that doubles, as
//! long as the store's budget for one call allows; then the read fails closed.

use super::codec::{self, Item, Key};
use super::{DynamoStore, built, classify};
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use std::time::{Duration, Instant};

const MAX_ROUNDS: usize = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(25);

impl DynamoStore {
    /// The items of `keys` that exist, in no particular order; only the attributes of
    /// `projection` when one is given (what the function's IAM policy allows it to read).
    pub(super) async fn batch_get(&self, keys: Vec<Key>, projection: Option<&str>) -> StoreResult<Vec<Item>> {
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys.into_iter().map(Key::into_map).collect()))
            .consistent_read(true);
        if let Some(projection) = projection {
            request = request
                .projection_expression(projection)
                .set_expression_attribute_names(Some(codec::projection_names(projection)));
        }
        let mut pending = Some(built(request.build())?);
        let mut found = Vec::new();
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        for round in 0..MAX_ROUNDS {
            let Some(batch) = pending.take() else { break };
            if round > 0 {
                if started.elapsed() + pause >= self.budget {
                    pending = Some(batch);
                    break;
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let out = self.client.batch_get_item().request_items(&self.table, batch).send().await.map_err(classify)?;
            if let Some(mut responses) = out.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default().into_iter().map(Item));
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable("a batch read left keys unprocessed".into()));
        }
        Ok(found)
    }
}
