//! A resource server behind the guard: `GET /hello` answers `{"sub": …}` for a live
//! access token of `ISSUER` naming `EXAMPLE_API_AUDIENCE`, and refuses a revoked one
//! within about `POLL_INTERVAL_MS`.
//!
//! ```sh
//! ISSUER=http://localhost:9000 EXAMPLE_API_CLIENT_ID=example-api EXAMPLE_API_CLIENT_SECRET=… \
//!   cargo run -p guard --example hello_api
//! ```
//! The client must be registered with `--introspect` (it reads the revocation feed).

use axum::routing::get;
use axum::{Extension, Json, Router};
use guard::layer::GuardLayer;
use guard::{AccessClaims, Guard, GuardConfig};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("example-api: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // JSON lines like the Lambda functions; LOG_FORMAT=text for people.
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "text") {
        logs.init()
    } else {
        logs.json().init()
    }

    let (config, port) = config_from_env()?;
    let guard = Guard::start(config)?;
    // Tokens are refused as stale until the first sync: serve only once it is done.
    guard.ready().await;

    let app = Router::new().route("/hello", get(hello)).layer(GuardLayer::new(guard));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("example-api listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn hello(Extension(claims): Extension<AccessClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub }))
}

fn config_from_env() -> Result<(GuardConfig, u16), String> {
    let required = |name: &str| std::env::var(name).map_err(|_| format!("{name} is required"));
    let optional = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let number = |name: &str, default: &str| {
        optional(name, default).parse::<u64>().map_err(|_| format!("{name} must be a whole number"))
    };
    let mut config = GuardConfig::new(
        required("ISSUER")?,
        vec![optional("EXAMPLE_API_AUDIENCE", "https://api.example.com")],
        required("EXAMPLE_API_CLIENT_ID")?,
        required("EXAMPLE_API_CLIENT_SECRET")?,
    );
    config.poll_interval = Duration::from_millis(number("POLL_INTERVAL_MS", "1000")?.max(1));
    config.max_staleness = Duration::from_secs(number("MAX_STALENESS_SECONDS", "30")?);
    let port = u16::try_from(number("EXAMPLE_API_PORT", "9100")?).map_err(|_| "EXAMPLE_API_PORT is not a port")?;
    Ok((config, port))
}
