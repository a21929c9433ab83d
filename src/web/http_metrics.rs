//! What the web server measures about itself: requests by route, method and
//! status, a latency histogram per route, the process (CPU, memory, open
//! files, from `/proc`) and `topup_build_info`. The desk's own figures
//! (orders, messages, outbox) are read from the store by [`super::health`].
//!
//! One registry per [`super::AppState`], not a global: tests run several
//! servers in one process and each must count only its own requests.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Upper bounds (seconds) of the request latency histogram: 1 ms … 10 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The web server's registry.
#[derive(Debug)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
    /// A registry with the request metrics, the process collector and the build info.
    ///
    /// # Panics
    /// Never in practice: the metric names and labels are constants that the
    /// prometheus crate accepts (a test renders them).
    pub fn new() -> HttpMetrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "topup_http_requests_total",
                "HTTP requests answered, by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "topup_http_request_duration_seconds",
                "Time to answer an HTTP request, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let build = IntGaugeVec::new(
            Opts::new(
                "topup_build_info",
                "The running build: version and git commit (always 1).",
            ),
            &["version", "commit"],
        )
        .expect("valid metric");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::BUILD_COMMIT])
            .set(1);
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(build),
            Box::new(prometheus::process_collector::ProcessCollector::new(
                std::process::id().cast_signed(),
                "",
            )),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        HttpMetrics {
            registry,
            requests,
            latency,
        }
    }

    /// Appends the registry in Prometheus text format to `out`.
    pub fn render(&self, out: &mut String) {
        let mut buf = Vec::new();
        if prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_ok()
        {
            out.push_str(&String::from_utf8_lossy(&buf));
        }
    }

    fn observe(&self, route: &str, method: &str, status: axum::http::StatusCode, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, status.as_str()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }
}

/// Middleware: counts and times every request under its route pattern
/// (`/o/{token}`, never the token itself, so label values stay few and no
/// bearer secret reaches the metrics). Requests no route matched count as
/// `unmatched`.
pub async fn track(
    State(metrics): State<std::sync::Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        _ => "other",
    };
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.observe(
        &route,
        method,
        res.status(),
        started.elapsed().as_secs_f64(),
    );
    res
}
