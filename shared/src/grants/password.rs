//! RFC 6749 §4.3, the resource owner password grant. RFC 9700 §2.4 says it MUST NOT be
//! used: it stays for clients registered with it, as a migration path.

use super::{TokenIssuer, TokenResponse};
use crate::domain::{ClientRecord, Scope};
use crate::keys::KeySet;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::secrets::PasswordHashString;

impl TokenIssuer {
    /// Check the user's password, then start a login (one write: session and family).
    pub(super) async fn password(
        &self,
        keys: &KeySet,
        req: &OAuthRequest,
        client: &ClientRecord,
        scope: Scope,
    ) -> Result<TokenResponse, OAuthError> {
        let username = req.required("username", "username is required")?;
        let password = req.secret_param("password").ok_or(OAuthError::invalid_request("password is required"))?;
        // A username no user can have costs and reads like an unknown one, with no read.
        if crate::policy::validate_username(username).is_err() {
            PasswordHashString::verify_against_dummy(&password);
            return Err(bad_credentials(client, "unknown_user"));
        }
        let user = match self.users.user(username).await? {
            Some(user) if user.password_hash.verify(&password) => user,
            Some(_) => return Err(bad_credentials(client, "wrong_password")),
            None => {
                PasswordHashString::verify_against_dummy(&password);
                return Err(bad_credentials(client, "unknown_user"));
            }
        };
        if user.disabled {
            tracing::warn!(event = "login.refused", reason = "user_disabled", client_id = %client.id, sub = %user.sub);
            return Err(OAuthError::invalid_grant("the user is disabled"));
        }
        self.start_login(keys, client, &user, scope, "password").await
    }
}

fn bad_credentials(client: &ClientRecord, reason: &'static str) -> OAuthError {
    tracing::warn!(event = "login.refused", reason, client_id = %client.id);
    // RFC 6749 §5.2: invalid resource owner credentials are `invalid_grant`; unknown user
    // and wrong password read the same so usernames cannot be probed.
    OAuthError::invalid_grant("invalid username or password")
}
