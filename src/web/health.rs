//! `/healthz` (JSON for load balancers and people) and `/metrics`
//! (Prometheus text format). Both read counts straight from the store, so
//! several daemons sharing one PostgreSQL report the same numbers.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::{inbound as inbound_store, orders, outbox};

use super::AppState;
use super::error::WebError;

/// Upper bounds (seconds) of the decision-time histogram: 1 min … 2 days.
const DECISION_BUCKETS: [i64; 9] = [
    60,
    300,
    900,
    1800,
    3600,
    4 * 3600,
    8 * 3600,
    24 * 3600,
    48 * 3600,
];

/// Each configured source with its last reported state; a source that has
/// not reported yet is `starting`.
fn sources(st: &AppState) -> (serde_json::Value, bool) {
    let s = st.desk.settings();
    let mut names = vec![if s.mail.imap.is_some() {
        "imap"
    } else {
        "maildir"
    }];
    if s.discord.enabled() && s.discord.gateway {
        names.push("discord");
    }
    let reported = st.desk.health().snapshot();
    let mut all_up = true;
    let list: Vec<serde_json::Value> = names
        .into_iter()
        .map(|name| match reported.iter().find(|(n, _)| n == name) {
            Some((_, state)) => {
                all_up &= state.up;
                json!({"name": name, "state": if state.up { "up" } else { "down" }, "detail": state.detail})
            }
            None => json!({"name": name, "state": "starting", "detail": ""}),
        })
        .collect();
    (serde_json::Value::Array(list), all_up)
}

async fn outbox_counts(st: &AppState) -> Result<(i64, i64), WebError> {
    let mut conn = st.desk.store().pool().acquire().await?;
    let rows = outbox::count_by_status(&mut conn).await?;
    let get = |k: &str| {
        rows.iter()
            .find(|(s, _)| s == k)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    Ok((get("pending"), get("dead")))
}

/// `GET /healthz`: `{status}` for anyone (`ok`, `degraded` when a source is
/// down, `unavailable` without the database); 200 when the database answers,
/// else 503. A signed-in staff member also gets the details (`database`,
/// `sources` with what each is connected to or why not, outbox counts): host
/// names, mailbox users and raw errors are not for the public.
pub async fn healthz(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(3), st.desk.store().ping()).await;
    let db_ok = matches!(ping, Ok(Ok(())));
    let counts = if db_ok {
        tokio::time::timeout(Duration::from_secs(3), outbox_counts(&st))
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    if !db_ok {
        match &ping {
            Ok(Err(e)) => tracing::warn!("Health check: database error: {e}"),
            Err(_) => tracing::warn!("Health check: database did not answer within 3 s"),
            Ok(Ok(())) => {}
        }
    }
    let (sources, sources_up) = sources(&st);
    let status = match (db_ok, sources_up) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let staff = if db_ok {
        super::staff::staff_by_cookie(&st, &headers)
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    let body = if staff.is_some() {
        json!({
            "status": status,
            "database": if db_ok { "ok" } else { "unreachable" },
            "sources": sources,
            "outbox_pending": counts.map(|c| c.0),
            "outbox_dead": counts.map(|c| c.1),
        })
    } else {
        json!({ "status": status })
    };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`: Prometheus text.
///
/// # Errors
/// 500 when the database does not answer (Prometheus records the scrape as failed).
pub async fn metrics(State(st): State<AppState>) -> Result<Response, WebError> {
    let mut conn = st.desk.store().pool().acquire().await?;
    let messages = inbound_store::count_by_source_intent(&mut conn).await?;
    let by_status = orders::count_by_status(&mut conn).await?;
    let out_rows = outbox::count_by_status(&mut conn).await?;
    let failed = inbound_store::count_failed(&mut conn).await?;

    // Decision times, bucketed in SQL so no rows are loaded. The rows are
    // append-only, so the histogram never goes backwards (an amend does not
    // take an observation back).
    let mut sql = String::from("SELECT COUNT(*), CAST(COALESCE(SUM(millis), 0) AS BIGINT)");
    for b in DECISION_BUCKETS {
        let _ = write!(
            sql,
            ", CAST(COALESCE(SUM(CASE WHEN millis <= {} THEN 1 ELSE 0 END), 0) AS BIGINT)",
            b * 1000
        );
    }
    sql.push_str(" FROM decision_times");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    use sqlx::Row;
    let count: i64 = row.try_get(0)?;
    let sum_ms: i64 = row.try_get(1)?;
    let mut buckets = Vec::with_capacity(DECISION_BUCKETS.len());
    for (i, b) in DECISION_BUCKETS.iter().enumerate() {
        let n: i64 = row.try_get(i + 2)?;
        buckets.push((*b, n));
    }

    let mut m = String::new();
    m.push_str("# HELP topup_messages_total Inbound messages recorded, by source and intent.\n");
    m.push_str("# TYPE topup_messages_total counter\n");
    for (source, intent, n) in &messages {
        let _ = writeln!(
            m,
            "topup_messages_total{{source=\"{}\",intent=\"{}\"}} {n}",
            label(source),
            label(intent)
        );
    }
    m.push_str("# HELP topup_orders Orders by status.\n# TYPE topup_orders gauge\n");
    for s in crate::domain::order::OrderStatus::ALL {
        let n = by_status
            .iter()
            .find(|(k, _)| k == s.as_str())
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(m, "topup_orders{{status=\"{}\"}} {n}", s.as_str());
    }
    m.push_str("# HELP topup_decision_seconds Time from slip submission to decision (paid or payment failure).\n");
    m.push_str("# TYPE topup_decision_seconds histogram\n");
    for (b, n) in &buckets {
        let _ = writeln!(m, "topup_decision_seconds_bucket{{le=\"{b}\"}} {n}");
    }
    let _ = writeln!(m, "topup_decision_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(m, "topup_decision_seconds_sum {}", sum_ms as f64 / 1000.0);
    let _ = writeln!(m, "topup_decision_seconds_count {count}");
    m.push_str("# HELP topup_outbox Outbox rows waiting or given up.\n# TYPE topup_outbox gauge\n");
    for s in ["pending", "dead", "suppressed"] {
        let n = out_rows
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(m, "topup_outbox{{status=\"{s}\"}} {n}");
    }
    m.push_str("# HELP topup_source_up Whether each inbound source works (1) or not (0).\n");
    m.push_str("# TYPE topup_source_up gauge\n");
    for (name, state) in st.desk.health().snapshot() {
        let _ = writeln!(
            m,
            "topup_source_up{{source=\"{}\"}} {}",
            label(&name),
            u8::from(state.up)
        );
    }
    m.push_str("# HELP topup_inbound_failed Messages recorded as failed (kept raw for staff).\n");
    m.push_str("# TYPE topup_inbound_failed gauge\n");
    let _ = writeln!(m, "topup_inbound_failed {failed}");
    m.push_str("# HELP topup_inbound_failed_total Messages recorded as failed by this process.\n");
    m.push_str("# TYPE topup_inbound_failed_total counter\n");
    let _ = writeln!(
        m,
        "topup_inbound_failed_total {}",
        crate::desk::inbound::INBOUND_FAILED.load(Ordering::Relaxed)
    );
    m.push_str("# HELP topup_imap_reconnects_total IMAP reconnections since start.\n");
    m.push_str("# TYPE topup_imap_reconnects_total counter\n");
    let _ = writeln!(
        m,
        "topup_imap_reconnects_total {}",
        crate::sources::imap::IMAP_RECONNECTS.load(Ordering::Relaxed)
    );
    st.metrics.render(&mut m);
    let mut res = m.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(res)
}
