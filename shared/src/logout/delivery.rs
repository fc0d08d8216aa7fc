//! Delivering one logout token to one RP (OIDC Back-Channel Logout 1.0 §2.5–2.8):
//! `POST` with `logout_token=…` form-encoded, to the registered URI only, no redirects,
//! a timeout per attempt, a fresh token (fresh `jti`) per attempt, and a clear line
//! between failures worth retrying and failures that are final.

use crate::domain::SigningAlgorithm;
use crate::ids::{ClientId, Sid, Subject};
use crate::keys::KeySet;
use crate::policy::backchannel_logout_uri;
use crate::time::UnixTime;
use crate::tokens::logout;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Where one logout token goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub client_id: ClientId,
    /// The client's ID-token algorithm, which its logout tokens use too.
    pub alg: SigningAlgorithm,
    pub uri: String,
    pub sid: Sid,
    pub sub: Subject,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AttemptError {
    /// Network error, timeout, 5xx or 429: another attempt may succeed.
    Retryable { reason: String, retry_after: Option<Duration> },
    /// The RP refused the token (4xx), redirected, or the URI is not acceptable.
    Permanent(String),
}

/// The result of a delivery with in-line retries.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub delivered: bool,
    pub attempts: u32,
    pub last_error: Option<AttemptError>,
}

pub struct Notifier {
    http: reqwest::Client,
    issuer: String,
    rp_timeout: Duration,
}

/// First in-line retry delay; it doubles per attempt within the call's deadline.
const INLINE_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait an RP's `Retry-After` can ask for: the durable retry's longest backoff.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// In-line attempts per RP before the durable retry takes over: enough to ride out a
/// blip, few enough not to hammer an RP that is down.
const MAX_INLINE_ATTEMPTS: u32 = 3;

impl Notifier {
    /// Built once per cold start: one connection pool for every RP.
    pub fn new(issuer: String, rp_timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            // §2.7: the RP answers the request itself; a redirect is a failure.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(rp_timeout)
            .timeout(rp_timeout)
            .build()?;
        Ok(Self { http, issuer, rp_timeout })
    }

    /// One attempt with a freshly minted logout token.
    pub async fn attempt(&self, keys: &KeySet, target: &Target) -> Result<(), AttemptError> {
        let url = backchannel_logout_uri(&target.uri).map_err(AttemptError::Permanent)?;
        let (issuer, now) = (&self.issuer, UnixTime::now());
        let token = logout::mint(keys, target.alg, issuer, &target.client_id, &target.sid, &target.sub, now)
            .map_err(|e| AttemptError::Permanent(format!("signing failed: {e}")))?;
        let body = serde_urlencoded::to_string([("logout_token", token.as_str())])
            .map_err(|e| AttemptError::Permanent(format!("encoding failed: {e}")))?;
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(CACHE_CONTROL, "no-store")
            .body(body)
            .timeout(self.rp_timeout)
            .send()
            .await
            .map_err(|e| AttemptError::Retryable { reason: describe(&e), retry_after: None })?;
        classify(response.status(), response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()))
    }

    /// Attempts until delivered, refused for good, or `deadline` would pass.
    pub async fn deliver(&self, keys: &KeySet, target: &Target, deadline: Instant) -> Outcome {
        let mut attempts = 0;
        let mut backoff = INLINE_BACKOFF;
        loop {
            attempts += 1;
            let error = match self.attempt(keys, target).await {
                Ok(()) => return Outcome { delivered: true, attempts, last_error: None },
                Err(err) => err,
            };
            let wait = match &error {
                AttemptError::Retryable { retry_after, .. } => retry_after.unwrap_or(backoff),
                AttemptError::Permanent(_) => return Outcome { delivered: false, attempts, last_error: Some(error) },
            };
            // Only retry in line if the wait and another full attempt fit the deadline;
            // otherwise the durable retry takes over.
            let next_attempt_ends = Instant::now().checked_add(wait.saturating_add(self.rp_timeout));
            if attempts >= MAX_INLINE_ATTEMPTS || next_attempt_ends.is_none_or(|end| end > deadline) {
                return Outcome { delivered: false, attempts, last_error: Some(error) };
            }
            tokio::time::sleep(wait).await;
            backoff = backoff.saturating_mul(2);
        }
    }
}

/// §2.6: 200 or 204 is success. 5xx, 408 and 429 (with `Retry-After`) are worth another
/// attempt; any other answer, including a redirect, is final.
fn classify(status: StatusCode, retry_after: Option<&str>) -> Result<(), AttemptError> {
    if status == StatusCode::OK || status == StatusCode::NO_CONTENT {
        return Ok(());
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT {
        let retry_after = retry_after.and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Err(AttemptError::Retryable { reason: format!("HTTP {}", status.as_u16()), retry_after });
    }
    Err(AttemptError::Permanent(format!("HTTP {}", status.as_u16())))
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, clamped to at most
/// [`MAX_RETRY_AFTER`]. Anything else (a sign, a fraction, garbage) is no advice at all,
/// and the backoff applies.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: the number may still overflow; then it is "very long".
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

impl AttemptError {
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable { reason, .. } | Self::Permanent(reason) => reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_retry_after_is_clamped_to_the_backoff_bounds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let parse = |v: &str| parse_retry_after(v, now);
        assert_eq!(parse("3"), Some(Duration::from_secs(3)));
        for huge in ["18446744073709551615", "99999999999999999999999", "3601"] {
            assert_eq!(parse(huge), Some(MAX_RETRY_AFTER), "{huge}");
        }
        for garbage in ["-1", "+5", "1.5", "soon", "", "0x10", "１"] {
            assert_eq!(parse(garbage), None, "{garbage:?}");
        }
        let date = |secs: u64| httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(parse(&date(1_800_000_060)), Some(Duration::from_secs(60)));
        assert_eq!(parse(&date(1_700_000_000)), Some(Duration::ZERO), "a date in the past: now");
        assert_eq!(parse(&date(4_000_000_000)), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn answers_are_classified_per_the_spec() {
        assert_eq!(classify(StatusCode::OK, None), Ok(()));
        assert_eq!(classify(StatusCode::NO_CONTENT, None), Ok(()));
        let retry = |status, after: Option<&str>| classify(status, after);
        assert!(matches!(
            retry(StatusCode::SERVICE_UNAVAILABLE, None),
            Err(AttemptError::Retryable { retry_after: None, .. })
        ));
        assert_eq!(
            retry(StatusCode::TOO_MANY_REQUESTS, Some("3")),
            Err(AttemptError::Retryable { reason: "HTTP 429".into(), retry_after: Some(Duration::from_secs(3)) })
        );
        assert!(
            matches!(retry(StatusCode::FOUND, None), Err(AttemptError::Permanent(_))),
            "redirects are never followed"
        );
        assert!(matches!(retry(StatusCode::BAD_REQUEST, None), Err(AttemptError::Permanent(_))));
    }
}
