//! Rotation and family revocation as DynamoDB transactions.
//!
//! A rotation is one `TransactWriteItems`: the conditional family update plus condition
//! checks on the user, the subject's revoke-all marker and the session's logout marker.
//! Either the family advances and every check held at that instant, or nothing is
//! written (docs/ARCHITECTURE.md §3.7). On failure DynamoDB says which item failed and, for
//! the family, returns its current state, so a race loser needs no extra read.

use super::codec::{Item, Key, n, s};
use super::{DynamoStore, built, classify};
use crate::domain::{
    FamilyRecord, FamilyRevocation, FamilyStatus, Marker, RevocationCause, Rotation, RotationKind, RotationOutcome,
};
use crate::ids::FamilyId;
use crate::store::{FamilyRead, FamilyWrite, MarkerWrite, StoreError, StoreResult};
use crate::time::UnixTime;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use std::collections::HashMap;

/// Positions of the items in a rotation transaction, for reading cancellation reasons.
const FAMILY: usize = 0;
const USER: usize = 1;
const SUBJECT: usize = 2;
const SESSION: usize = 3;
const FAMILY_MARKER: usize = 4;

fn values(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

impl DynamoStore {
    fn family_update(&self, rotation: &Rotation) -> StoreResult<TransactWriteItem> {
        let now = n(rotation.now.0);
        let active = s(FamilyStatus::Active.as_str());
        let (update, condition, vals) = match rotation.kind {
            RotationKind::Advance { from } => (
                "SET generation = :next, rotated_at = :now",
                "generation = :from AND #status = :active AND expires_at > :now",
                values(&[
                    (":from", n(u64::from(from))),
                    (":next", n(u64::from(from) + 1)),
                    (":now", now),
                    (":active", active),
                ]),
            ),
            RotationKind::Grace { current, rotated_since } => (
                "SET grace_used_at = :now",
                "generation = :current AND #status = :active AND expires_at > :now AND rotated_at >= :since",
                values(&[
                    (":current", n(u64::from(current))),
                    (":since", n(rotated_since.0)),
                    (":now", now),
                    (":active", active),
                ]),
            ),
        };
        // Binding a key goes with the advance, and never replaces one.
        let (update, condition, vals) = match (&rotation.kind, &rotation.bind_dpop_jkt) {
            (RotationKind::Advance { .. }, Some(jkt)) => {
                let mut vals = vals;
                vals.insert(":jkt".into(), s(jkt));
                (format!("{update}, dpop_jkt = :jkt"), format!("{condition} AND attribute_not_exists(dpop_jkt)"), vals)
            }
            _ => (update.to_string(), condition.to_string(), vals),
        };
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Key::family(&rotation.family).into_map()))
                .update_expression(update)
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(vals))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A condition check on `key`, one item of a transaction.
    pub(super) fn check(
        &self,
        key: Key,
        condition: &str,
        names: &[(&str, &str)],
        vals: &[(&str, AttributeValue)],
    ) -> StoreResult<TransactWriteItem> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key.into_map()))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values(vals)));
        for (name, attribute) in names {
            check = check.expression_attribute_names(*name, *attribute);
        }
        let check = built(check.build())?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

#[async_trait]
impl FamilyRead for DynamoStore {
    async fn family(&self, fid: &FamilyId) -> StoreResult<Option<FamilyRecord>> {
        self.get_live(Key::family(fid)).await?.map(|item| item.to_family()).transpose()
    }
}

#[async_trait]
impl FamilyWrite for DynamoStore {
    async fn rotate(&self, rotation: &Rotation) -> StoreResult<RotationOutcome> {
        let guard = &rotation.guard;
        let now = n(rotation.now.0);
        let items = vec![
            self.family_update(rotation)?,
            self.check(
                Key::user(&guard.username),
                "attribute_exists(pk) AND #sub = :sub AND disabled = :false",
                &[("#sub", "sub")],
                &[(":sub", s(guard.sub.as_str())), (":false", AttributeValue::Bool(false))],
            )?,
            // A revoke-all kills every family that began before its `not_before`.
            self.check(
                Key::subject_marker(&guard.sub),
                "attribute_not_exists(pk) OR not_before <= :created OR expires_at <= :now",
                &[],
                &[(":created", n(guard.family_created_at.0)), (":now", now.clone())],
            )?,
            self.check(
                Key::session_marker(&guard.sid),
                "attribute_not_exists(pk) OR expires_at <= :now",
                &[],
                &[(":now", now.clone())],
            )?,
            // A revocation whose family update was lost left its marker: it still stops
            // the family, atomically with this write (docs/ARCHITECTURE.md §3.7).
            self.check(
                Key::family_marker(&rotation.family),
                "attribute_not_exists(pk) OR expires_at <= :now",
                &[],
                &[(":now", now)],
            )?,
        ];
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(RotationOutcome::Committed),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = err.as_service_error() else {
            return Err(classify(err));
        };
        let reasons = cancel.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(FAMILY) {
            let current = reasons[FAMILY].item().map(|item| Item(item.clone()));
            let family = match current {
                Some(item) if !item.expires_at()?.is_some_and(|at| at.has_passed(rotation.now)) => {
                    Some(item.to_family()?)
                }
                _ => None,
            };
            return Ok(RotationOutcome::FamilyChanged(family));
        }
        if failed(USER) {
            return Ok(RotationOutcome::UserRefused);
        }
        if failed(SUBJECT) {
            return Ok(RotationOutcome::SubjectRevoked);
        }
        if failed(SESSION) {
            return Ok(RotationOutcome::SessionRevoked);
        }
        if failed(FAMILY_MARKER) {
            return Ok(RotationOutcome::FamilyRevoked);
        }
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            return Ok(RotationOutcome::Contended);
        }
        Err(classify(err))
    }

    async fn revoke_family(
        &self,
        fid: &FamilyId,
        revoked_at: UnixTime,
        reason: RevocationCause,
        marker_expires_at: UnixTime,
    ) -> StoreResult<FamilyRevocation> {
        let marker = Marker::Family { fid: fid.clone(), revoked_at, reason, expires_at: marker_expires_at };
        let mark = TransactWriteItem::builder()
            .put(built(Put::builder().table_name(&self.table).set_item(Some(self.marker_item(&marker).0)).build())?)
            .build();
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Key::family(fid).into_map()))
                .update_expression("SET #status = :revoked, revoked_at = :at, revoke_reason = :reason")
                // Never create a family item out of nothing; an expired one is absent.
                .condition_expression("attribute_exists(pk) AND expires_at > :at")
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values(&[
                    (":revoked", s(FamilyStatus::Revoked.as_str())),
                    (":at", n(revoked_at.0)),
                    (":reason", s(reason.as_str())),
                ])))
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(mark)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(FamilyRevocation::Revoked),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = err.as_service_error() else {
            return Err(classify(err));
        };
        // The update's condition failed: there is no family item (nothing was written).
        // Any other cancellation (a conflict with a rotation, throttling) wrote nothing
        // either, and is the caller's to retry.
        let family_absent =
            cancel.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if family_absent { Ok(FamilyRevocation::FamilyAbsent) } else { Err(StoreError::Conflict) }
    }
}

#[async_trait]
impl MarkerWrite for DynamoStore {
    async fn put_marker(&self, marker: &Marker) -> StoreResult<()> {
        let item = self.marker_item(marker);
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(item.0));
        if let Marker::Subject { not_before, .. } = marker {
            // A later revoke-all never moves the line back.
            put = put
                .condition_expression("attribute_not_exists(pk) OR not_before <= :nb")
                .expression_attribute_values(":nb", n(not_before.0));
        }
        match put.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(classify(err)),
        }
    }
}
