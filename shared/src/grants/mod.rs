//! The token endpoint (RFC 6749 §3.2): grant dispatch, and what every grant shares,
//! scope resolution and minting. One grant per file; `login` is the start of a user
//! session that every user-facing grant ends in.

mod authorization_code;
mod client_credentials;
mod login;
mod password;
mod refresh;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::discovery::TOKEN_PATH;
use crate::domain::{ClientRecord, GrantType, Scope};
use crate::dpop::DpopProofs;
use crate::ids::{FamilyId, Jti, Sid, Subject};
use crate::keys::{KeyRing, KeySet};
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::{OAuthError, OAuthErrorCode, OAuthRequest};
use crate::passwords::PasswordCheck;
use crate::policy::Lifetimes;
use crate::store::{FamilyWrite, MarkerWrite, RevocationRead, SessionWrite, SignInStore};
use crate::time::UnixTime;
use crate::tokens::access::{self, AccessTokenClaims, Confirmation};
use serde::Serialize;
use std::sync::Arc;

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    /// Omitted when empty (a client registered with no scope): an empty `scope` is not
    /// a scope value (RFC 6749 §3.3).
    #[serde(skip_serializing_if = "Scope::is_empty")]
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Everything the token endpoint needs, built once per cold start by `Services`.
pub struct TokenIssuer {
    pub(crate) config: Arc<Config>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clients: Arc<ClientDirectory>,
    pub(crate) passwords: PasswordCheck,
    pub(crate) sessions: Arc<dyn SessionWrite>,
    pub(crate) families: Arc<dyn FamilyWrite>,
    pub(crate) markers: Arc<dyn MarkerWrite>,
    /// The login guard of a grace answer after a lost race (`refresh`).
    pub(crate) revocations: Arc<dyn RevocationRead>,
    /// Authorization codes (`authorization_code`).
    pub(crate) signins: Arc<dyn SignInStore>,
    /// DPoP proofs (RFC 9449 §5), each used once.
    pub(crate) proofs: DpopProofs,
}

/// What a token request proves beside the client: the DPoP key its tokens are bound to.
#[derive(Clone, Copy)]
pub(crate) struct Sender<'a> {
    pub jkt: Option<&'a str>,
}

impl Sender<'_> {
    /// RFC 9449 §5: `DPoP` for a bound token, else `Bearer`.
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }
}

/// The login an access token belongs to, for user grants.
pub(crate) struct LoginBinding {
    pub sid: Sid,
    pub fid: FamilyId,
    pub auth_time: UnixTime,
}

/// Grant types the token endpoint answers; discovery advertises exactly these.
pub const SUPPORTED_GRANTS: &[GrantType] =
    &[GrantType::AuthorizationCode, GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];

/// What `POST /oauth2/refresh` answers: only refreshes, so that the hot refresh path can
/// scale, throttle and alarm on its own (docs/ARCHITECTURE.md §1).
pub const REFRESH_ENDPOINT_GRANTS: &[GrantType] = &[GrantType::RefreshToken];

impl TokenIssuer {
    /// The token endpoint: every supported grant.
    pub async fn token(&self, req: &OAuthRequest) -> Result<TokenResponse, OAuthError> {
        self.token_for(req, SUPPORTED_GRANTS, TOKEN_PATH).await
    }

    /// A token request restricted to `allowed` grant types (the refresh endpoint), sent
    /// to `path` (what a DPoP proof's `htu` names).
    pub async fn token_for(
        &self,
        req: &OAuthRequest,
        allowed: &[GrantType],
        path: &str,
    ) -> Result<TokenResponse, OAuthError> {
        // The request's one snapshot of the key ring (reloaded first if it is due).
        let keys = self.keys.current().await;
        let grant_type = req.required("grant_type", "grant_type is required")?;
        let grant = grant_type
            .parse::<GrantType>()
            .ok()
            .filter(|g| allowed.contains(g))
            .ok_or(OAuthError::new(OAuthErrorCode::UnsupportedGrantType, "this grant type is not supported"))?;
        let client = self.clients.authenticate_or_identify_public(req).await?;
        if !client.allows(grant) {
            return Err(OAuthError::new(OAuthErrorCode::UnauthorizedClient, "the client may not use this grant type"));
        }
        let url = format!("{}{path}", self.config.issuer);
        let proof = self.proofs.token_request(&req.dpop_proofs(), &url).await?;
        if client.dpop_bound_access_tokens && proof.is_none() {
            let needs = "this client's tokens must be DPoP-bound: send a DPoP proof";
            return Err(crate::dpop::proof_required(&client.id, None, needs));
        }
        let sender = Sender { jkt: proof.as_ref().map(|p| p.jkt.as_str()) };
        match grant {
            GrantType::ClientCredentials => {
                self.client_credentials(&keys, &client, requested_scope(req, &client)?, sender)
            }
            GrantType::Password => self.password(&keys, req, &client, requested_scope(req, &client)?, sender).await,
            GrantType::RefreshToken => self.refresh(&keys, req, &client, sender).await,
            GrantType::AuthorizationCode => self.authorization_code(&keys, req, &client, sender).await,
        }
    }

    /// The lifetimes that apply to `client`.
    fn lifetimes(&self, client: &ClientRecord) -> Lifetimes {
        self.config.lifetimes.for_client(client)
    }

    /// An RFC 9068 access token for `client`; returns it, its lifetime and its `jti`.
    #[allow(clippy::too_many_arguments)]
    fn mint_access(
        &self,
        keys: &KeySet,
        client: &ClientRecord,
        scope: &Scope,
        sub: Subject,
        login: Option<LoginBinding>,
        sender: Sender<'_>,
        now: UnixTime,
    ) -> Result<(String, u64, Jti), OAuthError> {
        let lifetime = self.lifetimes(client).access_token;
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
            cnf: sender.jkt.map(|jkt| Confirmation { jkt: jkt.to_string() }),
        };
        let token = access::mint(keys, client.access_token_alg(self.config.signing_algorithm), &claims)?;
        Ok((token, lifetime, jti))
    }
}

/// RFC 6749 §3.3: an omitted scope means the client's registered scopes; a requested
/// scope must lie within them.
/// A `scope` parameter as RFC 6749 §3.3 spells it: one or more scope tokens. An empty
/// one is refused, never read as "no scope" nor as the default (which could widen it).
pub(crate) fn scope_param(raw: &str) -> Result<Scope, OAuthError> {
    let scope = Scope::parse(raw).map_err(|_| OAuthError::invalid_scope("the scope is malformed"))?;
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope("the scope is empty"));
    }
    Ok(scope)
}

fn requested_scope(req: &OAuthRequest, client: &ClientRecord) -> Result<Scope, OAuthError> {
    match req.param("scope") {
        None => Ok(client.scopes.clone()),
        Some(raw) => {
            let scope = scope_param(raw)?;
            if scope.is_subset_of(&client.scopes) {
                Ok(scope)
            } else {
                Err(OAuthError::invalid_scope("the requested scope exceeds the client's scopes"))
            }
        }
    }
}
