//! Policy: the lifetimes and limits every grant, check and writer applies, in one place.
//!
//! * the limits (longest token, longest family, clock leeway);
//! * lifetime resolution: a client's overrides over the configured defaults;
//! * how long a revocation marker must live for what it covers;
//! * whether a refresh family is still live (refresh and introspection agree);
//! * the invariants of a client registration (`ClientRecord::validate`);
//! * brute-force throttling: how many failures are free, and the backoff after.

use crate::domain::{ClientRecord, FamilyRecord, FamilyStatus, GrantType, SessionRecord, SigningAlgorithm};
use crate::time::UnixTime;
use url::Url;

/// Clock skew tolerated on `exp`, `nbf` and `iat` between this server and verifiers.
pub const LEEWAY_SECONDS: u64 = 30;

/// The longest any access or ID token lives (a client may not ask for more): how long a
/// retired signing key keeps verifying.
pub const MAX_TOKEN_LIFETIME: u64 = 24 * 3600;

/// The longest a refresh family may live: a revoke-all marker must outlive every family
/// it covers.
pub const MAX_FAMILY_LIFETIME: u64 = 365 * 24 * 3600;

/// The longest refresh grace window: longer would all but turn reuse detection off.
pub const MAX_REFRESH_GRACE: u64 = 120;

/// How long clients may cache the discovery metadata and the JWKS: a key must be
/// published at least this long before it signs.
pub const JWKS_MAX_AGE_SECONDS: u64 = 300;

/// Failed authentications of one username or client id answered as usual in a row;
/// from then on each failure earns a window in which every attempt is refused unchecked
/// (HTTP 429), even one with the right secret.
pub const FREE_FAILURES: u32 = 5;

/// The first window; it doubles with each further failure, up to the cap.
pub const FIRST_BACKOFF_SECONDS: u64 = 1;
pub const MAX_BACKOFF_SECONDS: u64 = 15 * 60;

/// A failure count lapses this long after its last failure: once the longest window (and
/// the second it is rounded up by) is over, so that a window never outlives its count.
pub const FAILURE_MEMORY_SECONDS: u64 = MAX_BACKOFF_SECONDS + 1;

/// The refusal window that `failures` consecutive failures earn, if any.
pub fn backoff_after(failures: u32) -> Option<u64> {
    let beyond = failures.checked_sub(FREE_FAILURES)?;
    Some(FIRST_BACKOFF_SECONDS.checked_shl(beyond).unwrap_or(u64::MAX).min(MAX_BACKOFF_SECONDS))
}

/// How long a pending authorization request waits for its login form.
pub const AUTHORIZATION_REQUEST_SECONDS: u64 = 10 * 60;

/// An authorization code may be exchanged within this (RFC 6749 §4.1.2: short).
pub const CODE_SECONDS: u64 = 60;

/// How long a code's record outlives its minute: a replay within it finds the family its
/// first exchange began, and revokes it.
pub const CODE_RECORD_SECONDS: u64 = 60 * 60;

/// Bounds on what an authorization request carries into the table and back.
pub const MAX_STATE_BYTES: usize = 2048;
pub const MAX_NONCE_BYTES: usize = 512;

/// How far ahead a client assertion's `exp` may be (RFC 7523 §3 item 4 leaves the limit to
/// the server), beyond the clock skew a client may have (`LEEWAY_SECONDS`): its `jti` is
/// remembered until its `exp`, so this bounds both how long a stolen assertion works and
/// how long its single-use entry lives.
pub const MAX_CLIENT_ASSERTION_SECONDS: u64 = 5 * 60;

/// Token and family lifetimes in seconds: the configured defaults, or (through
/// [`Lifetimes::for_client`]) what applies to one client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lifetimes {
    pub access_token: u64,
    pub id_token: u64,
    /// Absolute lifetime of a refresh-token family (and of its session).
    pub refresh_absolute: u64,
    /// A family unused for this long is dead.
    pub refresh_idle: u64,
    /// How long a just-rotated refresh token still yields the same successor.
    pub refresh_grace: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: 600,
            id_token: 300,
            refresh_absolute: 30 * 24 * 3600,
            refresh_idle: 7 * 24 * 3600,
            refresh_grace: 10,
        }
    }
}

/// What a revocation marker covers, which decides how long it must live.
pub enum Covers<'a> {
    /// One access token, whose own `exp` is known.
    Token { exp: UnixTime },
    /// Every access token issued from one family, and the family itself until its own
    /// end (`None` when it is gone): a marker that outlives the family keeps refusing it
    /// even if its item was never marked revoked (a lost transaction).
    Family { family_expires_at: Option<UnixTime> },
    /// Every token and family of this session.
    Session(&'a SessionRecord),
    /// Everything a subject was issued before the marker's line.
    Subject,
    /// Everything a removed client was issued before `not_before`.
    Client { not_before: UnixTime },
}

/// Where a refresh family stands, whatever asks (a refresh or an introspection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyState {
    Live,
    Revoked,
    /// Unused for longer than the idle lifetime.
    Idle,
}

/// Lifetimes that break the grace window's bounds.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidLifetimes {
    #[error("the refresh grace window may not exceed {MAX_REFRESH_GRACE} seconds")]
    GraceTooLong,
    #[error("the refresh grace window may not exceed the refresh idle lifetime")]
    GraceBeyondIdle,
}

impl InvalidLifetimes {
    /// The environment variable to blame.
    pub fn variable(&self) -> &'static str {
        "REFRESH_GRACE_SECONDS"
    }
}

impl Lifetimes {
    /// The lifetimes that apply to `client`: its overrides, else these defaults. The grace
    /// window never exceeds the idle lifetime, whichever of them the client overrides.
    pub fn for_client(&self, client: &ClientRecord) -> Lifetimes {
        let own = &client.lifetimes;
        let refresh_idle = own.refresh_idle.unwrap_or(self.refresh_idle);
        Lifetimes {
            access_token: own.access_token.unwrap_or(self.access_token),
            id_token: self.id_token,
            refresh_absolute: own.refresh_absolute.unwrap_or(self.refresh_absolute),
            refresh_idle,
            refresh_grace: own.refresh_grace.unwrap_or(self.refresh_grace).min(refresh_idle),
        }
    }

    pub fn validate(&self) -> Result<(), InvalidLifetimes> {
        if self.refresh_grace > MAX_REFRESH_GRACE {
            return Err(InvalidLifetimes::GraceTooLong);
        }
        if self.refresh_grace > self.refresh_idle {
            return Err(InvalidLifetimes::GraceBeyondIdle);
        }
        Ok(())
    }

    /// When a marker written at `now` may go: after it, nothing it covers can still be
    /// valid (docs/ARCHITECTURE.md §3.9). Where the covered tokens' own `exp` is unknown,
    /// the marker is sized by the longest lifetime such a token can have, never by the
    /// current settings: a token issued under a longer lifetime (a client re-registered,
    /// a redeploy with a shorter TTL) must not outlive its marker.
    pub fn marker_expiry(&self, covers: Covers<'_>, now: UnixTime) -> UnixTime {
        let longest_access_token = now.plus(MAX_TOKEN_LIFETIME + LEEWAY_SECONDS);
        match covers {
            Covers::Token { exp } => exp.plus(LEEWAY_SECONDS),
            Covers::Family { family_expires_at } => longest_access_token.max(family_expires_at.unwrap_or(now)),
            // The session's families rotate until it expires; its access tokens live on.
            Covers::Session(session) => session.expires_at.max(longest_access_token),
            Covers::Subject => now.plus(MAX_FAMILY_LIFETIME.max(self.refresh_absolute) + LEEWAY_SECONDS),
            // Its refresh families die with its registration; its access tokens live on.
            Covers::Client { not_before } => not_before.plus(MAX_TOKEN_LIFETIME + LEEWAY_SECONDS),
        }
    }

    /// When the family dies of disuse (these are the family's client's lifetimes).
    pub fn idle_deadline(&self, family: &FamilyRecord) -> UnixTime {
        family.rotated_at.plus(self.refresh_idle)
    }

    /// Whether `family` still yields tokens at `now`. Its absolute end needs no check
    /// here: the store treats an expired family as absent.
    pub fn family_state(&self, family: &FamilyRecord, now: UnixTime) -> FamilyState {
        if family.status == FamilyStatus::Revoked {
            FamilyState::Revoked
        } else if self.idle_deadline(family).has_passed(now) {
            FamilyState::Idle
        } else {
            FamilyState::Live
        }
    }
}

/// A client registration that breaks an invariant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidClient {
    #[error("a client id must be 1 to 256 bytes, without ':' '#' or control characters")]
    Id,
    #[error("the back-channel logout URI: {0}")]
    BackchannelLogoutUri(String),
    #[error("the access-token lifetime may not exceed {MAX_TOKEN_LIFETIME} seconds (a day)")]
    AccessTokenLifetime,
    #[error("the refresh-token lifetime may not exceed {MAX_FAMILY_LIFETIME} seconds (365 days)")]
    FamilyLifetime,
    #[error("the refresh grace window may not exceed {MAX_REFRESH_GRACE} seconds, nor the refresh idle lifetime")]
    Grace,
    #[error("a client's tokens may be signed with ES256 or RS256")]
    Algorithm,
    #[error("the redirect URI {0}")]
    RedirectUri(String),
    #[error("a client with the authorization_code grant needs at least one redirect URI")]
    NoRedirectUri,
    #[error("the allowed origin {0}")]
    Origin(String),
    #[error("a public client may use only the authorization_code and refresh_token grants")]
    PublicGrant,
    #[error("a public client has no secret to authenticate with: it may not introspect or be an admin")]
    PublicPrivilege,
    #[error("a display name is 1 to 100 characters, without control characters")]
    Name,
    #[error("at most {MAX_BROWSER_ENTRIES} redirect URIs, post-logout redirect URIs and allowed origins each")]
    TooMany,
}

/// Redirect URIs, post-logout redirect URIs and allowed origins a client may register,
/// each.
pub const MAX_BROWSER_ENTRIES: usize = 20;

/// Identifiers that arrive from outside end up in DynamoDB keys (at most 2048 bytes):
/// anything longer than this, or with control characters, is refused at the wire, before
/// any store call.
pub const MAX_IDENTIFIER_BYTES: usize = 256;

/// A client id: what `tokenctl` registers and what client authentication accepts.
pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_IDENTIFIER_BYTES && !id.contains([':', '#']) && !id.chars().any(char::is_control)
}

/// A subject identifier as a client may name it (an admin logout's `sub`).
pub fn valid_subject(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_IDENTIFIER_BYTES && !sub.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// An identifier this server made (`sid`, `jti`, `fid`): 128 random bits, base64url.
pub fn valid_random_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ClientRecord {
    /// The invariants every writer of a client checks (the store and the CLI).
    pub fn validate(&self) -> Result<(), InvalidClient> {
        if !valid_client_id(self.id.as_str()) {
            return Err(InvalidClient::Id);
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            backchannel_logout_uri(uri).map_err(InvalidClient::BackchannelLogoutUri)?;
        }
        if self.lifetimes.access_token.is_some_and(|ttl| ttl > MAX_TOKEN_LIFETIME) {
            return Err(InvalidClient::AccessTokenLifetime);
        }
        if self.lifetimes.refresh_absolute.is_some_and(|ttl| ttl > MAX_FAMILY_LIFETIME) {
            return Err(InvalidClient::FamilyLifetime);
        }
        let per_client =
            |alg: Option<SigningAlgorithm>| alg.is_none_or(|alg| SigningAlgorithm::PER_CLIENT.contains(&alg));
        if !per_client(self.signing.access_token) || !per_client(self.signing.id_token) {
            return Err(InvalidClient::Algorithm);
        }
        if let Some(grace) = self.lifetimes.refresh_grace
            && (grace > MAX_REFRESH_GRACE || self.lifetimes.refresh_idle.is_some_and(|idle| grace > idle))
        {
            return Err(InvalidClient::Grace);
        }
        self.validate_browser()
    }

    fn validate_browser(&self) -> Result<(), InvalidClient> {
        let browser = &self.browser;
        // Each origin is one more item in the client's registration transaction.
        let too_many = [&browser.redirect_uris, &browser.post_logout_redirect_uris, &browser.allowed_origins];
        if too_many.iter().any(|list| list.len() > MAX_BROWSER_ENTRIES) {
            return Err(InvalidClient::TooMany);
        }
        for uri in browser.redirect_uris.iter().chain(&browser.post_logout_redirect_uris) {
            redirect_uri(uri).map_err(|why| InvalidClient::RedirectUri(format!("{uri:?}: {why}")))?;
        }
        if self.allows(GrantType::AuthorizationCode) && browser.redirect_uris.is_empty() {
            return Err(InvalidClient::NoRedirectUri);
        }
        for allowed in &browser.allowed_origins {
            origin(allowed).map_err(|why| InvalidClient::Origin(format!("{allowed:?}: {why}")))?;
        }
        if self.is_public() && !self.grant_types.iter().all(|g| GrantType::PUBLIC.contains(g)) {
            return Err(InvalidClient::PublicGrant);
        }
        if self.is_public() && (self.may_introspect || self.admin) {
            return Err(InvalidClient::PublicPrivilege);
        }
        if let Some(name) = &browser.name
            && (name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control))
        {
            return Err(InvalidClient::Name);
        }
        Ok(())
    }
}

/// A redirect URI as registration accepts it, for authorization and for logout. It is
/// matched exactly later, so it has no wildcard and no fragment (RFC 6749 §3.1.2): `https`;
/// `http` only to loopback (RFC 8252 §7.3); or a native app's private-use scheme in
/// reverse-domain form, such as `com.example.app:/callback` (RFC 8252 §7.1).
pub fn redirect_uri(raw: &str) -> Result<Url, String> {
    if raw.contains('*') {
        return Err("may not hold a wildcard".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not an absolute URL: {e}"))?;
    if url.fragment().is_some() {
        return Err("may not have a fragment".into());
    }
    // The login and sign-out pages' Content-Security-Policy must name the target in
    // `form-action`, and CSP has no syntax for an IPv6 address.
    if matches!(url.host(), Some(url::Host::Ipv6(_))) {
        return Err("may not name an IPv6 address (use 127.0.0.1 for loopback, or a host name)".into());
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" | "https" => Err("must be https (http only to loopback)".into()),
        scheme if scheme.contains('.') => Ok(url),
        _ => Err("must be https, http to loopback, or a reverse-domain private-use scheme".into()),
    }
}

/// An origin a browser app calls from: exactly `scheme://host[:port]`, https or loopback.
pub fn origin(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_ORIGIN_BYTES {
        return Err(format!("is longer than {MAX_ORIGIN_BYTES} bytes"));
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    let origin = url.origin().ascii_serialization();
    if origin != raw {
        return Err(format!("must be exactly an origin (scheme://host[:port]), such as {origin}"));
    }
    match url.scheme() {
        "https" => Ok(origin),
        "http" if is_loopback(&url) => Ok(origin),
        _ => Err("must be https (http only to loopback)".into()),
    }
}

/// `https://`, a DNS name (at most 253 bytes) and a port: an origin is never longer.
pub const MAX_ORIGIN_BYTES: usize = 270;

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// A username that breaks the rules (checked when a user is added, and at the wire).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a username must be 1 to {MAX_USERNAME_BYTES} bytes, without control characters or surrounding spaces")]
pub struct InvalidUsername;

/// Usernames live in a DynamoDB key (at most 2048 bytes): far below that.
pub const MAX_USERNAME_BYTES: usize = 256;

pub fn validate_username(username: &str) -> Result<(), InvalidUsername> {
    let ok = !username.is_empty()
        && username.len() <= MAX_USERNAME_BYTES
        && username.trim() == username
        && !username.chars().any(char::is_control);
    if ok { Ok(()) } else { Err(InvalidUsername) }
}

/// A back-channel logout URI: `https`, or `http` to loopback (local development and tests).
pub fn backchannel_logout_uri(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err("the back-channel logout URI must be https".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClientLifetimes;
    use crate::testing::kit;

    #[test]
    fn a_clients_overrides_win_over_the_defaults() {
        let mut client = kit::client("c", &[], "");
        client.lifetimes = ClientLifetimes { access_token: Some(60), refresh_grace: Some(0), ..Default::default() };
        let resolved = Lifetimes::default().for_client(&client);
        assert_eq!((resolved.access_token, resolved.refresh_grace), (60, 0));
        assert_eq!(resolved.refresh_idle, Lifetimes::default().refresh_idle);
    }

    #[test]
    fn a_family_is_idle_from_its_deadline_on() {
        let now = UnixTime::now();
        let (_, family) = kit::session(now, 3600);
        let lifetimes = Lifetimes { refresh_idle: 60, ..Default::default() };
        assert_eq!(lifetimes.family_state(&family, now.plus(59)), FamilyState::Live);
        assert_eq!(lifetimes.family_state(&family, now.plus(60)), FamilyState::Idle);
        let revoked = FamilyRecord { status: FamilyStatus::Revoked, ..family };
        assert_eq!(lifetimes.family_state(&revoked, now), FamilyState::Revoked);
    }

    #[test]
    fn markers_outlive_the_longest_token_they_can_cover_whatever_the_current_settings() {
        let now = UnixTime::now();
        let short = Lifetimes { access_token: 60, ..Default::default() };
        let longest = now.plus(MAX_TOKEN_LIFETIME + LEEWAY_SECONDS);
        assert_eq!(short.marker_expiry(Covers::Family { family_expires_at: None }, now), longest);
        let family_end = now.plus(MAX_FAMILY_LIFETIME);
        assert_eq!(short.marker_expiry(Covers::Family { family_expires_at: Some(family_end) }, now), family_end);
        let (session, _) = kit::session(now, 60);
        assert_eq!(short.marker_expiry(Covers::Session(&session), now), longest);
        let (long_session, _) = kit::session(now, MAX_FAMILY_LIFETIME);
        assert_eq!(short.marker_expiry(Covers::Session(&long_session), now), long_session.expires_at);
        assert_eq!(short.marker_expiry(Covers::Token { exp: now.plus(5) }, now), now.plus(5 + LEEWAY_SECONDS));
        assert!(short.marker_expiry(Covers::Subject, now) >= now.plus(MAX_FAMILY_LIFETIME));
    }

    #[test]
    fn only_https_or_loopback_http_is_a_backchannel_logout_uri() {
        assert!(backchannel_logout_uri("https://rp.example.com/logout").is_ok());
        assert!(backchannel_logout_uri("http://127.0.0.1:8080/logout").is_ok());
        assert!(backchannel_logout_uri("http://localhost/logout").is_ok());
        assert!(backchannel_logout_uri("http://rp.example.com/logout").is_err());
        assert!(backchannel_logout_uri("ftp://rp.example.com/").is_err());
        assert!(backchannel_logout_uri("not a url").is_err());
    }

    #[test]
    fn client_invariants() {
        let ok = kit::client("svc", &[], "read");
        assert_eq!(ok.validate(), Ok(()));
        for id in ["", "a:b", "a#b", "a\nb"] {
            assert_eq!(kit::client(id, &[], "").validate(), Err(InvalidClient::Id), "{id:?}");
        }
        let mut long = ok.clone();
        long.lifetimes.access_token = Some(MAX_TOKEN_LIFETIME + 1);
        assert_eq!(long.validate(), Err(InvalidClient::AccessTokenLifetime));
        let mut plain = ok.clone();
        plain.backchannel_logout_uri = Some("http://rp.example.com/".into());
        assert!(matches!(plain.validate(), Err(InvalidClient::BackchannelLogoutUri(_))));
        let mut endless_grace = ok.clone();
        endless_grace.lifetimes.refresh_grace = Some(31_536_000);
        assert_eq!(endless_grace.validate(), Err(InvalidClient::Grace));
        let mut grace_beyond_idle = ok.clone();
        grace_beyond_idle.lifetimes =
            ClientLifetimes { refresh_grace: Some(60), refresh_idle: Some(30), ..Default::default() };
        assert_eq!(grace_beyond_idle.validate(), Err(InvalidClient::Grace));
    }

    #[test]
    fn the_grace_window_never_exceeds_the_idle_lifetime() {
        let mut client = kit::client("c", &[], "");
        client.lifetimes.refresh_idle = Some(5);
        assert_eq!(Lifetimes::default().for_client(&client).refresh_grace, 5);
    }

    #[test]
    fn redirect_uris_are_exact_targets_a_pages_policy_can_name() {
        for good in
            ["https://app.example.com/cb", "http://127.0.0.1:8080/cb", "http://localhost/cb", "com.example.app:/cb"]
        {
            assert!(redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "https://*.example.com/cb",
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "http://[::1]:8080/cb",
            "https://[2001:db8::1]/cb",
            "javascript:alert(1)",
            "relative/cb",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
