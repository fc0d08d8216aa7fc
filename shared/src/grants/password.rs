//! RFC 6749 §4.3, the resource owner password grant. RFC 9700 §2.4 says it MUST NOT be
//! used: it stays for clients registered with it, as a migration path.

use super::{Sender, TokenIssuer, TokenResponse};
use crate::domain::{ClientRecord, Scope};
use crate::keys::KeySet;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::passwords::PasswordRefusal;

impl TokenIssuer {
    /// Check the user's password, then start a login (one write: session and family).
    pub(super) async fn password(
        &self,
        keys: &KeySet,
        req: &OAuthRequest,
        client: &ClientRecord,
        scope: Scope,
        sender: Sender<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let username = req.required("username", "username is required")?;
        let password = req.secret_param("password").ok_or(OAuthError::invalid_request("password is required"))?;
        let user = self.passwords.check(username, &password).await.map_err(|refusal| match refusal {
            // RFC 6749 §5.2: invalid resource owner credentials are `invalid_grant`; unknown
            // user and wrong password read the same so usernames cannot be probed.
            PasswordRefusal::BadCredentials => OAuthError::invalid_grant("invalid username or password"),
            PasswordRefusal::Disabled => OAuthError::invalid_grant("the user is disabled"),
            PasswordRefusal::Throttled(retry_after) => OAuthError::throttled(retry_after),
            PasswordRefusal::Store(err) => err.into(),
        })?;
        self.start_login(keys, client, &user, scope, sender, "password").await
    }
}
