//! Logs through `tracing`: human-readable by default, one JSON object per line with
//! `log_format = "json"`. Rocket's own `log` lines are bridged into the same subscriber.

use std::io::IsTerminal;

use rocket::figment::Figment;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, once, before Rocket starts (Rocket then leaves its own logger
/// out). `RUST_LOG` overrides the level derived from Rocket's `log_level`.
///
/// Lines are handed to a writer thread, so no request waits on stderr; the queue is not lossy
/// (a full queue slows the loggers instead of dropping security events). Keep the returned guard
/// until the process ends: dropping it flushes what is queued.
pub fn init(figment: &Figment) -> tracing_appender::non_blocking::WorkerGuard {
    let format: String = figment
        .extract_inner("log_format")
        .unwrap_or_else(|_| "text".to_owned());
    let level: String = figment
        .extract_inner("log_level")
        .unwrap_or_else(|_| "normal".to_owned());
    let (default, max) = match level.as_str() {
        "off" => ("off", log::LevelFilter::Off),
        "critical" => ("warn", log::LevelFilter::Warn),
        "debug" => ("debug", log::LevelFilter::Debug),
        _ => ("info", log::LevelFilter::Info),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Rocket's per-request chatter stays at debug; gatehouse logs each request itself.
        EnvFilter::new(format!("{default},rocket::server=warn,_=warn"))
    });
    // The `log` facade's own level first: records above it (Rocket logs several per request) are
    // dropped by one comparison instead of being converted and filtered by `tracing`.
    let max = if std::env::var_os("RUST_LOG").is_some() {
        log::LevelFilter::Trace
    } else {
        max
    };
    let _ = tracing_log::LogTracer::init_with_filter(max);
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("gatehouse-log")
        // Buffered: the writer thread drains every queued line into the buffer, then flushes once
        // the queue is empty, so a busy server makes one write(2) per batch of lines, not per
        // line, and an idle one still shows each line at once.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    // Colours only for a person at a terminal: a log file or collector gets plain text (the
    // escape codes also cost instructions on every logged request).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let _ = if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
    guard
}
