//! OpenCLM's HTTP API and dashboard: the only crate that knows about HTTP. One module per domain
//! parses requests, calls the `openclm_app` use case and answers its typed result; every error
//! becomes a response in one place ([`error::ApiError`]). Each domain module's `routes()` is
//! merged in `routes.rs`; the shared extractors in `extract.rs` sit below every handler.

mod accounts;
mod audit;
pub mod auth;
mod campaigns;
mod connections;
mod content;
mod decisions;
pub mod deliveries;
mod error;
mod events;
mod extract;
mod hcps;
pub mod openapi;
mod overview;
mod privacy;
mod pv;
mod reps;
mod routes;
pub mod sendgrid;
mod tracking;
mod web;

use axum::Router;
use openclm_store::UnknownHcpPolicy;
use openclm_store::prelude::*;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use connections::ConnectionLimits;
pub use error::ApiError;

/// Limits and policies of the API, taken from the settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Most events accepted in one `POST /v1/events`.
    pub max_batch_events: usize,
    /// Largest request body accepted, in bytes.
    pub max_batch_bytes: usize,
    pub unknown_hcp: UnknownHcpPolicy,
    /// The engine decisions are made with (its contact rules come from the settings).
    pub engine: openclm_core::engine::Engine,
    /// How long after a decision its response may still come (the `[rewards]` window): a
    /// decision younger than this is not yet settled for evaluation.
    pub attribution_window_ms: i64,
    /// A login session ends after this long without a request.
    pub session_idle_ms: i64,
    /// A login session ends this long after login, however busy.
    pub session_max_ms: i64,
    /// Screens free text that reaches the API other than in events (reps' notes on suggestions),
    /// as the store screens events.
    pub screener: Arc<openclm_core::pv::Screener>,
    /// How the Segment-compatible Tracking API's messages map onto OpenCLM.
    pub segment: Arc<openclm_core::segment::SegmentConfig>,
    /// When set, SendGrid's webhook is accepted only with a valid signature by this key.
    pub sendgrid_key: Option<sendgrid::VerificationKey>,
    /// The outbound delivery queue: webhooks, attempts, backoff, leases.
    pub delivery: openclm_app::deliveries::DeliveryConfig,
    /// Connections held at once, and how long a slow or idle client may keep one.
    pub connections: ConnectionLimits,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_batch_events: 10_000,
            max_batch_bytes: 10 * 1024 * 1024,
            unknown_hcp: UnknownHcpPolicy::Reject,
            engine: openclm_core::engine::Engine::default(),
            attribution_window_ms: openclm_core::engine::reward::RewardConfig::default()
                .window_ms(),
            session_idle_ms: 30 * 60 * 1000,
            session_max_ms: 12 * 60 * 60 * 1000,
            screener: Arc::new(openclm_core::pv::Screener::default()),
            segment: Arc::new(openclm_core::segment::SegmentConfig::default()),
            sendgrid_key: None,
            delivery: openclm_app::deliveries::DeliveryConfig::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

pub use openclm_app::{Clock, system_clock};

/// What every handler can reach.
pub struct AppState<S> {
    pub store: S,
    pub config: ApiConfig,
    pub clock: Clock,
}

impl<S: Clone> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            config: self.config.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// The whole HTTP application.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let body_timeout = state.config.connections.body_read_timeout;
    routes::router(state)
        .layer(axum::middleware::from_fn(move |request, next| {
            connections::body_deadline(body_timeout, request, next)
        }))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<_>| {
                    // Method and route only: ids in paths, query strings and bodies may carry
                    // personal data.
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", |p| p.as_str());
                    tracing::info_span!("http", method = %req.method(), route = %route)
                },
            ),
        )
}

/// Serves the API on `listener` until `shutdown` completes, within the configured connection
/// limits; then waits for the requests in flight.
pub async fn serve<S: Store>(
    listener: TcpListener,
    state: AppState<S>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections.clone();
    connections::serve(listener, router(state), limits, shutdown).await
}
