//! OpenAI Chat Completions (plain and streamed, with the usage chunk of
//! `stream_options.include_usage`) and embeddings; the same shapes serve
//! every OpenAI-compatible server (Azure OpenAI, Groq, Together, Mistral,
//! DeepSeek, OpenRouter, vLLM, LM Studio, Ollama's `/v1`, ...).

use std::collections::BTreeMap;

use oispd_semconv::ai::{AiRequest, Choice, ChunkDelta, Parameters, ToolCall, Usage};
use serde_json::Value;

use super::common::{
    arguments, content_text, copy_scalars, message, non_empty, note_system, num_at, openai_finish,
    set_messages, set_tools, stop_list, str_at, tool_call, tool_result, u64_at,
};
use super::{DecodeOptions, RecordOutcome, RequestInfo, ResponseInfo};

/// Decodes a Chat Completions request.
pub(crate) fn chat_request(body: &Value, opts: DecodeOptions) -> RequestInfo {
    let mut data = AiRequest {
        request_type: Some("chat".into()),
        ..AiRequest::default()
    };
    let mut tool_results = Vec::new();
    if let Some(model) = str_at(body, "model") {
        data.model = Some(model_info(model));
    }
    data.streaming = Some(body.get("stream").and_then(Value::as_bool).unwrap_or(false));
    if let Some(msgs) = body.get("messages").and_then(Value::as_array) {
        let mut out = Vec::with_capacity(msgs.len());
        let mut images = 0;
        for m in msgs {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            let (text, imgs) = content_text(m.get("content"));
            images += imgs;
            note_system(&mut data, role, text.as_deref());
            if role == "tool" {
                tool_results.push(tool_result(
                    str_at(m, "tool_call_id"),
                    str_at(m, "name"),
                    m.get("content"),
                    None,
                ));
            }
            let mut msg = message(role, text, imgs, opts.capture_content);
            msg.tool_call_id = str_at(m, "tool_call_id");
            msg.name = str_at(m, "name");
            out.push(msg);
        }
        data.has_system_prompt.get_or_insert(false);
        set_messages(&mut data, out, images);
    }
    set_tools(&mut data, body, true);
    data.tool_choice = body.get("tool_choice").map(tool_choice);
    data.parameters = non_empty(parameters(body));
    RequestInfo {
        data,
        tool_results,
        embedding_inputs: None,
    }
}

/// The OISP tool choice for an OpenAI `tool_choice`.
pub(crate) fn tool_choice(v: &Value) -> String {
    match v {
        Value::String(s) if s == "auto" || s == "none" || s == "required" => s.clone(),
        Value::String(_) => "auto".into(),
        _ => "specific".into(),
    }
}

fn parameters(body: &Value) -> Parameters {
    let mut p = Parameters {
        temperature: num_at(body, "temperature"),
        top_p: num_at(body, "top_p"),
        max_tokens: u64_at(body, "max_completion_tokens").or_else(|| u64_at(body, "max_tokens")),
        frequency_penalty: num_at(body, "frequency_penalty"),
        presence_penalty: num_at(body, "presence_penalty"),
        stop: stop_list(body.get("stop")),
        ..Parameters::default()
    };
    copy_scalars(
        body,
        &[
            "n",
            "seed",
            "reasoning_effort",
            "top_k",
            "service_tier",
            "parallel_tool_calls",
        ],
        &mut p.extra,
    );
    if let Some(inc) = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
    {
        p.extra.insert("include_usage".into(), Value::Bool(inc));
    }
    p
}

/// A model id as OISP model info.
pub(crate) fn model_info(id: String) -> oispd_semconv::ai::ModelInfo {
    oispd_semconv::ai::ModelInfo {
        id: Some(id),
        ..Default::default()
    }
}

/// OpenAI usage (`prompt_tokens`, `completion_tokens`, details).
pub(crate) fn usage(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    Some(Usage {
        prompt_tokens: u64_at(u, "prompt_tokens"),
        completion_tokens: u64_at(u, "completion_tokens"),
        total_tokens: u64_at(u, "total_tokens"),
        cached_tokens: u
            .get("prompt_tokens_details")
            .and_then(|d| u64_at(d, "cached_tokens")),
        reasoning_tokens: u
            .get("completion_tokens_details")
            .and_then(|d| u64_at(d, "reasoning_tokens")),
        ..Usage::default()
    })
}

/// Decodes a plain Chat Completions response.
pub(crate) fn chat_response(body: &Value, opts: DecodeOptions) -> ResponseInfo {
    let mut info = ResponseInfo {
        provider_request_id: str_at(body, "id"),
        model: str_at(body, "model"),
        usage: body.get("usage").and_then(usage),
        ..ResponseInfo::default()
    };
    for (i, c) in body
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let m = c.get("message").unwrap_or(&Value::Null);
        let role = m.get("role").and_then(Value::as_str).unwrap_or("assistant");
        let (text, images) = content_text(m.get("content"));
        let finish = c
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(openai_finish);
        for tc in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = tc.get("function").unwrap_or(&Value::Null);
            let args = f.get("arguments").map(|a| match a {
                Value::String(s) => arguments(s),
                other => oispd_semconv::ai::Content::Json(other.clone()),
            });
            info.tool_calls.push(tool_call(
                str_at(tc, "id"),
                str_at(f, "name"),
                args,
                opts.capture_content,
            ));
        }
        if info.finish_reason.is_none() {
            info.finish_reason.clone_from(&finish);
        }
        info.choices.push(Choice {
            index: Some(u64_at(c, "index").unwrap_or(i as u64)),
            message: Some(message(role, text, images, opts.capture_content)),
            finish_reason: finish,
            ..Choice::default()
        });
    }
    info
}

/// One choice being assembled from chunks.
#[derive(Debug, Default)]
struct ChoiceAsm {
    role: Option<String>,
    text: String,
    has_text: bool,
    finish: Option<String>,
    /// Tool calls by their `index` in the delta.
    tools: BTreeMap<u64, ToolAsm>,
}

#[derive(Debug, Default)]
struct ToolAsm {
    id: Option<String>,
    name: Option<String>,
    args: String,
}

/// Assembles streamed Chat Completions chunks.
#[derive(Debug)]
pub(crate) struct ChatAssembler {
    opts: DecodeOptions,
    id: Option<String>,
    model: Option<String>,
    usage: Option<Usage>,
    choices: BTreeMap<u64, ChoiceAsm>,
    error: Option<oispd_semconv::ai::AiError>,
}

impl ChatAssembler {
    /// An empty assembly.
    pub(crate) fn new(opts: DecodeOptions) -> ChatAssembler {
        ChatAssembler {
            opts,
            id: None,
            model: None,
            usage: None,
            choices: BTreeMap::new(),
            error: None,
        }
    }

    /// Takes one chunk.
    pub(crate) fn record(&mut self, chunk: &Value) -> RecordOutcome {
        let mut outcome = RecordOutcome::default();
        if let Some(e) = super::common::error_of(chunk) {
            self.error = Some(e);
            return outcome;
        }
        if self.id.is_none() {
            self.id = str_at(chunk, "id");
        }
        if self.model.is_none() {
            self.model = str_at(chunk, "model");
        }
        if let Some(u) = chunk.get("usage").and_then(usage) {
            self.usage = Some(u);
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = u64_at(c, "index").unwrap_or(0);
            let asm = self.choices.entry(index).or_default();
            let delta = c.get("delta").unwrap_or(&Value::Null);
            let mut out = ChunkDelta::default();
            if let Some(role) = str_at(delta, "role") {
                asm.role = Some(role.clone());
                out.role = Some(role);
            }
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                if !text.is_empty() {
                    outcome.token = true;
                }
                asm.text.push_str(text);
                asm.has_text = true;
                out.content = Some(text.to_string());
            }
            if delta
                .get("reasoning_content")
                .or_else(|| delta.get("reasoning"))
                .and_then(Value::as_str)
                .is_some_and(|r| !r.is_empty())
            {
                outcome.token = true;
            }
            let mut calls = Vec::new();
            for tc in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                outcome.token = true;
                let ti = u64_at(tc, "index").unwrap_or(0);
                let t = asm.tools.entry(ti).or_default();
                if let Some(id) = str_at(tc, "id") {
                    t.id = Some(id);
                }
                let f = tc.get("function").unwrap_or(&Value::Null);
                if let Some(name) = str_at(f, "name") {
                    t.name = Some(name);
                }
                let piece = f.get("arguments").and_then(Value::as_str).unwrap_or("");
                t.args.push_str(piece);
                calls.push(ToolCall {
                    id: str_at(tc, "id"),
                    name: str_at(f, "name"),
                    kind: Some("function".into()),
                    arguments: (self.opts.capture_content && !piece.is_empty())
                        .then(|| oispd_semconv::ai::Content::Text(piece.to_string())),
                    ..ToolCall::default()
                });
            }
            if !calls.is_empty() {
                out.tool_calls = Some(calls);
            }
            if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                let f = openai_finish(f);
                asm.finish = Some(f.clone());
                outcome.finish_reason = Some(f);
            }
            if index == 0 {
                outcome.delta = Some(out);
            }
        }
        outcome
    }

    /// The assembled response.
    pub(crate) fn finish(self) -> ResponseInfo {
        let mut info = ResponseInfo {
            provider_request_id: self.id,
            model: self.model,
            usage: self.usage,
            error: self.error,
            ..ResponseInfo::default()
        };
        for (index, c) in self.choices {
            for t in c.tools.into_values() {
                let args = (!t.args.is_empty()).then(|| arguments(&t.args));
                info.tool_calls
                    .push(tool_call(t.id, t.name, args, self.opts.capture_content));
            }
            if info.finish_reason.is_none() {
                info.finish_reason.clone_from(&c.finish);
            }
            let role = c.role.as_deref().unwrap_or("assistant");
            info.choices.push(Choice {
                index: Some(index),
                message: Some(message(
                    role,
                    c.has_text.then_some(c.text),
                    0,
                    self.opts.capture_content,
                )),
                finish_reason: c.finish,
                ..Choice::default()
            });
        }
        info
    }
}

/// Decodes an embeddings request: the number of inputs.
pub(crate) fn embedding_request(body: &Value) -> RequestInfo {
    let inputs = match body.get("input") {
        Some(Value::Array(a)) if a.first().is_some_and(Value::is_number) => 1,
        Some(Value::Array(a)) => a.len() as u64,
        Some(Value::Null) | None => 0,
        Some(_) => 1,
    };
    let mut p = Parameters::default();
    copy_scalars(body, &["dimensions", "encoding_format"], &mut p.extra);
    RequestInfo {
        data: AiRequest {
            request_type: Some("embedding".into()),
            model: str_at(body, "model").map(model_info),
            streaming: Some(false),
            parameters: non_empty(p),
            ..AiRequest::default()
        },
        tool_results: Vec::new(),
        embedding_inputs: Some(inputs),
    }
}

/// Decodes an embeddings response: count, dimensions and usage.
pub(crate) fn embedding_response(body: &Value) -> ResponseInfo {
    let data = body.get("data").and_then(Value::as_array);
    let dims = data
        .and_then(|d| d.first())
        .and_then(|e| match e.get("embedding") {
            Some(Value::Array(v)) => Some(v.len() as u64),
            // base64 of little-endian f32s.
            Some(Value::String(s)) => Some((s.trim_end_matches('=').len() as u64 * 3 / 4) / 4),
            _ => None,
        });
    ResponseInfo {
        model: str_at(body, "model"),
        usage: body.get("usage").and_then(usage),
        embedding_count: data.map(|d| d.len() as u64),
        embedding_dimensions: dims,
        ..ResponseInfo::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::common::sha256_tag;
    use super::*;
    use serde_json::json;

    const OPTS: DecodeOptions = DecodeOptions {
        capture_content: true,
    };

    /// Scenario: a request with system prompt, tools, a tool result and parameters.
    /// Guarantees: every OISP request field is filled from the body.
    #[test]
    fn request_fields() {
        let body = json!({
            "model": "gpt-4o",
            "stream": true,
            "stream_options": {"include_usage": true},
            "temperature": 0.2,
            "max_tokens": 100,
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d"}}],
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ]
        });
        let r = chat_request(&body, OPTS);
        let d = &r.data;
        assert_eq!(d.model.as_ref().unwrap().id.as_deref(), Some("gpt-4o"));
        assert_eq!(d.streaming, Some(true));
        assert_eq!(d.messages_count, Some(4));
        assert_eq!(d.has_system_prompt, Some(true));
        assert_eq!(d.system_prompt_hash, Some(sha256_tag(b"be brief")));
        assert_eq!(d.tools_count, Some(1));
        assert_eq!(d.tool_choice.as_deref(), Some("specific"));
        let p = d.parameters.as_ref().unwrap();
        assert_eq!(p.temperature.as_ref().unwrap().as_f64(), Some(0.2));
        assert_eq!(p.max_tokens, Some(100));
        assert_eq!(p.extra["include_usage"], json!(true));
        assert_eq!(r.tool_results.len(), 1);
        assert_eq!(r.tool_results[0].call_id.as_deref(), Some("call_1"));
        assert_eq!(r.tool_results[0].text.as_deref(), Some("sunny"));
    }

    /// Scenario: a stream with role, content pieces, a tool call split over
    /// chunks, a finish chunk and the include_usage chunk with no choices.
    /// Guarantees: one assembled response with text, arguments, finish reason and usage.
    #[test]
    fn stream_assembly() {
        let mut a = ChatAssembler::new(OPTS);
        let chunks = [
            json!({"id": "chatcmpl-1", "model": "gpt-4o-2024", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "lo"}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}]}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}}}),
        ];
        let tokens: Vec<bool> = chunks.iter().map(|c| a.record(c).token).collect();
        assert_eq!(tokens, vec![false, true, true, true, true, false, false]);
        let r = a.finish();
        assert_eq!(r.provider_request_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(r.model.as_deref(), Some("gpt-4o-2024"));
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        let msg = r.choices[0].message.as_ref().unwrap();
        assert_eq!(
            msg.content,
            Some(oispd_semconv::ai::Content::Text("Hello".into()))
        );
        assert_eq!(r.tool_calls[0].id.as_deref(), Some("call_9"));
        assert_eq!(
            r.tool_calls[0].arguments,
            Some(oispd_semconv::ai::Content::Json(json!({"a": 1})))
        );
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (Some(10), Some(5), Some(15))
        );
        assert_eq!((u.cached_tokens, u.reasoning_tokens), (Some(2), Some(1)));
    }

    #[test]
    fn embeddings() {
        let r = embedding_request(&json!({"model": "text-embedding-3-small", "input": ["a", "b"]}));
        assert_eq!(r.embedding_inputs, Some(2));
        let resp = embedding_response(&json!({
            "data": [{"embedding": [0.1, 0.2, 0.3]}, {"embedding": [0.1, 0.2, 0.3]}],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 4, "total_tokens": 4}
        }));
        assert_eq!(resp.embedding_count, Some(2));
        assert_eq!(resp.embedding_dimensions, Some(3));
        assert_eq!(resp.usage.unwrap().total_tokens, Some(4));
    }
}
