//! Browser sign-in (OIDC Core §3.1, RFC 6749 §4.1 with PKCE): the authorization request,
//! the hosted login page, single sign-on through a session cookie, and RP-initiated
//! logout (OpenID Connect RP-Initiated Logout 1.0). Codes, sessions and families are the
//! same as every other login's: rotation, reuse detection, the denylist and back-channel
//! logout apply unchanged.
//!
//! Round trips (docs/ARCHITECTURE.md §5): an authorization with a live single sign-on
//! session reads the session and writes the code, in a transaction that checks that no
//! revoke-all or disable came since the login (2); without one it writes the pending
//! request (1), and the login form reads it, reads the user with the failures counted
//! against the username, and writes session, code and the request's end in one
//! transaction (3).

mod authorize;
pub mod cookies;
mod end_session;
pub mod pkce;
pub mod redirect;
pub mod request;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::domain::{AuthorizationCode, SessionRecord};
use crate::keys::KeyRing;
use crate::logout::LogoutService;
use crate::oauth::client_auth::ClientDirectory;
use crate::pages::{ErrorPage, Page};
use crate::passwords::PasswordCheck;
use crate::policy::{CODE_RECORD_SECONDS, CODE_SECONDS};
use crate::secrets::{SecretString, digest_of, matches_digest, new_handed_out_secret};
use crate::store::{BrowserStore, StoreError};
use crate::time::UnixTime;
use cookies::{CookiePolicy, Cookies, SetCookie};
use std::sync::Arc;

pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const END_SESSION_PATH: &str = "/oauth2/end_session";

pub struct SignIn {
    pub(crate) config: Arc<Config>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clients: Arc<ClientDirectory>,
    pub(crate) store: Arc<dyn BrowserStore>,
    pub(crate) passwords: PasswordCheck,
    pub(crate) logout: LogoutService,
}

/// What the browser is answered.
pub enum Answer {
    /// 303 See Other, on to `location` (the client, with a code or an error).
    Redirect { location: String, cookies: Vec<SetCookie> },
    /// A page of ours.
    Page { status: u16, page: Page, cookies: Vec<SetCookie> },
}

impl Answer {
    fn error_page(status: u16, title: &str, message: &str) -> Self {
        Answer::Page { status, page: ErrorPage { title, message }.render(), cookies: Vec::new() }
    }

    /// The store could not be reached: try again (nothing was sent to the client).
    fn unavailable(err: StoreError) -> Self {
        err.report();
        Self::error_page(503, "Try again in a moment", "The sign-in service is briefly unavailable. Please try again.")
    }
}

/// Without the redirect's query (a code) or the page (a CSRF token).
impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Redirect { location, cookies } => f
                .debug_struct("Redirect")
                .field("to", &location.split('?').next().unwrap_or_default())
                .field("cookies", cookies)
                .finish_non_exhaustive(),
            Answer::Page { status, cookies, .. } => {
                f.debug_struct("Page").field("status", status).field("cookies", cookies).finish_non_exhaustive()
            }
        }
    }
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page").field("content_security_policy", &self.content_security_policy).finish_non_exhaustive()
    }
}

/// A code is the base64url of 32 random bytes: anything else is refused unread.
pub fn valid_code(code: &str) -> bool {
    code.len() == 43 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl SignIn {
    fn cookie_policy(&self) -> CookiePolicy {
        CookiePolicy::for_issuer(&self.config.issuer)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.issuer)
    }

    /// The live session this browser's cookie proves, if any. The `sid` alone proves
    /// nothing (relying parties see it in ID tokens): the secret half must match.
    async fn browser_session(&self, cookies: &Cookies) -> Result<Option<SessionRecord>, StoreError> {
        let Some((sid, secret)) = cookies.get(&self.cookie_policy().session()).and_then(|v| v.split_once('.')) else {
            return Ok(None);
        };
        if !crate::policy::valid_random_id(sid) || !valid_code(secret) {
            return Ok(None);
        }
        let session = self.store.session(&crate::ids::Sid::new(sid)).await?;
        Ok(session.filter(|s| s.browser.as_ref().is_some_and(|b| matches_digest(secret, &b.secret_digest))))
    }

    /// A fresh code for `session`, and its record (only the code's digest is stored).
    fn new_code(
        &self,
        client_id: &crate::ids::ClientId,
        redirect_uri: &str,
        requested: &request::Requested,
        session: &SessionRecord,
        username: &str,
    ) -> (SecretString, AuthorizationCode) {
        let code = new_handed_out_secret();
        let now = UnixTime::now();
        let record = AuthorizationCode {
            digest: digest_of(code.expose()),
            client_id: client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            scope: requested.scope.clone(),
            nonce: requested.nonce.clone(),
            code_challenge: requested.code_challenge.clone(),
            sid: session.sid.clone(),
            sub: session.sub.clone(),
            username: username.to_string(),
            auth_time: session.auth_time,
            session_ends_at: session.expires_at,
            client_in_session: session.client_ids.contains(client_id),
            valid_until: now.plus(CODE_SECONDS),
            redeemed_by: None,
            expires_at: now.plus(CODE_RECORD_SECONDS),
        };
        (code, record)
    }

    /// Back to the client with `params`, and the issuer (RFC 9207).
    fn back_to(&self, redirect_uri: &str, params: &[(&str, &str)], cookies: Vec<SetCookie>) -> Answer {
        let mut all = params.to_vec();
        all.push(("iss", &self.config.issuer));
        match redirect::with_params(redirect_uri, &all) {
            Some(location) => Answer::Redirect { location, cookies },
            // Registration admits only URLs; this is a corrupt registration.
            None => Answer::error_page(500, "Something went wrong", "This application is misconfigured."),
        }
    }
}
