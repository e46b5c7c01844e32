//! The flattened semantic attributes of an OISP event: the OISP names
//! (`ai.*`, `agent.*`, `oisp.*`) and the OpenTelemetry GenAI names
//! (`gen_ai.*`) side by side, so that a backend that understands either
//! convention can query the record without parsing its body; plus general
//! OTel names for process, file and network events and `ai.sentinel.*` for
//! findings. The body keeps the whole event: these attributes are a view.

use crate::agent::{AgentInfo, ToolInfo};
use crate::ai::{AiEmbedding, AiRequest, AiResponse, ModelInfo, ProviderInfo};
use crate::attributes::{
    gen_ai, gen_ai_operation_name, gen_ai_provider_name, oisp, otel, sentinel,
};
use crate::event::{EventData, OispEvent};
use crate::network::Endpoint;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use serde_json::Number;

/// A list of attributes under construction; `None` values are skipped.
#[derive(Default)]
pub(crate) struct Attrs(pub(crate) Vec<KeyValue>);

impl Attrs {
    fn push(&mut self, key: &str, v: Av) {
        self.0.push(KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        });
    }

    pub(crate) fn str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.push(key, Av::StringValue(v.to_string()));
        }
    }

    pub(crate) fn int<T: TryInto<i64>>(&mut self, key: &str, v: Option<T>) {
        if let Some(i) = v.and_then(|v| v.try_into().ok()) {
            self.push(key, Av::IntValue(i));
        }
    }

    pub(crate) fn bool(&mut self, key: &str, v: Option<bool>) {
        if let Some(b) = v {
            self.push(key, Av::BoolValue(b));
        }
    }

    pub(crate) fn double(&mut self, key: &str, v: Option<f64>) {
        if let Some(d) = v {
            self.push(key, Av::DoubleValue(d));
        }
    }

    pub(crate) fn number(&mut self, key: &str, v: Option<&Number>) {
        self.double(key, v.and_then(Number::as_f64));
    }

    pub(crate) fn strs(&mut self, key: &str, v: &[String]) {
        if !v.is_empty() {
            let values = v
                .iter()
                .map(|s| AnyValue {
                    value: Some(Av::StringValue(s.clone())),
                })
                .collect();
            self.push(key, Av::ArrayValue(ArrayValue { values }));
        }
    }
}

/// The flattened semantic attributes of `event` (see the module doc).
pub fn event_attributes(event: &OispEvent) -> Vec<KeyValue> {
    let mut a = Attrs::default();
    a.str(oisp::OISP_EVENT_ID, Some(&event.event_id));
    a.str(oisp::OISP_EVENT_TYPE, Some(&event.event_type));
    if let Some(m) = event.source.capture_method {
        a.str(oisp::OISP_CAPTURE_METHOD, serde_name(&m).as_deref());
    }
    a.str(
        oisp::OISP_CONFIDENCE_LEVEL,
        serde_name(&event.confidence.level).as_deref(),
    );
    a.str(
        oisp::OISP_CONFIDENCE_COMPLETENESS,
        serde_name(&event.confidence.completeness).as_deref(),
    );
    match &event.data {
        Some(EventData::AiRequest(r)) => ai_request(&mut a, r),
        Some(EventData::AiResponse(r)) => ai_response(&mut a, r),
        Some(EventData::AiStreamingChunk(c)) => {
            a.str(oisp::AI_REQUEST_ID, c.request_id.as_deref());
            a.int(oisp::AI_CHUNK_INDEX, c.chunk_index);
            a.str(oisp::AI_FINISH_REASON, c.finish_reason.as_deref());
        }
        Some(EventData::AiEmbedding(e)) => ai_embedding(&mut a, e),
        Some(EventData::AgentToolCall(c)) => {
            agent(&mut a, c.agent.as_ref());
            tool(&mut a, Some(&c.tool), c.call_id.as_deref());
            a.str(oisp::AGENT_RISK_LEVEL, c.risk_level.as_deref());
        }
        Some(EventData::AgentToolResult(r)) => {
            agent(&mut a, r.agent.as_ref());
            tool(&mut a, r.tool.as_ref(), Some(&r.call_id));
            a.bool(oisp::AGENT_TOOL_SUCCESS, r.success);
            a.int(oisp::AGENT_TOOL_DURATION_MS, r.duration_ms);
            if let Some(e) = &r.error {
                a.str(otel::ERROR_TYPE, e.kind.as_deref().or(Some("tool_error")));
            }
        }
        Some(EventData::AgentPlanStep(p)) => agent(&mut a, p.agent.as_ref()),
        Some(EventData::AgentRagRetrieve(r)) => agent(&mut a, r.agent.as_ref()),
        Some(EventData::AgentSession(s)) => {
            agent(&mut a, s.agent.as_ref());
            a.str(oisp::AGENT_SESSION_ID, s.session_id.as_deref());
        }
        Some(EventData::ProcessExec(e)) => {
            a.str(otel::PROCESS_EXECUTABLE_PATH, Some(&e.exe));
        }
        Some(EventData::ProcessExit(e)) => a.int(otel::PROCESS_EXIT_CODE, Some(e.exit_code)),
        Some(EventData::ProcessFork(f)) => a.int(otel::PROCESS_CHILD_PID, Some(f.child_pid)),
        Some(EventData::FileOpen(f)) => a.str(otel::FILE_PATH, Some(&f.path)),
        Some(EventData::FileRead(f)) => a.str(otel::FILE_PATH, Some(&f.path)),
        Some(EventData::FileWrite(f)) => a.str(otel::FILE_PATH, Some(&f.path)),
        Some(EventData::FileDelete(f)) => a.str(otel::FILE_PATH, Some(&f.path)),
        Some(EventData::FileRename(f)) => a.str(otel::FILE_PATH, Some(&f.new_path)),
        Some(EventData::NetworkConnect(c)) => {
            server(&mut a, &c.dest);
            a.str(otel::NETWORK_TRANSPORT, c.protocol.as_deref());
            if let Some(tls) = &c.tls {
                a.str(otel::TLS_SERVER_NAME, tls.sni.as_deref());
            }
        }
        Some(EventData::NetworkFlow(f)) => {
            server(&mut a, &f.dest);
            a.str(otel::NETWORK_TRANSPORT, f.protocol.as_deref());
        }
        Some(EventData::NetworkAccept(c)) => {
            a.str(otel::CLIENT_ADDRESS, c.src.ip.as_deref());
            a.int(otel::CLIENT_PORT, c.src.port);
            a.str(otel::NETWORK_TRANSPORT, c.protocol.as_deref());
        }
        Some(EventData::NetworkDns(d)) => a.str(otel::DNS_QUESTION_NAME, Some(&d.query_name)),
        Some(EventData::SecurityFinding(f)) => {
            a.str(sentinel::FINDING_ID, Some(&f.finding_id));
            a.str(sentinel::DETECTOR_ID, Some(&f.detector_id));
            a.str(sentinel::SEVERITY, Some(f.severity.as_str()));
            if let Some(audit) = &f.audit {
                a.str(sentinel::AUDIT_ID, Some(&audit.id));
                a.str(sentinel::AUDIT_HASH, Some(&audit.hash));
                a.str(
                    sentinel::AUDIT_PREVIOUS_HASH,
                    audit.previous_hash.as_deref(),
                );
            }
        }
        Some(EventData::Other(_)) | None => {}
    }
    a.0
}

/// The serde name of a unit enum variant (`TlsBoundary` -> `tls_boundary`).
fn serde_name<T: serde::Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

fn provider(a: &mut Attrs, p: Option<&ProviderInfo>) {
    let Some(p) = p else { return };
    a.str(oisp::AI_PROVIDER, p.provider_id());
    a.str(oisp::AI_PROVIDER_ENDPOINT, p.endpoint.as_deref());
    a.str(oisp::AI_PROVIDER_REGION, p.region.as_deref());
    a.str(
        gen_ai::PROVIDER_NAME,
        p.provider_id().map(gen_ai_provider_name),
    );
}

fn model(a: &mut Attrs, m: Option<&ModelInfo>, gen_ai_key: &str) {
    let Some(m) = m else { return };
    a.str(oisp::AI_MODEL_ID, m.id.as_deref());
    a.str(oisp::AI_MODEL_FAMILY, m.family.as_deref());
    a.str(gen_ai_key, m.id.as_deref());
}

/// The GenAI operation of a request: from its `request_type`, `chat` when absent.
pub(crate) fn request_operation(r: &AiRequest) -> &str {
    r.request_type
        .as_deref()
        .map_or(gen_ai::operation::CHAT, gen_ai_operation_name)
}

pub(crate) fn ai_request(a: &mut Attrs, r: &AiRequest) {
    provider(a, r.provider.as_ref());
    model(a, r.model.as_ref(), gen_ai::REQUEST_MODEL);
    a.str(oisp::AI_REQUEST_TYPE, r.request_type.as_deref());
    a.str(gen_ai::OPERATION_NAME, Some(request_operation(r)));
    a.str(oisp::AI_REQUEST_ID, r.request_id.as_deref());
    a.str(oisp::AI_CONVERSATION_ID, r.conversation_id.as_deref());
    a.str(gen_ai::CONVERSATION_ID, r.conversation_id.as_deref());
    a.bool(oisp::AI_STREAMING, r.streaming);
    a.bool(gen_ai::REQUEST_STREAM, r.streaming);
    a.int(oisp::AI_MESSAGES_COUNT, r.messages_count);
    a.bool(oisp::AI_HAS_SYSTEM_PROMPT, r.has_system_prompt);
    a.int(oisp::AI_TOOLS_COUNT, r.tools_count);
    if let Some(auth) = &r.auth {
        a.str(oisp::AI_AUTH_TYPE, auth.kind.as_deref());
    }
    if let Some(p) = &r.parameters {
        a.int(gen_ai::REQUEST_MAX_TOKENS, p.max_tokens);
        a.number(gen_ai::REQUEST_TEMPERATURE, p.temperature.as_ref());
        a.number(gen_ai::REQUEST_TOP_P, p.top_p.as_ref());
        a.number(
            gen_ai::REQUEST_FREQUENCY_PENALTY,
            p.frequency_penalty.as_ref(),
        );
        a.number(
            gen_ai::REQUEST_PRESENCE_PENALTY,
            p.presence_penalty.as_ref(),
        );
        if let Some(stop) = &p.stop {
            a.strs(gen_ai::REQUEST_STOP_SEQUENCES, stop);
        }
    }
}

/// Finish reasons of a response: one per choice, else the top-level one.
pub(crate) fn finish_reasons(r: &AiResponse) -> Vec<String> {
    let from_choices: Vec<String> = r
        .choices
        .iter()
        .flatten()
        .filter_map(|c| c.finish_reason.clone())
        .collect();
    if from_choices.is_empty() {
        r.finish_reason.iter().cloned().collect()
    } else {
        from_choices
    }
}

pub(crate) fn ai_response(a: &mut Attrs, r: &AiResponse) {
    provider(a, r.provider.as_ref());
    model(a, r.model.as_ref(), gen_ai::RESPONSE_MODEL);
    a.str(oisp::AI_REQUEST_ID, r.request_id.as_deref());
    a.str(oisp::AI_CONVERSATION_ID, r.conversation_id.as_deref());
    a.str(gen_ai::CONVERSATION_ID, r.conversation_id.as_deref());
    a.str(
        oisp::AI_PROVIDER_REQUEST_ID,
        r.provider_request_id.as_deref(),
    );
    a.str(gen_ai::RESPONSE_ID, r.provider_request_id.as_deref());
    a.int(oisp::AI_STATUS_CODE, r.status_code);
    a.bool(oisp::AI_SUCCESS, r.success);
    if let Some(e) = &r.error {
        a.str(oisp::AI_ERROR_TYPE, e.kind.as_deref());
    }
    if r.is_error() {
        let status = r.status_code.map(|s| s.to_string());
        let kind = r.error.as_ref().and_then(|e| e.kind.as_deref());
        a.str(
            otel::ERROR_TYPE,
            kind.or(status.as_deref()).or(Some("error")),
        );
    }
    a.str(oisp::AI_FINISH_REASON, r.finish_reason.as_deref());
    a.strs(gen_ai::RESPONSE_FINISH_REASONS, &finish_reasons(r));
    a.int(oisp::AI_TOOL_CALLS_COUNT, r.tool_calls_count);
    if let Some(u) = &r.usage {
        a.int(oisp::AI_TOKENS_PROMPT, u.prompt_tokens);
        a.int(oisp::AI_TOKENS_COMPLETION, u.completion_tokens);
        a.int(oisp::AI_TOKENS_TOTAL, u.total_tokens);
        a.int(oisp::AI_TOKENS_CACHED, u.cached_tokens);
        a.int(oisp::AI_TOKENS_REASONING, u.reasoning_tokens);
        a.number(oisp::AI_COST_TOTAL_USD, u.total_cost_usd.as_ref());
        a.int(gen_ai::USAGE_INPUT_TOKENS, u.prompt_tokens);
        a.int(gen_ai::USAGE_OUTPUT_TOKENS, u.completion_tokens);
        a.int(gen_ai::USAGE_CACHE_READ_INPUT_TOKENS, u.cached_tokens);
        a.int(
            gen_ai::USAGE_CACHE_CREATION_INPUT_TOKENS,
            u.cache_creation_tokens,
        );
        a.int(gen_ai::USAGE_REASONING_OUTPUT_TOKENS, u.reasoning_tokens);
    }
    a.int(oisp::AI_LATENCY_MS, r.latency_ms);
    a.int(oisp::AI_TIME_TO_FIRST_TOKEN_MS, r.time_to_first_token_ms);
    a.double(
        gen_ai::RESPONSE_TIME_TO_FIRST_CHUNK,
        r.time_to_first_token_ms.map(|ms| ms as f64 / 1000.0),
    );
}

fn ai_embedding(a: &mut Attrs, e: &AiEmbedding) {
    provider(a, e.provider.as_ref());
    model(a, e.model.as_ref(), gen_ai::REQUEST_MODEL);
    a.str(oisp::AI_REQUEST_TYPE, Some("embedding"));
    a.str(gen_ai::OPERATION_NAME, Some(gen_ai::operation::EMBEDDINGS));
    a.int(oisp::AI_EMBEDDING_INPUT_COUNT, e.input_count);
    a.int(oisp::AI_TOKENS_TOTAL, e.total_tokens);
    a.int(gen_ai::USAGE_INPUT_TOKENS, e.total_tokens);
    a.int(oisp::AI_EMBEDDING_DIMENSIONS, e.dimensions);
    a.int(gen_ai::EMBEDDINGS_DIMENSION_COUNT, e.dimensions);
    a.int(oisp::AI_LATENCY_MS, e.latency_ms);
}

fn agent(a: &mut Attrs, info: Option<&AgentInfo>) {
    let Some(info) = info else { return };
    a.str(oisp::AGENT_NAME, info.name.as_deref());
    a.str(gen_ai::AGENT_NAME, info.name.as_deref());
    a.str(gen_ai::AGENT_VERSION, info.version.as_deref());
    a.str(oisp::AGENT_SESSION_ID, info.session_id.as_deref());
}

fn tool(a: &mut Attrs, t: Option<&ToolInfo>, call_id: Option<&str>) {
    a.str(
        gen_ai::OPERATION_NAME,
        Some(gen_ai::operation::EXECUTE_TOOL),
    );
    if let Some(t) = t {
        a.str(oisp::AGENT_TOOL_NAME, t.name.as_deref());
        a.str(oisp::AGENT_TOOL_TYPE, t.kind.as_deref());
        a.str(oisp::AGENT_TOOL_PROVIDER, t.provider.as_deref());
        a.str(oisp::AGENT_MCP_SERVER, t.server.as_deref());
        a.str(gen_ai::TOOL_NAME, t.name.as_deref());
        a.str(gen_ai::TOOL_DESCRIPTION, t.description.as_deref());
    }
    a.str(oisp::AGENT_TOOL_CALL_ID, call_id);
    a.str(gen_ai::TOOL_CALL_ID, call_id);
}

fn server(a: &mut Attrs, dest: &Endpoint) {
    a.str(
        otel::SERVER_ADDRESS,
        dest.domain.as_deref().or(dest.ip.as_deref()),
    );
    a.int(otel::SERVER_PORT, dest.port);
    a.str(otel::NETWORK_PEER_ADDRESS, dest.ip.as_deref());
    a.int(otel::NETWORK_PEER_PORT, dest.port);
}
