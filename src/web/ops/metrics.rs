//! Request logging and `GET /metrics`, exposed through `prometheus-client` (OpenMetrics text).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{Data, Request, Response, Route, State, get, routes};

use crate::auth::audit::SecurityLog;
use crate::auth::sessions::revocations::Revocations;
use crate::auth::{PasswordHasher, Sessions};
use crate::config::Settings;
use crate::db::Db;
use crate::web::http::guard::reject;
use crate::web::http::request::RequestId;

pub fn routes() -> Vec<Route> {
    routes![metrics]
}

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// Route templates as `'static` labels. There are as many as mounted routes (and "unmatched"),
/// each kept once for the process's life, so a request costs no allocation for its labels.
#[derive(Default)]
struct RouteNames(Mutex<HashMap<String, &'static str>>);

impl RouteNames {
    fn of(&self, route: &str) -> &'static str {
        let Ok(mut names) = self.0.lock() else {
            return "unknown";
        };
        if let Some(name) = names.get(route) {
            return name;
        }
        let name: &'static str = Box::leak(route.to_owned().into_boxed_str());
        names.insert(route.to_owned(), name);
        name
    }
}

struct Inner {
    in_flight: AtomicUsize,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    routes: RouteNames,
}

/// Counts and times every request by route, and logs it. Attached as a fairing and managed as
/// state: both share the counters.
#[derive(Clone)]
pub struct RequestMetrics(Arc<Inner>);

impl Default for RequestMetrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS));
        let mut registry = Registry::default();
        registry.register(
            "gatehouse_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "gatehouse_http_request_duration_seconds",
            "Request latency by route",
            latency.clone(),
        );
        Self(Arc::new(Inner {
            in_flight: AtomicUsize::new(0),
            registry,
            requests,
            latency,
            routes: RouteNames::default(),
        }))
    }
}

struct Started(Instant);

impl RequestMetrics {
    /// Requests received and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::Acquire)
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
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let elapsed = req.local_cache(|| Started(Instant::now())).0.elapsed();
        // The route's template (`/sessions/<id>`), never the raw path: bounded label values.
        let route = self
            .0
            .routes
            .of(req.route().map_or("unmatched", |r| r.uri.as_str()));
        let status = res.status().code;
        tracing::info!(
            target: "gatehouse::request",
            // Display, not Debug: an id is made of safe characters only, nothing to escape.
            request_id = %RequestId::of(req),
            method = %req.method(),
            path = %req.uri().path(),
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        self.0
            .requests
            .get_or_create(&RequestLabels {
                route,
                method: req.method().as_str(),
                status,
            })
            .inc();
        self.0
            .latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Who may read the metrics, and what they report beside the requests; managed as state.
pub struct MetricsAccess {
    enabled: bool,
    token: Option<crate::config::Secret>,
    hasher: Arc<PasswordHasher>,
    log: Arc<SecurityLog>,
    revocations: Arc<Revocations>,
}

impl MetricsAccess {
    pub fn new(
        settings: &Settings,
        hasher: Arc<PasswordHasher>,
        log: Arc<SecurityLog>,
        revocations: Arc<Revocations>,
    ) -> Self {
        Self {
            enabled: settings.site.metrics_enabled,
            token: settings.site.metrics_token.clone(),
            hasher,
            log,
            revocations,
        }
    }
}

/// Who may read the metrics: nobody unless enabled; then the bearer of `metrics_token` when one
/// is configured, else loopback clients only. Everyone else gets a plain 404.
pub struct MetricsReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsReader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(access) = req.rocket().state::<MetricsAccess>() else {
            return reject(Status::NotFound);
        };
        let allowed = access.enabled
            && match &access.token {
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
            reject(Status::NotFound)
        }
    }
}

/// The security log's counts, read at each scrape.
struct SecurityEvents(Arc<SecurityLog>);

impl std::fmt::Debug for SecurityEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityEvents")
    }
}

impl Collector for SecurityEvents {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "gatehouse_security_events",
            "Security events (sign-ins by outcome, throttling, revocations …)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for ((event, outcome), n) in self.0.counts() {
            *counts.entry((event, public_outcome(outcome))).or_default() += n;
        }
        for ((event, outcome), n) in counts {
            let labels = [("event", event), ("outcome", outcome)];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// An outcome as the metrics tell it. The security log tells an unknown user from a wrong
/// password; the metrics do not, or whoever reads them could watch for which names exist
/// (OWASP Authentication Cheat Sheet, "Authentication Responses").
fn public_outcome(outcome: &'static str) -> &'static str {
    match outcome {
        "unknown_user" | "wrong_password" => "invalid_credentials",
        other => other,
    }
}

/// The values that are read when scraped: hashing queue, pool, live sessions.
async fn scrape_gauges(access: &MetricsAccess, sessions: &Sessions, db: &Db) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SecurityEvents(Arc::clone(&access.log))));
    let hashing = Gauge::<i64>::default();
    hashing.set(i64::try_from(access.hasher.in_flight()).unwrap_or(i64::MAX));
    registry.register(
        "gatehouse_password_hash_in_flight",
        "Password hashes queued or running",
        hashing,
    );
    registry.register(
        "gatehouse_password_hash_batched",
        "Password hashes and checks that ran several at once in the SIMD lanes of one core",
        ConstCounter::new(access.hasher.batched()),
    );
    let connections = Family::<[(&'static str, &'static str); 1], Gauge>::default();
    let (size, idle) = (db.size() as usize, db.num_idle());
    connections
        .get_or_create(&[("state", "idle")])
        .set(idle as i64);
    connections
        .get_or_create(&[("state", "in_use")])
        .set(size.saturating_sub(idle) as i64);
    registry.register(
        "gatehouse_db_pool_connections",
        "Database connections by state",
        connections,
    );
    let peers = Gauge::<i64>::default();
    peers.set(i64::try_from(access.revocations.live_peers()).unwrap_or(i64::MAX));
    registry.register(
        "gatehouse_revocation_peers",
        "Other instances heard within the peer window: a revocation waits for their acknowledgement",
        peers,
    );
    let trusted = Gauge::<i64>::default();
    trusted.set(i64::from(access.revocations.is_current()));
    registry.register(
        "gatehouse_revocation_set_trusted",
        "1 while the in-memory revocation set is loaded and its listener proved alive",
        trusted,
    );
    match sessions.count_live().await {
        Ok(n) => {
            let live = Gauge::<i64>::default();
            live.set(n);
            registry.register(
                "gatehouse_active_sessions",
                "Live (unrevoked, unexpired) sessions",
                live,
            );
        }
        Err(e) => tracing::warn!("metrics: cannot count sessions: {e}"),
    }
    registry
}

#[get("/metrics")]
async fn metrics(
    _reader: MetricsReader,
    requests: &State<RequestMetrics>,
    access: &State<MetricsAccess>,
    sessions: &State<Sessions>,
    db: &Db,
) -> Result<(ContentType, String), Status> {
    use prometheus_client::encoding::text::{encode_eof, encode_registry};
    let scraped = scrape_gauges(access, sessions, db).await;
    let mut out = String::new();
    encode_registry(&mut out, &requests.0.registry)
        .and_then(|()| encode_registry(&mut out, &scraped))
        .and_then(|()| encode_eof(&mut out))
        .map_err(|_| Status::InternalServerError)?;
    let content_type = ContentType::new("application", "openmetrics-text")
        .with_params([("version", "1.0.0"), ("charset", "utf-8")]);
    Ok((content_type, out))
}
