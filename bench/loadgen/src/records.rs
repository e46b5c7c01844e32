//! The records the load generator sends: OISP `ai.request` events shaped as
//! oispd's capture emits them (host, process, actor, provenance, provider,
//! model, messages), turned into OTLP log records by oispd-semconv's own
//! mapping, so that a collector under test sees what it would see behind a
//! real oispd: a ~1 KB record with `ai.*` / `gen_ai.*` attributes and the
//! whole event as a structured kvlist body.
//!
//! The user prompt is sized so that one encoded log record is close to a
//! target size ([`TARGET_RECORD_BYTES`] by default); its text is either
//! repetitive (compresses well) or random printable ASCII (barely
//! compresses), see [`PromptKind`]. The fixed part of such a record (the
//! event as a kvlist body plus 23 flattened attributes) is already about
//! 2 KB, so the default target leaves room for a ~500-character prompt.

use bytes::Bytes;
use oispd_semconv::ai::{
    AiRequest, AuthInfo, Content, Message, ModelInfo, Parameters, ProviderInfo,
};
use oispd_semconv::common::{Actor, Host, ProcessInfo};
use oispd_semconv::otel::{event_to_log_record, events_to_resource_logs};
use oispd_semconv::{
    CaptureMethod, Completeness, Confidence, ConfidenceLevel, EventData, OispEvent, Source,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;
use serde_json::Number;

/// The default encoded size of one log record.
pub const TARGET_RECORD_BYTES: usize = 2560;

/// Processes (and so OTLP resources) the records are spread over.
const PROCESSES: u32 = 4;

/// Models the requests name, in turn.
const MODELS: [&str; 3] = ["gpt-4o", "gpt-4o-mini", "o3-mini"];

/// The sentence a repetitive prompt repeats.
const REPEATED: &str =
    "Summarize the attached quarterly report and list the three largest cost drivers. ";

/// What the user prompt of each record is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PromptKind {
    /// One English sentence repeated: compresses to a few percent.
    Repetitive,
    /// Random printable ASCII: compresses to about 80-85%.
    Random,
}

/// Builds `ai.request` events whose OTLP log records are about
/// [`TARGET_RECORD_BYTES`] long.
pub struct RecordBuilder {
    kind: PromptKind,
    rng: fastrand::Rng,
    prompt_len: usize,
    next: u64,
}

impl RecordBuilder {
    /// A builder of `kind` prompts with a deterministic `seed`, calibrated so
    /// that one encoded log record is about `target_bytes` long (records
    /// whose fixed part alone is longer get an empty prompt).
    pub fn new(kind: PromptKind, seed: u64, target_bytes: usize) -> RecordBuilder {
        let mut b = RecordBuilder {
            kind,
            rng: fastrand::Rng::with_seed(seed),
            prompt_len: 0,
            next: 0,
        };
        let base = record_len(&b.event_with_prompt(0, String::new()));
        let probe = 256;
        let with_probe = record_len(&b.event_with_prompt(0, "x".repeat(probe)));
        let per_char = (with_probe.saturating_sub(base)) as f64 / probe as f64;
        let want = target_bytes.saturating_sub(base) as f64 / per_char.max(1.0);
        b.prompt_len = want.floor() as usize;
        b
    }

    /// The prompt length the calibration chose, in characters.
    pub fn prompt_len(&self) -> usize {
        self.prompt_len
    }

    /// The next event.
    pub fn event(&mut self) -> OispEvent {
        let i = self.next;
        self.next += 1;
        let prompt = self.prompt(i);
        self.event_with_prompt(i, prompt)
    }

    /// The next `n` events.
    pub fn events(&mut self, n: usize) -> Vec<OispEvent> {
        (0..n).map(|_| self.event()).collect()
    }

    fn prompt(&mut self, i: u64) -> String {
        let mut s = format!("Request {i}. ");
        match self.kind {
            PromptKind::Repetitive => {
                while s.len() < self.prompt_len {
                    s.push_str(REPEATED);
                }
            }
            PromptKind::Random => {
                while s.len() < self.prompt_len {
                    s.push(char::from(self.rng.u8(0x20..0x7f)));
                }
            }
        }
        s.truncate(self.prompt_len);
        s
    }

    fn event_with_prompt(&self, i: u64, prompt: String) -> OispEvent {
        let proc_no = (i % u64::from(PROCESSES)) as u32;
        let model = MODELS[(i % MODELS.len() as u64) as usize];
        let request = AiRequest {
            request_id: Some(format!("req_{i:016x}")),
            conversation_id: Some(format!("conv_{:08x}", i / 8)),
            provider: Some(ProviderInfo {
                name: Some("openai".to_string()),
                endpoint: Some("https://api.openai.com/v1/chat/completions".to_string()),
                ..Default::default()
            }),
            model: Some(ModelInfo {
                id: Some(model.to_string()),
                family: Some(model.to_string()),
                ..Default::default()
            }),
            auth: Some(AuthInfo {
                kind: Some("api_key".to_string()),
                key_prefix: Some("sk-proj-".to_string()),
                ..Default::default()
            }),
            request_type: Some("chat".to_string()),
            streaming: Some(true),
            messages: Some(vec![
                Message {
                    role: "system".to_string(),
                    content: Some(Content::Text("You are a helpful analyst.".to_string())),
                    ..Default::default()
                },
                Message {
                    role: "user".to_string(),
                    content_length: Some(prompt.len() as u64),
                    content: Some(Content::Text(prompt)),
                    ..Default::default()
                },
            ]),
            messages_count: Some(2),
            has_system_prompt: Some(true),
            parameters: Some(Parameters {
                temperature: Number::from_f64(0.7),
                max_tokens: Some(1024),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut confidence = Confidence::new(ConfidenceLevel::High, Completeness::Full);
        confidence.content_source = Some("tls_boundary".to_string());
        confidence.ai_detection_method = Some("known_endpoint".to_string());
        let mut event = OispEvent::new(
            EventData::AiRequest(request),
            Source::oispd(CaptureMethod::TlsBoundary, "SSL_write"),
            confidence,
        );
        event.host = Some(Host {
            hostname: Some("bench-host".to_string()),
            os: Some("linux".to_string()),
            arch: Some("x86_64".to_string()),
            ..Default::default()
        });
        event.process = Some(ProcessInfo {
            pid: Some(4000 + proc_no),
            ppid: Some(1),
            exe: Some("/usr/bin/python3".to_string()),
            name: Some("python3".to_string()),
            ..Default::default()
        });
        event.actor = Some(Actor {
            uid: Some(1000),
            user: Some("agent".to_string()),
            ..Default::default()
        });
        event
    }
}

/// The encoded length of an event's OTLP log record.
pub fn record_len(event: &OispEvent) -> usize {
    event_to_log_record(event).encoded_len()
}

/// One protobuf-encoded `ExportLogsServiceRequest` carrying `events`
/// (grouped by resource as oispd groups them).
pub fn encode_request(events: Vec<OispEvent>) -> Bytes {
    let request = ExportLogsServiceRequest {
        resource_logs: events_to_resource_logs(events),
    };
    Bytes::from(request.encode_to_vec())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_semconv::attributes::{gen_ai, oisp};
    use oispd_semconv::otel::{find_attribute, log_record_to_event};

    /// Scenario: records of both prompt kinds.
    /// Guarantees: each encodes to the target size (within 10%), carries the
    /// OISP and GenAI attributes, and its body reads back as the same
    /// OISP `ai.request` event.
    #[test]
    fn records_are_target_sized_oisp_requests() {
        for kind in [PromptKind::Repetitive, PromptKind::Random] {
            let mut b = RecordBuilder::new(kind, 7, TARGET_RECORD_BYTES);
            assert!(b.prompt_len() > 200, "{kind:?}: prompt {}", b.prompt_len());
            for _ in 0..10 {
                let event = b.event();
                let record = event_to_log_record(&event);
                let len = record.encoded_len();
                let (lo, hi) = (TARGET_RECORD_BYTES * 9 / 10, TARGET_RECORD_BYTES * 11 / 10);
                assert!((lo..=hi).contains(&len), "{kind:?}: record of {len} bytes");
                assert_eq!(record.event_name, "ai.request");
                assert!(find_attribute(&record.attributes, oisp::AI_PROVIDER).is_some());
                assert!(find_attribute(&record.attributes, oisp::AI_MODEL_ID).is_some());
                assert!(find_attribute(&record.attributes, gen_ai::REQUEST_MODEL).is_some());
                let back = log_record_to_event(&record).expect("body is an OISP event");
                assert_eq!(back, event);
                assert!(matches!(back.data, Some(EventData::AiRequest(_))));
            }
        }
    }

    /// Scenario: repetitive and random prompts of the same length.
    /// Guarantees: random prompts differ between records and use more
    /// distinct characters than repetitive ones (the compressibility knob
    /// does what it says).
    #[test]
    fn prompt_kinds_differ_in_entropy() {
        let distinct = |kind| {
            let mut b = RecordBuilder::new(kind, 1, TARGET_RECORD_BYTES);
            let p = b.prompt(1);
            let mut chars: Vec<char> = p.chars().collect();
            chars.sort_unstable();
            chars.dedup();
            (chars.len(), p, b.prompt(2))
        };
        let (rep, _, _) = distinct(PromptKind::Repetitive);
        let (rnd, p1, p2) = distinct(PromptKind::Random);
        assert!(
            rnd > 2 * rep,
            "random {rnd} vs repetitive {rep} distinct chars"
        );
        assert_ne!(p1, p2);
    }

    /// Scenario: a request of 16 events from 4 processes.
    /// Guarantees: it decodes to 16 log records under one resource per process.
    #[test]
    fn request_groups_by_process() {
        let mut b = RecordBuilder::new(PromptKind::Repetitive, 3, TARGET_RECORD_BYTES);
        let bytes = encode_request(b.events(16));
        let req = ExportLogsServiceRequest::decode(bytes).unwrap();
        assert_eq!(req.resource_logs.len(), PROCESSES as usize);
        let n: usize = req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        assert_eq!(n, 16);
    }
}
