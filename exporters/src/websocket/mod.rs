//! The `websocket` exporter: streams each OISP event, as one JSON text
//! message, to every client of `ws://<admin endpoint>/ws/events`, and
//! serves the live page at `http://<admin endpoint>/` ([`routes`]).
//!
//! Both routes go to the admin extension through the build context; an
//! instance with a name (`websocket/NAME`) serves
//! `/ws/events/NAME` and `/NAME/` instead, so several can coexist.
//! Clients may ask for a prefix of event types
//! (`/ws/events?event_type=ai.`). Fan-out never waits on a client
//! ([`hub`]): a client more than `client_buffer` messages behind is
//! disconnected and counted, and the pipeline and the other clients go on.
//! Events are not kept: a client sees what happens while it is connected.
//!
//! The admin server guards both routes (Host and Origin checks, and with
//! `extensions::admin::auth` the token for the stream); see [`routes`] for
//! how the page passes the token on.

pub mod config;
mod hub;
mod routes;

use crate::oisp_view::json_records;
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use config::WebsocketConfig;
use hub::{Hub, HubMetrics, Outgoing};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentError, ComponentId, ComponentInfo, ConfigError,
    ExportError, Exporter, ExporterFactory, ExporterSettings, Signal, Stability,
};
use serde_yaml_ng::Value;
use std::sync::Arc;

/// Name of the counter of clients cut off for being slow.
pub const CLIENTS_DROPPED_METRIC: &str = "oispd_exporter_websocket_clients_dropped";
/// Name of the counter of clients connected so far.
pub const CONNECTIONS_METRIC: &str = "oispd_exporter_websocket_connections";

/// Builds `websocket` exporters.
pub struct WebsocketFactory;

/// The stream's path and the page's path of exporter `id`.
pub fn paths(id: &ComponentId) -> (String, String) {
    match id.name() {
        None => ("/ws/events".to_string(), "/".to_string()),
        Some(n) => (format!("/ws/events/{n}"), format!("/{n}/")),
    }
}

impl ExporterFactory for WebsocketFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "websocket",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs],
            description: "Streams OISP events to WebSocket clients at /ws/events of the admin server, and serves the live page at /",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<WebsocketConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let cfg = parse_config::<WebsocketConfig>(config).map_err(|e| {
            ComponentError::Config(
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let id = ctx.id.to_string();
        let counter = |name: &str, help: &str| {
            ctx.telemetry
                .component_counter(name, help, "exporter", &id)
                .map_err(|e| ComponentError::Config(format!("cannot register metrics: {e}")))
        };
        let metrics = HubMetrics {
            connections: counter(CONNECTIONS_METRIC, "WebSocket clients connected so far.")?,
            dropped: counter(
                CLIENTS_DROPPED_METRIC,
                "WebSocket clients disconnected because they fell client_buffer messages behind.",
            )?,
        };
        let hub = Arc::new(Hub::new(
            id.clone(),
            cfg.client_buffer,
            cfg.kept_history(),
            metrics,
        ));
        let (ws_path, page_path) = paths(&ctx.id);
        let mut admin_routes = ctx
            .admin_routes
            .lock()
            .map_err(|_| ComponentError::Config("admin routes unavailable".into()))?;
        admin_routes.push(routes::stream_route(hub.clone(), &ws_path));
        if cfg.page {
            admin_routes.push(routes::page_route(&ws_path, &page_path));
        }
        drop(admin_routes);
        let settings = cfg.exporter_settings();
        Ok((Box::new(WebsocketExporter { id, ws_path, hub }), settings))
    }
}

/// One `websocket` exporter instance.
pub struct WebsocketExporter {
    id: String,
    ws_path: String,
    hub: Arc<Hub>,
}

impl WebsocketExporter {
    /// Sends one batch, read by reference (the helper may keep it for a retry).
    async fn send(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let Batch::Logs(logs) = batch else {
            return Err(ExportError::permanent(
                "the websocket exporter takes logs only",
            ));
        };
        // Nobody to send to and nothing to remember: skip the encoding.
        if self.hub.client_count() == 0 && !self.hub.keeps_history() {
            return Ok(());
        }
        // A batch groups records by resource; clients see them in the
        // order they happened.
        let mut records = json_records(logs);
        records.sort_by_key(|r| r.time_unix_nano);
        let messages: Vec<Outgoing> = records
            .into_iter()
            .map(|r| Outgoing {
                event_type: r.event_type().to_string(),
                text: Utf8Bytes::from(r.json.to_string()),
            })
            .collect();
        self.hub.publish(&messages);
        Ok(())
    }
}

#[async_trait]
impl Exporter for WebsocketExporter {
    async fn start(&mut self) -> Result<(), ComponentError> {
        tracing::info!(
            exporter = %self.id,
            path = %self.ws_path,
            "websocket stream ready on the admin server (service.extensions must list admin)"
        );
        Ok(())
    }

    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        self.send(&batch).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }

    async fn shutdown(&mut self) -> Result<(), ComponentError> {
        self.hub.stop();
        Ok(())
    }
}
