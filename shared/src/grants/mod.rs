//! The token endpoint (RFC 6749 §3.2): grant dispatch, scope checks and token minting.
//! `issue` calls this; it is all protocol, no HTTP.

use crate::config::Config;
use crate::ids::{FamilyId, Jti, Sid, Subject};
use crate::keys::KeyRing;
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::scope::Scope;
use crate::oauth::{OAuthError, OAuthErrorCode, OAuthRequest};
use crate::secrets::PasswordHashString;
use crate::store::{
    ClientRecord, FamilyRecord, FamilyStatus, FamilyWrite, GrantType, SessionRecord, SessionWrite, StoreError, UserRead,
};
use crate::time::UnixTime;
use crate::tokens::access::{self, AccessTokenClaims};
use crate::tokens::id_token::{self, IdTokenClaims};
use crate::tokens::refresh::RefreshToken;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Everything the token endpoint needs, built once per cold start.
pub struct TokenIssuer {
    pub config: Config,
    pub keys: Arc<KeyRing>,
    pub clients: ClientDirectory,
    pub users: Arc<dyn UserRead>,
    pub sessions: Arc<dyn SessionWrite>,
    pub families: Arc<dyn FamilyWrite>,
}

/// The login an access token belongs to, for user grants.
pub(crate) struct LoginBinding {
    pub sid: Sid,
    pub fid: FamilyId,
    pub auth_time: UnixTime,
}

/// Grant types the token endpoint answers; discovery advertises exactly these.
pub const SUPPORTED_GRANTS: &[GrantType] =
    &[GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];

/// What `POST /oauth2/refresh` answers: only refreshes, so that the hot refresh path can
/// scale, throttle and alarm on its own (ARCHITECTURE.md §1).
pub const REFRESH_ENDPOINT_GRANTS: &[GrantType] = &[GrantType::RefreshToken];

impl TokenIssuer {
    /// The token endpoint: every supported grant.
    pub async fn token(&self, req: &OAuthRequest) -> Result<TokenResponse, OAuthError> {
        self.token_for(req, SUPPORTED_GRANTS).await
    }

    /// A token request restricted to `allowed` grant types (the refresh endpoint).
    pub async fn token_for(&self, req: &OAuthRequest, allowed: &[GrantType]) -> Result<TokenResponse, OAuthError> {
        // Reload the key set if it is due (KEY_RELOAD_SECONDS); the request then signs
        // with the ring's latest set.
        self.keys.current().await;
        let grant_type = req.required("grant_type", "grant_type is required")?;
        let grant = grant_type
            .parse::<GrantType>()
            .ok()
            .filter(|g| allowed.contains(g))
            .ok_or(OAuthError::new(OAuthErrorCode::UnsupportedGrantType, "this grant type is not supported"))?;
        let client = self.clients.authenticate(req).await?;
        if !client.allows(grant) {
            return Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient, "the client may not use this grant type"));
        }
        match grant {
            GrantType::ClientCredentials => self.client_credentials(&client, requested_scope(req, &client)?),
            GrantType::Password => self.password(req, &client, requested_scope(req, &client)?).await,
            GrantType::RefreshToken => self.refresh(req, &client).await,
        }
    }

    /// RFC 6749 §4.4. No user, no session: `sub` is the client (RFC 9068 §2.2), and
    /// nothing is written.
    fn client_credentials(&self, client: &ClientRecord, scope: Scope) -> Result<TokenResponse, OAuthError> {
        let now = UnixTime::now();
        let sub = Subject::new(client.id.as_str());
        let (access_token, expires_in, jti) = self.access_token(client, &scope, sub, None, now)?;
        tracing::info!(event = "token.issued", grant_type = "client_credentials", client_id = %client.id, jti = %jti);
        Ok(TokenResponse { access_token, token_type: "Bearer", expires_in, scope, refresh_token: None, id_token: None })
    }

    /// RFC 6749 §4.3. Starts a session and a refresh-token family in one write.
    async fn password(
        &self,
        req: &OAuthRequest,
        client: &ClientRecord,
        scope: Scope,
    ) -> Result<TokenResponse, OAuthError> {
        let username = req.required("username", "username is required")?;
        let password = req.secret_param("password").ok_or(OAuthError::invalid_request("password is required"))?;
        let user = self.users.user(username).await.map_err(store_failure)?;
        let user = match user {
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

        let now = UnixTime::now();
        let lifetimes = &self.config.lifetimes;
        let family_life = client.lifetimes.refresh_absolute.unwrap_or(lifetimes.refresh_absolute);
        let sid = Sid::random();
        let fid = FamilyId::random();
        let session = SessionRecord {
            sid: sid.clone(),
            sub: user.sub.clone(),
            client_ids: BTreeSet::from([client.id.clone()]),
            auth_time: now,
            expires_at: now.plus(family_life),
        };
        let family = FamilyRecord {
            fid: fid.clone(),
            sid: sid.clone(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            client_id: client.id.clone(),
            scope: scope.clone(),
            generation: 0,
            created_at: now,
            rotated_at: now,
            status: FamilyStatus::Active,
            expires_at: now.plus(family_life),
        };
        // Sign before writing: a signing failure then leaves nothing behind.
        let login = LoginBinding { sid: sid.clone(), fid: fid.clone(), auth_time: now };
        let (access_token, expires_in, jti) = self.access_token(client, &scope, user.sub.clone(), Some(login), now)?;
        let id_token = scope
            .contains("openid")
            .then(|| {
                id_token::mint(
                    &self.keys.snapshot(),
                    &IdTokenClaims {
                        iss: self.config.issuer.clone(),
                        sub: user.sub.clone(),
                        aud: client.id.to_string(),
                        exp: now.plus(lifetimes.id_token),
                        iat: now,
                        auth_time: now,
                        sid: sid.clone(),
                    },
                )
            })
            .transpose()
            .map_err(signing_failure)?;
        let refresh_token =
            RefreshToken { family: fid.clone(), generation: 0 }.encode(self.keys.snapshot().refresh_mac_key());
        self.sessions.begin_session(&session, &family).await.map_err(store_failure)?;
        tracing::info!(event = "token.issued", grant_type = "password", client_id = %client.id, sub = %user.sub,
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

    fn access_token(
        &self,
        client: &ClientRecord,
        scope: &Scope,
        sub: Subject,
        login: Option<LoginBinding>,
        now: UnixTime,
    ) -> Result<(String, u64, Jti), OAuthError> {
        let lifetime = self.access_token_lifetime(client);
        let (sid, fid, auth_time) = match login {
            Some(login) => (Some(login.sid), Some(login.fid), Some(login.auth_time)),
            None => (None, None, None),
        };
        let jti = Jti::random();
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub,
            aud: client.audience.clone().unwrap_or_else(|| self.config.issuer.clone()),
            exp: now.plus(lifetime),
            iat: now,
            jti: jti.clone(),
            client_id: client.id.clone(),
            scope: scope.clone(),
            sid,
            fid,
            auth_time,
        };
        let token = access::mint(&self.keys.snapshot(), &claims).map_err(signing_failure)?;
        Ok((token, lifetime, jti))
    }
}

impl TokenIssuer {
    pub(crate) fn access_token_lifetime(&self, client: &ClientRecord) -> u64 {
        client.lifetimes.access_token.unwrap_or(self.config.lifetimes.access_token)
    }
}

/// RFC 6749 §3.3: an omitted scope means the client's registered scopes; a requested
/// scope must lie within them.
fn requested_scope(req: &OAuthRequest, client: &ClientRecord) -> Result<Scope, OAuthError> {
    let invalid_scope = |d| OAuthError::new(OAuthErrorCode::InvalidScope, d);
    match req.param("scope") {
        None => Ok(client.scopes.clone()),
        Some(raw) => {
            let scope = Scope::parse(raw).map_err(|_| invalid_scope("the scope is malformed"))?;
            if scope.is_subset_of(&client.scopes) {
                Ok(scope)
            } else {
                Err(invalid_scope("the requested scope exceeds the client's scopes"))
            }
        }
    }
}

fn bad_credentials(client: &ClientRecord, reason: &'static str) -> OAuthError {
    tracing::warn!(event = "login.refused", reason, client_id = %client.id);
    // RFC 6749 §5.2: invalid resource owner credentials are `invalid_grant`; unknown user
    // and wrong password read the same so usernames cannot be probed.
    OAuthError::invalid_grant("invalid username or password")
}

pub(crate) fn store_failure(err: StoreError) -> OAuthError {
    tracing::error!(event = "store.error", error = %err);
    match err {
        StoreError::Unavailable(_) => OAuthError::unavailable(),
        StoreError::Conflict | StoreError::Corrupt(_) => OAuthError::server_error(),
    }
}

pub(crate) fn signing_failure(err: crate::tokens::TokenError) -> OAuthError {
    tracing::error!(event = "token.signing_failed", error = %err);
    OAuthError::server_error()
}

mod refresh;
#[cfg(test)]
mod tests;
