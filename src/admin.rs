//! The `admin` extension: oispd's HTTP endpoint for people and scrapers.
//! `GET /api/health` reports each exporter's status; `GET /metrics` serves
//! Prometheus text under the collector's metric names. Components add their
//! own routes (the live page, `/ws/events`) through the build context.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use oispd_component::telemetry::HealthStatus;
use oispd_component::{
    parse_config, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    Extension, ExtensionFactory, Signal, Stability, Telemetry,
};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Default listen address, loopback only.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:7777";

/// `extensions: {admin: ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `host:port` to listen on (default `127.0.0.1:7777`).
    pub endpoint: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
        }
    }
}

impl ComponentConfig for AdminConfig {
    fn validate(&self) -> Vec<String> {
        if self
            .endpoint
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            vec![format!(
                "'endpoint' must be host:port, got {:?}",
                self.endpoint
            )]
        } else {
            vec![]
        }
    }
}

/// Builds the admin extension.
pub struct AdminFactory;

impl ExtensionFactory for AdminFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "admin",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "HTTP admin server: /api/health, /metrics, and routes of other components (live page, /ws/events)",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<AdminConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Extension>, ComponentError> {
        let cfg = parse_config::<AdminConfig>(config).map_err(|e| {
            ComponentError::Config(
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        Ok(Box::new(Admin {
            endpoint: cfg.endpoint,
            telemetry: ctx.telemetry.clone(),
            routes: ctx.admin_routes.clone(),
        }))
    }
}

struct Admin {
    endpoint: String,
    telemetry: Arc<Telemetry>,
    routes: oispd_component::factory::AdminRoutes,
}

#[async_trait]
impl Extension for Admin {
    async fn start(
        self: Box<Self>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError> {
        let listener = tokio::net::TcpListener::bind(&self.endpoint)
            .await
            .map_err(|e| {
                ComponentError::Environment(format!(
                    "cannot listen on {}: {e}; stop whatever uses it or set extensions::admin::endpoint",
                    self.endpoint
                ))
            })?;
        let mut app = Router::new()
            .route("/api/health", get(health))
            .route("/metrics", get(metrics))
            .with_state(self.telemetry.clone());
        if let Ok(mut extra) = self.routes.lock() {
            for r in extra.drain(..) {
                app = app.merge(r);
            }
        }
        tracing::info!(endpoint = %self.endpoint, "admin server listening");
        Ok(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "admin server stopped");
            }
        }))
    }
}

async fn health(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    let exports = t.health_snapshot();
    let degraded = exports.values().any(|h| h.status == HealthStatus::Degraded);
    Json(serde_json::json!({
        "status": if degraded { "degraded" } else { "healthy" },
        "exports": exports,
    }))
}

async fn metrics(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        t.render(),
    )
}
