//! Records to DynamoDB items and back. Lists, not sets, hold multi-valued attributes,
//! because DynamoDB refuses an empty set and an empty grant list is legitimate.

use crate::domain::{
    Attempted, AuthorizationCode, AuthorizationRequest, BrowserLogin, BrowserSettings, ClientAuthentication,
    ClientJwks, ClientLifetimes, ClientRecord, ClientSigning, DeliveryRecord, DeliveryStatus, FailureCount,
    FamilyRecord, FamilyStatus, GrantType, Marker, OneTimeId, Scope, SessionRecord, SigningAlgorithm, UserProfile,
    UserRecord,
};
use crate::feed::{self, EntryKind, FeedEntry, LogRecord};
use crate::ids::{ClientEpoch, ClientId, FamilyId, Jti, Sid, Subject};
use crate::secrets::{ClientSecretHash, PasswordHashString};
use crate::store::{StoreError, StoreResult};
use crate::time::{UnixMillis, UnixTime};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub(crate) const CLIENT_SK: &str = "CLIENT";
pub(crate) const EXPIRES_AT: &str = "expires_at";
pub(crate) const FAILURES: &str = "failures";
pub(crate) const LAST_FAILED_AT: &str = "last_failed_at";
const MARKER_SK: &str = "REVOKED";
pub(crate) const USER_INDEX_SK: &str = "USER";
pub(crate) const SESSION_INDEX_PREFIX: &str = "SESSION#";
/// The revocation feed's index partitions: `FEED#0` … `FEED#7`.
pub(crate) const FEED_INDEX_PREFIX: &str = "FEED#";
/// Pending deliveries are spread over this many index partitions (by a hash of their
/// id), each sorted by next attempt, so that no partition is hot when many RPs are down.
pub(crate) const PENDING_SHARDS: u32 = 16;

/// The index partition of a pending delivery.
pub(crate) fn pending_shard(id: &str) -> String {
    // FNV-1a: stable across processes and versions, unlike the std hasher.
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    pending_partition(hash % PENDING_SHARDS)
}

pub(crate) fn pending_partition(shard: u32) -> String {
    format!("DELIVERY#PENDING#{shard:02}")
}

/// The index sort key of a pending delivery: zero-padded time first, so that a range
/// query `<= due_key(now)` finds exactly the due ones.
pub(crate) fn delivery_index_key(next_attempt_at: UnixTime, id: &str) -> String {
    format!("{:012}#{id}", next_attempt_at.0)
}

/// Sorts after every `delivery_index_key` of second `now` ('$' follows '#').
pub(crate) fn due_key(now: UnixTime) -> String {
    format!("{:012}$", now.0)
}

/// What the denylist check reads of each item: its key, its expiry, a line's
/// `not_before`, a user's `disabled`. The IAM policies of the resource-facing functions
/// allow exactly these attributes.
pub(crate) const DENYLIST_PROJECTION: &str = "#pk, #expires_at, #not_before, #disabled";
/// What a user profile read returns: never the password hash.
pub(crate) const PROFILE_PROJECTION: &str = "#username, #sub, #disabled";
/// What a read of a subject's sessions returns (the index also holds the user item).
pub(crate) const SESSION_PROJECTION: &str = "#sid, #sub, #client_ids, #auth_time, #expires_at";

/// The names behind a projection's `#name` placeholders (some are DynamoDB reserved
/// words); exactly those, since DynamoDB refuses a name the expressions do not use.
pub(crate) fn projection_names(projection: &str) -> HashMap<String, String> {
    projection
        .split(", ")
        .map(|placeholder| (placeholder.to_string(), placeholder.trim_start_matches('#').to_string()))
        .collect()
}

pub(crate) struct Key {
    pk: String,
    sk: &'static str,
}

impl Key {
    pub fn client(id: &ClientId) -> Self {
        Self { pk: format!("CLIENT#{id}"), sk: CLIENT_SK }
    }
    pub fn user(username: &str) -> Self {
        Self { pk: format!("USER#{username}"), sk: "USER" }
    }
    pub fn session(sid: &Sid) -> Self {
        Self { pk: format!("SESSION#{sid}"), sk: "SESSION" }
    }
    pub fn family(fid: &FamilyId) -> Self {
        Self { pk: format!("FAMILY#{fid}"), sk: "FAMILY" }
    }
    pub fn token_marker(jti: &Jti) -> Self {
        Self { pk: format!("REVOKED#JTI#{jti}"), sk: MARKER_SK }
    }
    pub fn family_marker(fid: &FamilyId) -> Self {
        Self { pk: format!("REVOKED#FID#{fid}"), sk: MARKER_SK }
    }
    pub fn session_marker(sid: &Sid) -> Self {
        Self { pk: format!("REVOKED#SID#{sid}"), sk: MARKER_SK }
    }
    pub fn subject_marker(sub: &Subject) -> Self {
        Self { pk: format!("REVOKED#SUB#{sub}"), sk: MARKER_SK }
    }
    pub fn client_marker(id: &ClientId) -> Self {
        Self { pk: format!("REVOKED#CLIENT#{id}"), sk: MARKER_SK }
    }
    pub fn delivery(id: &str) -> Self {
        Self { pk: format!("DELIVERY#{id}"), sk: "DELIVERY" }
    }
    /// The clients that registered a browser origin (CORS).
    pub fn origin(origin: &str) -> Self {
        Self { pk: format!("ORIGIN#{origin}"), sk: "ORIGIN" }
    }
    pub fn authorization(id: &str) -> Self {
        Self { pk: format!("AUTHREQ#{id}"), sk: "AUTHREQ" }
    }
    /// Keyed by the code's digest: the code itself is never stored.
    pub fn code(digest: &str) -> Self {
        Self { pk: format!("CODE#{digest}"), sk: "CODE" }
    }
    /// A used DPoP proof or client assertion, by digest (its `jti` is the caller's).
    pub fn one_time(id: &OneTimeId) -> Self {
        Self { pk: format!("USED#{}", id.digest()), sk: "USED" }
    }
    /// Failures are counted apart from the user or client item, so that a name nobody
    /// holds is counted too, and never a user or client item is written for it.
    pub fn failures(attempted: &Attempted) -> Self {
        let pk = match attempted {
            Attempted::Username(username) => format!("FAILURES#USER#{username}"),
            Attempted::Client(id) => format!("FAILURES#CLIENT#{id}"),
        };
        Self { pk, sk: "FAILURES" }
    }
    pub fn pk(&self) -> &str {
        &self.pk
    }
    pub fn into_map(self) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".into(), AttributeValue::S(self.pk)), ("sk".into(), AttributeValue::S(self.sk.into()))])
    }
}

pub(crate) struct Item(pub HashMap<String, AttributeValue>);

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
/// A list attribute, left out when empty (most clients have no browser settings).
fn non_empty(values: &[String]) -> Option<AttributeValue> {
    (!values.is_empty()).then(|| list(values.iter().cloned()))
}

fn list<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> AttributeValue {
    AttributeValue::L(values.into_iter().map(|v| AttributeValue::S(v.into())).collect())
}

impl Item {
    pub(crate) fn keyed(key: Key) -> Self {
        Self(key.into_map())
    }
    pub(crate) fn set(&mut self, name: &str, value: AttributeValue) -> &mut Self {
        self.0.insert(name.to_string(), value);
        self
    }
    fn set_opt(&mut self, name: &str, value: Option<AttributeValue>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(name.to_string(), value);
        }
        self
    }

    fn corrupt(&self, name: &str) -> StoreError {
        let pk = self.0.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("?");
        StoreError::Corrupt(format!("{pk}: attribute {name} missing or of the wrong type"))
    }
    fn opt_s(&self, name: &str) -> StoreResult<Option<String>> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.corrupt(name)),
        }
    }
    fn req_s(&self, name: &str) -> StoreResult<String> {
        self.opt_s(name)?.ok_or_else(|| self.corrupt(name))
    }
    fn opt_n(&self, name: &str) -> StoreResult<Option<u64>> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| self.corrupt(name)),
            Some(_) => Err(self.corrupt(name)),
        }
    }
    fn req_n(&self, name: &str) -> StoreResult<u64> {
        self.opt_n(name)?.ok_or_else(|| self.corrupt(name))
    }
    fn req_bool(&self, name: &str) -> StoreResult<bool> {
        self.opt_bool(name)?.ok_or_else(|| self.corrupt(name))
    }
    /// Absent in items written before the attribute existed.
    fn opt_bool(&self, name: &str) -> StoreResult<Option<bool>> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::Bool(v)) => Ok(Some(*v)),
            Some(_) => Err(self.corrupt(name)),
        }
    }
    fn req_list(&self, name: &str) -> StoreResult<Vec<String>> {
        match self.0.get(name) {
            Some(AttributeValue::L(values)) => {
                values.iter().map(|v| v.as_s().cloned().map_err(|_| self.corrupt(name))).collect()
            }
            _ => Err(self.corrupt(name)),
        }
    }
    fn opt_string_set(&self, name: &str) -> StoreResult<Vec<String>> {
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::Ss(values)) => Ok(values.clone()),
            Some(_) => Err(self.corrupt(name)),
        }
    }
    fn opt_list(&self, name: &str) -> StoreResult<Vec<String>> {
        if self.0.contains_key(name) { self.req_list(name) } else { Ok(Vec::new()) }
    }
    fn opt_alg(&self, name: &str) -> StoreResult<Option<SigningAlgorithm>> {
        self.opt_s(name)?.map(|raw| raw.parse().map_err(|_| self.corrupt(name))).transpose()
    }
    fn scope(&self, name: &str) -> StoreResult<Scope> {
        Scope::parse(&self.req_s(name)?).map_err(|_| self.corrupt(name))
    }

    pub fn pk(&self) -> Option<&str> {
        self.0.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str)
    }

    pub fn not_before(&self) -> StoreResult<Option<UnixTime>> {
        Ok(self.opt_n("not_before")?.map(UnixTime))
    }

    pub fn disabled(&self) -> StoreResult<bool> {
        self.req_bool("disabled")
    }

    pub fn expires_at(&self) -> StoreResult<Option<UnixTime>> {
        Ok(self.opt_n(EXPIRES_AT)?.map(UnixTime))
    }

    pub fn from_client(c: &ClientRecord) -> Self {
        let mut item = Self::keyed(Key::client(&c.id));
        item.set("client_id", s(c.id.as_str()))
            .set("epoch", s(c.epoch.as_str()))
            .set_opt(
                "secret_hash",
                match &c.authentication {
                    ClientAuthentication::Secret(hash) => Some(s(hash.stored())),
                    ClientAuthentication::None | ClientAuthentication::PrivateKeyJwt(_) => None,
                },
            )
            .set_opt(
                "jwks",
                match &c.authentication {
                    ClientAuthentication::PrivateKeyJwt(jwks) => Some(s(jwks.to_json())),
                    ClientAuthentication::None | ClientAuthentication::Secret(_) => None,
                },
            )
            // Stated, so that an item missing its secret or keys reads as corrupt, never
            // as a public client.
            .set("auth_method", s(c.authentication.method()))
            .set("dpop_bound_access_tokens", AttributeValue::Bool(c.dpop_bound_access_tokens))
            .set("grant_types", list(c.grant_types.iter().map(|g| g.as_str())))
            .set("scopes", s(c.scopes.to_string()))
            .set("may_introspect", AttributeValue::Bool(c.may_introspect))
            .set("admin", AttributeValue::Bool(c.admin))
            .set_opt("audience", c.audience.as_deref().map(s))
            .set_opt("backchannel_logout_uri", c.backchannel_logout_uri.as_deref().map(s))
            .set_opt("access_token_ttl", c.lifetimes.access_token.map(n))
            .set_opt("refresh_absolute_ttl", c.lifetimes.refresh_absolute.map(n))
            .set_opt("refresh_idle_ttl", c.lifetimes.refresh_idle.map(n))
            .set_opt("refresh_grace", c.lifetimes.refresh_grace.map(n))
            .set_opt("access_token_alg", c.signing.access_token.map(|alg| s(alg.as_str())))
            .set_opt("id_token_alg", c.signing.id_token.map(|alg| s(alg.as_str())))
            .set_opt("name", c.browser.name.as_deref().map(s))
            .set_opt("redirect_uris", non_empty(&c.browser.redirect_uris))
            .set_opt("post_logout_redirect_uris", non_empty(&c.browser.post_logout_redirect_uris))
            .set_opt("allowed_origins", non_empty(&c.browser.allowed_origins));
        item
    }

    /// The method the item states, with its secret or keys: any other combination is
    /// corrupt. Items written before `auth_method` existed had a secret or nothing.
    fn client_authentication(&self) -> StoreResult<ClientAuthentication> {
        let authentication = match (self.opt_s("secret_hash")?, self.opt_s("jwks")?) {
            (Some(stored), None) => ClientAuthentication::Secret(ClientSecretHash::from_stored(stored)),
            (None, Some(jwks)) => {
                ClientAuthentication::PrivateKeyJwt(ClientJwks::parse(&jwks).map_err(|_| self.corrupt("jwks"))?)
            }
            (None, None) => ClientAuthentication::None,
            (Some(_), Some(_)) => return Err(self.corrupt("jwks")),
        };
        match self.opt_s("auth_method")? {
            Some(stated) if stated != authentication.method() => Err(self.corrupt("auth_method")),
            None if matches!(authentication, ClientAuthentication::PrivateKeyJwt(_)) => {
                Err(self.corrupt("auth_method"))
            }
            _ => Ok(authentication),
        }
    }

    pub fn to_client(&self) -> StoreResult<ClientRecord> {
        let grant_types = self
            .req_list("grant_types")?
            .iter()
            .map(|g| g.parse::<GrantType>().map_err(|_| self.corrupt("grant_types")))
            .collect::<StoreResult<_>>()?;
        Ok(ClientRecord {
            id: ClientId::new(self.req_s("client_id")?),
            epoch: ClientEpoch::new(self.req_s("epoch")?),
            authentication: self.client_authentication()?,
            dpop_bound_access_tokens: self.opt_bool("dpop_bound_access_tokens")?.unwrap_or(false),
            grant_types,
            scopes: self.scope("scopes")?,
            audience: self.opt_s("audience")?,
            may_introspect: self.req_bool("may_introspect")?,
            admin: self.req_bool("admin")?,
            backchannel_logout_uri: self.opt_s("backchannel_logout_uri")?,
            lifetimes: ClientLifetimes {
                access_token: self.opt_n("access_token_ttl")?,
                refresh_absolute: self.opt_n("refresh_absolute_ttl")?,
                refresh_idle: self.opt_n("refresh_idle_ttl")?,
                refresh_grace: self.opt_n("refresh_grace")?,
            },
            signing: ClientSigning {
                access_token: self.opt_alg("access_token_alg")?,
                id_token: self.opt_alg("id_token_alg")?,
            },
            browser: BrowserSettings {
                name: self.opt_s("name")?,
                redirect_uris: self.opt_list("redirect_uris")?,
                post_logout_redirect_uris: self.opt_list("post_logout_redirect_uris")?,
                allowed_origins: self.opt_list("allowed_origins")?,
            },
        })
    }

    pub fn from_user(u: &UserRecord) -> Self {
        let mut item = Self::keyed(Key::user(&u.username));
        item.set("username", s(&u.username))
            .set("sub", s(u.sub.as_str()))
            .set("password_hash", s(u.password_hash.stored()))
            .set("disabled", AttributeValue::Bool(u.disabled))
            // In the `by_subject` index beside the user's sessions: userinfo finds the
            // user from the token's `sub`.
            .set("gsi1pk", s(format!("SUB#{}", u.sub)))
            .set("gsi1sk", s(USER_INDEX_SK));
        item
    }

    pub fn to_user(&self) -> StoreResult<UserRecord> {
        Ok(UserRecord {
            username: self.req_s("username")?,
            sub: Subject::new(self.req_s("sub")?),
            password_hash: PasswordHashString::from_stored(self.req_s("password_hash")?),
            disabled: self.req_bool("disabled")?,
        })
    }

    pub fn to_user_profile(&self) -> StoreResult<UserProfile> {
        Ok(UserProfile {
            username: self.req_s("username")?,
            sub: Subject::new(self.req_s("sub")?),
            disabled: self.req_bool("disabled")?,
        })
    }

    pub fn from_session(x: &SessionRecord) -> Self {
        let mut item = Self::keyed(Key::session(&x.sid));
        item.set("sid", s(x.sid.as_str()))
            .set("sub", s(x.sub.as_str()))
            .set("auth_time", n(x.auth_time.0))
            .set(EXPIRES_AT, n(x.expires_at.0))
            // The `by_subject` index: every session of a user, for "log out everywhere".
            .set("gsi1pk", s(format!("SUB#{}", x.sub)))
            .set("gsi1sk", s(format!("{SESSION_INDEX_PREFIX}{}", x.sid)))
            .set_opt("username", x.browser.as_ref().map(|b| s(&b.username)))
            .set_opt("browser_secret", x.browser.as_ref().map(|b| s(&b.secret_digest)))
            // A string set, so that a client joins at most once (`ADD` is idempotent);
            // DynamoDB has no empty set: a browser session begins without the attribute.
            .set_opt(
                "client_ids",
                (!x.client_ids.is_empty())
                    .then(|| AttributeValue::Ss(x.client_ids.iter().map(|c| c.to_string()).collect())),
            );
        item
    }

    pub fn to_session(&self) -> StoreResult<SessionRecord> {
        let browser = match (self.opt_s("username")?, self.opt_s("browser_secret")?) {
            (Some(username), Some(secret_digest)) => Some(BrowserLogin { username, secret_digest }),
            _ => None,
        };
        Ok(SessionRecord {
            sid: Sid::new(self.req_s("sid")?),
            sub: Subject::new(self.req_s("sub")?),
            client_ids: self.opt_string_set("client_ids")?.into_iter().map(ClientId::new).collect(),
            auth_time: UnixTime(self.req_n("auth_time")?),
            expires_at: UnixTime(self.req_n(EXPIRES_AT)?),
            browser,
        })
    }

    pub fn from_family(f: &FamilyRecord) -> Self {
        let mut item = Self::keyed(Key::family(&f.fid));
        item.set("fid", s(f.fid.as_str()))
            .set("sid", s(f.sid.as_str()))
            .set("sub", s(f.sub.as_str()))
            .set("username", s(&f.username))
            .set("client_id", s(f.client_id.as_str()))
            .set("client_epoch", s(f.client_epoch.as_str()))
            .set("scope", s(f.scope.to_string()))
            .set("generation", n(u64::from(f.generation)))
            .set("created_at", n(f.created_at.0))
            .set("rotated_at", n(f.rotated_at.0))
            .set("status", s(f.status.as_str()))
            .set_opt("dpop_jkt", f.dpop_jkt.as_deref().map(s))
            .set(EXPIRES_AT, n(f.expires_at.0));
        item
    }

    pub fn to_family(&self) -> StoreResult<FamilyRecord> {
        let generation = u32::try_from(self.req_n("generation")?).map_err(|_| self.corrupt("generation"))?;
        Ok(FamilyRecord {
            fid: FamilyId::new(self.req_s("fid")?),
            sid: Sid::new(self.req_s("sid")?),
            sub: Subject::new(self.req_s("sub")?),
            username: self.req_s("username")?,
            client_id: ClientId::new(self.req_s("client_id")?),
            client_epoch: ClientEpoch::new(self.req_s("client_epoch")?),
            scope: self.scope("scope")?,
            generation,
            created_at: UnixTime(self.req_n("created_at")?),
            rotated_at: UnixTime(self.req_n("rotated_at")?),
            status: FamilyStatus::parse(&self.req_s("status")?).ok_or_else(|| self.corrupt("status"))?,
            expires_at: UnixTime(self.req_n(EXPIRES_AT)?),
            dpop_jkt: self.opt_s("dpop_jkt")?,
        })
    }
}

/// The feed's index partition of a marker key.
pub(crate) fn feed_partition(shard: u8) -> String {
    format!("{FEED_INDEX_PREFIX}{shard}")
}

/// The feed's index keys of the marker `pk` stamped at `stamp`: its shard's partition,
/// and the stamp, zero-padded so that strings sort as instants, then the marker's key
/// (unique).
pub(crate) fn feed_index_keys(pk: &str, stamp: UnixMillis) -> (AttributeValue, AttributeValue) {
    (s(feed_partition(feed::shard_of(pk))), s(format!("{:013}#{pk}", stamp.0)))
}

/// The lowest feed sort key at `from`.
pub(crate) fn feed_from_key(from: UnixMillis) -> String {
    format!("{:013}", from.0)
}

impl Item {
    /// A marker as written, with its feed record (index keys by its writer's `stamp`) in
    /// the same item: no marker can be missing from the feed.
    pub fn from_marker(marker: &Marker, stamp: UnixMillis) -> Self {
        let mut item = Self::marker_fields(marker);
        let (partition, sort) = feed_index_keys(item.pk().unwrap_or_default(), stamp);
        item.set("gsi1pk", partition).set("gsi1sk", sort);
        item
    }

    /// A feed record, as the index returns it.
    pub fn to_log_record(&self) -> StoreResult<LogRecord> {
        let key = self.req_s("pk")?;
        let sort_key = self.req_s("gsi1sk")?;
        let stamp = sort_key.split('#').next().and_then(|t| t.parse().ok()).ok_or_else(|| self.corrupt("gsi1sk"))?;
        let (kind, value) = [
            ("REVOKED#JTI#", EntryKind::Jti),
            ("REVOKED#FID#", EntryKind::Fid),
            ("REVOKED#SID#", EntryKind::Sid),
            ("REVOKED#SUB#", EntryKind::Sub),
            ("REVOKED#CLIENT#", EntryKind::Client),
        ]
        .into_iter()
        .find_map(|(prefix, kind)| key.strip_prefix(prefix).map(|value| (kind, value.to_string())))
        .ok_or_else(|| self.corrupt("pk"))?;
        let before = match kind {
            EntryKind::Sub | EntryKind::Client => Some(self.req_n("not_before")?),
            _ => None,
        };
        let expires_at = self.req_n(EXPIRES_AT)?;
        Ok(LogRecord { stamp: UnixMillis(stamp), key, entry: FeedEntry { kind, value, before, expires_at } })
    }

    fn marker_fields(marker: &Marker) -> Self {
        let mut item;
        match marker {
            Marker::Token { jti, expires_at } => {
                item = Self::keyed(Key::token_marker(jti));
                item.set(EXPIRES_AT, n(expires_at.0));
            }
            Marker::Family { fid, revoked_at, reason, expires_at } => {
                item = Self::keyed(Key::family_marker(fid));
                item.set("revoked_at", n(revoked_at.0))
                    .set("reason", s(reason.as_str()))
                    .set(EXPIRES_AT, n(expires_at.0));
            }
            Marker::Session { sid, revoked_at, reason, expires_at } => {
                item = Self::keyed(Key::session_marker(sid));
                item.set("revoked_at", n(revoked_at.0))
                    .set("reason", s(reason.as_str()))
                    .set(EXPIRES_AT, n(expires_at.0));
            }
            Marker::Subject { sub, not_before, expires_at } => {
                item = Self::keyed(Key::subject_marker(sub));
                item.set("not_before", n(not_before.0)).set(EXPIRES_AT, n(expires_at.0));
            }
            Marker::Client { client_id, not_before, expires_at } => {
                item = Self::keyed(Key::client_marker(client_id));
                item.set("not_before", n(not_before.0)).set(EXPIRES_AT, n(expires_at.0));
            }
        }
        item
    }
}

impl Item {
    pub fn from_failures(attempted: &Attempted, count: &FailureCount) -> Self {
        let mut item = Self::keyed(Key::failures(attempted));
        item.set(FAILURES, n(u64::from(count.failures)))
            .set(LAST_FAILED_AT, n(count.last_failed_at.0))
            .set(EXPIRES_AT, n(count.expires_at().0));
        item
    }

    /// The count as it stands at `now` (none once lapsed).
    pub fn to_failures(&self, now: UnixTime) -> StoreResult<FailureCount> {
        let failures = u32::try_from(self.req_n(FAILURES)?).map_err(|_| self.corrupt(FAILURES))?;
        Ok(FailureCount { failures, last_failed_at: UnixTime(self.req_n(LAST_FAILED_AT)?) }.at(now))
    }

    pub fn from_authorization(r: &AuthorizationRequest) -> Self {
        let mut item = Self::keyed(Key::authorization(&r.id));
        item.set("id", s(&r.id))
            .set("client_id", s(r.client_id.as_str()))
            .set("redirect_uri", s(&r.redirect_uri))
            .set("scope", s(r.scope.to_string()))
            .set("code_challenge", s(&r.code_challenge))
            .set("csrf_digest", s(&r.csrf_digest))
            .set(EXPIRES_AT, n(r.expires_at.0))
            .set_opt("state", r.state.as_deref().map(s))
            .set_opt("nonce", r.nonce.as_deref().map(s))
            .set_opt("login_hint", r.login_hint.as_deref().map(s));
        item
    }

    pub fn to_authorization(&self) -> StoreResult<AuthorizationRequest> {
        Ok(AuthorizationRequest {
            id: self.req_s("id")?,
            client_id: ClientId::new(self.req_s("client_id")?),
            redirect_uri: self.req_s("redirect_uri")?,
            scope: self.scope("scope")?,
            state: self.opt_s("state")?,
            nonce: self.opt_s("nonce")?,
            code_challenge: self.req_s("code_challenge")?,
            login_hint: self.opt_s("login_hint")?,
            csrf_digest: self.req_s("csrf_digest")?,
            expires_at: UnixTime(self.req_n(EXPIRES_AT)?),
        })
    }

    pub fn from_code(c: &AuthorizationCode) -> Self {
        let mut item = Self::keyed(Key::code(&c.digest));
        item.set("digest", s(&c.digest))
            .set("client_id", s(c.client_id.as_str()))
            .set("redirect_uri", s(&c.redirect_uri))
            .set("scope", s(c.scope.to_string()))
            .set("code_challenge", s(&c.code_challenge))
            .set("sid", s(c.sid.as_str()))
            .set("sub", s(c.sub.as_str()))
            .set("username", s(&c.username))
            .set("auth_time", n(c.auth_time.0))
            .set("session_ends_at", n(c.session_ends_at.0))
            .set("client_in_session", AttributeValue::Bool(c.client_in_session))
            .set("valid_until", n(c.valid_until.0))
            .set(EXPIRES_AT, n(c.expires_at.0))
            .set_opt("nonce", c.nonce.as_deref().map(s))
            .set_opt("redeemed_by", c.redeemed_by.as_ref().map(|fid| s(fid.as_str())));
        item
    }

    pub fn to_code(&self) -> StoreResult<AuthorizationCode> {
        Ok(AuthorizationCode {
            digest: self.req_s("digest")?,
            client_id: ClientId::new(self.req_s("client_id")?),
            redirect_uri: self.req_s("redirect_uri")?,
            scope: self.scope("scope")?,
            nonce: self.opt_s("nonce")?,
            code_challenge: self.req_s("code_challenge")?,
            sid: Sid::new(self.req_s("sid")?),
            sub: Subject::new(self.req_s("sub")?),
            username: self.req_s("username")?,
            auth_time: UnixTime(self.req_n("auth_time")?),
            session_ends_at: UnixTime(self.req_n("session_ends_at")?),
            client_in_session: self.req_bool("client_in_session")?,
            valid_until: UnixTime(self.req_n("valid_until")?),
            redeemed_by: self.opt_s("redeemed_by")?.map(FamilyId::new),
            expires_at: UnixTime(self.req_n(EXPIRES_AT)?),
        })
    }

    pub fn from_delivery(d: &DeliveryRecord) -> Self {
        let mut item = Self::keyed(Key::delivery(&d.id));
        item.set("delivery_id", s(&d.id))
            .set("client_id", s(d.client_id.as_str()))
            .set("sid", s(d.sid.as_str()))
            .set("sub", s(d.sub.as_str()))
            .set("uri", s(&d.uri))
            .set("created_at", n(d.created_at.0))
            .set("attempts", n(u64::from(d.attempts)))
            .set("next_attempt_at", n(d.next_attempt_at.0))
            .set("status", s(d.status.as_str()))
            .set(EXPIRES_AT, n(d.expires_at.0))
            .set_opt("last_error", d.last_error.as_deref().map(s));
        if d.status == DeliveryStatus::Pending {
            item.set("gsi1pk", s(pending_shard(&d.id))).set("gsi1sk", s(delivery_index_key(d.next_attempt_at, &d.id)));
        }
        item
    }

    pub fn to_delivery(&self) -> StoreResult<DeliveryRecord> {
        Ok(DeliveryRecord {
            id: self.req_s("delivery_id")?,
            client_id: ClientId::new(self.req_s("client_id")?),
            sid: Sid::new(self.req_s("sid")?),
            sub: Subject::new(self.req_s("sub")?),
            uri: self.req_s("uri")?,
            created_at: UnixTime(self.req_n("created_at")?),
            attempts: u32::try_from(self.req_n("attempts")?).map_err(|_| self.corrupt("attempts"))?,
            next_attempt_at: UnixTime(self.req_n("next_attempt_at")?),
            last_error: self.opt_s("last_error")?,
            status: DeliveryStatus::parse(&self.req_s("status")?).ok_or_else(|| self.corrupt("status"))?,
            expires_at: UnixTime(self.req_n(EXPIRES_AT)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::behaviour::sample_client;

    /// A `private_key_jwt` client whose keys went missing (a partial edit) must not read
    /// as a public client, whose `client_id` alone would then be accepted.
    #[test]
    fn a_client_item_missing_its_keys_or_secret_is_corrupt_not_public() {
        let mut client = sample_client("keys");
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        client.authentication = ClientAuthentication::PrivateKeyJwt(ClientJwks::parse(jwks).unwrap());
        let mut item = Item::from_client(&client);
        assert_eq!(item.to_client().unwrap(), client);
        item.0.remove("jwks");
        assert!(matches!(item.to_client(), Err(StoreError::Corrupt(_))));

        let mut secret = Item::from_client(&sample_client("secret"));
        secret.0.remove("secret_hash");
        assert!(matches!(secret.to_client(), Err(StoreError::Corrupt(_))));
        // Items from before `auth_method`: a secret, or nothing (a public client).
        let mut legacy = Item::from_client(&sample_client("legacy"));
        legacy.0.remove("auth_method");
        assert!(matches!(legacy.to_client().unwrap().authentication, ClientAuthentication::Secret(_)));
    }
}
