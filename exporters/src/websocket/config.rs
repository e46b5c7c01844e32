//! The `websocket` exporter's config.

use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{ComponentConfig, ExporterSettings};
use serde::Deserialize;
use std::time::Duration;

/// Default per-client buffer, in messages.
pub const DEFAULT_CLIENT_BUFFER: usize = 1024;
/// Default number of past events a client gets when it connects.
pub const DEFAULT_HISTORY: usize = 500;

/// `exporters: {websocket: ...}`. The stream and the live page are served
/// by the admin extension (`extensions: {admin: {endpoint}}`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebsocketConfig {
    /// Messages waiting for one client at most; a client that falls this
    /// far behind is disconnected and counted
    /// (`oispd_exporter_websocket_clients_dropped`). A client with nothing
    /// pending always takes the next batch whole. Default 1024.
    pub client_buffer: usize,
    /// Serve the live page (default true).
    pub page: bool,
    /// The last events kept in memory and sent to each client (the live
    /// page) when it connects, so it shows what happened before it opened
    /// (default 500; 0 keeps none). A client gets the history at once, so
    /// at most `client_buffer` events are kept.
    pub history: usize,
    /// Deadline of one export call (default 5s; fan-out never waits).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// `sending_queue` of the exporter helper.
    pub sending_queue: QueueSettings,
    /// `retry_on_failure` of the exporter helper (fan-out never fails).
    pub retry_on_failure: RetrySettings,
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        WebsocketConfig {
            client_buffer: DEFAULT_CLIENT_BUFFER,
            page: true,
            history: DEFAULT_HISTORY,
            timeout: Duration::from_secs(5),
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
        }
    }
}

impl WebsocketConfig {
    /// The events kept for new clients: `history`, at most `client_buffer`.
    pub fn kept_history(&self) -> usize {
        self.history.min(self.client_buffer)
    }

    /// The helper settings this config asks for: no batching, every batch
    /// goes out as it comes.
    pub fn exporter_settings(&self) -> ExporterSettings {
        ExporterSettings {
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
            batch_size: 0,
            flush_interval: Duration::ZERO,
            timeout: self.timeout,
        }
    }
}

impl ComponentConfig for WebsocketConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.client_buffer == 0 {
            out.push("'client_buffer' must be above 0".to_string());
        }

        out.extend(crate::helper::settings_problems(
            &self.retry_on_failure,
            &self.sending_queue,
        ));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;
    use serde_yaml_ng::Value;

    /// Scenario: defaults, a typo, a zero buffer, a history above the buffer (cut to it).
    /// Guarantees: documented defaults; errors name the key.
    #[test]
    fn parses_with_defaults_and_names_bad_keys() {
        let v: Value = serde_yaml_ng::from_str("~").unwrap();
        let c = parse_config::<WebsocketConfig>(&v).unwrap();
        assert_eq!(c.client_buffer, 1024);
        assert!(c.page);
        let v: Value = serde_yaml_ng::from_str("client_bufer: 3").unwrap();
        let e = parse_config::<WebsocketConfig>(&v).unwrap_err();
        assert_eq!(e[0].to_string(), "'' has invalid keys: client_bufer");
        let v: Value = serde_yaml_ng::from_str("client_buffer: 0\nhistory: 0").unwrap();
        let e = parse_config::<WebsocketConfig>(&v).unwrap_err();
        assert_eq!(e[0].to_string(), "'client_buffer' must be above 0");
        assert_eq!(c.history, 500);
        let v: Value = serde_yaml_ng::from_str("client_buffer: 10\nhistory: 11").unwrap();
        assert_eq!(
            parse_config::<WebsocketConfig>(&v).unwrap().kept_history(),
            10
        );
    }
}
