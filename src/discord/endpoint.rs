//! `POST /discord/interactions`: Discord's HTTP interactions endpoint.
//!
//! Order of checks, all before the body is read as JSON: both signature
//! headers present, the Ed25519 signature over `timestamp + raw body` valid
//! for the configured public key, and the timestamp within 5 minutes of now
//! (a captured request cannot be replayed later). Any failure is a bare 401.
//! Then PING gets PONG and everything else goes to the one handler
//! ([`super::interactions::answer`]), whose answer is the response body.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serenity::all::{CreateInteractionResponse, Interaction};
use serenity::http::Http;
use serenity::interactions_endpoint::Verifier;

use crate::desk::Desk;

/// Requests signed longer ago (or further ahead) than this are refused.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

#[derive(Clone)]
struct EndpointState {
    desk: Desk,
    verifier: Option<Verifier>,
    http: Arc<Http>,
}

/// The verifier for a hex public key, if it is one.
pub fn verifier(public_key_hex: &str) -> Option<Verifier> {
    let bytes: [u8; 32] = hex::decode(public_key_hex.trim()).ok()?.try_into().ok()?;
    Verifier::try_new(bytes).ok()
}

/// The interactions endpoint, to merge into the web router.
pub fn routes(desk: Desk) -> Router {
    let cfg = &desk.settings().discord;
    let verifier = verifier(&cfg.public_key);
    if verifier.is_none() {
        tracing::warn!(
            "discord.public_key is not a valid hex Ed25519 key: the interactions endpoint refuses every request"
        );
    }
    let state = EndpointState {
        http: super::http_client(cfg),
        verifier,
        desk,
    };
    Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(state)
}

fn unauthorized(why: &str) -> Response {
    tracing::warn!("Discord interaction refused: {why}");
    (StatusCode::UNAUTHORIZED, "invalid request signature").into_response()
}

async fn interactions(
    State(state): State<EndpointState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(verifier) = &state.verifier else {
        return unauthorized("no public key configured");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("X-Signature-Ed25519"),
        header("X-Signature-Timestamp"),
    ) else {
        return unauthorized("signature headers missing");
    };
    if verifier.verify(signature, timestamp, &body).is_err() {
        return unauthorized("bad signature");
    }
    let Ok(signed_at) = timestamp.trim().parse::<i64>() else {
        return unauthorized("timestamp is not a number");
    };
    let now = state.desk.now() / 1000;
    if (now - signed_at).abs() > MAX_SKEW_SECS {
        return unauthorized("stale timestamp (replay?)");
    }
    // Signed by Discord: now it is worth parsing.
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "body is not JSON").into_response(),
    };
    if value.get("type").and_then(serde_json::Value::as_u64) == Some(1) {
        return Json(CreateInteractionResponse::Pong).into_response();
    }
    let interaction: Interaction = match serde_json::from_value(value) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("Unreadable Discord interaction: {e}");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    let response = super::interactions::answer(&state.desk, &state.http, interaction).await;
    Json(response).into_response()
}
