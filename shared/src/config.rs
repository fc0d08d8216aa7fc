//! Configuration from the environment, read and validated once per cold start. A missing
//! or malformed value stops the instance at init with a message naming the variable,
//! rather than surfacing later as a confusing request failure.

use crate::domain::SigningAlgorithm;
use crate::policy::Lifetimes;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The values `make dev`, the tests and `tokenctl` agree on for the local stack.
pub const LOCAL_DEFAULTS: &[(&str, &str)] = &[
    ("TABLE_NAME", "tokens"),
    ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"),
    ("ISSUER", "http://127.0.0.1:9000"),
    ("KEY_SOURCE", "file:.local/keys.json"),
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the signing keys and the refresh-token MAC key come from.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySourceConfig {
    /// A key-set file made by `tokenctl keys generate` (local development).
    File(PathBuf),
    /// A Secrets Manager secret (name or ARN), rotated by `rotate-keys` (AWS).
    SecretsManager(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    /// Only for a local DynamoDB-compatible server; in AWS the SDK resolves the endpoint.
    pub dynamodb_endpoint: Option<String>,
    /// Likewise for Secrets Manager (`SECRETS_MANAGER_ENDPOINT`).
    pub secrets_manager_endpoint: Option<String>,
    /// The `iss` of every token, without a trailing slash.
    pub issuer: String,
    pub key_source: KeySourceConfig,
    /// How often a warm instance reloads its key set (`KEY_RELOAD_SECONDS`): the bound
    /// on how long it takes to see a rotation.
    pub key_reload: Duration,
    /// The algorithm of keys made by rotation (`SIGNING_ALG`: ES256, EdDSA or RS256).
    pub signing_algorithm: SigningAlgorithm,
    pub lifetimes: Lifetimes,
    /// How long a warm instance trusts its copy of a client record (0 disables caching).
    pub client_cache_ttl: Duration,
    /// The audiences the authorizer accepts (`EXPECTED_AUDIENCE`); only it needs one.
    pub expected_audience: Option<ExpectedAudience>,
    pub logout: LogoutSettings,
}

/// Back-channel logout delivery (OIDC Back-Channel Logout 1.0 §2.5–2.8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogoutSettings {
    /// One delivery attempt to one RP (`LOGOUT_RP_TIMEOUT_MS`).
    pub rp_timeout: Duration,
    /// The whole logout call, all RPs and in-line retries (`LOGOUT_DEADLINE_MS`).
    pub deadline: Duration,
    /// First durable retry delay; doubles per attempt (`LOGOUT_RETRY_BASE_SECONDS`).
    pub retry_base: u64,
    /// After this, an undelivered logout is given up (`LOGOUT_RETRY_MAX_AGE_SECONDS`).
    pub retry_max_age: u64,
}

/// `EXPECTED_AUDIENCE`: a comma-separated list, or `*` to accept any audience this issuer
/// mints for (an explicit choice, never a default).
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectedAudience {
    Any,
    OneOf(Vec<String>),
}

impl ExpectedAudience {
    pub fn as_list(&self) -> Option<Vec<String>> {
        match self {
            Self::Any => None,
            Self::OneOf(list) => Some(list.clone()),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The environment if it names a table, else the local stack ([`LOCAL_DEFAULTS`]): the
    /// admin CLI "just works" against `make dev`, and against AWS once `TABLE_NAME` is set
    /// (a local default never leaks into a real deployment's configuration).
    pub fn from_env_or_local() -> Result<Self, ConfigError> {
        if std::env::var_os("TABLE_NAME").is_some() {
            return Self::from_env();
        }
        Self::from_lookup(|name| {
            std::env::var(name)
                .ok()
                .or_else(|| LOCAL_DEFAULTS.iter().find(|(key, _)| *key == name).map(|(_, v)| v.to_string()))
        })
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let seconds = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    name,
                    reason: format!("expected a whole number, got {raw:?}"),
                }),
            }
        };
        let defaults = Lifetimes::default();
        let lifetimes = Lifetimes {
            access_token: seconds("ACCESS_TOKEN_TTL_SECONDS", defaults.access_token)?,
            id_token: seconds("ID_TOKEN_TTL_SECONDS", defaults.id_token)?,
            refresh_absolute: seconds("REFRESH_TOKEN_TTL_SECONDS", defaults.refresh_absolute)?,
            refresh_idle: seconds("REFRESH_IDLE_TTL_SECONDS", defaults.refresh_idle)?,
            refresh_grace: seconds("REFRESH_GRACE_SECONDS", defaults.refresh_grace)?,
        };
        if lifetimes.access_token == 0 || lifetimes.id_token == 0 {
            return Err(ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                reason: "token lifetimes must be at least one second".into(),
            });
        }
        let table_name = get("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let dynamodb_endpoint =
            get("DYNAMODB_ENDPOINT").map(|raw| validate_url("DYNAMODB_ENDPOINT", &raw).map(|_| raw)).transpose()?;
        let secrets_manager_endpoint = get("SECRETS_MANAGER_ENDPOINT")
            .map(|raw| validate_url("SECRETS_MANAGER_ENDPOINT", &raw).map(|_| raw))
            .transpose()?;
        let issuer = parse_issuer(&get("ISSUER").ok_or(ConfigError::Missing("ISSUER"))?)?;
        let key_source = parse_key_source(&get("KEY_SOURCE").ok_or(ConfigError::Missing("KEY_SOURCE"))?)?;
        let client_cache_ttl = Duration::from_secs(seconds("CLIENT_CACHE_TTL_SECONDS", 60)?);
        let expected_audience = get("EXPECTED_AUDIENCE").map(|raw| match raw.trim() {
            "*" => ExpectedAudience::Any,
            list => ExpectedAudience::OneOf(
                list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect(),
            ),
        });
        let millis = |name, default| seconds(name, default).map(Duration::from_millis);
        let logout = LogoutSettings {
            rp_timeout: millis("LOGOUT_RP_TIMEOUT_MS", 2_000)?,
            deadline: millis("LOGOUT_DEADLINE_MS", 5_000)?,
            retry_base: seconds("LOGOUT_RETRY_BASE_SECONDS", 30)?.max(1),
            retry_max_age: seconds("LOGOUT_RETRY_MAX_AGE_SECONDS", 24 * 3600)?,
        };
        let key_reload = Duration::from_secs(seconds("KEY_RELOAD_SECONDS", 300)?.max(1));
        let signing_algorithm = match get("SIGNING_ALG") {
            None => SigningAlgorithm::Es256,
            Some(raw) => raw.parse().map_err(|reason| ConfigError::Invalid { name: "SIGNING_ALG", reason })?,
        };
        Ok(Self {
            table_name,
            dynamodb_endpoint,
            secrets_manager_endpoint,
            key_reload,
            signing_algorithm,
            issuer,
            key_source,
            lifetimes,
            client_cache_ttl,
            expected_audience,
            logout,
        })
    }
}

fn validate_url(name: &'static str, raw: &str) -> Result<Url, ConfigError> {
    Url::parse(raw).map_err(|e| ConfigError::Invalid { name, reason: format!("not a URL: {e}") })
}

/// RFC 8414 §2: the issuer is an `https` URL with no query or fragment. Plain `http` is
/// accepted for loopback only, so that the local stack works without certificates.
fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    let name = "ISSUER";
    let url = validate_url(name, raw)?;
    let invalid = |reason: &str| ConfigError::Invalid { name, reason: reason.to_string() };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment (RFC 8414 §2)"));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid("must be an https URL (plain http only for loopback)"));
        }
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// `file:<path>` (local) or `secretsmanager:<name or ARN>` (AWS; an ARN has colons of
/// its own, so only the first one separates the scheme).
fn parse_key_source(raw: &str) -> Result<KeySourceConfig, ConfigError> {
    match raw.trim().split_once(':') {
        Some(("file", path)) if !path.is_empty() => Ok(KeySourceConfig::File(PathBuf::from(path))),
        Some(("secretsmanager", secret)) if !secret.is_empty() => Ok(KeySourceConfig::SecretsManager(secret.into())),
        _ => Err(ConfigError::Invalid {
            name: "KEY_SOURCE",
            reason: format!("expected file:<path> or secretsmanager:<name or ARN>, got {raw:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    const BASE: &[(&str, &str)] =
        &[("TABLE_NAME", "t"), ("ISSUER", "https://auth.example.com/"), ("KEY_SOURCE", "file:/tmp/keys.json")];

    #[test]
    fn given_minimal_environment_then_defaults_apply_and_issuer_loses_trailing_slash() {
        let config = Config::from_lookup(lookup(BASE)).unwrap();
        assert_eq!(config.issuer, "https://auth.example.com");
        assert_eq!(config.lifetimes, Lifetimes::default());
        assert_eq!(config.dynamodb_endpoint, None);
        assert_eq!(config.key_source, KeySourceConfig::File("/tmp/keys.json".into()));
        assert_eq!(config.expected_audience, None);
    }

    #[test]
    fn expected_audience_is_a_list_or_an_explicit_star() {
        let mut env = BASE.to_vec();
        env.push(("EXPECTED_AUDIENCE", "https://a.example, https://b.example"));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        let list = vec!["https://a.example".to_string(), "https://b.example".to_string()];
        assert_eq!(config.expected_audience, Some(ExpectedAudience::OneOf(list)));
        env.pop();
        env.push(("EXPECTED_AUDIENCE", "*"));
        assert_eq!(Config::from_lookup(lookup(&env)).unwrap().expected_audience, Some(ExpectedAudience::Any));
    }

    #[test]
    fn given_missing_table_then_error_names_it() {
        let err = Config::from_lookup(lookup(&BASE[1..])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME is not set");
    }

    #[test]
    fn given_plain_http_issuer_off_loopback_then_rejected() {
        let mut env = BASE.to_vec();
        env[1] = ("ISSUER", "http://auth.example.com");
        let err = Config::from_lookup(lookup(&env)).unwrap_err();
        assert!(err.to_string().starts_with("ISSUER is invalid"), "{err}");
        env[1] = ("ISSUER", "http://127.0.0.1:9000");
        assert!(Config::from_lookup(lookup(&env)).is_ok());
    }

    #[test]
    fn given_bad_lifetime_then_error_names_variable() {
        let mut env = BASE.to_vec();
        env.push(("ACCESS_TOKEN_TTL_SECONDS", "ten"));
        let err = Config::from_lookup(lookup(&env)).unwrap_err();
        assert!(err.to_string().contains("ACCESS_TOKEN_TTL_SECONDS"), "{err}");
    }

    #[test]
    fn a_secrets_manager_arn_is_a_key_source() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:KeySecret-AbCdEf";
        let mut env = BASE.to_vec();
        let value = format!("secretsmanager:{arn}");
        env[2] = ("KEY_SOURCE", &value);
        assert_eq!(Config::from_lookup(lookup(&env)).unwrap().key_source, KeySourceConfig::SecretsManager(arn.into()));
        env[2] = ("KEY_SOURCE", "secretsmanager:");
        assert!(matches!(Config::from_lookup(lookup(&env)), Err(ConfigError::Invalid { name: "KEY_SOURCE", .. })));
    }

    #[test]
    fn given_unknown_key_source_scheme_then_rejected() {
        let mut env = BASE.to_vec();
        env[2] = ("KEY_SOURCE", "vault:abc");
        assert!(matches!(Config::from_lookup(lookup(&env)), Err(ConfigError::Invalid { name: "KEY_SOURCE", .. })));
    }
}
