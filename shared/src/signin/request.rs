//! An authorization request's parameters (OIDC Core §3.1.2.1, RFC 6749 §4.1.1), checked
//! once the client and its redirect URI are known, so that every error here can go back
//! to the client (RFC 6749 §4.1.2.1).

use super::pkce;
use crate::domain::{ClientRecord, GrantType, Prompt, Scope};
use crate::oauth::OAuthRequest;
use crate::policy::{MAX_NONCE_BYTES, MAX_STATE_BYTES, MAX_USERNAME_BYTES};

/// A request that may proceed to sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
}

/// An error sent back to the client's redirect URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackToClient {
    pub error: &'static str,
    pub description: &'static str,
}

const fn back(error: &'static str, description: &'static str) -> BackToClient {
    BackToClient { error, description }
}

pub fn validate(params: &OAuthRequest, client: &ClientRecord) -> Result<Requested, BackToClient> {
    if params.param("request").is_some() {
        return Err(back("request_not_supported", "request objects are not supported"));
    }
    if params.param("request_uri").is_some() {
        return Err(back("request_uri_not_supported", "request_uri is not supported"));
    }
    match params.param("response_type") {
        None => return Err(back("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => return Err(back("unsupported_response_type", "only response_type=code is supported")),
    }
    if params.param("response_mode").is_some_and(|mode| mode != "query") {
        return Err(back("invalid_request", "only response_mode=query is supported"));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(back("unauthorized_client", "the client may not use the authorization code flow"));
    }
    // RFC 9700 §2.1.1: PKCE for every client, and S256 only.
    let code_challenge = params.param("code_challenge").ok_or(back("invalid_request", "code_challenge is required"))?;
    if params.param("code_challenge_method") != Some("S256") {
        return Err(back("invalid_request", "code_challenge_method must be S256"));
    }
    if !pkce::valid_challenge(code_challenge) {
        return Err(back("invalid_request", "code_challenge is malformed"));
    }
    let scope = match params.param("scope") {
        None => client.scopes.clone(),
        Some(raw) => crate::grants::scope_param(raw).map_err(|_| back("invalid_scope", "the scope is malformed"))?,
    };
    if !scope.is_subset_of(&client.scopes) {
        return Err(back("invalid_scope", "the requested scope exceeds the client's scopes"));
    }
    let bounded = |name: &str, max: usize| match params.param(name) {
        Some(value) if value.len() > max || value.chars().any(char::is_control) => Err(()),
        other => Ok(other.map(str::to_string)),
    };
    let state = bounded("state", MAX_STATE_BYTES).map_err(|_| back("invalid_request", "state is too long"))?;
    let nonce = bounded("nonce", MAX_NONCE_BYTES).map_err(|_| back("invalid_request", "nonce is too long"))?;
    let login_hint = bounded("login_hint", MAX_USERNAME_BYTES).ok().flatten();
    let max_age = match params.param("max_age") {
        None => None,
        Some(raw) => Some(raw.parse::<u64>().map_err(|_| back("invalid_request", "max_age is not a number"))?),
    };
    Ok(Requested {
        scope,
        state,
        nonce,
        code_challenge: code_challenge.to_string(),
        prompt: prompt(params)?,
        max_age,
        login_hint,
    })
}

/// OIDC Core §3.1.2.1: space-separated; `none` only alone.
fn prompt(params: &OAuthRequest) -> Result<Prompt, BackToClient> {
    let Some(raw) = params.param("prompt") else { return Ok(Prompt::Default) };
    let values: Vec<&str> = raw.split(' ').filter(|v| !v.is_empty()).collect();
    if values.iter().any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account")) {
        return Err(back("invalid_request", "prompt has an unknown value"));
    }
    if values.contains(&"none") {
        return if values.len() == 1 {
            Ok(Prompt::None)
        } else {
            Err(back("invalid_request", "prompt=none stands alone"))
        };
    }
    Ok(if values.contains(&"login") { Prompt::Login } else { Prompt::Default })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::kit;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> ClientRecord {
        kit::client("web", &[GrantType::AuthorizationCode, GrantType::RefreshToken], "openid profile read")
    }

    fn check(query: &str) -> Result<Requested, BackToClient> {
        let base = format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256");
        let params = kit::form(&format!("{base}&{query}"));
        validate(&params, &client())
    }

    #[test]
    fn a_complete_request_is_read_back() {
        let ok = check("scope=openid+read&state=xyz&nonce=n-1&prompt=login&max_age=60&login_hint=alice").unwrap();
        assert_eq!(ok.scope.to_string(), "openid read");
        assert_eq!((ok.state.as_deref(), ok.nonce.as_deref()), (Some("xyz"), Some("n-1")));
        assert_eq!((ok.prompt, ok.max_age, ok.login_hint.as_deref()), (Prompt::Login, Some(60), Some("alice")));
        assert_eq!(check("").unwrap().scope, client().scopes, "no scope: the client's");
    }

    #[test]
    fn each_refusal_has_its_rfc_code() {
        let cases = [
            ("scope=admin", "invalid_scope"),
            ("scope=+", "invalid_scope"),
            ("prompt=none+login", "invalid_request"),
            ("prompt=sometimes", "invalid_request"),
            ("max_age=soon", "invalid_request"),
            ("request=eyJ", "request_not_supported"),
            ("request_uri=https://x", "request_uri_not_supported"),
            ("response_mode=fragment", "invalid_request"),
        ];
        for (query, error) in cases {
            assert_eq!(check(query).unwrap_err().error, error, "{query}");
        }
        let plain = kit::form(&format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=plain"));
        assert_eq!(validate(&plain, &client()).unwrap_err().error, "invalid_request", "plain is refused");
        let none = kit::form("response_type=code");
        assert_eq!(validate(&none, &client()).unwrap_err().error, "invalid_request", "PKCE is required");
        let token = kit::form(&format!("response_type=token&code_challenge={CHALLENGE}&code_challenge_method=S256"));
        assert_eq!(validate(&token, &client()).unwrap_err().error, "unsupported_response_type");
        let machine = kit::client("m2m", &[GrantType::ClientCredentials], "read");
        assert_eq!(
            validate(
                &kit::form(&format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256")),
                &machine
            )
            .unwrap_err()
            .error,
            "unauthorized_client"
        );
    }
}
