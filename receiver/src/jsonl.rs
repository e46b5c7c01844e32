//! The `jsonl` receiver: replays or tails a file of OISP events, one JSON
//! object per line (what the `file` exporter writes). With `follow: false`
//! it reads to the end and finishes, which makes `oispd --config replay.yaml`
//! a batch tool; with `follow: true` it keeps reading appended lines and
//! reopens the file when it is rotated or truncated. Every line is checked
//! against the OISP v0.1 schemas carried in the binary (cheap structural
//! rules first: a known `event_type`, a `ts`, a `data` object); lines that
//! are not valid OISP events are counted in `oispd_receiver_malformed_records`
//! and reported with their line number and what is wrong, never their
//! content (a line may hold a secret), and are never fatal. While a memory
//! limiter refuses data the receiver waits instead of reading on.

use async_trait::async_trait;
use oispd_component::telemetry::{MemoryPressure, ReceiverMetrics};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    Output, Receiver, ReceiverFactory, Signal, Stability,
};
use oispd_semconv::otel::events_to_resource_logs;
use oispd_semconv::schema::OispSchema;
use oispd_semconv::OispEvent;
use prometheus::IntCounter;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio::fs::File;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where reading starts, as in the collector's filelog receiver.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// From the first line (default: replay).
    #[default]
    Beginning,
    /// Only lines appended after start.
    End,
}

/// `receivers: {jsonl: ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonlConfig {
    /// The file to read (required).
    pub path: PathBuf,
    /// Keep reading appended lines (default false: read to the end, then finish).
    pub follow: bool,
    /// `beginning` (default) or `end`.
    pub start_at: StartAt,
    /// How often a followed file is checked for new lines (default 200ms).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Events per batch pushed into pipelines (default 512).
    pub batch_size: usize,
}

impl Default for JsonlConfig {
    fn default() -> Self {
        JsonlConfig {
            path: PathBuf::new(),
            follow: false,
            start_at: StartAt::Beginning,
            poll_interval: Duration::from_millis(200),
            batch_size: 512,
        }
    }
}

impl ComponentConfig for JsonlConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push("'path' must be set to the OISP JSONL file to read".to_string());
        }
        if self.batch_size == 0 {
            problems.push("'batch_size' must be at least 1".to_string());
        }
        if self.start_at == StartAt::End && !self.follow {
            problems.push(
                "'start_at: end' with 'follow: false' would read nothing; set follow: true"
                    .to_string(),
            );
        }
        problems
    }
}

/// Builds `jsonl` receivers.
pub struct JsonlFactory;

impl ReceiverFactory for JsonlFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "jsonl",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs],
            description:
                "Reads OISP events from a JSONL file: replay (follow: false) or tail (follow: true)",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<JsonlConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Receiver>, ComponentError> {
        let config = parse_config::<JsonlConfig>(config).map_err(crate::config_error)?;
        let id = ctx.id.to_string();
        let malformed = ctx
            .telemetry
            .component_counter(
                "oispd_receiver_malformed_records",
                "Input records that could not be parsed and were skipped.",
                "receiver",
                &id,
            )
            .map_err(|e| ComponentError::Config(format!("metrics: {e}")))?;
        let schema = OispSchema::embedded()
            .map_err(|e| ComponentError::Config(format!("the OISP schemas: {e}")))?;
        Ok(Box::new(JsonlReceiver {
            schema,
            pressure: ctx.telemetry.memory_pressure(),
            metrics: ctx.telemetry.receiver(&id, Signal::Logs),
            malformed,
            id,
            config,
        }))
    }
}

struct JsonlReceiver {
    id: String,
    /// Compiled once per receiver.
    schema: OispSchema,
    config: JsonlConfig,
    metrics: ReceiverMetrics,
    malformed: IntCounter,
    pressure: MemoryPressure,
}

/// Malformed lines logged one by one before the receiver only counts them.
const MALFORMED_LOG_LIMIT: u64 = 20;

#[async_trait]
impl Receiver for JsonlReceiver {
    async fn start(
        self: Box<Self>,
        output: Output,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError> {
        let file = File::open(&self.config.path).await.map_err(|e| {
            ComponentError::Environment(format!(
                "cannot open {}: {e}; check receivers::{}::path",
                self.config.path.display(),
                self.id
            ))
        })?;
        Ok(tokio::spawn(async move {
            let this = *self;
            this.read(file, output, shutdown).await;
        }))
    }
}

/// File identity used to notice rotation.
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

impl JsonlReceiver {
    async fn read(self, file: File, output: Output, shutdown: CancellationToken) {
        let mut reader = BufReader::new(file);
        let mut ino = reader.get_ref().metadata().await.map(|m| inode(&m)).ok();
        let mut line_no: u64 = 0;
        let mut position: u64 = 0;
        if self.config.start_at == StartAt::End {
            if let Ok(end) = reader.seek(std::io::SeekFrom::End(0)).await {
                position = end;
            }
        }
        let mut pending: Vec<OispEvent> = Vec::new();
        let mut line = Vec::new();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let read = tokio::select! {
                r = reader.read_until(b'\n', &mut line) => r,
                _ = shutdown.cancelled() => break,
            };
            match read {
                Ok(0) => {
                    // End of file.
                    if !self.config.follow {
                        if !line.is_empty() {
                            line_no += 1;
                            self.parse_line(&line, line_no, &mut pending);
                            line.clear();
                        }
                        break;
                    }
                    if !self.flush(&output, &mut pending).await {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    match self.reopen_if_rotated(&mut ino, position).await {
                        Some(new_reader) => {
                            reader = new_reader;
                            position = 0;
                            line.clear();
                        }
                        None => continue,
                    }
                }
                Ok(n) => {
                    position += n as u64;
                    if line.last() != Some(&b'\n') {
                        // A partial last line: wait for the rest when following.
                        continue;
                    }
                    line_no += 1;
                    self.parse_line(&line, line_no, &mut pending);
                    line.clear();
                    if pending.len() >= self.config.batch_size
                        && !self.flush(&output, &mut pending).await
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(receiver = %self.id, path = %self.config.path.display(), error = %e, "reading failed; stopping this receiver");
                    break;
                }
            }
        }
        self.flush(&output, &mut pending).await;
        tracing::info!(receiver = %self.id, lines = line_no, "jsonl receiver finished");
    }

    /// Reopens the path when the file was replaced (rotation) or truncated.
    async fn reopen_if_rotated(
        &self,
        ino: &mut Option<u64>,
        position: u64,
    ) -> Option<BufReader<File>> {
        let meta = tokio::fs::metadata(&self.config.path).await.ok()?;
        let replaced = Some(inode(&meta)) != *ino;
        let truncated = meta.len() < position;
        if !replaced && !truncated {
            return None;
        }
        let file = File::open(&self.config.path).await.ok()?;
        *ino = Some(inode(&meta));
        tracing::info!(receiver = %self.id, path = %self.config.path.display(), replaced, truncated, "file was rotated or truncated; reading it from the start");
        Some(BufReader::new(file))
    }

    fn parse_line(&self, raw: &[u8], line_no: u64, pending: &mut Vec<OispEvent>) {
        let text = trim_line(raw);
        if text.is_empty() {
            return;
        }
        match self.parse_event(text) {
            Ok(event) => pending.push(event),
            Err(problem) => {
                self.malformed.inc();
                let seen = self.malformed.get();
                if seen <= MALFORMED_LOG_LIMIT {
                    tracing::warn!(receiver = %self.id, path = %self.config.path.display(), line = line_no, problem = %problem, "skipping a line that is not an OISP event");
                } else if seen == MALFORMED_LOG_LIMIT + 1 {
                    tracing::warn!(receiver = %self.id, "more malformed lines; counting them in oispd_receiver_malformed_records without logging each");
                }
            }
        }
    }

    /// One line as an OISP event, or what is wrong with it in words that
    /// never quote the line (serde_json's and the schema validator's own
    /// messages do).
    fn parse_event(&self, text: &[u8]) -> Result<OispEvent, String> {
        let value: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| json_problem(&e))?;
        if let Err(problems) = self.schema.check(&value) {
            return Err(problems.join("; "));
        }
        serde_json::from_value(value).map_err(|e| json_problem(&e))
    }

    /// Pushes pending events; false when every pipeline is gone.
    async fn flush(&self, output: &Output, pending: &mut Vec<OispEvent>) -> bool {
        if pending.is_empty() {
            return true;
        }
        // A file can wait: hold the lines while a memory limiter refuses
        // rather than push them into a pipeline that would drop them.
        while self.pressure.is_refusing() {
            tokio::time::sleep(self.config.poll_interval).await;
        }
        let events = std::mem::take(pending);
        let count = events.len() as u64;
        let batch = Batch::Logs(events_to_resource_logs(events));
        match output.send(batch).await {
            Ok(()) => {
                self.metrics.accepted.inc_by(count);
                true
            }
            Err(_) => {
                self.metrics.refused.inc_by(count);
                false
            }
        }
    }
}

/// A serde_json error without the input it quotes: its kind and position.
fn json_problem(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "an I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "a value of the wrong type or shape",
        serde_json::error::Category::Eof => "a truncated JSON value",
    };
    if e.line() == 0 {
        kind.to_string()
    } else {
        format!("{kind} at column {}", e.column())
    }
}

fn trim_line(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &raw[..end]
}
