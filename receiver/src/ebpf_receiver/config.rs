//! The `ebpf` receiver's configuration: the kernel capture's knobs
//! ([`EbpfCaptureConfig`]), the decoder's ([`DecoderConfig`]), which
//! processes' activity is reported, the provider catalogue and batching.
//!
//! ```yaml
//! receivers:
//!   ebpf:
//!     max_body_bytes: 1048576       # per SSL_* call and per decoded body
//!     ring_buffer_size: 8388608     # bytes, a power of two
//!     libraries: [/opt/app/lib/libssl.so.3]
//!     include: {names: ["python*", node], pids: [], cgroups: []}
//!     exclude: {names: [sshd]}
//!     activity: agents              # agents | all | off
//!     agent_lookback: 60s           # activity kept until a process turns out to be an agent
//!     file_paths: ["/home/**", "/tmp/**"]
//!     capture_server_side: false
//!     streaming_chunks: false
//!     capture_content: true
//!     max_connections: 4096
//!     max_connection_bytes: 8388608
//!     max_total_bytes: 67108864
//!     idle_timeout: 5m
//!     max_pending_tool_calls: 256
//!     providers: {catalog: /etc/oispd/models.json, pricing_file: /etc/oispd/prices.yaml}
//!     batch: {max_events: 64, timeout: 1ms}
//! ```

use std::path::PathBuf;
use std::time::Duration;

use oispd_component::ComponentConfig;
use serde::Deserialize;

use crate::capture::DecoderConfig;
use crate::ebpf::config::{DEFAULT_MAX_BODY_BYTES, DEFAULT_RING_BUFFER_SIZE};
use crate::ebpf::{ActivityMode, EbpfCaptureConfig, ProcessMatch};

/// Default time a process's activity is kept while it is not (yet) known as an agent.
pub const DEFAULT_AGENT_LOOKBACK: Duration = Duration::from_secs(60);

/// Where the kubelet keeps its `pods/` and `containers/` log directories.
pub const DEFAULT_KUBELET_LOG_DIR: &str = "/var/log";
/// Default number of events per batch pushed into pipelines: enough to
/// amortise a batch's hand-offs, small enough that the batches in flight
/// after a burst (pipeline channels, exporter queues) stay a few MB.
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 64;
/// Default longest time an event waits for its batch to fill. The ring is
/// read every 2 ms, so a longer wait adds latency without making batches
/// much fuller at the rates where batching matters.
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_millis(1);

/// `providers`: where provider detection gets its table, and responses
/// their prices.
///
/// Captured `ai.response` events carry `usage.input_cost_usd`,
/// `output_cost_usd` and `total_cost_usd` (and the `ai.cost.total_usd`
/// attribute) for models priced by the catalogue or the pricing file; see
/// `oispd_semconv::pricing` for the rule. Without either, no cost is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    /// The official OISP catalogue (`models.json` format), merged over the
    /// built-in table; its model prices price responses. Unset: the
    /// built-in table alone, which has no prices.
    pub catalog: Option<PathBuf>,
    /// A pricing file (YAML or JSON: `models: [{model, provider,
    /// input_cost_per_1k, output_cost_per_1k, cache_read_cost_per_1k,
    /// cache_write_cost_per_1k}]`, USD per 1,000 tokens) whose prices win
    /// over the catalogue's and add models it lacks: negotiated rates,
    /// local models at 0. Unset: the catalogue's prices alone.
    pub pricing_file: Option<PathBuf>,
}

/// `batch`: how events are grouped before they enter the pipelines.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Events per batch at most (default 64).
    pub max_events: usize,
    /// Longest time an event waits for more (default 1ms).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: DEFAULT_BATCH_MAX_EVENTS,
            timeout: DEFAULT_BATCH_TIMEOUT,
        }
    }
}

/// `receivers: {ebpf: ...}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EbpfReceiverConfig {
    /// Plaintext kept per `SSL_read`/`SSL_write` call and the largest body
    /// decoded, in bytes (default 1 MiB, at most 4 MiB); a call or body
    /// beyond it is captured up to it and its events are marked partial.
    pub max_body_bytes: u32,
    /// Kernel ring buffer size in bytes (default 8 MiB), a power of two.
    pub ring_buffer_size: u32,
    /// Extra OpenSSL libraries or executables to probe.
    pub libraries: Vec<PathBuf>,
    /// Only these processes are captured (all when empty).
    pub include: ProcessMatch,
    /// These processes are never captured.
    pub exclude: ProcessMatch,
    /// Whose process, network and file activity is reported: `agents`
    /// (default: processes that made an AI call and their descendants),
    /// `all`, or `off`.
    pub activity: ActivityMode,
    /// With `activity: agents`, how long a process's activity is kept
    /// while it has not made an AI call, so that the exec and connect that
    /// led to its first call are reported once it does (default 60s).
    #[serde(with = "humantime_serde")]
    pub agent_lookback: Duration,
    /// Globs on the paths reported by file activity (all when empty); a
    /// rename is reported when either of its paths matches.
    pub file_paths: Vec<String>,
    /// Decode the server side of TLS connections too (a local gateway);
    /// such events carry `oispd.capture.side: server`. Default false.
    pub capture_server_side: bool,
    /// One `ai.streaming_chunk` per streamed chunk (default false).
    pub streaming_chunks: bool,
    /// Keep message text, tool arguments and results in events (default true).
    pub capture_content: bool,
    /// Connections decoded at once (default 4096).
    pub max_connections: usize,
    /// Bytes one connection may hold while decoding (default 8 MiB).
    pub max_connection_bytes: usize,
    /// Bytes all connections together may hold (default 64 MiB).
    pub max_total_bytes: usize,
    /// A connection idle this long is forgotten (default 5m).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Tool calls remembered per process until their result is seen (default 256).
    pub max_pending_tool_calls: usize,
    /// The directory holding the kubelet's `pods/` and `containers/` log
    /// directories, whose names give the namespace, pod and container of a
    /// process in a pod (default `/var/log`; the host's `/var/log` in a
    /// DaemonSet).
    pub kubelet_log_dir: PathBuf,
    /// Provider detection.
    pub providers: ProvidersConfig,
    /// Batching into the pipelines.
    pub batch: BatchConfig,
}

impl Default for EbpfReceiverConfig {
    fn default() -> Self {
        let decoder = DecoderConfig::default();
        EbpfReceiverConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            ring_buffer_size: DEFAULT_RING_BUFFER_SIZE,
            libraries: Vec::new(),
            include: ProcessMatch::default(),
            exclude: ProcessMatch::default(),
            activity: ActivityMode::default(),
            agent_lookback: DEFAULT_AGENT_LOOKBACK,
            file_paths: Vec::new(),
            capture_server_side: decoder.capture_server_side,
            streaming_chunks: decoder.streaming_chunks,
            capture_content: decoder.capture_content,
            max_connections: decoder.max_connections,
            max_connection_bytes: decoder.max_connection_bytes,
            max_total_bytes: decoder.max_total_bytes,
            idle_timeout: Duration::from_nanos(decoder.idle_timeout_ns),
            max_pending_tool_calls: decoder.max_pending_tool_calls,
            kubelet_log_dir: PathBuf::from(DEFAULT_KUBELET_LOG_DIR),
            providers: ProvidersConfig::default(),
            batch: BatchConfig::default(),
        }
    }
}

impl EbpfReceiverConfig {
    /// The kernel capture's part.
    pub fn capture_config(&self) -> EbpfCaptureConfig {
        EbpfCaptureConfig {
            max_body_bytes: self.max_body_bytes,
            ring_buffer_size: self.ring_buffer_size,
            libraries: self.libraries.clone(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            activity: self.activity,
            file_paths: self.file_paths.clone(),
        }
    }

    /// The decoder's part (the host context is added at start).
    pub fn decoder_config(&self) -> DecoderConfig {
        DecoderConfig {
            max_body_bytes: self.max_body_bytes as usize,
            max_connection_bytes: self.max_connection_bytes,
            max_total_bytes: self.max_total_bytes,
            max_connections: self.max_connections,
            idle_timeout_ns: u64::try_from(self.idle_timeout.as_nanos()).unwrap_or(u64::MAX),
            streaming_chunks: self.streaming_chunks,
            capture_server_side: self.capture_server_side,
            capture_content: self.capture_content,
            max_pending_tool_calls: self.max_pending_tool_calls,
            host: None,
        }
    }
}

impl ComponentConfig for EbpfReceiverConfig {
    fn validate(&self) -> Vec<String> {
        let mut errors = self.capture_config().validate();
        if self.max_connections == 0 {
            errors.push("'max_connections': must be at least 1".into());
        }
        if self.max_connection_bytes < self.max_body_bytes as usize {
            errors.push(format!(
                "'max_connection_bytes': {} is less than max_body_bytes ({}); a connection must hold one body",
                self.max_connection_bytes, self.max_body_bytes
            ));
        }
        if self.max_total_bytes < self.max_connection_bytes {
            errors.push(format!(
                "'max_total_bytes': {} is less than max_connection_bytes ({})",
                self.max_total_bytes, self.max_connection_bytes
            ));
        }
        if self.idle_timeout.is_zero() {
            errors.push("'idle_timeout': must be more than 0s".into());
        }
        if self.batch.max_events == 0 {
            errors.push("'batch.max_events': must be at least 1".into());
        }
        if self
            .providers
            .catalog
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            errors.push("'providers.catalog': must be a path to a models.json file".into());
        }
        if self
            .providers
            .pricing_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            errors.push("'providers.pricing_file': must be a path to a pricing file".into());
        }
        errors
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;

    fn parse(yaml: &str) -> Result<EbpfReceiverConfig, String> {
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config::<EbpfReceiverConfig>(&value).map_err(|errs| {
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Scenario: `ebpf: {}` / `ebpf:` in a config.
    /// Guarantees: the capture's and the decoder's documented defaults.
    #[test]
    fn empty_body_gives_defaults() {
        let c = parse("null").unwrap();
        assert_eq!(c, EbpfReceiverConfig::default());
        assert_eq!(c.capture_config(), EbpfCaptureConfig::default());
        let d = c.decoder_config();
        assert_eq!(d, DecoderConfig::default());
        assert_eq!(c.activity, ActivityMode::Agents);
        assert_eq!(c.batch.max_events, 64);
        assert_eq!(c.batch.timeout, Duration::from_millis(1));
    }

    /// Scenario: every key set.
    /// Guarantees: each reaches the capture's or the decoder's settings.
    #[test]
    fn every_knob_reaches_its_part() {
        let c = parse(
            "max_body_bytes: 65536\nring_buffer_size: 262144\nlibraries: [/opt/libssl.so.3]\n\
             include: {names: [python*]}\nexclude: {pids: [1]}\nactivity: all\nagent_lookback: 10s\n\
             file_paths: ['/tmp/**']\ncapture_server_side: true\nstreaming_chunks: true\n\
             capture_content: false\nmax_connections: 10\nmax_connection_bytes: 100000\n\
             max_total_bytes: 200000\nidle_timeout: 30s\nmax_pending_tool_calls: 5\n\
             providers: {catalog: /tmp/models.json, pricing_file: /tmp/prices.yaml}\nbatch: {max_events: 8, timeout: 1ms}\n",
        )
        .unwrap();
        let k = c.capture_config();
        assert_eq!(k.max_body_bytes, 65536);
        assert_eq!(k.ring_buffer_size, 262144);
        assert_eq!(k.libraries, vec![PathBuf::from("/opt/libssl.so.3")]);
        assert_eq!(k.include.names, vec!["python*"]);
        assert_eq!(k.exclude.pids, vec![1]);
        assert_eq!(k.activity, ActivityMode::All);
        assert_eq!(k.file_paths, vec!["/tmp/**"]);
        let d = c.decoder_config();
        assert_eq!(d.max_body_bytes, 65536);
        assert!(d.capture_server_side && d.streaming_chunks && !d.capture_content);
        assert_eq!(
            (d.max_connections, d.max_connection_bytes, d.max_total_bytes),
            (10, 100000, 200000)
        );
        assert_eq!(d.idle_timeout_ns, 30_000_000_000);
        assert_eq!(d.max_pending_tool_calls, 5);
        assert_eq!(c.agent_lookback, Duration::from_secs(10));
        assert_eq!(c.providers.catalog, Some(PathBuf::from("/tmp/models.json")));
        assert_eq!(
            c.providers.pricing_file,
            Some(PathBuf::from("/tmp/prices.yaml"))
        );
        assert_eq!(c.batch.timeout, Duration::from_millis(1));
    }

    /// Scenario: typos at the top level and in nested sections.
    /// Guarantees: rejected in the collector's wording, naming the key.
    #[test]
    fn unknown_keys_are_rejected() {
        assert_eq!(
            parse("activty: all").unwrap_err(),
            "'' has invalid keys: activty"
        );
        assert_eq!(
            parse("providers: {catalogue: x}").unwrap_err(),
            "'providers' has invalid keys: catalogue"
        );
        assert_eq!(
            parse("batch: {size: 3}").unwrap_err(),
            "'batch' has invalid keys: size"
        );
        assert!(parse("activity: some")
            .unwrap_err()
            .starts_with("'activity' has invalid value \"some\""));
    }

    /// Scenario: invalid values of the capture and of the decoder at once.
    /// Guarantees: every problem is reported, each naming its field.
    #[test]
    fn all_problems_are_reported_together() {
        let err = parse(
            "max_body_bytes: 0\nring_buffer_size: 1000\nfile_paths: ['a[']\nmax_connections: 0\n\
             max_total_bytes: 1\nidle_timeout: 0s\nbatch: {max_events: 0}\n",
        )
        .unwrap_err();
        for field in [
            "'max_body_bytes'",
            "'ring_buffer_size'",
            "'file_paths'",
            "'max_connections'",
            "'max_total_bytes'",
            "'idle_timeout'",
            "'batch.max_events'",
        ] {
            assert!(err.contains(field), "{field} missing in {err}");
        }
        let err = parse(
            "max_body_bytes: 2097152\nring_buffer_size: 8388608\nmax_connection_bytes: 1048576",
        )
        .unwrap_err();
        assert!(err.contains("'max_connection_bytes'"), "{err}");
    }
}
