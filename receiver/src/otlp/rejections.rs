//! Requests the `otlp` receiver turns away before they reach the
//! pipelines: too large, in an unsupported encoding, undecodable. The
//! collector counts none of them in its receiver metrics (its
//! `otelcol_receiver_refused_*` count records a pipeline refused, and a
//! request that cannot be decoded has no record count), so neither does
//! oispd; it counts the requests instead, in
//! `oispd_receiver_rejected_requests{receiver, transport, reason}`, and logs
//! one warning per transport and reason at most every
//! [`WARN_INTERVAL`], with how many were not logged. A warning never quotes
//! the request: not its body, not its headers, not a decoder message that
//! could echo them.

use oispd_component::telemetry::Telemetry;
use prometheus::IntCounter;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often each kind of rejection is logged at most.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// The protocol a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Over a size limit: the body, the decompressed body, or the memory
    /// decoding it would take.
    TooLarge,
    /// A content coding (`Content-Encoding`, `grpc-encoding`) oispd does
    /// not decode.
    UnsupportedEncoding,
    /// A `Content-Type` other than protobuf or JSON (OTLP/HTTP).
    UnsupportedMediaType,
    /// The body does not decompress.
    BadCompression,
    /// The decompressed body is not an OTLP request (bad protobuf or JSON,
    /// nesting too deep).
    Malformed,
}

const REASONS: [Reason; 5] = [
    Reason::TooLarge,
    Reason::UnsupportedEncoding,
    Reason::UnsupportedMediaType,
    Reason::BadCompression,
    Reason::Malformed,
];

impl Reason {
    /// The `reason` label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Reason::TooLarge => "too_large",
            Reason::UnsupportedEncoding => "unsupported_encoding",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::BadCompression => "bad_compression",
            Reason::Malformed => "malformed",
        }
    }

    /// What the warning says about the request.
    fn describe(self) -> &'static str {
        match self {
            Reason::TooLarge => "over the size limits",
            Reason::UnsupportedEncoding => "in a content coding oispd does not decode",
            Reason::UnsupportedMediaType => "with a Content-Type other than protobuf or JSON",
            Reason::BadCompression => "its body does not decompress",
            Reason::Malformed => "not a valid OTLP request",
        }
    }

    fn index(self) -> usize {
        match self {
            Reason::TooLarge => 0,
            Reason::UnsupportedEncoding => 1,
            Reason::UnsupportedMediaType => 2,
            Reason::BadCompression => 3,
            Reason::Malformed => 4,
        }
    }
}

/// When a kind of rejection was last logged, and how many came since.
#[derive(Default)]
struct Quiet {
    last: Option<Instant>,
    suppressed: u64,
}

/// The counters and log limits of one transport of one receiver.
pub(crate) struct Rejections {
    receiver: String,
    transport: Transport,
    counters: Vec<IntCounter>,
    quiet: [Mutex<Quiet>; 5],
}

impl Rejections {
    /// Registers the counters of `receiver`'s `transport`.
    pub(crate) fn new(
        telemetry: &Telemetry,
        receiver: &str,
        transport: Transport,
    ) -> Result<Rejections, prometheus::Error> {
        let counters = REASONS
            .iter()
            .map(|reason| {
                telemetry.component_counter_with(
                    "oispd_receiver_rejected_requests",
                    "Requests refused before any record was decoded (too large, unsupported encoding, undecodable), by reason.",
                    &["receiver", "transport", "reason"],
                    &[receiver, transport.label(), reason.label()],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rejections {
            receiver: receiver.to_string(),
            transport,
            counters,
            quiet: Default::default(),
        })
    }

    /// Counts a rejected request and logs it unless one of the same reason
    /// was logged less than [`WARN_INTERVAL`] ago. `detail` must not quote
    /// the request (a limit, an error kind, a position).
    pub(crate) fn reject(&self, reason: Reason, detail: &str) {
        if let Some(counter) = self.counters.get(reason.index()) {
            counter.inc();
        }
        let Some(quiet) = self.quiet.get(reason.index()) else {
            return;
        };
        let Ok(mut quiet) = quiet.lock() else {
            return;
        };
        let now = Instant::now();
        if quiet
            .last
            .is_some_and(|last| now.duration_since(last) < WARN_INTERVAL)
        {
            quiet.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut quiet.suppressed);
        quiet.last = Some(now);
        drop(quiet);
        tracing::warn!(
            receiver = %self.receiver,
            transport = self.transport.label(),
            reason = reason.label(),
            why = reason.describe(),
            detail,
            suppressed,
            "rejected an OTLP request (counted in oispd_receiver_rejected_requests, logged at most once a minute per reason)"
        );
    }
}
