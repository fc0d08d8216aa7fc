//! OAuth clients as registered (`tokenctl client add`). Secrets appear only hashed.

use crate::domain::{ClientJwks, Scope, SigningAlgorithm};
use crate::ids::{ClientEpoch, ClientId};
use crate::secrets::ClientSecretHash;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use url::{Host, Url};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 4] =
        [Self::AuthorizationCode, Self::ClientCredentials, Self::Password, Self::RefreshToken];

    /// What a public client may use: it holds no secret, so nothing but a user's
    /// consent in the browser can start its grants (RFC 9700 §2.1).
    pub const PUBLIC: [GrantType; 2] = [Self::AuthorizationCode, Self::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| format!("unknown grant type {s:?}"))
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-client overrides of the configured lifetimes, in seconds (resolved by
/// `policy::Lifetimes::for_client`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientLifetimes {
    pub access_token: Option<u64>,
    pub refresh_absolute: Option<u64>,
    pub refresh_idle: Option<u64>,
    pub refresh_grace: Option<u64>,
}

/// The algorithms a client registered for its tokens (OIDC Registration §2
/// `id_token_signed_response_alg`); `None` takes the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientSigning {
    /// Its access tokens: the deployment's `SIGNING_ALG` (ES256) when unset.
    pub access_token: Option<SigningAlgorithm>,
    /// Its ID tokens and logout tokens: RS256 when unset (OIDC Registration §2).
    pub id_token: Option<SigningAlgorithm>,
}

/// How a client proves who it is at the token endpoint (its
/// `token_endpoint_auth_method`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `client_secret_basic` or `client_secret_post`.
    Secret(ClientSecretHash),
    /// `none`: a public client (a SPA, a native app) names itself with `client_id` and
    /// proves nothing; PKCE binds its codes, rotation its refresh tokens.
    None,
    /// `private_key_jwt`: a JWT signed by one of these keys (RFC 7523 §2.2). No secret
    /// is stored.
    PrivateKeyJwt(ClientJwks),
}

impl ClientAuthentication {
    /// Its `token_endpoint_auth_method` (a secret client may also use `client_secret_post`).
    pub fn method(&self) -> &'static str {
        match self {
            Self::Secret(_) => "client_secret_basic",
            Self::None => "none",
            Self::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }
}

/// What browser sign-in needs of a client; empty for a client that signs no one in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrowserSettings {
    /// Shown on the login page (`tokenctl client add … --name`); the client id if unset.
    pub name: Option<String>,
    /// Where authorization responses may go: exact matches only (RFC 9700 §4.1.3).
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back: exact matches only.
    pub post_logout_redirect_uris: Vec<String>,
    /// Origins (beside those of the redirect URIs) whose browser code may call the token,
    /// revocation and userinfo endpoints (CORS).
    pub allowed_origins: Vec<String>,
}

/// A registered client. Its invariants are `policy`'s (`ClientRecord::validate`), checked
/// by every writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: ClientId,
    /// This registration of the id: kept by a replacement, new after a removal.
    pub epoch: ClientEpoch,
    pub authentication: ClientAuthentication,
    pub grant_types: BTreeSet<GrantType>,
    pub scopes: Scope,
    /// The `aud` of this client's access tokens; the issuer when unset.
    pub audience: Option<String>,
    /// A resource server allowed to introspect any token (RFC 7662 §2.1).
    pub may_introspect: bool,
    /// May end every session of a subject.
    pub admin: bool,
    pub backchannel_logout_uri: Option<String>,
    pub lifetimes: ClientLifetimes,
    pub signing: ClientSigning,
    pub browser: BrowserSettings,
    /// Every access token of this client is DPoP-bound (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`): a token request without a proof is refused.
    pub dpop_bound_access_tokens: bool,
}

impl ClientRecord {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn access_token_alg(&self, default: SigningAlgorithm) -> SigningAlgorithm {
        self.signing.access_token.unwrap_or(default)
    }

    /// OIDC Registration §2: RS256 unless the client registered another.
    pub fn id_token_alg(&self) -> SigningAlgorithm {
        self.signing.id_token.unwrap_or(SigningAlgorithm::Rs256)
    }

    pub fn is_public(&self) -> bool {
        self.authentication == ClientAuthentication::None
    }

    /// What the login page calls the client.
    pub fn display_name(&self) -> &str {
        self.browser.name.as_deref().unwrap_or(self.id.as_str())
    }

    /// The origins whose browser code may read this client's answers (CORS): those of its
    /// web redirect URIs, and the ones it registered.
    pub fn origins(&self) -> BTreeSet<String> {
        let of_redirects = self.browser.redirect_uris.iter().filter_map(|uri| {
            let url = url::Url::parse(uri).ok()?;
            matches!(url.scheme(), "https" | "http").then(|| url.origin().ascii_serialization())
        });
        of_redirects.chain(self.browser.allowed_origins.iter().cloned()).collect()
    }

    /// Whether `uri` is exactly one of the registered redirect URIs, but for the port of
    /// a loopback IP one: a native app listens on whatever port it gets when it asks
    /// (RFC 8252 §7.3).
    pub fn redirects_to(&self, uri: &str) -> bool {
        self.browser.redirect_uris.iter().any(|registered| registered == uri || same_but_loopback_port(registered, uri))
    }
}

/// `registered` and `asked` are `http` to the same loopback IP literal (not `localhost`,
/// RFC 8252 §8.3) and differ in the port alone. `asked` must be as a parser writes it,
/// so that nothing but the port is normalised away.
fn same_but_loopback_port(registered: &str, asked: &str) -> bool {
    let (Ok(mut registered), Ok(mut asked_url)) = (Url::parse(registered), Url::parse(asked)) else {
        return false;
    };
    let loopback_ip = |url: &Url| {
        url.scheme() == "http"
            && match url.host() {
                Some(Host::Ipv4(ip)) => ip.is_loopback(),
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            }
    };
    asked_url.as_str() == asked
        && loopback_ip(&registered)
        && loopback_ip(&asked_url)
        && registered.set_port(None).is_ok()
        && asked_url.set_port(None).is_ok()
        && registered == asked_url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_but_a_loopback_ips_port_is_the_apps_choice() {
        let mut client = crate::testing::kit::client("app", &[GrantType::AuthorizationCode], "openid");
        client.browser.redirect_uris = vec![
            "https://shop.example.com/cb".into(),
            "http://127.0.0.1/callback".into(),
            "http://[::1]:8080/callback".into(),
            "http://localhost:8080/cb".into(),
        ];
        for allowed in [
            "https://shop.example.com/cb",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:51234/callback",
            "http://[::1]:9/callback",
            "http://localhost:8080/cb",
        ] {
            assert!(client.redirects_to(allowed), "{allowed}");
        }
        for refused in [
            "https://shop.example.com:8443/cb",
            "https://shop.example.com/cb/",
            "http://127.0.0.1:51234/callback/other",
            "http://127.0.0.1:51234/callback?x=1",
            "http://127.0.0.1:51234/x/../callback",
            "http://127.0.0.2:51234/callback",
            "https://127.0.0.1:51234/callback",
            "http://localhost:9090/cb",
        ] {
            assert!(!client.redirects_to(refused), "{refused}");
        }
    }
}
