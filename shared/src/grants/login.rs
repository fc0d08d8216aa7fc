//! The start of a user session: what a grant that authenticates a user ends in. A
//! session and its first refresh-token family are written in one transaction (one round
//! trip: docs/ARCHITECTURE.md §5), after every token is signed, so that a signing failure
//! leaves nothing behind.

use super::{LoginBinding, TokenIssuer, TokenResponse};
use crate::domain::{ClientRecord, FamilyRecord, FamilyStatus, Scope, SessionRecord, UserRecord};
use crate::ids::{FamilyId, Sid};
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
        grant_type: &'static str,
    ) -> Result<TokenResponse, OAuthError> {
        let now = UnixTime::now();
        let lifetimes = self.lifetimes(client);
        let sid = Sid::random();
        let fid = FamilyId::random();
        let session = SessionRecord {
            sid: sid.clone(),
            sub: user.sub.clone(),
            client_ids: BTreeSet::from([client.id.clone()]),
            auth_time: now,
            expires_at: now.plus(lifetimes.refresh_absolute),
        };
        let family = FamilyRecord {
            fid: fid.clone(),
            sid: sid.clone(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            client_id: client.id.clone(),
            client_epoch: client.epoch.clone(),
            scope: scope.clone(),
            generation: 0,
            created_at: now,
            rotated_at: now,
            status: FamilyStatus::Active,
            expires_at: now.plus(lifetimes.refresh_absolute),
        };
        let login = LoginBinding { sid: sid.clone(), fid: fid.clone(), auth_time: now };
        let (access_token, expires_in, jti) =
            self.mint_access(keys, client, &scope, user.sub.clone(), Some(login), now)?;
        let id_token = if scope.contains("openid") {
            let claims = IdTokenClaims {
                iss: self.config.issuer.clone(),
                sub: user.sub.clone(),
                aud: client.id.to_string(),
                exp: now.plus(lifetimes.id_token),
                iat: now,
                auth_time: now,
                sid: sid.clone(),
            };
            Some(id_token::mint(keys, client.id_token_alg(), &claims)?)
        } else {
            None
        };
        let refresh_token = RefreshToken { family: fid.clone(), generation: 0 }.encode(keys.refresh_mac_key());
        self.sessions.begin_session(&session, &family).await?;
        tracing::info!(event = "token.issued", grant_type, client_id = %client.id, sub = %user.sub,
            sid = %sid, fid = %fid, jti = %jti);
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            scope,
            refresh_token: Some(refresh_token),
            id_token,
        })
    }
}
