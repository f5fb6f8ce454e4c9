//! Request logging and `GET /metrics` (Prometheus text format).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::ContentType;
use rocket::request::{FromRequest, Outcome};
use rocket::{Data, Request, Response, Route, State, get, routes};

use crate::auth::Accounts;
use crate::auth::audit::RequestId;
use crate::db::Db;
use crate::error::{self, ApiError};

pub fn routes() -> Vec<Route> {
    routes![metrics]
}

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

/// Counts and latencies of one route.
#[derive(Default)]
struct RouteStats {
    /// By method and status.
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Counters {
    in_flight: usize,
    /// By route template. Looked up by `&str`, so a known route costs no allocation.
    routes: HashMap<String, RouteStats>,
}

/// Counts and times every request by route, and logs it. Attached as a fairing and managed as
/// state: both share the counters.
#[derive(Clone, Default)]
pub struct RequestMetrics(Arc<Mutex<Counters>>);

struct Started(Instant);

impl RequestMetrics {
    /// Requests received and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.0.lock().map_or(0, |c| c.in_flight)
    }
}

#[rocket::async_trait]
impl Fairing for RequestMetrics {
    fn info(&self) -> Info {
        Info {
            name: "Request metrics and log",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| Started(Instant::now()));
        if let Ok(mut counters) = self.0.lock() {
            counters.in_flight += 1;
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let elapsed = req.local_cache(|| Started(Instant::now())).0.elapsed();
        // The route's template (`/sessions/<id>`), never the raw path: bounded label values.
        let route = req.route().map_or("unmatched", |r| r.uri.as_str());
        let status = res.status().code;
        tracing::info!(
            target: "gatehouse::request",
            request_id = RequestId::of(req),
            method = %req.method(),
            path = %req.uri().path(),
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        let Ok(mut counters) = self.0.lock() else {
            return;
        };
        counters.in_flight = counters.in_flight.saturating_sub(1);
        if !counters.routes.contains_key(route) {
            counters
                .routes
                .insert(route.to_owned(), RouteStats::default());
        }
        let stats = counters.routes.get_mut(route).expect("inserted above");
        *stats
            .requests
            .entry((req.method().as_str(), status))
            .or_default() += 1;
        let histogram = &mut stats.latency;
        let seconds = elapsed.as_secs_f64();
        for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        histogram.sum += seconds;
        histogram.total += 1;
    }
}

/// Who may read the metrics: nobody unless enabled; then the bearer of `metrics_token` when one
/// is configured, else loopback clients only. Everyone else gets a plain 404.
pub struct MetricsReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsReader {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ApiError> {
        let Some(accounts) = req.rocket().state::<Accounts>() else {
            return Outcome::Forward(rocket::http::Status::NotFound);
        };
        let settings = accounts.settings();
        let allowed = settings.metrics_enabled
            && match &settings.metrics_token {
                Some(token) => req
                    .headers()
                    .get_one("Authorization")
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .is_some_and(|given| {
                        aws_lc_rs::constant_time::verify_slices_are_equal(
                            given.as_bytes(),
                            token.expose().as_bytes(),
                        )
                        .is_ok()
                    }),
                None => req.client_ip().is_some_and(|ip| ip.is_loopback()),
            };
        if allowed {
            Outcome::Success(MetricsReader)
        } else {
            error::stash(req, ApiError::NotFound);
            Outcome::Error((rocket::http::Status::NotFound, ApiError::NotFound))
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[get("/metrics")]
async fn metrics(
    _reader: MetricsReader,
    requests: &State<RequestMetrics>,
    accounts: &State<Accounts>,
    db: &Db,
) -> (ContentType, String) {
    let mut out = String::new();
    {
        let counters = requests.0.lock().expect("metrics lock");
        out.push_str(
            "# HELP gatehouse_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE gatehouse_http_requests_total counter\n");
        let mut routes: Vec<(&String, &RouteStats)> = counters.routes.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        for (route, stats) in &routes {
            for ((method, status), n) in &stats.requests {
                let _ = writeln!(
                    out,
                    "gatehouse_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP gatehouse_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE gatehouse_http_request_duration_seconds histogram\n");
        for (route, stats) in &routes {
            let (route, h) = (escape(route), &stats.latency);
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.total
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.total
            );
        }
    }
    out.push_str("# HELP gatehouse_security_events_total Security events (sign-ins by outcome, throttling, revocations …).\n");
    out.push_str("# TYPE gatehouse_security_events_total counter\n");
    for ((event, outcome), n) in accounts.security_log().counts() {
        let _ = writeln!(
            out,
            "gatehouse_security_events_total{{event=\"{event}\",outcome=\"{}\"}} {n}",
            escape(outcome)
        );
    }
    out.push_str("# HELP gatehouse_password_hash_in_flight Password hashes queued or running.\n");
    out.push_str("# TYPE gatehouse_password_hash_in_flight gauge\n");
    let _ = writeln!(
        out,
        "gatehouse_password_hash_in_flight {}",
        accounts.hasher().in_flight()
    );
    out.push_str("# HELP gatehouse_db_pool_connections Database connections by state.\n");
    out.push_str("# TYPE gatehouse_db_pool_connections gauge\n");
    let (size, idle) = (db.size(), db.num_idle());
    let _ = writeln!(
        out,
        "gatehouse_db_pool_connections{{state=\"idle\"}} {idle}"
    );
    let _ = writeln!(
        out,
        "gatehouse_db_pool_connections{{state=\"in_use\"}} {}",
        (size as usize).saturating_sub(idle)
    );
    match crate::db::sessions::count_live(db).await {
        Ok(n) => {
            out.push_str(
                "# HELP gatehouse_active_sessions Live (unrevoked, unexpired) sessions.\n",
            );
            out.push_str("# TYPE gatehouse_active_sessions gauge\n");
            let _ = writeln!(out, "gatehouse_active_sessions {n}");
        }
        Err(e) => tracing::warn!("metrics: cannot count sessions: {e}"),
    }
    (
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        out,
    )
}
