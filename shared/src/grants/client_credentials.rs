//! RFC 6749 §4.4: a client acting on its own behalf. No user, no session: `sub` is the
//! client (RFC 9068 §2.2), and nothing is written.

use super::{Sender, TokenIssuer, TokenResponse};
use crate::domain::{ClientRecord, Scope};
use crate::ids::Subject;
use crate::keys::KeySet;
use crate::oauth::OAuthError;
use crate::time::UnixTime;

impl TokenIssuer {
    pub(super) fn client_credentials(
        &self,
        keys: &KeySet,
        client: &ClientRecord,
        scope: Scope,
        sender: Sender<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = UnixTime::now();
        let sub = Subject::new(client.id.as_str());
        let (access_token, expires_in, jti) = self.mint_access(keys, client, &scope, sub, None, sender, now)?;
        tracing::info!(event = "token.issued", grant_type = "client_credentials", client_id = %client.id, jti = %jti);
        Ok(TokenResponse {
            access_token,
            token_type: sender.token_type(),
            expires_in,
            scope,
            refresh_token: None,
            id_token: None,
        })
    }
}
