//! Configuration from the environment, read and validated once per cold start. A missing
//! or malformed value stops the instance at init with a message naming the variable,
//! rather than surfacing later as a confusing request failure.
//!
//! A function reads all of it ([`Config`]); the admin CLI reads only the parts each
//! command uses ([`Vars`]), so that, say, `tokenctl client list` needs no key source.

use crate::domain::SigningAlgorithm;
use crate::policy::{Lifetimes, MAX_FAMILY_LIFETIME, MAX_TOKEN_LIFETIME};
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

/// Where the AWS services are.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSettings {
    pub table_name: String,
    /// Only for a local DynamoDB-compatible server; in AWS the SDK resolves the endpoint.
    pub dynamodb_endpoint: Option<String>,
    /// Likewise for Secrets Manager (`SECRETS_MANAGER_ENDPOINT`).
    pub secrets_manager_endpoint: Option<String>,
    /// The local stack (`tokenctl` without `TABLE_NAME`): static credentials and region,
    /// never the AWS credential chain (which would wait on instance metadata).
    pub local: bool,
    pub timeouts: StoreTimeouts,
}

/// How long one AWS call may take, and how often it is tried: each function's are sized
/// so that it answers (deny, or 503) well inside its Lambda timeout (docs/operations.md,
/// "Time budgets"; the template sets them per function).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreTimeouts {
    /// `STORE_CONNECT_TIMEOUT_MS`
    pub connect: Duration,
    /// One attempt (`STORE_ATTEMPT_TIMEOUT_MS`).
    pub attempt: Duration,
    /// All attempts of one call together (`STORE_OPERATION_TIMEOUT_MS`).
    pub operation: Duration,
    /// Attempts per call, the first included (`STORE_MAX_ATTEMPTS`).
    pub max_attempts: u32,
}

impl StoreTimeouts {
    /// How long a service may go on retrying one logical write (a rotation that lost a
    /// race, a revocation that lost to a rotation) before it answers.
    pub fn retry_window(&self) -> Duration {
        self.operation * 2
    }
}

impl Default for StoreTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1_000),
            attempt: Duration::from_millis(1_000),
            operation: Duration::from_millis(2_500),
            max_attempts: 2,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub aws: AwsSettings,
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
    /// How the authorizer checks the denylist (`REVOCATION_CHECK`); only it reads this.
    pub revocation_check: RevocationCheck,
    /// API Gateway's cache of the authorizer's answers (`AUTHORIZER_CACHE_TTL_SECONDS`,
    /// the template's `AuthorizerCacheTtlSeconds`): the cache is keyed by the
    /// `Authorization` header alone, so while it is on the authorizer cannot check DPoP
    /// proofs, and refuses DPoP-bound tokens (fail closed).
    pub authorizer_cache_ttl: u64,
    pub logout: LogoutSettings,
}

/// `REVOCATION_CHECK`: `strict` (the default) reads the denylist on every request, so a
/// revoked token fails on the next one; `feed` keeps a copy synced from the revocation
/// feed, with no read per request: a revoked token fails within the poll interval
/// (docs/ARCHITECTURE.md §3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationCheck {
    Strict,
    Feed(FeedSettings),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedSettings {
    /// A request finding the copy older than this syncs it first
    /// (`REVOCATION_FEED_INTERVAL_MS`, default 1000).
    pub poll_interval: Duration,
    /// Beyond this since the last successful sync, every request is denied
    /// (`REVOCATION_FEED_MAX_STALENESS_SECONDS`, default 30).
    pub max_staleness: Duration,
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
        Vars::from_env().config()
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Vars::new(lookup).config()
    }
}

/// The environment, read one setting at a time; each names its variable in its error.
pub struct Vars<F> {
    lookup: F,
    local: bool,
}

impl Vars<fn(&str) -> Option<String>> {
    pub fn from_env() -> Self {
        Vars { lookup: |name| std::env::var(name).ok(), local: false }
    }

    /// The environment if it names a table, else the local stack ([`LOCAL_DEFAULTS`]): the
    /// admin CLI "just works" against `make dev`, and against AWS once `TABLE_NAME` is set
    /// (a local default never leaks into a real deployment's configuration).
    pub fn from_env_or_local() -> Self {
        if std::env::var_os("TABLE_NAME").is_some() {
            return Self::from_env();
        }
        let local: fn(&str) -> Option<String> = |name| {
            std::env::var(name)
                .ok()
                .or_else(|| LOCAL_DEFAULTS.iter().find(|(key, _)| *key == name).map(|(_, v)| v.to_string()))
        };
        Vars { lookup: local, local: true }
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn new(lookup: F) -> Self {
        Self { lookup, local: false }
    }

    fn get(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse::<u64>().map_err(|_| invalid(name, format!("expected a whole number, got {raw:?}"))),
        }
    }

    /// A number of seconds (or milliseconds) with an upper bound: values from the
    /// environment take part in time arithmetic, which must not overflow.
    fn bounded(&self, name: &'static str, default: u64, max: u64) -> Result<u64, ConfigError> {
        let value = self.seconds(name, default)?;
        if value > max {
            return Err(invalid(name, format!("may not exceed {max}")));
        }
        Ok(value)
    }

    fn url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        self.get(name).map(|raw| validate_url(name, &raw).map(|_| raw)).transpose()
    }

    pub fn aws(&self) -> Result<AwsSettings, ConfigError> {
        Ok(AwsSettings {
            table_name: self.required("TABLE_NAME")?,
            dynamodb_endpoint: self.url("DYNAMODB_ENDPOINT")?,
            secrets_manager_endpoint: self.url("SECRETS_MANAGER_ENDPOINT")?,
            local: self.local,
            timeouts: self.store_timeouts()?,
        })
    }

    pub fn store_timeouts(&self) -> Result<StoreTimeouts, ConfigError> {
        let defaults = StoreTimeouts::default();
        let millis = |name, default: Duration| {
            self.bounded(name, default.as_millis() as u64, 60_000).map(|ms| Duration::from_millis(ms.max(1)))
        };
        let timeouts = StoreTimeouts {
            connect: millis("STORE_CONNECT_TIMEOUT_MS", defaults.connect)?,
            attempt: millis("STORE_ATTEMPT_TIMEOUT_MS", defaults.attempt)?,
            operation: millis("STORE_OPERATION_TIMEOUT_MS", defaults.operation)?,
            max_attempts: self.bounded("STORE_MAX_ATTEMPTS", u64::from(defaults.max_attempts), 5)?.max(1) as u32,
        };
        if timeouts.attempt > timeouts.operation {
            return Err(invalid("STORE_ATTEMPT_TIMEOUT_MS", "may not exceed STORE_OPERATION_TIMEOUT_MS".into()));
        }
        Ok(timeouts)
    }

    pub fn issuer(&self) -> Result<String, ConfigError> {
        parse_issuer(&self.required("ISSUER")?)
    }

    pub fn key_source(&self) -> Result<KeySourceConfig, ConfigError> {
        parse_key_source(&self.required("KEY_SOURCE")?)
    }

    pub fn client_cache_ttl(&self) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.bounded("CLIENT_CACHE_TTL_SECONDS", 60, 3600)?))
    }

    pub fn lifetimes(&self) -> Result<Lifetimes, ConfigError> {
        let defaults = Lifetimes::default();
        let token = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            let value = self.seconds(name, default)?;
            // A retired signing key outlives the longest token by design (its retire
            // time assumes it), and `exp + leeway` must never overflow.
            if value == 0 || value > MAX_TOKEN_LIFETIME {
                return Err(invalid(name, format!("must be between 1 and {MAX_TOKEN_LIFETIME} seconds (a day)")));
            }
            Ok(value)
        };
        let lifetimes = Lifetimes {
            access_token: token("ACCESS_TOKEN_TTL_SECONDS", defaults.access_token)?,
            id_token: token("ID_TOKEN_TTL_SECONDS", defaults.id_token)?,
            refresh_absolute: self.bounded(
                "REFRESH_TOKEN_TTL_SECONDS",
                defaults.refresh_absolute,
                MAX_FAMILY_LIFETIME,
            )?,
            refresh_idle: self.bounded("REFRESH_IDLE_TTL_SECONDS", defaults.refresh_idle, MAX_FAMILY_LIFETIME)?,
            refresh_grace: self.seconds("REFRESH_GRACE_SECONDS", defaults.refresh_grace)?,
        };
        lifetimes.validate().map_err(|reason| invalid(reason.variable(), reason.to_string()))?;
        Ok(lifetimes)
    }

    pub fn expected_audience(&self) -> Result<Option<ExpectedAudience>, ConfigError> {
        let Some(raw) = self.get("EXPECTED_AUDIENCE") else { return Ok(None) };
        if raw == "*" {
            return Ok(Some(ExpectedAudience::Any));
        }
        let list: Vec<String> = raw.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect();
        if list.is_empty() {
            return Err(invalid("EXPECTED_AUDIENCE", "names no audience: give a comma-separated list, or *".into()));
        }
        Ok(Some(ExpectedAudience::OneOf(list)))
    }

    pub fn revocation_check(&self) -> Result<RevocationCheck, ConfigError> {
        let mode = self.get("REVOCATION_CHECK");
        match mode.as_deref().map(str::trim) {
            None | Some("strict") => return Ok(RevocationCheck::Strict),
            Some("feed") => {}
            Some(other) => return Err(invalid("REVOCATION_CHECK", format!("expected strict or feed, got {other:?}"))),
        }
        let poll_interval = self.bounded("REVOCATION_FEED_INTERVAL_MS", 1_000, 60_000)?;
        if poll_interval < 100 {
            return Err(invalid("REVOCATION_FEED_INTERVAL_MS", "must be at least 100".into()));
        }
        let max_staleness = self.bounded("REVOCATION_FEED_MAX_STALENESS_SECONDS", 30, 3_600)?;
        if max_staleness * 1_000 <= poll_interval {
            return Err(invalid(
                "REVOCATION_FEED_MAX_STALENESS_SECONDS",
                "must exceed the poll interval (REVOCATION_FEED_INTERVAL_MS)".into(),
            ));
        }
        Ok(RevocationCheck::Feed(FeedSettings {
            poll_interval: Duration::from_millis(poll_interval),
            max_staleness: Duration::from_secs(max_staleness),
        }))
    }

    /// Everything a function reads.
    pub fn config(&self) -> Result<Config, ConfigError> {
        // A minute at most for one RP and for a whole logout call: the functions' own
        // Lambda timeouts are sized from these (docs/operations.md, time budgets).
        let millis = |name, default| self.bounded(name, default, 60_000).map(Duration::from_millis);
        let logout = LogoutSettings {
            rp_timeout: millis("LOGOUT_RP_TIMEOUT_MS", 2_000)?,
            deadline: millis("LOGOUT_DEADLINE_MS", 5_000)?,
            retry_base: self.bounded("LOGOUT_RETRY_BASE_SECONDS", 30, 3600)?.max(1),
            retry_max_age: self.bounded("LOGOUT_RETRY_MAX_AGE_SECONDS", 24 * 3600, 30 * 24 * 3600)?,
        };
        let signing_algorithm = match self.get("SIGNING_ALG") {
            None => SigningAlgorithm::Es256,
            Some(raw) => raw.parse().map_err(|reason| invalid("SIGNING_ALG", reason))?,
        };
        Ok(Config {
            aws: self.aws()?,
            issuer: self.issuer()?,
            key_source: self.key_source()?,
            key_reload: Duration::from_secs(self.bounded("KEY_RELOAD_SECONDS", 300, 3600)?.max(1)),
            signing_algorithm,
            lifetimes: self.lifetimes()?,
            client_cache_ttl: self.client_cache_ttl()?,
            expected_audience: self.expected_audience()?,
            revocation_check: self.revocation_check()?,
            authorizer_cache_ttl: self.bounded("AUTHORIZER_CACHE_TTL_SECONDS", 0, 3_600)?,
            logout,
        })
    }
}

fn invalid(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

fn validate_url(name: &'static str, raw: &str) -> Result<Url, ConfigError> {
    Url::parse(raw).map_err(|e| invalid(name, format!("not a URL: {e}")))
}

/// RFC 8414 §2: the issuer is an `https` URL with no query or fragment. Plain `http` is
/// accepted for loopback only, so that the local stack works without certificates. The
/// value used is the one validated: trimmed, without a trailing slash.
fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    let name = "ISSUER";
    let issuer = raw.trim().trim_end_matches('/');
    let url = validate_url(name, issuer)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(name, "must not have a query or fragment (RFC 8414 §2)".into()));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(invalid(name, "must be an https URL (plain http only for loopback)".into())),
    }
    Ok(issuer.to_string())
}

/// `file:<path>` (local) or `secretsmanager:<name or ARN>` (AWS; an ARN has colons of
/// its own, so only the first one separates the scheme).
fn parse_key_source(raw: &str) -> Result<KeySourceConfig, ConfigError> {
    match raw.trim().split_once(':') {
        Some(("file", path)) if !path.is_empty() => Ok(KeySourceConfig::File(PathBuf::from(path))),
        Some(("secretsmanager", secret)) if !secret.is_empty() => Ok(KeySourceConfig::SecretsManager(secret.into())),
        _ => Err(invalid("KEY_SOURCE", format!("expected file:<path> or secretsmanager:<name or ARN>, got {raw:?}"))),
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

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut env = BASE.to_vec();
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k, v));
        }
        Config::from_lookup(lookup(&env))
    }

    #[test]
    fn given_minimal_environment_then_defaults_apply_and_issuer_loses_trailing_slash() {
        let config = Config::from_lookup(lookup(BASE)).unwrap();
        assert_eq!(config.issuer, "https://auth.example.com");
        assert_eq!(config.lifetimes, Lifetimes::default());
        assert_eq!(config.aws.dynamodb_endpoint, None);
        assert_eq!(config.key_source, KeySourceConfig::File("/tmp/keys.json".into()));
        assert_eq!(config.expected_audience, None);
    }

    #[test]
    fn the_issuer_used_is_the_one_validated_trimmed_and_without_a_trailing_slash() {
        assert_eq!(with(&[("ISSUER", "  https://auth.example.com/ \n")]).unwrap().issuer, "https://auth.example.com");
    }

    #[test]
    fn revocation_check_is_strict_unless_feed_is_chosen_with_sane_bounds() {
        assert_eq!(with(&[]).unwrap().revocation_check, RevocationCheck::Strict);
        let feed = with(&[("REVOCATION_CHECK", "feed")]).unwrap().revocation_check;
        let defaults = FeedSettings { poll_interval: Duration::from_secs(1), max_staleness: Duration::from_secs(30) };
        assert_eq!(feed, RevocationCheck::Feed(defaults));
        for (name, value) in [
            ("REVOCATION_CHECK", "lazy"),
            ("REVOCATION_FEED_INTERVAL_MS", "50"),
            ("REVOCATION_FEED_INTERVAL_MS", "60001"),
            ("REVOCATION_FEED_MAX_STALENESS_SECONDS", "0"),
        ] {
            let vars = [("REVOCATION_CHECK", "feed"), (name, value)];
            let err = with(if name == "REVOCATION_CHECK" { &vars[1..] } else { &vars }).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: n, .. } if n == name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn expected_audience_is_a_list_or_an_explicit_star_and_never_empty() {
        let config = with(&[("EXPECTED_AUDIENCE", "https://a.example, https://b.example")]).unwrap();
        let list = vec!["https://a.example".to_string(), "https://b.example".to_string()];
        assert_eq!(config.expected_audience, Some(ExpectedAudience::OneOf(list)));
        assert_eq!(with(&[("EXPECTED_AUDIENCE", "*")]).unwrap().expected_audience, Some(ExpectedAudience::Any));
        for empty in [",", " , ,"] {
            let err = with(&[("EXPECTED_AUDIENCE", empty)]).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: "EXPECTED_AUDIENCE", .. }), "{empty:?}: {err}");
        }
    }

    #[test]
    fn given_missing_table_then_error_names_it() {
        let err = Config::from_lookup(lookup(&BASE[1..])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME is not set");
    }

    #[test]
    fn given_plain_http_issuer_off_loopback_then_rejected() {
        let err = with(&[("ISSUER", "http://auth.example.com")]).unwrap_err();
        assert!(err.to_string().starts_with("ISSUER is invalid"), "{err}");
        assert!(with(&[("ISSUER", "http://127.0.0.1:9000")]).is_ok());
    }

    #[test]
    fn token_lifetimes_are_bounded_and_errors_name_their_variable() {
        for (name, value) in [
            ("ACCESS_TOKEN_TTL_SECONDS", "ten"),
            ("ACCESS_TOKEN_TTL_SECONDS", "0"),
            ("ACCESS_TOKEN_TTL_SECONDS", "86401"),
            ("ACCESS_TOKEN_TTL_SECONDS", "18446744073709551615"),
            ("ID_TOKEN_TTL_SECONDS", "0"),
            ("ID_TOKEN_TTL_SECONDS", "100000"),
        ] {
            let err = with(&[(name, value)]).unwrap_err();
            assert!(matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name), "{name}={value}: {err}");
        }
        assert_eq!(with(&[("ACCESS_TOKEN_TTL_SECONDS", "86400")]).unwrap().lifetimes.access_token, 86_400);
    }

    #[test]
    fn durations_from_the_environment_are_bounded() {
        for name in [
            "LOGOUT_RP_TIMEOUT_MS",
            "LOGOUT_DEADLINE_MS",
            "LOGOUT_RETRY_BASE_SECONDS",
            "LOGOUT_RETRY_MAX_AGE_SECONDS",
            "KEY_RELOAD_SECONDS",
            "CLIENT_CACHE_TTL_SECONDS",
            "REFRESH_TOKEN_TTL_SECONDS",
        ] {
            let err = with(&[(name, "18446744073709551615")]).unwrap_err();
            assert!(matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name), "{name}: {err}");
        }
    }

    #[test]
    fn the_refresh_grace_window_is_capped_and_never_exceeds_the_idle_lifetime() {
        let err = with(&[("REFRESH_GRACE_SECONDS", "31536000")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "REFRESH_GRACE_SECONDS", .. }), "{err}");
        let err = with(&[("REFRESH_GRACE_SECONDS", "60"), ("REFRESH_IDLE_TTL_SECONDS", "30")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "REFRESH_GRACE_SECONDS", .. }), "{err}");
        assert_eq!(with(&[("REFRESH_GRACE_SECONDS", "120")]).unwrap().lifetimes.refresh_grace, 120);
    }

    #[test]
    fn a_secrets_manager_arn_is_a_key_source() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:KeySecret-AbCdEf";
        let value = format!("secretsmanager:{arn}");
        let mut env = BASE.to_vec();
        env[2] = ("KEY_SOURCE", &value);
        assert_eq!(Config::from_lookup(lookup(&env)).unwrap().key_source, KeySourceConfig::SecretsManager(arn.into()));
        let err = with(&[("KEY_SOURCE", "secretsmanager:")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "KEY_SOURCE", .. }));
    }

    #[test]
    fn given_unknown_key_source_scheme_then_rejected() {
        assert!(matches!(with(&[("KEY_SOURCE", "vault:abc")]), Err(ConfigError::Invalid { name: "KEY_SOURCE", .. })));
    }

    #[test]
    fn a_command_reads_only_what_it_uses() {
        let vars = Vars::new(lookup(&[("TABLE_NAME", "t")]));
        assert_eq!(vars.aws().unwrap().table_name, "t");
        assert!(vars.lifetimes().is_ok() && vars.client_cache_ttl().is_ok());
        assert_eq!(vars.issuer().unwrap_err(), ConfigError::Missing("ISSUER"));
    }
}
