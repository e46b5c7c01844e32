//! The life of one AI call on a connection, from its request head to the
//! end of its response: recognising it (provider catalogue by host and
//! port, API by path, body shape on unknown hosts), decoding the request
//! into `ai.request` (and `agent.tool_result` for results it carries),
//! assembling the response, streamed or not, into one `ai.response` (or
//! `ai.embedding`), optional `ai.streaming_chunk`s, one `agent.tool_call`
//! per tool call, latency, time to first token and cost (the catalogue's
//! prices, see `oispd_semconv::pricing`). The same call carries
//! a Responses API turn over WebSocket: its request is a `response.create`
//! message and its stream the server's messages (see `ws_calls`).

use oispd_semconv::agent::{AgentToolCall, AgentToolResult, ToolInfo};
use oispd_semconv::ai::{
    AiEmbedding, AiError, AiRequest, AiResponse, AiStreamingChunk, AuthInfo, Content, ModelInfo,
    ProviderInfo,
};
use oispd_semconv::pricing::PriceTable;
use oispd_semconv::providers::{model_family, ProviderCatalog};
use oispd_semconv::{EventData, OispEvent, RelatedEvent, Relationship};
use serde_json::Value;

use super::auth::{auth_of, path_without_query};
use super::body::BodyFlaws;
use super::config::DecoderConfig;
use super::events::{build, Clock, Detection, Origin, Point, Quality};
use super::message::{Head, StartLine};
use super::providers::{
    decode_request, decode_response, looks_like_ai_request, sha256_tag, Api, Assembler,
    DecodeOptions, Framing, ResponseInfo,
};
use super::sse::{JsonArrayDecoder, NdjsonDecoder, SseDecoder, SseEvent};
use super::stats::DecoderStats;
use super::tools::{PendingCall, ToolTracker};

/// What the call layer needs from the decoder while it works.
pub(crate) struct CallEnv<'a> {
    /// Settings.
    pub config: &'a DecoderConfig,
    /// Tool calls waiting for results.
    pub tools: &'a mut ToolTracker,
    /// Counters.
    pub stats: &'a mut DecoderStats,
    /// Where events go.
    pub out: &'a mut Vec<OispEvent>,
    /// Monotonic to wall time.
    pub clock: Clock,
    /// Model prices, for the cost of responses.
    pub prices: &'a PriceTable,
}

/// Splits a streamed body into records.
#[derive(Debug)]
enum Framer {
    Sse(SseDecoder),
    Ndjson(NdjsonDecoder),
    Array(JsonArrayDecoder),
    /// Records already split by the transport (WebSocket messages).
    Messages,
}

impl Framer {
    fn new(framing: Framing) -> Framer {
        match framing {
            Framing::Sse => Framer::Sse(SseDecoder::default()),
            Framing::Ndjson => Framer::Ndjson(NdjsonDecoder::default()),
            Framing::JsonArray => Framer::Array(JsonArrayDecoder::default()),
            Framing::Messages => Framer::Messages,
        }
    }

    /// Records of `data` as `(event name, data)`.
    fn push(&mut self, data: &[u8], finish: bool) -> Vec<(Option<String>, Vec<u8>)> {
        match self {
            Framer::Sse(d) => {
                let mut events: Vec<SseEvent> = Vec::new();
                d.push(data, &mut events);
                if finish {
                    d.finish(&mut events);
                }
                events
                    .into_iter()
                    .map(|e| (e.event, e.data.into_bytes()))
                    .collect()
            }
            Framer::Ndjson(d) => {
                let mut lines = Vec::new();
                d.push(data, &mut lines);
                if finish {
                    d.finish(&mut lines);
                }
                lines.into_iter().map(|l| (None, l)).collect()
            }
            Framer::Array(d) => {
                let mut items = Vec::new();
                d.push(data, &mut items);
                items.into_iter().map(|i| (None, i)).collect()
            }
            Framer::Messages if data.is_empty() => Vec::new(),
            Framer::Messages => vec![(None, data.to_vec())],
        }
    }

    fn held(&self) -> usize {
        match self {
            Framer::Sse(d) => d.held(),
            Framer::Ndjson(d) => d.held(),
            Framer::Array(d) => d.held(),
            Framer::Messages => 0,
        }
    }
}

/// A streamed response being assembled.
#[derive(Debug)]
struct Streamed {
    framer: Framer,
    assembler: Assembler,
    records: u64,
    /// The stream's own end marker was seen (`[DONE]`, `message_stop`,
    /// `response.completed`, Ollama's `"done": true`): a client may close
    /// the connection without reading the transfer's terminator, and the
    /// call is still complete.
    ended: bool,
}

/// Whether a streamed record is the provider's end-of-stream marker.
fn ends_stream(event: Option<&str>, payload: &[u8], json: Option<&Value>) -> bool {
    if payload == b"[DONE]" {
        return true;
    }
    if matches!(
        event,
        Some("message_stop" | "response.completed" | "response.failed" | "response.incomplete")
    ) {
        return true;
    }
    json.is_some_and(|j| {
        j.get("done").and_then(Value::as_bool) == Some(true)
            || matches!(
                j.get("type").and_then(Value::as_str),
                Some(
                    "message_stop"
                        | "response.completed"
                        | "response.failed"
                        | "response.incomplete"
                )
            )
    })
}

/// One AI call.
#[derive(Debug)]
pub(crate) struct Call {
    api: Api,
    path: String,
    detection: Detection,
    provider: ProviderInfo,
    auth: AuthInfo,
    origin: Origin,
    request_id: String,
    request_event_id: Option<String>,
    req_start: u64,
    request_model: Option<String>,
    streaming: bool,
    embedding_inputs: Option<u64>,
    request_done: bool,
    /// Decided not to be an AI call after all (unknown host, other body).
    not_ai: bool,
    parsed_request: bool,
    status: Option<u16>,
    /// The response started (a response head, or the first server message
    /// of a WebSocket turn).
    seen_response: bool,
    /// Carried by WebSocket messages rather than an HTTP exchange.
    websocket: bool,
    header_request_id: Option<String>,
    stream: Option<Streamed>,
    first_token: Option<u64>,
    chunk_index: u64,
    response_done: bool,
    response_partial: Vec<&'static str>,
}

/// Splits an authority into host and port.
fn host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (h, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (authority, None),
    }
}

impl Call {
    /// A call for a request head, if it is an AI API request on a known
    /// provider or on any host with an AI API path.
    pub(crate) fn start(
        head: &Head,
        ts: u64,
        origin: Origin,
        catalog: &ProviderCatalog,
    ) -> Option<Call> {
        let StartLine::Request { method, path } = &head.start else {
            return None;
        };
        let api = Api::classify(method, path)?;
        Some(Call::with_api(head, api, path, ts, origin, catalog))
    }

    /// A call for one `response.create` message on a WebSocket that `head`
    /// (the upgrade request) opened to an AI API path.
    pub(crate) fn start_websocket(
        head: &Head,
        api: Api,
        ts: u64,
        origin: Origin,
        catalog: &ProviderCatalog,
    ) -> Option<Call> {
        let StartLine::Request { path, .. } = &head.start else {
            return None;
        };
        let mut call = Call::with_api(head, api, path, ts, origin, catalog);
        call.websocket = true;
        Some(call)
    }

    fn with_api(
        head: &Head,
        api: Api,
        path: &str,
        ts: u64,
        origin: Origin,
        catalog: &ProviderCatalog,
    ) -> Call {
        let authority = head.authority.as_deref().unwrap_or("");
        let (host, port) = host_port(authority);
        // A port missing from the authority is the socket's, else HTTPS's.
        let port = port.or(origin.server_addr.map(|a| a.port())).unwrap_or(443);
        let provider_match = catalog.detect(host, Some(port));
        let upgrade = head
            .header("upgrade")
            .is_some_and(|u| u.to_ascii_lowercase().contains("websocket"));
        let scheme = head
            .scheme
            .as_deref()
            .unwrap_or(if upgrade { "wss" } else { "https" });
        let endpoint = format!("{scheme}://{authority}{}", path_without_query(path));
        // `provider.id` keeps the catalogue id behind the schema's name enum.
        let (provider, detection) = match &provider_match {
            Some(m) => (m.provider_info(Some(endpoint)), Detection::KnownEndpoint),
            None => (
                ProviderInfo {
                    name: Some("other".into()),
                    endpoint: Some(endpoint),
                    ..ProviderInfo::default()
                },
                Detection::PayloadShape,
            ),
        };
        Call {
            api,
            path: path.to_string(),
            detection,
            provider,
            auth: auth_of(head, path),
            origin,
            request_id: format!("req_{}", oispd_semconv::new_event_id()),
            request_event_id: None,
            req_start: ts,
            request_model: None,
            streaming: false,
            embedding_inputs: None,
            request_done: false,
            not_ai: false,
            parsed_request: false,
            status: None,
            seen_response: false,
            websocket: false,
            header_request_id: None,
            stream: None,
            first_token: None,
            chunk_index: 0,
            response_done: false,
            response_partial: Vec::new(),
        }
    }

    /// Whether a request head may start an AI call (POST to an AI API path).
    pub(crate) fn candidate(head: &Head) -> bool {
        match &head.start {
            StartLine::Request { method, path } => Api::classify(method, path).is_some(),
            StartLine::Response { .. } => false,
        }
    }

    /// Whether the call turned out not to be AI (its events are dropped).
    pub(crate) fn is_not_ai(&self) -> bool {
        self.not_ai
    }

    /// Whether the request has been handled.
    pub(crate) fn request_done(&self) -> bool {
        self.request_done
    }

    /// Whether the response is decoded as a stream.
    pub(crate) fn is_streaming(&self) -> bool {
        self.stream.is_some()
    }

    /// Bytes held by the stream decoder.
    pub(crate) fn held(&self) -> usize {
        self.stream.as_ref().map_or(0, |s| s.framer.held())
    }

    fn opts(env: &CallEnv<'_>) -> DecodeOptions {
        DecodeOptions {
            capture_content: env.config.capture_content,
        }
    }

    fn quality(&self, parsed: bool, partial: Vec<&'static str>) -> Quality {
        Quality {
            detection: self.detection,
            parsed,
            partial,
        }
    }

    fn emit(
        &self,
        env: &mut CallEnv<'_>,
        data: EventData,
        ts: u64,
        point: Point,
        quality: &Quality,
    ) -> OispEvent {
        build(
            data,
            ts,
            point,
            quality,
            &self.origin,
            env.config.host.as_ref(),
            env.clock,
        )
    }

    /// A response-side event, linked to the request event as its parent.
    fn emit_child(
        &self,
        env: &mut CallEnv<'_>,
        data: EventData,
        ts: u64,
        quality: &Quality,
    ) -> OispEvent {
        let mut ev = self.emit(env, data, ts, Point::Response, quality);
        if let Some(id) = &self.request_event_id {
            ev.add_related(RelatedEvent::new(id.clone(), Relationship::Parent));
        }
        ev
    }

    fn model_info(&self, id: Option<String>) -> Option<ModelInfo> {
        let id = id?;
        Some(ModelInfo {
            family: Some(model_family(&id)),
            id: Some(id),
            ..ModelInfo::default()
        })
    }

    /// The request body is complete (or as complete as it will get).
    pub(crate) fn on_request(
        &mut self,
        body: &[u8],
        flaws: BodyFlaws,
        ts: u64,
        env: &mut CallEnv<'_>,
    ) {
        if self.request_done {
            return;
        }
        self.request_done = true;
        let mut partial = flaw_reasons(flaws);
        let json: Option<Value> = serde_json::from_slice(body).ok();
        if json.is_none() && flaws.is_clean() {
            env.stats.payload_errors += 1;
        }
        let shape_ok = json.as_ref().is_some_and(looks_like_ai_request)
            || (json.is_some() && self.api.is_embedding());
        if self.detection == Detection::PayloadShape && !shape_ok {
            self.not_ai = true;
            return;
        }
        let opts = Self::opts(env);
        let (mut data, tool_results, inputs, parsed) = match &json {
            Some(v) => {
                let info = decode_request(self.api, &self.path, v, opts);
                (info.data, info.tool_results, info.embedding_inputs, true)
            }
            None => {
                if !partial.contains(&"request_body_not_json") {
                    partial.push("request_body_not_json");
                }
                (lenient_request(body, self.api), Vec::new(), None, false)
            }
        };
        self.parsed_request = parsed;
        self.embedding_inputs = inputs;
        self.request_model = data.model.as_ref().and_then(|m| m.id.clone());
        data.model = self.model_info(self.request_model.clone());
        if self.websocket {
            // The server answers a WebSocket turn with events, always.
            data.streaming = Some(true);
        }
        self.streaming = data.streaming.unwrap_or(false);
        data.request_id = Some(self.request_id.clone());
        data.provider = Some(self.provider.clone());
        data.auth = Some(self.auth.clone());
        let quality = self.quality(parsed, partial);
        let ev = self.emit(
            env,
            EventData::AiRequest(data),
            ts,
            Point::Request,
            &quality,
        );
        self.request_event_id = Some(ev.event_id.clone());
        env.out.push(ev);
        for r in tool_results {
            let Some(pending) =
                env.tools
                    .take(self.origin.pid, r.call_id.as_deref(), r.name.as_deref())
            else {
                continue;
            };
            let size = r.text.as_ref().map(|t| t.len() as u64);
            let data = AgentToolResult {
                tool: Some(ToolInfo {
                    name: pending.name.clone(),
                    kind: pending
                        .name
                        .as_deref()
                        .and_then(tool_kind)
                        .map(str::to_string),
                    ..ToolInfo::default()
                }),
                call_id: pending.call_id.clone(),
                success: r.is_error.map(|e| !e),
                result_hash: r.text.as_ref().map(|t| sha256_tag(t.as_bytes())),
                result_size_bytes: size,
                result: if env.config.capture_content {
                    r.text.map(Content::Text)
                } else {
                    None
                },
                duration_ms: Some(ts.saturating_sub(pending.ts) / 1_000_000),
                ..AgentToolResult::default()
            };
            let q = self.quality(true, Vec::new());
            let mut ev = self.emit(
                env,
                EventData::AgentToolResult(data),
                ts,
                Point::Request,
                &q,
            );
            ev.add_related(RelatedEvent::new(pending.event_id, Relationship::Parent));
            env.out.push(ev);
        }
    }

    /// The response head arrived.
    pub(crate) fn on_response_head(&mut self, head: &Head) {
        let StartLine::Response { status } = head.start else {
            return;
        };
        self.status = Some(status);
        self.seen_response = true;
        self.header_request_id = head
            .header("x-request-id")
            .or_else(|| head.header("request-id"))
            .map(str::to_string);
        if !(200..300).contains(&status) {
            return;
        }
        let ctype = head
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let framing = if ctype.contains("text/event-stream") {
            Some(Framing::Sse)
        } else if ctype.contains("ndjson") {
            Some(Framing::Ndjson)
        } else if self.streaming && self.api.stream_framing() != Framing::Sse {
            // Gemini's JSON array stream, Ollama's NDJSON under a JSON type.
            Some(self.api.stream_framing())
        } else {
            None
        };
        if let Some(f) = framing {
            self.stream = Some(Streamed {
                framer: Framer::new(f),
                assembler: Assembler::new(
                    self.api,
                    DecodeOptions {
                        capture_content: true,
                    },
                ),
                records: 0,
                ended: false,
            });
        }
    }

    /// The server's messages of a WebSocket turn follow: each is one
    /// record of the response stream.
    pub(crate) fn start_messages(&mut self) {
        if self.stream.is_some() || self.not_ai {
            return;
        }
        self.seen_response = true;
        self.stream = Some(Streamed {
            framer: Framer::new(Framing::Messages),
            assembler: Assembler::new(
                self.api,
                DecodeOptions {
                    capture_content: true,
                },
            ),
            records: 0,
            ended: false,
        });
    }

    /// Whether the response's own end marker was seen.
    pub(crate) fn stream_ended(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.ended)
    }

    /// Decoded bytes of a streamed response.
    pub(crate) fn on_stream_bytes(
        &mut self,
        data: &[u8],
        finish: bool,
        ts: u64,
        env: &mut CallEnv<'_>,
    ) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let records = stream.framer.push(data, finish);
        for (event, payload) in records {
            let trimmed = payload.trim_ascii();
            if ends_stream(event.as_deref(), trimmed, None) {
                stream.ended = true;
            }
            if trimmed.is_empty() || trimmed == b"[DONE]" {
                continue;
            }
            let Ok(json) = serde_json::from_slice::<Value>(trimmed) else {
                env.stats.payload_errors += 1;
                continue;
            };
            if ends_stream(event.as_deref(), trimmed, Some(&json)) {
                stream.ended = true;
            }
            stream.records += 1;
            let outcome = stream.assembler.record(event.as_deref(), &json);
            if outcome.token && self.first_token.is_none() {
                self.first_token = Some(ts);
            }
            if env.config.streaming_chunks {
                let mut delta = outcome.delta;
                if !env.config.capture_content {
                    if let Some(d) = delta.as_mut() {
                        d.content = None;
                        for tc in d.tool_calls.iter_mut().flatten() {
                            tc.arguments = None;
                        }
                    }
                }
                let chunk = AiStreamingChunk {
                    request_id: Some(self.request_id.clone()),
                    chunk_index: Some(self.chunk_index),
                    delta,
                    finish_reason: outcome.finish_reason,
                    ..AiStreamingChunk::default()
                };
                self.chunk_index += 1;
                let quality = Quality {
                    detection: self.detection,
                    parsed: true,
                    partial: Vec::new(),
                };
                let mut ev = build(
                    EventData::AiStreamingChunk(chunk),
                    ts,
                    Point::Response,
                    &quality,
                    &self.origin,
                    env.config.host.as_ref(),
                    env.clock,
                );
                if let Some(id) = &self.request_event_id {
                    ev.add_related(RelatedEvent::new(id.clone(), Relationship::Parent));
                }
                env.out.push(ev);
            }
        }
    }

    /// The response ended. `body` is the buffered body of a response that
    /// was not streamed.
    pub(crate) fn on_response_end(
        &mut self,
        body: Option<&[u8]>,
        flaws: BodyFlaws,
        ts: u64,
        env: &mut CallEnv<'_>,
    ) {
        if self.response_done || self.not_ai {
            return;
        }
        self.response_done = true;
        let mut partial = flaw_reasons(flaws);
        partial.append(&mut self.response_partial);
        let opts = Self::opts(env);
        let (mut info, parsed) = match self.stream.take() {
            Some(s) => {
                let records = s.records;
                let mut info = s.assembler.finish();
                if !opts.capture_content {
                    strip_content(&mut info);
                }
                (info, records > 0)
            }
            None => match body.map(serde_json::from_slice::<Value>) {
                Some(Ok(v)) => (decode_response(self.api, &v, opts), true),
                Some(Err(_)) => {
                    if flaws.is_clean() && self.status.is_some_and(|s| s < 400) {
                        env.stats.payload_errors += 1;
                    }
                    (ResponseInfo::default(), false)
                }
                None => (ResponseInfo::default(), false),
            },
        };
        if !self.seen_response && !partial.contains(&"no_response") {
            partial.push("no_response");
        }
        let status = self.status;
        let http_error = status.is_some_and(|s| s >= 400);
        if info.error.is_none() && http_error {
            info.error = Some(AiError {
                kind: Some("http_error".into()),
                code: status.map(|s| s.to_string()),
                ..AiError::default()
            });
        }
        let latency_ms = Some(ts.saturating_sub(self.req_start) / 1_000_000);
        let model = info.model.clone().or_else(|| self.request_model.clone());
        let quality = self.quality(parsed || self.parsed_request, partial);
        if self.api.is_embedding() && info.error.is_none() {
            let usage = info.usage.as_ref();
            let data = AiEmbedding {
                provider: Some(self.provider.clone()),
                model: self.model_info(model),
                input_count: self.embedding_inputs.or(info.embedding_count),
                total_tokens: usage.and_then(|u| u.total_tokens.or(u.prompt_tokens)),
                dimensions: info.embedding_dimensions,
                latency_ms,
                ..AiEmbedding::default()
            };
            let ev = self.emit_child(env, EventData::AiEmbedding(data), ts, &quality);
            env.out.push(ev);
            return;
        }
        let success = status.map(|s| s < 400 && info.error.is_none());
        let finish_reason = info
            .finish_reason
            .clone()
            .or_else(|| info.error.is_some().then(|| "error".to_string()));
        let tool_calls = std::mem::take(&mut info.tool_calls);
        let mut usage = info.usage.clone();
        if let Some(u) = usage.as_mut() {
            env.prices
                .price_usage(self.provider.provider_id(), model.as_deref(), u);
        }
        let data = AiResponse {
            request_id: Some(self.request_id.clone()),
            provider_request_id: info
                .provider_request_id
                .clone()
                .or_else(|| self.header_request_id.clone()),
            provider: Some(self.provider.clone()),
            model: self.model_info(model),
            status_code: status,
            success: if self.seen_response {
                success.or(Some(info.error.is_none()))
            } else {
                Some(false)
            },
            error: info.error.clone().or_else(|| {
                (!self.seen_response).then(|| AiError {
                    kind: Some("incomplete".into()),
                    message: Some("the response was not seen".into()),
                    ..AiError::default()
                })
            }),
            choices: (!info.choices.is_empty()).then(|| info.choices.clone()),
            tool_calls_count: (!tool_calls.is_empty()).then_some(tool_calls.len() as u64),
            tool_calls: (!tool_calls.is_empty()).then(|| tool_calls.clone()),
            usage,
            latency_ms,
            time_to_first_token_ms: self
                .first_token
                .map(|t| t.saturating_sub(self.req_start) / 1_000_000),
            finish_reason,
            ..AiResponse::default()
        };
        let ev = self.emit_child(env, EventData::AiResponse(data), ts, &quality);
        let response_event_id = ev.event_id.clone();
        env.out.push(ev);
        for (i, tc) in tool_calls.into_iter().enumerate() {
            let call_id = tc
                .id
                .clone()
                .unwrap_or_else(|| format!("{}.{i}", self.request_id));
            let arguments = match &tc.arguments {
                Some(Content::Json(Value::Object(m))) => Some(m.clone()),
                _ => None,
            };
            let data = AgentToolCall {
                tool: ToolInfo {
                    name: tc.name.clone(),
                    kind: tc.name.as_deref().and_then(tool_kind).map(str::to_string),
                    ..ToolInfo::default()
                },
                call_id: Some(call_id.clone()),
                triggered_by: Some("llm_decision".into()),
                arguments,
                arguments_hash: tc.arguments_hash.clone(),
                ..AgentToolCall::default()
            };
            let q = self.quality(true, Vec::new());
            let mut ev = self.emit(env, EventData::AgentToolCall(data), ts, Point::Response, &q);
            ev.add_related(RelatedEvent::new(
                response_event_id.clone(),
                Relationship::CausedBy,
            ));
            env.tools.record(
                self.origin.pid,
                PendingCall {
                    call_id,
                    name: tc.name,
                    event_id: ev.event_id.clone(),
                    ts,
                },
            );
            env.out.push(ev);
        }
    }

    /// The exchange ended early (`reason`): what was seen is emitted as partial.
    pub(crate) fn abort(&mut self, reason: &'static str, ts: u64, env: &mut CallEnv<'_>) {
        if self.response_done || self.not_ai {
            return;
        }
        if self.stream.is_some() {
            self.on_stream_bytes(&[], true, ts, env);
        }
        // A stream that delivered its own end marker is whole, whatever
        // happened to the transfer around it afterwards.
        if !self.stream.as_ref().is_some_and(|s| s.ended) {
            env.stats.exchanges_incomplete += 1;
            self.response_partial.push(reason);
        }
        self.on_response_end(None, BodyFlaws::default(), ts, env);
    }
}

fn flaw_reasons(flaws: BodyFlaws) -> Vec<&'static str> {
    let mut r = Vec::new();
    if flaws.truncated {
        r.push("body_truncated");
    }
    if flaws.gap {
        r.push("capture_gap");
    }
    if flaws.undecodable {
        r.push("body_undecodable");
    }
    r
}

/// What can be read from a request body that is not valid JSON (cut at
/// the size limit): the model and the stream flag, when they appear.
fn lenient_request(body: &[u8], api: Api) -> AiRequest {
    let text = String::from_utf8_lossy(body);
    let model = find_string_field(&text, "model");
    let streaming = find_bool_field(&text, "stream");
    AiRequest {
        request_type: Some(
            if api.is_embedding() {
                "embedding"
            } else {
                "chat"
            }
            .into(),
        ),
        model: model.map(|id| ModelInfo {
            id: Some(id),
            ..ModelInfo::default()
        }),
        streaming: streaming.or(Some(api.streams_by_default())),
        ..AiRequest::default()
    }
}

/// The text after each `"key":` in some JSON text, in order.
fn field_values<'a>(text: &'a str, key: &str) -> impl Iterator<Item = &'a str> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(i) = text[from..].find(&needle) {
            let rest = text[from + i + needle.len()..].trim_start();
            from += i + needle.len();
            if let Some(rest) = rest.strip_prefix(':') {
                return Some(rest.trim_start());
            }
        }
        None
    })
}

/// The value of the first `"key": "value"` in some JSON text.
fn find_string_field(text: &str, key: &str) -> Option<String> {
    for rest in field_values(text, key) {
        if let Some(rest) = rest.strip_prefix('"') {
            let end = rest.find('"')?;
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// The value of the first `"key": true|false` in some JSON text.
fn find_bool_field(text: &str, key: &str) -> Option<bool> {
    for rest in field_values(text, key) {
        if rest.starts_with("true") {
            return Some(true);
        }
        if rest.starts_with("false") {
            return Some(false);
        }
    }
    None
}

/// Drops message text and tool arguments from an assembled response.
fn strip_content(info: &mut ResponseInfo) {
    for c in &mut info.choices {
        if let Some(m) = c.message.as_mut() {
            m.content = None;
        }
    }
    for t in &mut info.tool_calls {
        t.arguments = None;
    }
}

/// The OISP tool category suggested by a tool's name.
fn tool_kind(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    Some(
        if has(&["bash", "shell", "terminal", "exec_command", "run_command"]) {
            "shell"
        } else if has(&["edit", "replace", "patch"]) {
            "file_edit"
        } else if has(&["write_file", "create_file", "write"]) {
            "file_write"
        } else if has(&["read_file", "read", "view", "open_file", "cat"]) {
            "file_read"
        } else if has(&["search", "grep", "glob", "find"]) {
            "search"
        } else if has(&["fetch", "http", "url", "browse", "web"]) {
            "http"
        } else if has(&["sql", "database", "query"]) {
            "database"
        } else if has(&["python", "code_exec", "execute_code", "eval"]) {
            "code_execution"
        } else {
            return None;
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lenient_fields() {
        let cut = br#"{"messages":[{"role":"user","content":"aaaa"}],"model" : "gpt-4o","stream":true,"x":"#;
        let r = lenient_request(cut, Api::OpenAiChat);
        assert_eq!(r.model.unwrap().id.as_deref(), Some("gpt-4o"));
        assert_eq!(r.streaming, Some(true));
        assert_eq!(find_string_field(r#"{"model"#, "model"), None);
    }

    #[test]
    fn authorities() {
        assert_eq!(host_port("api.openai.com"), ("api.openai.com", None));
        assert_eq!(host_port("localhost:11434"), ("localhost", Some(11434)));
        assert_eq!(host_port("[::1]:8443"), ("::1", Some(8443)));
    }

    #[test]
    fn tool_kinds() {
        assert_eq!(tool_kind("Bash"), Some("shell"));
        assert_eq!(tool_kind("read_file"), Some("file_read"));
        assert_eq!(tool_kind("get_weather"), None);
    }
}
