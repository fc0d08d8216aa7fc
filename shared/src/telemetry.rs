//! Structured logs: JSON lines (CloudWatch-friendly), level from `RUST_LOG` (default
//! `info`). Security events carry a stable `event` field (STYLE.md habit 7).

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // `try_init` so a second call (tests, benchmarks) is harmless.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
