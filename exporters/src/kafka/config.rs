//! The `kafka` exporter's config, in the OTel Collector's shape, and its
//! translation into librdkafka producer properties.
//!
//! Both signals default to `encoding: otlp_proto`, as in the collector, so a
//! copied collector config feeds its OTLP consumers unchanged; one OISP
//! event per message is the explicit `logs.encoding: oisp_json`.

use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{ComponentConfig, ExporterSettings, Signal};
use rdkafka::ClientConfig;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default broker list (the collector's).
pub const DEFAULT_BROKER: &str = "localhost:9092";
/// Default topic of log records (the collector's).
pub const DEFAULT_LOGS_TOPIC: &str = "otlp_logs";
/// Default topic of spans (the collector's).
pub const DEFAULT_TRACES_TOPIC: &str = "otlp_spans";
/// Default largest message, in bytes (the collector's and Kafka's 1 MB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;
/// Room librdkafka needs around one message inside a produce request.
const REQUEST_OVERHEAD_BYTES: usize = 1024;
/// Least room of librdkafka's producer queue (messages handed over and not
/// yet reported delivered), in bytes; it grows to hold one message of
/// `producer.max_message_bytes` when that is larger. librdkafka's own
/// default, about 1 GB, would let a slow broker pile messages up in memory;
/// with this bound the export waits for deliveries instead.
pub const PRODUCER_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Most messages librdkafka's producer queue holds (its default is 100000).
pub const PRODUCER_QUEUE_MESSAGES: usize = 10_000;
/// Time the helper waits beyond `timeout` so that librdkafka's own delivery
/// deadline (`message.timeout.ms`) fires first and reports each message.
pub const DELIVERY_GRACE: Duration = Duration::from_secs(5);

/// `exporters: {kafka: ...}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers: a list or a comma-separated string
    /// (default `localhost:9092`).
    #[serde(deserialize_with = "brokers")]
    pub brokers: Vec<String>,
    /// Client id sent to the brokers (default `oispd`).
    pub client_id: String,
    /// Where log records go (default topic `otlp_logs`, encoding `otlp_proto`).
    pub logs: TopicConfig,
    /// Where spans go (default topic `otlp_spans`, encoding `otlp_proto`).
    pub traces: TopicConfig,
    /// Producer tuning.
    pub producer: ProducerConfig,
    /// SASL credentials (and, as in older collector versions, `tls`).
    pub auth: AuthConfig,
    /// TLS to the brokers; absent = plaintext.
    pub tls: Option<TlsConfig>,
    /// Delivery deadline of each message (librdkafka `message.timeout.ms`,
    /// default 5s); a message not acknowledged by then fails the export,
    /// which the helper retries.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Records per export call at most (default 0: as they come; librdkafka
    /// batches on the wire by `producer.linger`).
    pub batch_size: usize,
    /// Longest a record waits for `batch_size` (default 0s).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// `sending_queue` of the exporter helper.
    pub sending_queue: QueueSettings,
    /// `retry_on_failure` of the exporter helper.
    pub retry_on_failure: RetrySettings,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: vec![DEFAULT_BROKER.to_string()],
            client_id: "oispd".to_string(),
            logs: TopicConfig::default(),
            traces: TopicConfig::default(),
            producer: ProducerConfig::default(),
            auth: AuthConfig::default(),
            tls: None,
            timeout: Duration::from_secs(5),
            batch_size: 0,
            flush_interval: Duration::ZERO,
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
        }
    }
}

/// `logs` / `traces`: topic and encoding of one signal.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TopicConfig {
    /// Topic name (defaults per signal).
    pub topic: Option<String>,
    /// Message encoding (default `otlp_proto`, the collector's).
    pub encoding: Encoding,
}

/// How records become Kafka messages.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One OISP event per message, as JSON (logs only; records that carry
    /// no OISP event get oispd's generic JSON view).
    OispJson,
    /// One OTLP `Export*ServiceRequest` per resource, protobuf (the
    /// collector's default).
    #[default]
    OtlpProto,
    /// One OTLP `Export*ServiceRequest` per resource, OTLP/JSON.
    OtlpJson,
}

/// `producer`: librdkafka producer tuning.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerConfig {
    /// Compression codec (default none).
    pub compression: Compression,
    /// Acknowledgements the leader waits for: 0, 1 or all (-1) (default 1).
    pub required_acks: RequiredAcks,
    /// Largest message in bytes; a larger one is dropped and counted, never
    /// retried (default 1000000).
    pub max_message_bytes: usize,
    /// How long librdkafka waits to fill a batch while an export is still
    /// handing messages over (default 5ms); once the export has handed them
    /// all over, or waits for room, they are sent at once.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            compression: Compression::None,
            required_acks: RequiredAcks::One,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            linger: Duration::from_millis(5),
        }
    }
}

/// `producer.compression`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    fn as_librdkafka(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// `producer.required_acks`: `0`, `1`, `all` or `-1` (the collector's
/// spelling of all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequiredAcks {
    /// Fire and forget.
    None,
    /// The leader wrote it.
    One,
    /// Every in-sync replica wrote it.
    All,
}

impl<'de> Deserialize<'de> for RequiredAcks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RequiredAcks;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("0, 1, all or -1")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RequiredAcks, E> {
                match v {
                    0 => Ok(RequiredAcks::None),
                    1 => Ok(RequiredAcks::One),
                    -1 => Ok(RequiredAcks::All),
                    _ => Err(E::custom(format!(
                        "invalid value {v}: expected 0, 1, all or -1"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RequiredAcks, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RequiredAcks, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "all" | "-1" => Ok(RequiredAcks::All),
                    "0" | "none" => Ok(RequiredAcks::None),
                    "1" | "one" => Ok(RequiredAcks::One),
                    _ => Err(E::custom(format!(
                        "invalid value {v:?}: expected 0, 1, all or -1"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl RequiredAcks {
    fn as_librdkafka(self) -> &'static str {
        match self {
            RequiredAcks::None => "0",
            RequiredAcks::One => "1",
            RequiredAcks::All => "all",
        }
    }
}

/// `auth`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// SASL authentication.
    pub sasl: Option<SaslConfig>,
    /// TLS (older collector spelling of the top-level `tls`).
    pub tls: Option<TlsConfig>,
}

/// `auth.sasl`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SaslConfig {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: SaslMechanism,
    /// User name.
    pub username: String,
    /// Password (use `${env:VAR}` to keep it out of the file).
    pub password: String,
}

/// SASL mechanisms.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum SaslMechanism {
    /// Name and password in clear (use with TLS).
    #[serde(rename = "PLAIN")]
    Plain,
    /// SCRAM with SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM with SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    fn as_librdkafka(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `tls`, with the collector's keys.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Plaintext after all (the collector's meaning of `insecure`).
    pub insecure: bool,
    /// TLS without checking the broker's certificate (testing only).
    pub insecure_skip_verify: bool,
    /// PEM bundle of the CAs that sign the brokers' certificates (default:
    /// the system's).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// Parses `brokers` from a list or a comma-separated string.
fn brokers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of host:port or a comma-separated string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s.trim().to_string());
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// Where one signal goes, with the defaults resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Topic.
    pub topic: String,
    /// Encoding.
    pub encoding: Encoding,
}

impl KafkaConfig {
    /// Topic and encoding of `signal`, defaults applied; `None` for
    /// metrics, which the kafka exporter does not export.
    pub fn target(&self, signal: Signal) -> Option<Target> {
        match signal {
            Signal::Logs => Some(self.logs_target()),
            Signal::Traces => Some(self.traces_target()),
            Signal::Metrics => None,
        }
    }

    /// Topic and encoding of logs, defaults applied.
    pub fn logs_target(&self) -> Target {
        Target {
            topic: self
                .logs
                .topic
                .clone()
                .unwrap_or_else(|| DEFAULT_LOGS_TOPIC.into()),
            encoding: self.logs.encoding,
        }
    }

    /// Topic and encoding of spans, defaults applied.
    pub fn traces_target(&self) -> Target {
        Target {
            topic: self
                .traces
                .topic
                .clone()
                .unwrap_or_else(|| DEFAULT_TRACES_TOPIC.into()),
            encoding: self.traces.encoding,
        }
    }

    /// The TLS settings in force (`tls` or `auth.tls`), `None` for plaintext.
    pub fn effective_tls(&self) -> Option<&TlsConfig> {
        self.tls
            .as_ref()
            .or(self.auth.tls.as_ref())
            .filter(|t| !t.insecure)
    }

    /// The helper settings this config asks for.
    pub fn exporter_settings(&self) -> ExporterSettings {
        ExporterSettings {
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
            batch_size: self.batch_size,
            flush_interval: self.flush_interval,
            timeout: self.timeout + DELIVERY_GRACE,
        }
    }

    /// The byte bound of librdkafka's producer queue: [`PRODUCER_QUEUE_BYTES`],
    /// or one largest message (`message.max.bytes`) if that is more, so that
    /// any message fits once the queue has drained.
    pub fn producer_queue_bytes(&self) -> usize {
        PRODUCER_QUEUE_BYTES.max(self.producer.max_message_bytes + REQUEST_OVERHEAD_BYTES)
    }

    /// librdkafka producer properties.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        let p = &self.producer;
        c.set("bootstrap.servers", self.brokers.join(","))
            .set("client.id", &self.client_id)
            .set("compression.codec", p.compression.as_librdkafka())
            .set("acks", p.required_acks.as_librdkafka())
            .set(
                "message.max.bytes",
                (p.max_message_bytes + REQUEST_OVERHEAD_BYTES).to_string(),
            )
            .set("linger.ms", p.linger.as_millis().to_string())
            .set(
                "queue.buffering.max.kbytes",
                self.producer_queue_bytes().div_ceil(1024).to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                PRODUCER_QUEUE_MESSAGES.to_string(),
            )
            .set(
                "message.timeout.ms",
                self.timeout.as_millis().max(1).to_string(),
            );
        if p.required_acks == RequiredAcks::All {
            // Ordered, exactly-once delivery per partition across
            // librdkafka's internal retries.
            c.set("enable.idempotence", "true");
        } else {
            // Without idempotence only one request in flight keeps order.
            c.set("max.in.flight.requests.per.connection", "1");
        }
        let tls = self.effective_tls();
        let protocol = match (&self.auth.sasl, tls.is_some()) {
            (None, false) => "plaintext",
            (None, true) => "ssl",
            (Some(_), false) => "sasl_plaintext",
            (Some(_), true) => "sasl_ssl",
        };
        c.set("security.protocol", protocol);
        if let Some(s) = &self.auth.sasl {
            c.set("sasl.mechanisms", s.mechanism.as_librdkafka())
                .set("sasl.username", &s.username)
                .set("sasl.password", &s.password);
        }
        if let Some(t) = tls {
            if let Some(ca) = &t.ca_file {
                c.set("ssl.ca.location", ca.display().to_string());
            }
            if let Some(cert) = &t.cert_file {
                c.set("ssl.certificate.location", cert.display().to_string());
            }
            if let Some(key) = &t.key_file {
                c.set("ssl.key.location", key.display().to_string());
            }
            if t.insecure_skip_verify {
                c.set("enable.ssl.certificate.verification", "false");
            }
        }
        c
    }
}

impl ComponentConfig for KafkaConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.brokers.is_empty() {
            out.push("'brokers' must list at least one host:port".to_string());
        }
        for b in &self.brokers {
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                out.push(format!("'brokers' entry {b:?} is not host:port"));
            }
        }
        if self.client_id.trim().is_empty() {
            out.push("'client_id' must not be empty".to_string());
        }
        for (name, t) in [("logs", &self.logs), ("traces", &self.traces)] {
            if t.topic.as_deref().is_some_and(|s| s.trim().is_empty()) {
                out.push(format!("'{name}.topic' must not be empty"));
            }
        }
        if self.traces.encoding == Encoding::OispJson {
            out.push(
                "'traces.encoding' oisp_json applies to logs only: use otlp_proto or otlp_json"
                    .to_string(),
            );
        }
        if self.producer.max_message_bytes == 0 {
            out.push("'producer.max_message_bytes' must be above 0".to_string());
        }
        if self.timeout.is_zero() {
            out.push("'timeout' must be above 0".to_string());
        }
        if self.tls.is_some() && self.auth.tls.is_some() {
            out.push("set TLS in 'tls' or in 'auth.tls', not both".to_string());
        }
        if let Some(s) = &self.auth.sasl {
            if s.username.is_empty() {
                out.push("'auth.sasl.username' must not be empty".to_string());
            }
        }
        if let Some(t) = self.tls.as_ref().or(self.auth.tls.as_ref()) {
            if t.cert_file.is_some() != t.key_file.is_some() {
                out.push("'tls.cert_file' and 'tls.key_file' go together".to_string());
            }
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

    fn parse(yaml: &str) -> Result<KafkaConfig, Vec<String>> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config::<KafkaConfig>(&v).map_err(|e| e.iter().map(|e| e.to_string()).collect())
    }

    fn prop(c: &ClientConfig, k: &str) -> Option<String> {
        c.get(k).map(String::from)
    }

    /// Scenario: an empty body, then only a logs topic.
    /// Guarantees: the collector's defaults, `otlp_proto` for logs too.
    #[test]
    fn defaults_follow_the_collector() {
        let c = parse("~").unwrap();
        assert_eq!(c.brokers, vec!["localhost:9092"]);
        assert_eq!(
            c.target(Signal::Logs),
            Some(Target {
                topic: "otlp_logs".into(),
                encoding: Encoding::OtlpProto
            })
        );
        let topic_only = parse("logs: {topic: oisp}").unwrap();
        assert_eq!(
            topic_only.target(Signal::Logs).map(|t| t.encoding),
            Some(Encoding::OtlpProto)
        );
        let explicit = parse("logs: {encoding: oisp_json}").unwrap();
        assert_eq!(
            explicit.target(Signal::Logs).map(|t| t.encoding),
            Some(Encoding::OispJson)
        );
        assert_eq!(
            c.target(Signal::Traces),
            Some(Target {
                topic: "otlp_spans".into(),
                encoding: Encoding::OtlpProto
            })
        );
        assert_eq!(c.target(Signal::Metrics), None);
        let rd = c.client_config();
        assert_eq!(prop(&rd, "acks").as_deref(), Some("1"));
        assert_eq!(prop(&rd, "security.protocol").as_deref(), Some("plaintext"));
        assert_eq!(prop(&rd, "message.timeout.ms").as_deref(), Some("5000"));
        assert_eq!(c.exporter_settings().timeout, Duration::from_secs(10));
    }

    /// Scenario: brokers as a comma string and as a list.
    /// Guarantees: both give the same list.
    #[test]
    fn brokers_accept_list_or_comma_string() {
        let a = parse("brokers: 'a:9092, b:9093'").unwrap();
        let b = parse("brokers: [a:9092, b:9093]").unwrap();
        assert_eq!(a.brokers, vec!["a:9092", "b:9093"]);
        assert_eq!(a.brokers, b.brokers);
        assert_eq!(
            prop(&a.client_config(), "bootstrap.servers").as_deref(),
            Some("a:9092,b:9093")
        );
        let bad = parse("brokers: 'a'").unwrap_err();
        assert!(bad[0].contains("is not host:port"), "{bad:?}");
    }

    /// Scenario: every spelling of required_acks.
    /// Guarantees: all and -1 mean all; other values are rejected by name.
    #[test]
    fn required_acks_spellings() {
        for (v, want) in [
            ("all", "all"),
            ("-1", "all"),
            ("0", "0"),
            ("1", "1"),
            ("'all'", "all"),
        ] {
            let c = parse(&format!("producer: {{required_acks: {v}}}")).unwrap();
            assert_eq!(
                prop(&c.client_config(), "acks").as_deref(),
                Some(want),
                "{v}"
            );
        }
        let all = parse("producer: {required_acks: all}").unwrap();
        assert_eq!(
            prop(&all.client_config(), "enable.idempotence").as_deref(),
            Some("true")
        );
        let err = parse("producer: {required_acks: 2}").unwrap_err();
        assert!(err[0].contains("producer.required_acks"), "{err:?}");
    }

    /// Scenario: typos and unknown values.
    /// Guarantees: errors name the key, in the collector's wording.
    #[test]
    fn unknown_keys_and_values_are_errors() {
        let e = parse("producer: {compresion: gzip}").unwrap_err();
        assert_eq!(e[0], "'producer' has invalid keys: compresion");
        let e = parse("producer: {compression: brotli}").unwrap_err();
        assert!(
            e[0].starts_with("'producer.compression' has invalid value \"brotli\""),
            "{e:?}"
        );
        let e = parse("logs: {encoding: xml}").unwrap_err();
        assert!(
            e[0].starts_with("'logs.encoding' has invalid value"),
            "{e:?}"
        );
        let e = parse("traces: {encoding: oisp_json}").unwrap_err();
        assert!(e[0].contains("logs only"), "{e:?}");
        let e = parse("auth: {sasl: {mechanism: GSSAPI, username: u, password: p}}").unwrap_err();
        assert!(e[0].contains("auth.sasl.mechanism"), "{e:?}");
    }

    /// Scenario: SASL and TLS together, then TLS switched off by `insecure`.
    /// Guarantees: librdkafka gets the matching security protocol and files.
    #[test]
    fn sasl_and_tls_map_to_librdkafka() {
        let c = parse(
            "auth: {sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}}\n\
             tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, insecure_skip_verify: true}",
        )
        .unwrap();
        let rd = c.client_config();
        assert_eq!(prop(&rd, "security.protocol").as_deref(), Some("sasl_ssl"));
        assert_eq!(
            prop(&rd, "sasl.mechanisms").as_deref(),
            Some("SCRAM-SHA-512")
        );
        assert_eq!(prop(&rd, "sasl.username").as_deref(), Some("u"));
        assert_eq!(prop(&rd, "ssl.ca.location").as_deref(), Some("/ca.pem"));
        assert_eq!(
            prop(&rd, "enable.ssl.certificate.verification").as_deref(),
            Some("false")
        );
        let plain = parse(
            "auth: {sasl: {mechanism: PLAIN, username: u, password: p}, tls: {insecure: true}}",
        )
        .unwrap();
        assert_eq!(
            prop(&plain.client_config(), "security.protocol").as_deref(),
            Some("sasl_plaintext")
        );
        let both = parse("tls: {}\nauth: {tls: {}}").unwrap_err();
        assert!(both[0].contains("not both"), "{both:?}");
        let half = parse("tls: {cert_file: /c.pem}").unwrap_err();
        assert!(half[0].contains("go together"), "{half:?}");
    }

    /// Scenario: producer tuning. Guarantees: each key reaches librdkafka.
    #[test]
    fn producer_settings_reach_librdkafka() {
        let c = parse(
            "producer: {compression: snappy, max_message_bytes: 2000, linger: 20ms}\ntimeout: 2s",
        )
        .unwrap();
        let rd = c.client_config();
        assert_eq!(prop(&rd, "compression.codec").as_deref(), Some("snappy"));
        assert_eq!(prop(&rd, "linger.ms").as_deref(), Some("20"));
        assert_eq!(prop(&rd, "message.timeout.ms").as_deref(), Some("2000"));
        assert_eq!(prop(&rd, "message.max.bytes").as_deref(), Some("3024"));
        assert_eq!(
            prop(&rd, "max.in.flight.requests.per.connection").as_deref(),
            Some("1")
        );
    }

    /// Scenario: the default message limit, then one above the queue's
    /// least room.
    /// Guarantees: librdkafka's queue is bounded at 16 MiB and 10000
    /// messages (not its ~1 GB default), and always has room for one
    /// message of the largest size allowed.
    #[test]
    fn producer_queue_is_bounded_and_fits_the_largest_message() {
        let c = parse("~").unwrap();
        let rd = c.client_config();
        assert_eq!(
            prop(&rd, "queue.buffering.max.kbytes").as_deref(),
            Some("16384")
        );
        assert_eq!(
            prop(&rd, "queue.buffering.max.messages").as_deref(),
            Some("10000")
        );
        let big = parse("producer: {max_message_bytes: 20000000}").unwrap();
        let kbytes: usize = prop(&big.client_config(), "queue.buffering.max.kbytes")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            kbytes * 1024 >= 20_000_000 + REQUEST_OVERHEAD_BYTES,
            "{kbytes}"
        );
        assert!(
            kbytes * 1024 < 20_000_000 + REQUEST_OVERHEAD_BYTES + 1024,
            "{kbytes}"
        );
    }
}
