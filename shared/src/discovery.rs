//! Authorization server metadata (RFC 8414, OIDC Discovery 1.0) and the JWKS. Both are
//! rendered once per key set; requests only copy bytes. Only what is implemented is
//! advertised.

use crate::domain::{CLIENT_KEY_ALGORITHMS, SigningAlgorithm};
use crate::grants::SUPPORTED_GRANTS;
use crate::keys::{KeyRing, KeySet};
use crate::signin::{AUTHORIZE_PATH, END_SESSION_PATH};
use crate::tokens::introspection::INTROSPECTION_JWT_ALG;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// The documents, re-rendered only when the key set changes (a rotation).
pub struct Discovery {
    issuer: String,
    keys: Arc<KeyRing>,
    rendered: Mutex<Option<(Arc<KeySet>, Arc<DiscoveryDocuments>)>>,
}

impl Discovery {
    pub fn new(issuer: String, keys: Arc<KeyRing>) -> Self {
        Self { issuer, keys, rendered: Mutex::new(None) }
    }

    pub async fn documents(&self) -> Result<Arc<DiscoveryDocuments>, serde_json::Error> {
        let keys = self.keys.current().await;
        if let Ok(guard) = self.rendered.lock()
            && let Some((rendered_for, documents)) = guard.as_ref()
            && Arc::ptr_eq(rendered_for, &keys)
        {
            return Ok(documents.clone());
        }
        let documents = Arc::new(DiscoveryDocuments::new(&self.issuer, &keys)?);
        if let Ok(mut guard) = self.rendered.lock() {
            *guard = Some((keys, documents.clone()));
        }
        Ok(documents)
    }
}

pub struct DiscoveryDocuments {
    pub metadata: Vec<u8>,
    pub jwks: Vec<u8>,
}

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The refresh-only twin of the token endpoint (not in the metadata: a client that finds
/// it in the docs may use it).
pub const REFRESH_PATH: &str = "/oauth2/refresh";
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
pub const INTROSPECTION_PATH: &str = "/oauth2/introspect";
pub const USERINFO_PATH: &str = "/userinfo";
const CLIENT_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
/// Public clients (`none`) name themselves at the token and revocation endpoints.
const TOKEN_AUTH_METHODS: [&str; 4] = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];

impl DiscoveryDocuments {
    pub fn new(issuer: &str, keys: &KeySet) -> Result<Self, serde_json::Error> {
        // What a client may register for its ID tokens (RS256 when it registers none).
        let id_token_algs: Vec<&str> = SigningAlgorithm::PER_CLIENT.iter().rev().map(|alg| alg.as_str()).collect();
        let grants: Vec<&str> = SUPPORTED_GRANTS.iter().map(|g| g.as_str()).collect();
        // What a `private_key_jwt` client's keys may sign its assertions with, at every
        // endpoint that authenticates clients.
        let assertion_algs = CLIENT_KEY_ALGORITHMS.map(SigningAlgorithm::as_str);
        let metadata = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
            "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "grant_types_supported": grants,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            // RFC 9700 §2.1.1: PKCE for every client, S256 only.
            "code_challenge_methods_supported": ["S256"],
            // RFC 9207: `iss` in every authorization response.
            "authorization_response_iss_parameter_supported": true,
            "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "revocation_endpoint": format!("{issuer}{REVOCATION_PATH}"),
            "revocation_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "introspection_endpoint": format!("{issuer}{INTROSPECTION_PATH}"),
            "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
            // RFC 9701 §7: what a signed introspection answer may be signed with.
            "introspection_signing_alg_values_supported": [INTROSPECTION_JWT_ALG.as_str()],
            // RFC 9449 §5.1: the algorithms a DPoP proof may be signed with.
            "dpop_signing_alg_values_supported": crate::dpop::SIGNING_ALGS,
            "userinfo_endpoint": format!("{issuer}{USERINFO_PATH}"),
            "end_session_endpoint": format!("{issuer}{END_SESSION_PATH}"),
            // OIDC Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` as well as `sub`.
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            // The scopes this server gives a meaning to; the API scopes each client
            // registers are the deployment's own and not advertised (RFC 8414 §2 allows it).
            "scopes_supported": ["openid", "profile"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": id_token_algs,
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "preferred_username"],
        });
        Ok(Self { metadata: serde_json::to_vec(&metadata)?, jwks: serde_json::to_vec(keys.jwks())? })
    }
}
