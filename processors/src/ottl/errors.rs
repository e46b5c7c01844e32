//! What happens when a statement or condition fails on a record
//! (`error_mode`), and rate-limited logging of those failures so that a bad
//! statement on a busy pipeline does not log once per record.

use serde::Deserialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The collector's `error_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorMode {
    /// Log the error, treat the statement as not matched, go on (the default
    /// of filter and transform since the collector's July 2026 change).
    #[default]
    Ignore,
    /// Like `ignore`, without logging.
    Silent,
    /// Fail the whole batch.
    Propagate,
}

/// How often an error is logged at most per component.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Rate-limited warning log for evaluation errors of one component.
pub struct ErrorLog {
    component: String,
    state: Mutex<LogState>,
}

struct LogState {
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    /// A log for component `component` (its id).
    pub fn new(component: impl Into<String>) -> ErrorLog {
        ErrorLog {
            component: component.into(),
            state: Mutex::new(LogState {
                last: None,
                suppressed: 0,
            }),
        }
    }

    /// Records an evaluation error of `ottl`; logs it unless `mode` is silent
    /// or an error was logged less than ten seconds ago (those are counted and
    /// reported with the next logged one).
    pub fn report(&self, mode: ErrorMode, ottl: &str, error: &dyn std::fmt::Display) {
        if mode == ErrorMode::Silent {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if state
            .last
            .is_some_and(|t| now.duration_since(t) < LOG_EVERY)
        {
            state.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut state.suppressed);
        state.last = Some(now);
        tracing::warn!(
            component = %self.component,
            ottl,
            error = %error,
            suppressed,
            "failed to evaluate OTTL"
        );
    }
}

/// Counters every OTTL-based component keeps, labelled by component id.
#[derive(Clone)]
pub struct ErrorCounters {
    /// `oispd_ottl_errors`: statements or conditions that failed on a record.
    pub errors: prometheus::IntCounter,
    /// `oispd_ottl_error_dropped_{log_records,spans}`: records dropped because
    /// an error propagated (`error_mode: propagate`).
    pub dropped: prometheus::IntCounter,
}

impl ErrorCounters {
    /// Registers (or finds) the counters for component `id` and `signal`.
    pub fn new(
        telemetry: &oispd_component::Telemetry,
        id: &str,
        signal: oispd_component::Signal,
    ) -> Result<ErrorCounters, prometheus::Error> {
        Ok(ErrorCounters {
            errors: telemetry.component_counter(
                "oispd_ottl_errors",
                "OTTL statements or conditions that failed to evaluate on a record.",
                "component",
                id,
            )?,
            dropped: telemetry.component_counter(
                &format!("oispd_ottl_error_dropped_{}", signal.item_noun()),
                "Records dropped because an OTTL error propagated (error_mode: propagate).",
                "component",
                id,
            )?,
        })
    }
}
