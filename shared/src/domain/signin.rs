//! Browser sign-in: a pending authorization request (RFC 6749 §4.1.1, OIDC Core
//! §3.1.2.1) waiting for its login form, the authorization code it ends in, and the
//! browser's single sign-on session.

use crate::domain::Scope;
use crate::ids::{ClientId, FamilyId, Sid, Subject};
use crate::time::UnixTime;

/// What `prompt` asks for (OIDC Core §3.1.2.1); `consent` and `select_account` have
/// nothing to ask here (first-party clients, one account per browser) and are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Prompt {
    #[default]
    Default,
    /// Never show a page: a live session, or `login_required`.
    None,
    /// Always show the login form, even with a live session.
    Login,
}

/// A validated authorization request waiting for the user to sign in. Its id goes in
/// the login form; the CSRF token that must come with it is in a cookie of the browser
/// that started it, and only its digest is here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub id: String,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// PKCE (RFC 7636), S256 only.
    pub code_challenge: String,
    pub login_hint: Option<String>,
    pub csrf_digest: String,
    pub expires_at: UnixTime,
}

/// An authorization code, keyed by the digest of the code itself (never stored). Valid
/// for a minute and once; its record lives longer so that a replay finds what the first
/// exchange issued and revokes it (RFC 6749 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub digest: String,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// The login the code stands for.
    pub sid: Sid,
    pub sub: Subject,
    pub username: String,
    pub auth_time: UnixTime,
    /// The session's end. The family the code begins ends no later: a logout's session
    /// marker lasts until the session's end, and must outlive every family of it.
    pub session_ends_at: UnixTime,
    /// The client was one of the session's already when the code was issued: the
    /// exchange then only checks that the session is live, and leaves its item (and its
    /// index entry) unwritten.
    pub client_in_session: bool,
    /// The code may be exchanged until then.
    pub valid_until: UnixTime,
    /// Set by the one exchange: the family it began.
    pub redeemed_by: Option<FamilyId>,
    pub expires_at: UnixTime,
}

/// What a browser's session cookie proves: the session's user, and the digest of the
/// secret half of the cookie (the `sid` alone is not enough: relying parties see it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserLogin {
    pub username: String,
    pub secret_digest: String,
}

/// What an exchange of a code came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// The family began, with the session.
    Redeemed,
    /// The code was exchanged before (the family it began, to revoke), or is past its
    /// minute.
    Spent(Option<FamilyId>),
    /// The session ended, or its user's tokens were revoked since the session began (a
    /// logout, revoke-all or disable came first).
    SessionGone,
}
