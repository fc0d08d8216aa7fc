//! The DynamoDB store: one table, keys `pk`/`sk`, TTL attribute `expires_at`, GSI
//! `by_subject` (docs/ARCHITECTURE.md §4). Reads are strongly consistent: a revocation must
//! be seen by the very next check.

mod batch;
mod clock;
mod codec;
mod denylist;
mod failures;
mod feed;
mod logout;
mod one_time;
mod rotation;
pub mod schema;
mod signin;

pub use clock::ClockCheck;

use super::*;
use crate::config::AwsSettings;
use crate::domain::{ClientRecord, FamilyRecord, Marker, SessionRecord, UserProfile, UserRecord};
use crate::time::UnixTime;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use codec::{Item, Key};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long one logical read may go on asking (a batch's unprocessed keys).
    budget: Duration,
    /// Added to this host's clock when stamping feed records: zero, except in tests that
    /// play writers whose clocks are off (`with_clock_offset`).
    clock_offset_ms: i64,
}

impl DynamoStore {
    /// Build the SDK client once per cold start. The endpoint override exists for a local
    /// DynamoDB-compatible server; it is configuration, not a separate code path.
    pub async fn connect(aws: &AwsSettings) -> Self {
        let shared = sdk_config(aws).await;
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(endpoint) = &aws.dynamodb_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            table: aws.table_name.clone(),
            budget: aws.timeouts.operation,
            clock_offset_ms: 0,
        }
    }

    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            budget: crate::config::StoreTimeouts::default().operation,
            clock_offset_ms: 0,
        }
    }

    /// The same store, stamping feed records by this host's clock moved by `offset_ms`:
    /// a correction (`with_clock_checked`), or in tests a writer whose clock is off.
    pub fn with_clock_offset(mut self, offset_ms: i64) -> Self {
        self.clock_offset_ms = offset_ms;
        self
    }

    /// A marker's item, stamped for the feed by this writer's clock.
    fn marker_item(&self, marker: &Marker) -> Item {
        Item::from_marker(marker, self.feed_stamp())
    }

    /// Now, by this writer's (corrected) clock: the stamp of a feed record.
    fn feed_stamp(&self) -> crate::time::UnixMillis {
        crate::time::UnixMillis::now().shifted(self.clock_offset_ms)
    }

    pub fn sdk_client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: Key) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_map()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item.map(Item))
    }

    /// A live item: present and not past its `expires_at` (if it has one).
    async fn get_live(&self, key: Key) -> StoreResult<Option<Item>> {
        let now = UnixTime::now();
        match self.get(key).await? {
            Some(item) if item.expires_at()?.is_some_and(|at| at.has_passed(now)) => Ok(None),
            other => Ok(other),
        }
    }
}

/// The AWS SDK configuration (region, credentials, timeouts), resolved once per
/// process and shared by every client. The local stack gets static credentials and a
/// fixed region, so nothing waits on instance metadata.
pub async fn sdk_config(aws: &AwsSettings) -> aws_config::SdkConfig {
    use aws_config::meta::region::RegionProviderChain;
    use aws_config::timeout::TimeoutConfig;
    static SHARED: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();
    let local = aws.local;
    let budget = aws.timeouts;
    SHARED
        .get_or_init(|| async move {
            // Bounded waits: an unreachable store must turn into a fail-closed answer
            // well inside the Lambda timeout, not a hung invocation.
            let timeouts = TimeoutConfig::builder()
                .connect_timeout(budget.connect)
                .operation_attempt_timeout(budget.attempt)
                .operation_timeout(budget.operation)
                .build();
            let retries = aws_config::retry::RetryConfig::standard()
                .with_max_attempts(budget.max_attempts)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(500));
            let loader = aws_config::from_env().timeout_config(timeouts).retry_config(retries);
            if local {
                let credentials =
                    aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local stack");
                return loader.region("us-east-1").credentials_provider(credentials).load().await;
            }
            loader.region(RegionProviderChain::default_provider().or_else("us-east-1")).load().await
        })
        .await
        .clone()
}

/// Whether AWS credentials can be found: the admin CLI asks first, so that a missing
/// credential is one clear sentence rather than a failed request after a long wait.
pub async fn credentials_available(aws: &AwsSettings) -> bool {
    use aws_sdk_dynamodb::config::ProvideCredentials;
    let config = sdk_config(aws).await;
    let Some(provider) = config.credentials_provider() else { return false };
    matches!(tokio::time::timeout(Duration::from_secs(5), provider.provide_credentials()).await, Ok(Ok(_)))
}

/// A request the SDK's builder refused: our own code built it wrong, so it is reported
/// like a corrupt item, never as an outage.
pub(crate) fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> StoreResult<T> {
    result.map_err(|e| StoreError::Corrupt(format!("request: {e}")))
}

/// An SDK error as the service sees it. DynamoDB refusing the request itself
/// (`ValidationException`: a key over 2048 bytes, say) is a bug or an input that slipped
/// past the wire checks, never an outage; throttling, timeouts, 5xx and the network are
/// the outage callers fail closed on (and operators are paged for).
pub(crate) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let text = DisplayErrorContext(&err).to_string();
    match err.as_service_error().and_then(|e| e.code()) {
        Some("ValidationException" | "SerializationException") => StoreError::Rejected(text),
        _ => StoreError::Unavailable(text),
    }
}

/// Whether a transaction was cancelled because one of its conditions did not hold.
fn lost_condition<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(TransactWriteItemsError::TransactionCanceledException(cancel))
            if cancel.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
    )
}

/// A put that must not overwrite: ids are random, but a collision must never replace a
/// live session or family.
fn exclusive_put(table: &str, item: Item) -> StoreResult<TransactWriteItem> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item.0))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[async_trait]
impl ClientRead for DynamoStore {
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        self.get(Key::client(id)).await?.map(|item| item.to_client()).transpose()
    }
}

impl DynamoStore {
    /// The client, and each of its origins' record naming it, in one transaction; the
    /// origins of the registration it replaces that it drops no longer name it.
    async fn write_client(&self, client: &ClientRecord, condition: Option<&str>) -> StoreResult<()> {
        client.validate().map_err(|e| StoreError::Rejected(e.to_string()))?;
        // An admin operation: the read before the write costs nothing that matters, and a
        // concurrent replace of one client by two admins is theirs to sort out.
        let replaced = match condition {
            None => self.client(&client.id).await?,
            Some(_) => None,
        };
        let mut put = Put::builder().table_name(&self.table).set_item(Some(Item::from_client(client).0));
        if let Some(condition) = condition {
            put = put.condition_expression(condition);
        }
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(built(put.build())?).build());
        for origin in client.origins() {
            let update = built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Key::origin(&origin).into_map()))
                    .update_expression("ADD client_ids :client")
                    .expression_attribute_values(":client", AttributeValue::Ss(vec![client.id.to_string()]))
                    .build(),
            )?;
            transaction = transaction.transact_items(TransactWriteItem::builder().update(update).build());
        }
        if let Some(replaced) = replaced {
            for origin in replaced.origins().difference(&client.origins()) {
                transaction = transaction.transact_items(self.unregister_origin(origin, &client.id)?);
            }
        }
        match transaction.send().await {
            Ok(_) => Ok(()),
            Err(err) if lost_condition(&err) => Err(StoreError::Conflict),
            Err(err) => Err(classify(err)),
        }
    }

    /// `origin`'s record no longer names `client` (a set emptied is the attribute gone:
    /// the origin is then registered by nobody).
    fn unregister_origin(&self, origin: &str, client: &ClientId) -> StoreResult<TransactWriteItem> {
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Key::origin(origin).into_map()))
                .update_expression("DELETE client_ids :client")
                .expression_attribute_values(":client", AttributeValue::Ss(vec![client.to_string()]))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl OriginRead for DynamoStore {
    async fn origin_registered(&self, origin: &str) -> StoreResult<bool> {
        let item = self.get(Key::origin(origin)).await?;
        Ok(item
            .is_some_and(|item| matches!(item.0.get("client_ids"), Some(AttributeValue::Ss(ids)) if !ids.is_empty())))
    }
}

#[async_trait]
impl ClientAdmin for DynamoStore {
    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.write_client(client, None).await
    }

    async fn create_client(&self, client: &ClientRecord) -> StoreResult<()> {
        self.write_client(client, Some("attribute_not_exists(pk)")).await
    }

    async fn remove_client(&self, id: &ClientId, marker: &Marker) -> StoreResult<bool> {
        // Its origins, to unregister with it (an admin operation: one more read is fine).
        let Some(removed) = self.client(id).await? else {
            return Ok(false);
        };
        let delete = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Key::client(id).into_map()))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        let mark = built(Put::builder().table_name(&self.table).set_item(Some(self.marker_item(marker).0)).build())?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().put(mark).build());
        for origin in removed.origins() {
            transaction = transaction.transact_items(self.unregister_origin(&origin, id)?);
        }
        let result = transaction.send().await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if lost_condition(&err) => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        // An admin operation over a handful of clients: a filtered scan is fine here and
        // keeps the table free of an index that only the CLI would use.
        let mut clients = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :sk")
                .expression_attribute_values(":sk", AttributeValue::S(codec::CLIENT_SK.into()))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                clients.push(Item(item).to_client()?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(clients)
    }
}

#[async_trait]
impl UserRead for DynamoStore {
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.get(Key::user(username)).await?.map(|item| item.to_user()).transpose()
    }

    async fn user_profile_by_subject(&self, sub: &Subject) -> StoreResult<Option<UserProfile>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(schema::SUBJECT_INDEX)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk = :user")
            // Only the profile: the IAM policy of the functions that read it allows no more.
            .projection_expression(codec::PROFILE_PROJECTION)
            .set_expression_attribute_names(Some(codec::projection_names(codec::PROFILE_PROJECTION)))
            .expression_attribute_values(":pk", AttributeValue::S(format!("SUB#{sub}")))
            .expression_attribute_values(":user", AttributeValue::S(codec::USER_INDEX_SK.into()))
            .send()
            .await
            .map_err(classify)?;
        out.items.unwrap_or_default().into_iter().next().map(|item| Item(item).to_user_profile()).transpose()
    }
}

#[async_trait]
impl UserAdmin for DynamoStore {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.conditional_put(Item::from_user(user), "attribute_not_exists(pk)").await
    }

    async fn replace_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.conditional_put(Item::from_user(user), "attribute_exists(pk)").await
    }
}

impl DynamoStore {
    async fn conditional_put(&self, item: Item, condition: &str) -> StoreResult<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.0))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict)
            }
            Err(err) => Err(classify(err)),
        }
    }
}

#[async_trait]
impl SessionWrite for DynamoStore {
    async fn begin_session(&self, session: &SessionRecord, family: &FamilyRecord) -> StoreResult<()> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(exclusive_put(&self.table, Item::from_session(session))?)
            .transact_items(exclusive_put(&self.table, Item::from_family(family))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if lost_condition(&err) => Err(StoreError::Conflict),
            Err(err) => Err(classify(err)),
        }
    }
}

#[async_trait]
impl SessionRead for DynamoStore {
    async fn session(&self, sid: &Sid) -> StoreResult<Option<SessionRecord>> {
        self.get_live(Key::session(sid)).await?.map(|item| item.to_session()).transpose()
    }

    async fn sessions_of(&self, sub: &Subject) -> StoreResult<Vec<SessionRecord>> {
        let now = UnixTime::now();
        let mut sessions = Vec::new();
        let mut start = None;
        loop {
            // GSI reads are eventually consistent; callers that must not miss a session
            // (revoke-all) also write the subject marker (docs/ARCHITECTURE.md §3.4).
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::SUBJECT_INDEX)
                .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :session)")
                .projection_expression(codec::SESSION_PROJECTION)
                .set_expression_attribute_names(Some(codec::projection_names(codec::SESSION_PROJECTION)))
                .expression_attribute_values(":pk", AttributeValue::S(format!("SUB#{sub}")))
                .expression_attribute_values(":session", AttributeValue::S(codec::SESSION_INDEX_PREFIX.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in out.items.unwrap_or_default().into_iter().map(Item) {
                if !item.expires_at()?.is_some_and(|at| at.has_passed(now)) {
                    sessions.push(item.to_session()?);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        sessions.sort_by(|a, b| a.sid.cmp(&b.sid));
        Ok(sessions)
    }
}
