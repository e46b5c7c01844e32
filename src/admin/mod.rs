//! The `admin` extension: oispd's HTTP endpoint for people and scrapers.
//! `GET /api/health` reports each exporter's status; `GET /metrics` serves
//! Prometheus text under the collector's metric names. Components add their
//! own routes (the live page, `/ws/events`) through the build context.
//!
//! oispd runs as root and these routes show what it sees (the stream
//! carries every prompt), so every request is checked first ([`guard`]):
//! its `Host` (against DNS rebinding), its `Origin` (no foreign web page),
//! and, with `auth`, its bearer token. The listener is TCP or a Unix
//! socket whose mode decides who connects ([`listen`]). Keys:
//! [`config::AdminConfig`].

pub mod config;
mod guard;
mod listen;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use config::{AdminConfig, Listen};
use guard::{Guard, GuardSettings, Peer, RefusedCounters};
use listen::Bound;
use oispd_component::factory::AdminRoutes;
use oispd_component::telemetry::HealthStatus;
use oispd_component::{
    parse_config, BuildContext, ComponentError, ComponentInfo, ConfigError, Extension,
    ExtensionFactory, RouteAccess, Signal, Stability, Telemetry,
};
use serde_yaml_ng::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Builds the admin extension.
pub struct AdminFactory;

impl ExtensionFactory for AdminFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "admin",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "HTTP admin server: /api/health, /metrics, and routes of other components (live page, /ws/events); Host, Origin and bearer-token checks",
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
        Ok(Box::new(Admin::new(ctx, config)?))
    }
}

impl Admin {
    /// The admin server of `config`, not yet listening.
    fn new(ctx: &BuildContext, config: &Value) -> Result<Admin, ComponentError> {
        let cfg = parse_config::<AdminConfig>(config).map_err(|e| {
            ComponentError::Config(
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let listen = cfg.listen().map_err(ComponentError::Config)?;
        let token = load_token(&cfg)?;
        let id = ctx.id.to_string();
        let counter = |reason: &str| {
            ctx.telemetry
                .component_counter_with(
                    guard::REFUSED_METRIC,
                    "Requests the admin server refused, by reason (host, origin, token).",
                    &["extension", "reason"],
                    &[&id, reason],
                )
                .map_err(|e| ComponentError::Config(format!("cannot register metrics: {e}")))
        };
        let refused = RefusedCounters {
            host: counter("host")?,
            origin: counter("origin")?,
            token: counter("token")?,
        };
        Ok(Admin {
            listen,
            config: cfg,
            token,
            refused,
            telemetry: ctx.telemetry.clone(),
            routes: ctx.admin_routes.clone(),
        })
    }
}

/// The token of `auth`, read from its file if it is in one.
fn load_token(cfg: &AdminConfig) -> Result<Option<String>, ComponentError> {
    let Some(auth) = &cfg.auth else {
        return Ok(None);
    };
    let token = match (&auth.bearer_token, &auth.bearer_token_file) {
        (Some(t), _) => t.trim().to_string(),
        (None, Some(path)) => read_token_file(path)?,
        (None, None) => {
            return Err(ComponentError::Config(
                "'auth' needs 'bearer_token' or 'bearer_token_file'".into(),
            ))
        }
    };
    if let Some(problem) = config::token_problem(&token) {
        return Err(ComponentError::Config(problem));
    }
    Ok(Some(token))
}

fn read_token_file(path: &Path) -> Result<String, ComponentError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ComponentError::Environment(format!(
            "cannot read extensions::admin::auth::bearer_token_file {}: {e}",
            path.display()
        ))
    })?;
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        tracing::warn!(
            path = %path.display(),
            "the admin token file is readable by other users; make it mode 0600 (chmod 600)"
        );
    }
    Ok(text.trim().to_string())
}

struct Admin {
    listen: Listen,
    config: AdminConfig,
    token: Option<String>,
    refused: RefusedCounters,
    telemetry: Arc<Telemetry>,
    routes: AdminRoutes,
}

impl Admin {
    /// Every route behind its checks.
    fn app(self, bound: &Bound) -> Router {
        let tcp = match bound {
            Bound::Tcp(_, addr) => Some(*addr),
            Bound::Unix(..) => None,
        };
        let endpoint_host = match &self.listen {
            Listen::Tcp(endpoint) => endpoint.rsplit_once(':').map(|(h, _)| h),
            Listen::Unix(_) => None,
        };
        let no_origins = Vec::new();
        let cors = self.config.cors.as_ref();
        let guard = Arc::new(Guard::new(
            GuardSettings {
                tcp,
                endpoint_host,
                allowed_hosts: &self.config.allowed_hosts,
                allowed_origins: cors.map_or(&no_origins, |c| &c.allowed_origins),
                token: self.token.as_deref(),
            },
            self.refused,
        ));
        let mut protected = Router::new()
            .route("/api/health", get(health))
            .route("/metrics", get(metrics))
            .with_state(self.telemetry.clone());
        let mut public = Router::new();
        if let Ok(mut extra) = self.routes.lock() {
            for r in extra.drain(..) {
                match r.access {
                    RouteAccess::Authenticated => protected = protected.merge(r.router),
                    RouteAccess::Public => public = public.merge(r.router),
                }
            }
        }
        let mut app = protected
            .layer(axum::middleware::from_fn_with_state(
                guard.clone(),
                guard::require_token,
            ))
            .merge(public)
            .layer(axum::middleware::from_fn_with_state(
                guard.clone(),
                guard::check_origin,
            ));
        if let Some(cors) = cors.filter(|c| !c.allowed_origins.is_empty()) {
            app = app.layer(cors_layer(cors, guard.clone()));
        }
        // The Host check comes first, before CORS answers a preflight.
        app.layer(axum::middleware::from_fn_with_state(
            guard,
            guard::check_host,
        ))
    }
}

/// CORS for `cors.allowed_origins`, as the collector answers it
/// (credentials allowed, so origins are listed, never `*`).
fn cors_layer(cors: &config::CorsConfig, guard: Arc<Guard>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let mut headers = vec![header::AUTHORIZATION];
    headers.extend(
        cors.allowed_headers
            .iter()
            .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok()),
    );
    let mut layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(
            move |origin: &HeaderValue, _: &axum::http::request::Parts| {
                origin.to_str().is_ok_and(|o| guard.origin_listed(o))
            },
        ))
        .allow_methods([Method::GET])
        .allow_headers(headers)
        .allow_credentials(true);
    if let Some(secs) = cors.max_age {
        layer = layer.max_age(Duration::from_secs(secs));
    }
    layer
}

#[async_trait]
impl Extension for Admin {
    async fn start(
        self: Box<Self>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError> {
        let bound = self.bind().await?;
        Ok(self.serve(bound, shutdown))
    }
}

impl Admin {
    /// Opens the listening socket.
    async fn bind(&self) -> Result<Bound, ComponentError> {
        match &self.listen {
            Listen::Tcp(endpoint) => listen::tcp(endpoint).await,
            Listen::Unix(path) => listen::unix(path, self.config.socket_group.as_deref()),
        }
    }

    /// Serves on `bound` until `shutdown`.
    fn serve(self, bound: Bound, shutdown: CancellationToken) -> JoinHandle<()> {
        let auth = self.token.is_some();
        let app = self.app(&bound);
        let make = app.into_make_service_with_connect_info::<Peer>();
        match bound {
            Bound::Tcp(listener, addr) => {
                tracing::info!(endpoint = %addr, auth, "admin server listening");
                tokio::spawn(async move {
                    let served = axum::serve(listener, make)
                        .with_graceful_shutdown(shutdown.cancelled_owned())
                        .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "admin server stopped");
                    }
                })
            }
            Bound::Unix(listener, path) => {
                tracing::info!(socket = %path.display(), auth, "admin server listening");
                tokio::spawn(async move {
                    let served = axum::serve(listener, make)
                        .with_graceful_shutdown(shutdown.cancelled_owned())
                        .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "admin server stopped");
                    }
                    listen::remove_socket(&path);
                })
            }
        }
    }
}

async fn health(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    let exports = t.health_snapshot();
    let degraded = exports.values().any(|h| h.status == HealthStatus::Degraded);
    Json(serde_json::json!({
        "status": if degraded { "degraded" } else { "healthy" },
        "exports": exports,
        "receivers": t.receiver_status_snapshot(),
    }))
}

async fn metrics(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        t.render(),
    )
}

/// The listen address, when the admin config `config` exposes data
/// beyond this machine without a token (for `oispd validate` to warn
/// about).
pub fn exposure_warning(config: &Value) -> Option<String> {
    let cfg = parse_config::<AdminConfig>(config).ok()?;
    if cfg.auth.is_some() {
        return None;
    }
    match cfg.listen().ok()? {
        Listen::Tcp(endpoint) if !config::is_loopback_endpoint(&endpoint) => Some(endpoint),
        _ => None,
    }
}
