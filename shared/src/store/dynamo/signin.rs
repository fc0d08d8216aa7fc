//! Browser sign-in: pending authorization requests, codes (single use by a conditional
//! write, inside the transaction that begins the family), and the sessions they begin.

use super::codec::{Item, Key, n, s};
use super::{DynamoStore, built, classify, exclusive_put};
use crate::domain::{AuthorizationCode, AuthorizationRequest, FamilyRecord, Redemption, SessionRecord};
use crate::ids::FamilyId;
use crate::store::{SignInStore, StoreError, StoreResult};
use crate::time::UnixTime;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

/// Positions in the redemption transaction, for reading its cancellation reasons.
const CODE: usize = 0;
const SESSION: usize = 2;
const USER_CLEAR: usize = 3;
/// The code's put in the single sign-on transaction; the user check follows it.
const NEW_CODE: usize = 0;

#[async_trait]
impl SignInStore for DynamoStore {
    async fn save_authorization(&self, request: &AuthorizationRequest) -> StoreResult<()> {
        let item = Item::from_authorization(request);
        self.client.put_item().table_name(&self.table).set_item(Some(item.0)).send().await.map_err(classify)?;
        Ok(())
    }

    async fn authorization(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>> {
        self.get_live(Key::authorization(id)).await?.map(|item| item.to_authorization()).transpose()
    }

    async fn complete_login(
        &self,
        session: &SessionRecord,
        code: &AuthorizationCode,
        request_id: &str,
    ) -> StoreResult<bool> {
        let used_up = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Key::authorization(request_id).into_map()))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(used_up).build())
            .transact_items(exclusive_put(&self.table, Item::from_session(session))?)
            .transact_items(exclusive_put(&self.table, Item::from_code(code))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if super::lost_condition(&err) => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }

    async fn save_code(&self, code: &AuthorizationCode) -> StoreResult<bool> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(exclusive_put(&self.table, Item::from_code(code))?)
            .transact_items(self.user_clear_since_login(code, UnixTime::now())?)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = err.as_service_error() else {
            return Err(classify(err));
        };
        let failed =
            |i: usize| cancel.cancellation_reasons().get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        match (failed(NEW_CODE), failed(NEW_CODE + 1)) {
            // A code digest taken: 256 random bits never collide unless something is wrong.
            (true, _) => Err(StoreError::Conflict),
            (false, true) => Ok(false),
            _ => Err(classify(err)),
        }
    }

    async fn code(&self, digest: &str) -> StoreResult<Option<AuthorizationCode>> {
        self.get_live(Key::code(digest)).await?.map(|item| item.to_code()).transpose()
    }

    async fn redeem_code(
        &self,
        code: &AuthorizationCode,
        family: &FamilyRecord,
        now: UnixTime,
    ) -> StoreResult<Redemption> {
        let redeem = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Key::code(&code.digest).into_map()))
                .update_expression("SET redeemed_by = :fid")
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(redeemed_by) AND valid_until > :now",
                )
                .expression_attribute_values(":fid", s(family.fid.as_str()))
                .expression_attribute_values(":now", n(now.0))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build(),
        )?;
        let now_n = n(now.0);
        let live_session = "attribute_exists(pk) AND expires_at > :now";
        // The session must still be there, and the client joins it unless it had.
        let session = if code.client_in_session {
            self.check(Key::session(&family.sid), live_session, &[], &[(":now", now_n.clone())])?
        } else {
            let join = built(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Key::session(&family.sid).into_map()))
                    .update_expression("ADD client_ids :client")
                    .condition_expression(live_session)
                    .expression_attribute_values(":client", AttributeValue::Ss(vec![family.client_id.to_string()]))
                    .expression_attribute_values(":now", now_n)
                    .build(),
            )?;
            TransactWriteItem::builder().update(join).build()
        };
        // No revoke-all or disable since the login.
        let user_clear = self.user_clear_since_login(code, now)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(redeem).build())
            .transact_items(exclusive_put(&self.table, Item::from_family(family))?)
            .transact_items(session)
            .transact_items(user_clear)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Redemption::Redeemed),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = err.as_service_error() else {
            return Err(classify(err));
        };
        let reasons = cancel.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(CODE) {
            // As it stands: redeemed (by the family to revoke) or out of its minute.
            let redeemed_by = reasons[CODE]
                .item()
                .and_then(|item| item.get("redeemed_by"))
                .and_then(|fid| fid.as_s().ok())
                .map(FamilyId::new);
            return Ok(Redemption::Spent(redeemed_by));
        }
        if failed(SESSION) || failed(USER_CLEAR) {
            return Ok(Redemption::SessionGone);
        }
        // Two exchanges of one code at the same moment: DynamoDB may cancel the loser for
        // the conflict rather than the condition. If the winner has redeemed it by now,
        // this is a replay like any other, and its family is revoked.
        if reasons.get(CODE).and_then(|r| r.code()) == Some("TransactionConflict")
            && let Some(redeemed_by) = self.code(&code.digest).await?.and_then(|c| c.redeemed_by)
        {
            return Ok(Redemption::Spent(Some(redeemed_by)));
        }
        Err(classify(err))
    }
}

impl DynamoStore {
    /// A condition check: no revoke-all or disable of the code's user since the login it
    /// stands for. A session the revoke-all missed (it finds a user's sessions through an
    /// eventually consistent index) is dead all the same.
    fn user_clear_since_login(&self, code: &AuthorizationCode, now: UnixTime) -> StoreResult<TransactWriteItem> {
        self.check(
            Key::subject_marker(&code.sub),
            "attribute_not_exists(pk) OR not_before <= :auth_time OR expires_at <= :now",
            &[],
            &[(":auth_time", n(code.auth_time.0)), (":now", n(now.0))],
        )
    }
}
