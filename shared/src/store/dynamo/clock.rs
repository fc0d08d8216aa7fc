//! A writer's clock against DynamoDB's. Feed records are stamped with the writer's
//! clock, and a reader allows for a few seconds of skew (docs/ARCHITECTURE.md §3.11). The
//! functions run on Lambda, whose clocks are synchronised; `tokenctl` runs wherever an
//! operator runs it, so it measures its clock against the `Date` header of DynamoDB's
//! endpoint first, and stamps by DynamoDB's time when the two differ by more than a
//! second.

use super::DynamoStore;
use crate::config::AwsSettings;
use crate::time::UnixMillis;
use std::time::Duration;

/// Below this, a difference is within what the measurement itself can tell (the header
/// has one-second resolution).
const TOLERATED_MS: i64 = 1_000;

/// What the check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockCheck {
    /// Within a second of DynamoDB's.
    InStep,
    /// Off by this many milliseconds (positive: this host is behind): stamps are
    /// corrected by it.
    Corrected(i64),
    /// DynamoDB's time could not be read: stamps are by this host's clock.
    Unknown,
}

impl DynamoStore {
    /// This store, stamping feed records by DynamoDB's clock if this host's is off.
    pub async fn with_clock_checked(self, aws: &AwsSettings) -> (Self, ClockCheck) {
        let region = self.client.config().region().map(ToString::to_string).unwrap_or_else(|| "us-east-1".into());
        let endpoint =
            aws.dynamodb_endpoint.clone().unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com/"));
        match offset_from(&endpoint).await {
            Some(offset) if offset.abs() > TOLERATED_MS => {
                (self.with_clock_offset(offset), ClockCheck::Corrected(offset))
            }
            Some(_) => (self, ClockCheck::InStep),
            None => (self, ClockCheck::Unknown),
        }
    }
}

/// How far the endpoint's clock is ahead of this host's, in milliseconds.
async fn offset_from(endpoint: &str) -> Option<i64> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().ok()?;
    let sent = UnixMillis::now();
    let response = client.get(endpoint).send().await.ok()?;
    let received = UnixMillis::now();
    let date = response.headers().get(reqwest::header::DATE)?.to_str().ok()?;
    let server = httpdate::parse_http_date(date).ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    // The header truncates to the second: the middle of that second, against the middle
    // of the round trip.
    let server_ms = i64::try_from(server.as_millis()).ok()?.saturating_add(500);
    let local_ms = i64::try_from(sent.0 / 2 + received.0 / 2).ok()?;
    Some(server_ms - local_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An endpoint whose clock is `ahead` of this host's.
    async fn endpoint(ahead: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let date = httpdate::fmt_http_date(std::time::SystemTime::now() + ahead);
                let answer =
                    format!("HTTP/1.1 200 OK\r\ndate: {date}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{address}/")
    }

    #[tokio::test]
    async fn the_offset_is_read_from_the_date_header_to_within_a_second() {
        let offset = offset_from(&endpoint(Duration::from_secs(10)).await).await.expect("a Date header");
        assert!((9_000..=11_000).contains(&offset), "{offset}");
        let in_step = offset_from(&endpoint(Duration::ZERO).await).await.expect("a Date header");
        assert!(in_step.abs() <= TOLERATED_MS, "{in_step}");
        assert_eq!(offset_from("http://127.0.0.1:1/").await, None, "nobody there");
    }
}
