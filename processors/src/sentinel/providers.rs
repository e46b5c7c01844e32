//! SEC-42 shadow AI and SEC-43 large uploads: the two detectors that look
//! at which provider an event talks to rather than at its text.
//!
//! The provider of an `ai.request` is its `data.provider` (`name`, and `id`
//! when the name is `other`); for `network.connect` / `network.flow` /
//! `network.dns` it is what the provider catalogue (`oispd-semconv`) makes
//! of the destination host, SNI or queried name.
//!
//! SEC-42 fires when `allowed_providers` is set and the provider is not in
//! it (names and catalogue ids both match, case-insensitively); it reports
//! each process/provider pair once per `shadow_ai_repeat_interval` of event
//! time, so a chatty client yields one finding an hour, not thousands.
//! SEC-43 fires when one request's content (messages, system prompt, input,
//! including inline images) or one flow's bytes sent to a provider exceed
//! `upload_threshold_bytes`: medium, high from four times the threshold.

use super::detector::Hit;
use super::event::{get, get_path, get_str, kv_of, num_of, EventView};
use crate::redaction::MARKER_KEY;
use oispd_component::proto::tonic::common::v1::any_value::Value as Av;
use oispd_component::proto::tonic::common::v1::AnyValue;
use oispd_semconv::providers::ProviderCatalog;
use oispd_semconv::Severity;
use std::collections::HashMap;

/// Most process/provider pairs remembered for SEC-42's repeat interval.
const MAX_REMEMBERED: usize = 10_000;
/// Upload size from which SEC-43 is high, as a multiple of the threshold.
const HIGH_UPLOAD_FACTOR: u64 = 4;

/// The provider an event talks to: the names to match against the
/// allow-list, and what to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProviderRef {
    /// Lower-case names and ids this provider answers to.
    pub names: Vec<String>,
    /// The best name to show (catalogue id when known).
    pub shown: String,
    /// The host it was recognised from, if any.
    pub host: Option<String>,
}

/// Host part of a URL (`https://api.openai.com/v1/x` -> `api.openai.com`).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?;
    (!host.is_empty()).then_some(host)
}

fn from_host(catalog: &ProviderCatalog, host: &str, port: Option<u16>) -> Option<ProviderRef> {
    let m = catalog.detect(host, port)?;
    let mut names = vec![
        m.id.to_ascii_lowercase(),
        m.oisp_name().to_ascii_lowercase(),
    ];
    names.dedup();
    Some(ProviderRef {
        names,
        shown: m.id,
        host: Some(host.to_string()),
    })
}

/// The provider of an AI or network event, if any.
pub(crate) fn provider_of(ev: &EventView<'_>, catalog: &ProviderCatalog) -> Option<ProviderRef> {
    match ev.event_type {
        "ai.request" | "ai.response" | "ai.embedding" => {
            let name = ev.provider_name().map(str::to_ascii_lowercase);
            let id = ev.provider_id().map(str::to_ascii_lowercase);
            let host = get_str(ev.data, &["provider", "endpoint"]).and_then(url_host);
            let mut names: Vec<String> = name.iter().chain(id.iter()).cloned().collect();
            if let Some(found) = host.and_then(|h| from_host(catalog, h, None)) {
                names.extend(found.names);
            }
            names.dedup();
            let shown = id
                .clone()
                .or(name.clone().filter(|n| n != "other"))
                .or_else(|| names.first().cloned())?;
            Some(ProviderRef {
                names,
                shown,
                host: host.map(str::to_string),
            })
        }
        "network.connect" | "network.flow" | "network.accept" => {
            let port = get_path(ev.data, &["dest", "port"])
                .and_then(num_of)
                .map(|p| p as u16);
            let host = get_str(ev.data, &["dest", "domain"])
                .or_else(|| get_str(ev.data, &["tls", "sni"]))
                .or_else(|| get_str(ev.data, &["http", "host"]))?;
            from_host(catalog, host, port)
        }
        "network.dns" => from_host(catalog, get_str(ev.data, &["query_name"])?, None),
        _ => None,
    }
}

/// The SEC-42 detector.
pub(crate) struct ShadowAi {
    allowed: Vec<String>,
    repeat_interval_nanos: u64,
    last_reported: HashMap<(String, String), u64>,
}

impl ShadowAi {
    /// Builds the detector; an empty allow-list allows everything.
    pub(crate) fn new(allowed: &[String], repeat_interval_nanos: u64) -> ShadowAi {
        ShadowAi {
            allowed: allowed.iter().map(|a| a.to_ascii_lowercase()).collect(),
            repeat_interval_nanos,
            last_reported: HashMap::new(),
        }
    }

    /// Checks the provider of an event against the allow-list.
    pub(crate) fn inspect(
        &mut self,
        ev: &EventView<'_>,
        provider: Option<&ProviderRef>,
        time_unix_nano: u64,
        hits: &mut Vec<Hit>,
    ) {
        if self.allowed.is_empty()
            || !matches!(
                ev.event_type,
                "ai.request" | "network.connect" | "network.flow" | "network.dns"
            )
        {
            return;
        }
        let Some(p) = provider else {
            return;
        };
        if p.names.iter().any(|n| self.allowed.contains(n)) {
            return;
        }
        let who = ev
            .process_name()
            .map(str::to_string)
            .or_else(|| ev.pid().map(|p| p.to_string()))
            .unwrap_or_default();
        let key = (who, p.shown.clone());
        if time_unix_nano != 0 {
            if let Some(last) = self.last_reported.get(&key) {
                if time_unix_nano.saturating_sub(*last) < self.repeat_interval_nanos {
                    return;
                }
            }
            if self.last_reported.len() >= MAX_REMEMBERED {
                self.last_reported.clear();
            }
            self.last_reported.insert(key, time_unix_nano);
        }
        let field = if ev.event_type == "ai.request" {
            "data.provider"
        } else {
            "data"
        };
        let mut hit = Hit::new(Severity::Medium, field, &p.shown)
            .with("provider", p.shown.clone())
            .with("via", ev.event_type);
        if let Some(h) = &p.host {
            hit = hit.with("host", h.clone());
        }
        hits.push(hit);
    }
}

/// Bytes of content in a value: string lengths, the original length of
/// `$redacted` markers, `content_length` where the content itself was
/// left out.
fn content_bytes(v: &AnyValue) -> u64 {
    match v.value.as_ref() {
        Some(Av::StringValue(s)) => s.len() as u64,
        Some(Av::BytesValue(b)) => b.len() as u64,
        Some(Av::ArrayValue(a)) => a.values.iter().map(content_bytes).sum(),
        Some(Av::KvlistValue(kv)) => {
            if let Some(m) = get(&kv.values, MARKER_KEY).and_then(kv_of) {
                return get(m, "original_length")
                    .and_then(num_of)
                    .map_or(0, |n| n as u64);
            }
            let elided = get(&kv.values, "content").is_none();
            kv.values
                .iter()
                .map(|e| match (e.key.as_str(), e.value.as_ref()) {
                    ("content_length", Some(n)) if elided => num_of(n).map_or(0, |n| n as u64),
                    (k, _) if METADATA_KEYS.contains(&k) => 0,
                    (_, Some(v)) => content_bytes(v),
                    _ => 0,
                })
                .sum()
        }
        _ => 0,
    }
}

/// Keys of message maps that are metadata, not uploaded content.
const METADATA_KEYS: &[&str] = &[
    "role",
    "type",
    "name",
    "id",
    "tool_call_id",
    "tool_use_id",
    "content_hash",
    "content_length",
];

/// The content keys of an `ai.request` whose size counts as upload.
const UPLOAD_KEYS: &[&str] = &[
    "messages",
    "contents",
    "system",
    "instructions",
    "prompt",
    "input",
];

/// The SEC-43 detector.
pub(crate) struct LargeUpload {
    threshold: u64,
}

impl LargeUpload {
    pub(crate) fn new(threshold: u64) -> LargeUpload {
        LargeUpload { threshold }
    }

    /// Measures one request or flow.
    pub(crate) fn inspect(
        &self,
        ev: &EventView<'_>,
        provider: Option<&ProviderRef>,
        hits: &mut Vec<Hit>,
    ) {
        let (bytes, field) = match ev.event_type {
            "ai.request" => (
                UPLOAD_KEYS
                    .iter()
                    .filter_map(|k| get(ev.data, k))
                    .map(content_bytes)
                    .sum::<u64>(),
                "data.messages",
            ),
            "network.flow" if provider.is_some() => (
                get(ev.data, "bytes_sent")
                    .and_then(num_of)
                    .map_or(0, |n| n as u64),
                "data.bytes_sent",
            ),
            _ => return,
        };
        if bytes < self.threshold {
            return;
        }
        let severity = if bytes >= self.threshold.saturating_mul(HIGH_UPLOAD_FACTOR) {
            Severity::High
        } else {
            Severity::Medium
        };
        let shown = provider.map_or("unknown", |p| p.shown.as_str());
        hits.push(
            Hit::new(severity, field, "upload_size")
                .with("bytes", bytes)
                .with("threshold_bytes", self.threshold)
                .with("provider", shown),
        );
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The one-line summary of a SEC-42 finding.
pub(crate) fn shadow_summary(ev: &EventView<'_>, hits: &[Hit]) -> String {
    let provider = hits.first().map_or("", Hit::kind);
    format!(
        "Shadow AI: {} used {provider}, which is not an allowed provider ({})",
        ev.actor_label(),
        ev.event_type
    )
}

/// The one-line summary of a SEC-43 finding.
pub(crate) fn upload_summary(ev: &EventView<'_>, hits: &[Hit]) -> String {
    let get_u = |h: &Hit, k: &str| {
        h.evidence
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let Some(h) = hits.first() else {
        return String::new();
    };
    let provider = h
        .evidence
        .get("provider")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("unknown");
    format!(
        "Large upload to {provider} by {}: {} in one {} (threshold {})",
        ev.actor_label(),
        mib(get_u(h, "bytes")),
        if ev.event_type == "ai.request" {
            "request"
        } else {
            "flow"
        },
        mib(get_u(h, "threshold_bytes"))
    )
}
