//! The start of a login: what a grant that authenticates a user ends in. The password
//! grant writes a session and its first refresh-token family in one transaction (one round
//! trip: docs/ARCHITECTURE.md §5); the code grant begins a family in the session its code
//! stands for. Every token is signed before anything is written, so that a signing
//! failure leaves nothing behind.

use super::{LoginBinding, Sender, TokenIssuer, TokenResponse};
use crate::domain::{ClientRecord, FamilyRecord, FamilyStatus, Scope, SessionRecord, UserRecord};
use crate::ids::{FamilyId, Jti, Sid, Subject};
use crate::keys::KeySet;
use crate::oauth::OAuthError;
use crate::time::UnixTime;
use crate::tokens::id_token::{self, IdTokenClaims};
use crate::tokens::refresh::RefreshToken;
use std::collections::BTreeSet;

impl TokenIssuer {
    pub(super) async fn start_login(
        &self,
        keys: &KeySet,
        client: &ClientRecord,
        user: &UserRecord,
        scope: Scope,
        sender: Sender<'_>,
        grant_type: &'static str,
    ) -> Result<TokenResponse, OAuthError> {
        let now = UnixTime::now();
        let lifetimes = self.lifetimes(client);
        let sid = Sid::random();
        let session = SessionRecord {
            sid: sid.clone(),
            sub: user.sub.clone(),
            client_ids: BTreeSet::from([client.id.clone()]),
            auth_time: now,
            expires_at: now.plus(lifetimes.refresh_absolute),
            browser: None,
        };
        let family = self.new_family(client, &sid, &user.sub, &user.username, scope, sender, now);
        let (response, jti) = self.first_tokens(keys, client, &family, now, None, sender, now)?;
        self.sessions.begin_session(&session, &family).await?;
        tracing::info!(event = "token.issued", grant_type, client_id = %client.id, sub = %user.sub,
            sid = %sid, fid = %family.fid, jti = %jti);
        Ok(response)
    }

    /// A login's refresh family for `client`, at generation 0. A public client's family
    /// is bound to the DPoP key of the request that began it (RFC 9449 §5): its refresh
    /// token is useless without that key. A confidential client's is bound by the
    /// client's own authentication.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_family(
        &self,
        client: &ClientRecord,
        sid: &Sid,
        sub: &Subject,
        username: &str,
        scope: Scope,
        sender: Sender<'_>,
        now: UnixTime,
    ) -> FamilyRecord {
        FamilyRecord {
            dpop_jkt: sender.jkt.filter(|_| client.is_public()).map(str::to_string),
            fid: FamilyId::random(),
            sid: sid.clone(),
            sub: sub.clone(),
            username: username.to_string(),
            client_id: client.id.clone(),
            client_epoch: client.epoch.clone(),
            scope,
            generation: 0,
            created_at: now,
            rotated_at: now,
            status: FamilyStatus::Active,
            expires_at: now.plus(self.lifetimes(client).refresh_absolute),
        }
    }

    /// A login's first tokens, for `family` (generation 0): the access token, the
    /// refresh token, and an ID token when the scope has `openid`. All signed before
    /// anything is written, so that a signing failure leaves nothing behind.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn first_tokens(
        &self,
        keys: &KeySet,
        client: &ClientRecord,
        family: &FamilyRecord,
        auth_time: UnixTime,
        nonce: Option<&str>,
        sender: Sender<'_>,
        now: UnixTime,
    ) -> Result<(TokenResponse, Jti), OAuthError> {
        let login = LoginBinding { sid: family.sid.clone(), fid: family.fid.clone(), auth_time };
        let (access_token, expires_in, jti) =
            self.mint_access(keys, client, &family.scope, family.sub.clone(), Some(login), sender, now)?;
        let id_token = if family.scope.contains("openid") {
            let claims = IdTokenClaims {
                iss: self.config.issuer.clone(),
                sub: family.sub.clone(),
                aud: client.id.to_string(),
                exp: now.plus(self.lifetimes(client).id_token),
                iat: now,
                auth_time,
                sid: family.sid.clone(),
                nonce: nonce.map(str::to_string),
            };
            Some(id_token::mint(keys, client.id_token_alg(), &claims)?)
        } else {
            None
        };
        let refresh_token = RefreshToken { family: family.fid.clone(), generation: 0 }.encode(keys.refresh_mac_key());
        let response = TokenResponse {
            access_token,
            token_type: sender.token_type(),
            expires_in,
            scope: family.scope.clone(),
            refresh_token: Some(refresh_token),
            id_token,
        };
        Ok((response, jti))
    }
}
