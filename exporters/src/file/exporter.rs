//! The `file` exporter: encodes batches into records (lines, or
//! length-prefixed frames for `proto`) and writes them through the
//! [`RecordWriter`].
//!
//! With `flush_interval: 0` each batch is written before `export` returns,
//! and a failed write (disk full) leaves nothing behind and is reported as
//! retryable, so the helper retries it without duplicates. Otherwise records
//! collect in memory and a background task writes them every
//! `flush_interval` (earlier once 1 MiB is pending); a write failure keeps
//! them pending and, past 64 MiB pending, new batches are refused as
//! retryable so the helper's queue and drop policy take over. Shutdown
//! writes everything pending and syncs the file.
//!
//! File I/O runs on tokio's blocking pool, never on the async workers
//! (so does encoding, except for batches the helper keeps for a retry,
//! which are encoded by reference on the exporter's task).

use super::config::{FileConfig, Format};
use super::encode::encode_records;
use super::writer::{OpenOptions, RecordWriter, RotationPolicy, WriteError};
use crate::helper::log_limit::{LogLimiter, WARN_INTERVAL};
use async_trait::async_trait;
use oispd_component::{Batch, ComponentError, ExportError, Exporter};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Pending bytes that trigger a write before the interval ends.
const EARLY_FLUSH_BYTES: usize = 1024 * 1024;
/// Pending bytes beyond which new batches are refused (retryable).
const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// The open file and the records waiting for it.
struct Sink {
    path: PathBuf,
    writer: RecordWriter,
    pending: Vec<u8>,
    failures: LogLimiter,
}

impl Sink {
    /// Writes what is pending; on failure keeps the unwritten rest.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.writer.write_records(&self.pending);
        match result {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(WriteError { written, error }) => {
                self.pending.drain(..written);
                Err(error)
            }
        }
    }

    /// Flushes and logs a failure (rate-limited); pending lines stay.
    fn flush_logged(&mut self) {
        if let Err(e) = self.flush() {
            if let Some(suppressed) = self.failures.allow() {
                tracing::error!(
                    path = %self.path.display(),
                    error = %e,
                    pending_bytes = self.pending.len(),
                    suppressed,
                    "cannot write the output file; lines stay pending and are retried"
                );
            }
        }
    }
}

fn lock(sink: &Mutex<Sink>) -> MutexGuard<'_, Sink> {
    // A panic mid-write leaves at worst a torn tail, which the writer
    // repairs on the next open; the state is still usable.
    sink.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes batches to a file as lines.
pub struct FileExporter {
    config: FileConfig,
    sink: Option<Arc<Mutex<Sink>>>,
    flusher: Option<(CancellationToken, JoinHandle<()>)>,
}

impl FileExporter {
    /// An exporter for `config` (already validated).
    pub fn new(config: FileConfig) -> FileExporter {
        FileExporter {
            config,
            sink: None,
            flusher: None,
        }
    }

    fn rotation(&self) -> Option<RotationPolicy> {
        self.config.rotation.as_ref().map(|r| RotationPolicy {
            max_bytes: r.max_megabytes.saturating_mul(1024 * 1024),
            max_backups: r.max_backups,
            localtime: r.localtime,
        })
    }
}

fn spawn_flusher(sink: Arc<Mutex<Sink>>, every: Duration) -> (CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let token = stop.clone();
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            let sink = sink.clone();
            let _ = tokio::task::spawn_blocking(move || lock(&sink).flush_logged()).await;
        }
    });
    (stop, handle)
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExportError::retryable(format!("file write task failed: {e}")))
}

/// The records of `batch`, encoded.
fn encode(batch: &Batch, format: Format) -> Result<Vec<u8>, ExportError> {
    let mut records = Vec::new();
    encode_records(batch, format, &mut records)
        .map_err(|e| ExportError::permanent(format!("cannot encode records: {e}")))?;
    Ok(records)
}

impl FileExporter {
    /// Writes the lines `lines()` yields (run on the blocking pool) as the
    /// flush settings say.
    async fn write(
        &mut self,
        lines: impl FnOnce() -> Result<Vec<u8>, ExportError> + Send + 'static,
    ) -> Result<(), ExportError> {
        let Some(sink) = self.sink.clone() else {
            return Err(ExportError::permanent("exporter used before start"));
        };
        let write_through = self.config.flush_interval.is_zero();
        blocking(move || {
            let lines = lines()?;
            let mut sink = lock(&sink);
            let refuse = |sink: &Sink, e: std::io::Error| {
                ExportError::retryable(format!("cannot write {}: {e}", sink.path.display()))
            };
            if write_through {
                // Lines left from an earlier partial failure go first.
                if let Err(e) = sink.flush() {
                    return Err(refuse(&sink, e));
                }
                return match sink.writer.write_records(&lines) {
                    Ok(()) => Ok(()),
                    Err(WriteError { written: 0, error }) => Err(refuse(&sink, error)),
                    Err(WriteError { written, error }) => {
                        // Part of the batch is on disk: keep the rest for the
                        // next write rather than duplicate the part.
                        sink.pending.extend_from_slice(&lines[written..]);
                        if let Some(suppressed) = sink.failures.allow() {
                            tracing::error!(path = %sink.path.display(), error = %error, suppressed, "cannot write the output file; the rest of the batch stays pending");
                        }
                        Ok(())
                    }
                };
            }
            if sink.pending.len() + lines.len() > MAX_PENDING_BYTES {
                if let Err(e) = sink.flush() {
                    if sink.pending.len() + lines.len() > MAX_PENDING_BYTES {
                        return Err(refuse(&sink, e));
                    }
                }
            }
            sink.pending.extend_from_slice(&lines);
            if sink.pending.len() >= EARLY_FLUSH_BYTES {
                sink.flush_logged();
            }
            Ok(())
        })
        .await?
    }
}

#[async_trait]
impl Exporter for FileExporter {
    async fn start(&mut self) -> Result<(), ComponentError> {
        let path = self.config.path.clone();
        let options = OpenOptions {
            append: self.config.append,
            create_directory: self.config.create_directory,
            rotation: self.rotation(),
            framing: self.config.format.framing(),
        };
        let opened = tokio::task::spawn_blocking(move || {
            RecordWriter::open(&path, options).map(|w| (w, path))
        })
        .await
        .map_err(|e| ComponentError::Environment(format!("opening the output file failed: {e}")))?;
        let (writer, path) = opened.map_err(|e| {
            ComponentError::Environment(format!(
                "cannot open {}: {e} (check that the directory exists and is writable, or set create_directory: true)",
                self.config.path.display()
            ))
        })?;
        let sink = Arc::new(Mutex::new(Sink {
            path,
            writer,
            pending: Vec::new(),
            failures: LogLimiter::new(WARN_INTERVAL),
        }));
        if !self.config.flush_interval.is_zero() {
            self.flusher = Some(spawn_flusher(sink.clone(), self.config.flush_interval));
        }
        self.sink = Some(sink);
        Ok(())
    }

    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        let format = self.config.format;
        self.write(move || encode(&batch, format)).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let lines = encode(batch, self.config.format)?;
        self.write(move || Ok(lines)).await
    }

    async fn shutdown(&mut self) -> Result<(), ComponentError> {
        if let Some((stop, handle)) = self.flusher.take() {
            stop.cancel();
            let _ = handle.await;
        }
        let Some(sink) = self.sink.take() else {
            return Ok(());
        };
        let path = self.config.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut sink = lock(&sink);
            sink.flush()?;
            sink.writer.sync()
        })
        .await
        .map_err(|e| ComponentError::Environment(format!("closing the output file failed: {e}")))?
        .map_err(|e| ComponentError::io(format!("cannot write {}", path.display()), e))
    }
}
