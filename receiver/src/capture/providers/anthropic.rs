//! Anthropic Messages: requests (system prompt, content blocks, `tool_use`
//! and `tool_result` blocks, tools), plain responses and the streamed event
//! sequence (`message_start`, `content_block_start/delta/stop` with
//! `text_delta`, `input_json_delta` and `thinking_delta`, `message_delta`,
//! `message_stop`, `error`).

use std::collections::BTreeMap;

use oispd_semconv::ai::{
    AiError, AiRequest, Choice, ChunkDelta, Content, Parameters, ToolCall, Usage,
};
use serde_json::Value;

use super::common::{
    arguments, content_text, copy_scalars, error_of, leading_system, message, non_empty, num_at,
    set_messages, set_tools, stop_list, str_at, tool_call, tool_result, u64_at,
};
use super::openai::model_info;
use super::{DecodeOptions, RecordOutcome, RequestInfo, ResponseInfo};

/// Decodes a Messages request.
pub(crate) fn request(body: &Value, opts: DecodeOptions) -> RequestInfo {
    let mut data = AiRequest {
        request_type: Some("chat".into()),
        model: str_at(body, "model").map(model_info),
        streaming: Some(body.get("stream").and_then(Value::as_bool).unwrap_or(false)),
        ..AiRequest::default()
    };
    let mut msgs = Vec::new();
    let system = content_text(body.get("system")).0;
    leading_system(&mut data, &mut msgs, system, opts.capture_content);
    let mut tool_results = Vec::new();
    let mut images = 0;
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        let content = m.get("content");
        for block in content.and_then(Value::as_array).into_iter().flatten() {
            if block.get("type").and_then(Value::as_str) == Some("tool_result") {
                tool_results.push(tool_result(
                    str_at(block, "tool_use_id"),
                    None,
                    block.get("content"),
                    block.get("is_error").and_then(Value::as_bool),
                ));
            }
        }
        let (text, imgs) = content_text(content);
        images += imgs;
        msgs.push(message(role, text, imgs, opts.capture_content));
    }
    set_messages(&mut data, msgs, images);
    set_tools(&mut data, body, false);
    data.tool_choice = body.get("tool_choice").map(|c| {
        match c.get("type").and_then(Value::as_str) {
            Some("any") => "required",
            Some("tool") => "specific",
            Some("none") => "none",
            _ => "auto",
        }
        .to_string()
    });
    let mut p = Parameters {
        temperature: num_at(body, "temperature"),
        top_p: num_at(body, "top_p"),
        max_tokens: u64_at(body, "max_tokens"),
        stop: stop_list(body.get("stop_sequences")),
        ..Parameters::default()
    };
    copy_scalars(body, &["top_k"], &mut p.extra);
    if let Some(t) = body.get("thinking").and_then(|t| t.get("budget_tokens")) {
        p.extra.insert("thinking_budget_tokens".into(), t.clone());
    }
    data.parameters = non_empty(p);
    RequestInfo {
        data,
        tool_results,
        embedding_inputs: None,
    }
}

/// Anthropic usage: input tokens include cache reads and writes in OISP terms.
fn usage(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    let input = u64_at(u, "input_tokens");
    let cache_read = u64_at(u, "cache_read_input_tokens");
    let cache_write = u64_at(u, "cache_creation_input_tokens");
    let output = u64_at(u, "output_tokens");
    let prompt = input.map(|i| i + cache_read.unwrap_or(0) + cache_write.unwrap_or(0));
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: output,
        total_tokens: match (prompt, output) {
            (Some(p), Some(o)) => Some(p + o),
            _ => None,
        },
        cached_tokens: cache_read,
        cache_creation_tokens: cache_write,
        ..Usage::default()
    })
}

/// Merges a usage object into the raw usage seen so far: `message_delta`
/// carries cumulative counts, so later values win and missing ones are kept.
fn merge_usage(into: &mut serde_json::Map<String, Value>, u: &Value) {
    for (k, v) in u.as_object().into_iter().flatten() {
        if !v.is_null() {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// OISP finish reason for an Anthropic `stop_reason`.
fn finish(reason: &str) -> String {
    match reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "other",
    }
    .to_string()
}

/// Decodes a plain Messages response.
pub(crate) fn response(body: &Value, opts: DecodeOptions) -> ResponseInfo {
    let mut info = ResponseInfo {
        provider_request_id: str_at(body, "id"),
        model: str_at(body, "model"),
        usage: body.get("usage").and_then(usage),
        finish_reason: body.get("stop_reason").and_then(Value::as_str).map(finish),
        error: (body.get("type").and_then(Value::as_str) == Some("error"))
            .then(|| error_of(body))
            .flatten(),
        ..ResponseInfo::default()
    };
    if let Some(blocks) = body.get("content").and_then(Value::as_array) {
        for b in blocks {
            if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                info.tool_calls.push(tool_call(
                    str_at(b, "id"),
                    str_at(b, "name"),
                    b.get("input").cloned().map(Content::Json),
                    opts.capture_content,
                ));
            }
        }
        let (text, _) = content_text(body.get("content"));
        info.choices.push(Choice {
            index: Some(0),
            message: Some(message("assistant", text, 0, opts.capture_content)),
            finish_reason: info.finish_reason.clone(),
            ..Choice::default()
        });
    }
    info
}

#[derive(Debug)]
enum Block {
    Text(String),
    ToolUse {
        id: Option<String>,
        name: Option<String>,
        /// `input` of the start event when no deltas follow.
        input: Option<Value>,
        json: String,
    },
    Other,
}

/// Assembles a streamed Messages response.
#[derive(Debug)]
pub(crate) struct Assembler {
    opts: DecodeOptions,
    id: Option<String>,
    model: Option<String>,
    usage: serde_json::Map<String, Value>,
    stop: Option<String>,
    blocks: BTreeMap<u64, Block>,
    error: Option<AiError>,
}

impl Assembler {
    /// An empty assembly.
    pub(crate) fn new(opts: DecodeOptions) -> Assembler {
        Assembler {
            opts,
            id: None,
            model: None,
            usage: serde_json::Map::new(),
            stop: None,
            blocks: BTreeMap::new(),
            error: None,
        }
    }

    /// Takes one event.
    pub(crate) fn record(&mut self, event: Option<&str>, v: &Value) -> RecordOutcome {
        let mut out = RecordOutcome::default();
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event)
            .unwrap_or("");
        match kind {
            "message_start" => {
                let m = v.get("message").unwrap_or(&Value::Null);
                self.id = str_at(m, "id");
                self.model = str_at(m, "model");
                if let Some(u) = m.get("usage") {
                    merge_usage(&mut self.usage, u);
                }
                out.delta = Some(ChunkDelta {
                    role: Some("assistant".into()),
                    ..ChunkDelta::default()
                });
            }
            "content_block_start" => {
                let index = u64_at(v, "index").unwrap_or(0);
                let b = v.get("content_block").unwrap_or(&Value::Null);
                let block = match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let t = str_at(b, "text").unwrap_or_default();
                        if !t.is_empty() {
                            out.token = true;
                        }
                        Block::Text(t)
                    }
                    Some("tool_use") | Some("server_tool_use") => {
                        out.token = true;
                        out.delta = Some(ChunkDelta {
                            tool_calls: Some(vec![ToolCall {
                                id: str_at(b, "id"),
                                name: str_at(b, "name"),
                                kind: Some("function".into()),
                                ..ToolCall::default()
                            }]),
                            ..ChunkDelta::default()
                        });
                        Block::ToolUse {
                            id: str_at(b, "id"),
                            name: str_at(b, "name"),
                            input: b.get("input").cloned(),
                            json: String::new(),
                        }
                    }
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let index = u64_at(v, "index").unwrap_or(0);
                let d = v.get("delta").unwrap_or(&Value::Null);
                match (
                    d.get("type").and_then(Value::as_str),
                    self.blocks.get_mut(&index),
                ) {
                    (Some("text_delta"), Some(Block::Text(t))) => {
                        let piece = d.get("text").and_then(Value::as_str).unwrap_or("");
                        t.push_str(piece);
                        out.token = !piece.is_empty();
                        out.delta = Some(ChunkDelta {
                            content: Some(piece.to_string()),
                            ..ChunkDelta::default()
                        });
                    }
                    (Some("input_json_delta"), Some(Block::ToolUse { json, id, .. })) => {
                        let piece = d.get("partial_json").and_then(Value::as_str).unwrap_or("");
                        json.push_str(piece);
                        out.token = true;
                        out.delta = Some(ChunkDelta {
                            tool_calls: Some(vec![ToolCall {
                                id: id.clone(),
                                arguments: (self.opts.capture_content && !piece.is_empty())
                                    .then(|| Content::Text(piece.to_string())),
                                ..ToolCall::default()
                            }]),
                            ..ChunkDelta::default()
                        });
                    }
                    (Some("thinking_delta"), _) => out.token = true,
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    let f = finish(r);
                    self.stop = Some(f.clone());
                    out.finish_reason = Some(f);
                }
                if let Some(u) = v.get("usage") {
                    merge_usage(&mut self.usage, u);
                }
            }
            "error" => self.error = error_of(v),
            _ => {}
        }
        out
    }

    /// The assembled response.
    pub(crate) fn finish(self) -> ResponseInfo {
        let mut info = ResponseInfo {
            provider_request_id: self.id,
            model: self.model,
            usage: (!self.usage.is_empty())
                .then(|| usage(&Value::Object(self.usage)))
                .flatten(),
            finish_reason: self.stop.clone(),
            error: self.error,
            ..ResponseInfo::default()
        };
        let mut texts = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                Block::Text(t) => texts.push(t),
                Block::ToolUse {
                    id,
                    name,
                    input,
                    json,
                } => {
                    let args = if json.is_empty() {
                        input.map(Content::Json)
                    } else {
                        Some(arguments(&json))
                    };
                    info.tool_calls
                        .push(tool_call(id, name, args, self.opts.capture_content));
                }
                Block::Other => {}
            }
        }
        let text = (!texts.is_empty()).then(|| texts.join("\n"));
        info.choices.push(Choice {
            index: Some(0),
            message: Some(message("assistant", text, 0, self.opts.capture_content)),
            finish_reason: self.stop,
            ..Choice::default()
        });
        info
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

    /// Scenario: a request with a system prompt in blocks, a tool_result block and tools.
    /// Guarantees: system presence and hash, messages, tools, tool choice, results.
    #[test]
    fn request_fields() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "sys"}],
            "tool_choice": {"type": "any"},
            "tools": [{"name": "get_weather", "description": "w", "input_schema": {}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]}]}
            ]
        });
        let r = request(&body, OPTS);
        assert_eq!(r.data.has_system_prompt, Some(true));
        assert_eq!(r.data.system_prompt_hash, Some(sha256_tag(b"sys")));
        assert_eq!(r.data.messages_count, Some(4));
        assert_eq!(r.data.tool_choice.as_deref(), Some("required"));
        assert_eq!(r.data.parameters.unwrap().max_tokens, Some(1024));
        assert_eq!(r.tool_results[0].call_id.as_deref(), Some("toolu_1"));
        assert_eq!(r.tool_results[0].text.as_deref(), Some("sunny"));
    }

    /// Scenario: a streamed answer with text, a tool_use block whose input
    /// arrives as input_json_delta pieces, and usage split over
    /// message_start and message_delta.
    /// Guarantees: assembled text, parsed arguments, finish reason and usage.
    #[test]
    fn stream_assembly() {
        let mut a = Assembler::new(OPTS);
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " check."}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        for (e, v) in &events {
            a.record(Some(e), v);
        }
        let r = a.finish();
        assert_eq!(r.provider_request_id.as_deref(), Some("msg_1"));
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            r.choices[0].message.as_ref().unwrap().content,
            Some(Content::Text("Let me check.".into()))
        );
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(
            r.tool_calls[0].arguments,
            Some(Content::Json(json!({"city": "Paris"})))
        );
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (Some(25), Some(42), Some(67))
        );
    }

    #[test]
    fn plain_response_with_cache() {
        let body = json!({
            "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 10,
                      "cache_creation_input_tokens": 20}
        });
        let r = response(&body, OPTS);
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        let u = r.usage.unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.cached_tokens,
                u.cache_creation_tokens,
                u.total_tokens
            ),
            (Some(33), Some(10), Some(20), Some(35))
        );
    }
}
