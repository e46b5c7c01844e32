//! OpenAI Responses API (`POST /v1/responses`, and the same messages over
//! the API's WebSocket mode): requests (`input` as text or items,
//! `instructions`, tools, `function_call_output` and
//! `custom_tool_call_output` items), plain responses (`output` items with
//! `function_call` and `custom_tool_call`) and the streamed `response.*`
//! events, whose closing `response.completed` / `response.incomplete` /
//! `response.failed` carries the whole response. A WebSocket
//! `response.create` is a request body with a `type`, and the server's
//! messages are the SSE stream's events, so both transports go through
//! these functions.

use std::collections::BTreeMap;

use oispd_semconv::ai::{
    AiError, AiRequest, Choice, ChunkDelta, Content, Parameters, ToolCall, Usage,
};
use serde_json::Value;

use super::common::{
    arguments, content_text, copy_scalars, error_of, leading_system, message, non_empty,
    note_system, num_at, set_messages, set_tools, str_at, tool_call, tool_result, u64_at,
};
use super::openai::{model_info, tool_choice};
use super::{DecodeOptions, RecordOutcome, RequestInfo, ResponseInfo};

/// Decodes a Responses API request.
pub(crate) fn request(body: &Value, opts: DecodeOptions) -> RequestInfo {
    let mut data = AiRequest {
        request_type: Some("chat".into()),
        model: str_at(body, "model").map(model_info),
        streaming: Some(body.get("stream").and_then(Value::as_bool).unwrap_or(false)),
        ..AiRequest::default()
    };
    let mut msgs = Vec::new();
    let mut tool_results = Vec::new();
    let mut images = 0;
    let instructions = str_at(body, "instructions");
    leading_system(&mut data, &mut msgs, instructions, opts.capture_content);
    match body.get("input") {
        Some(Value::String(s)) => {
            msgs.push(message("user", Some(s.clone()), 0, opts.capture_content))
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item.get("type").and_then(Value::as_str) {
                    Some("function_call_output" | "custom_tool_call_output") => {
                        tool_results.push(tool_result(
                            str_at(item, "call_id"),
                            None,
                            item.get("output"),
                            None,
                        ));
                        let (text, _) = content_text(item.get("output"));
                        let mut m = message("tool", text, 0, opts.capture_content);
                        m.tool_call_id = str_at(item, "call_id");
                        msgs.push(m);
                    }
                    Some("message") | None => {
                        let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                        let (text, imgs) = content_text(item.get("content"));
                        images += imgs;
                        note_system(&mut data, role, text.as_deref());
                        msgs.push(message(role, text, imgs, opts.capture_content));
                    }
                    // Earlier model output replayed as input (function calls,
                    // reasoning) is context, not a new message.
                    Some(_) => {}
                }
            }
        }
        _ => {}
    }
    set_messages(&mut data, msgs, images);
    set_tools(&mut data, body, false);
    data.tool_choice = body.get("tool_choice").map(tool_choice);
    let mut p = Parameters {
        temperature: num_at(body, "temperature"),
        top_p: num_at(body, "top_p"),
        max_tokens: u64_at(body, "max_output_tokens"),
        ..Parameters::default()
    };
    copy_scalars(
        body,
        // `generate: false` (a WebSocket prewarm) asks for no output.
        &[
            "previous_response_id",
            "store",
            "parallel_tool_calls",
            "generate",
        ],
        &mut p.extra,
    );
    if let Some(e) = body.get("reasoning").and_then(|r| r.get("effort")) {
        p.extra.insert("reasoning_effort".into(), e.clone());
    }
    data.parameters = non_empty(p);
    RequestInfo {
        data,
        tool_results,
        embedding_inputs: None,
    }
}

fn usage(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    Some(Usage {
        prompt_tokens: u64_at(u, "input_tokens"),
        completion_tokens: u64_at(u, "output_tokens"),
        total_tokens: u64_at(u, "total_tokens"),
        cached_tokens: u
            .get("input_tokens_details")
            .and_then(|d| u64_at(d, "cached_tokens")),
        reasoning_tokens: u
            .get("output_tokens_details")
            .and_then(|d| u64_at(d, "reasoning_tokens")),
        ..Usage::default()
    })
}

/// Decodes a complete response object.
pub(crate) fn response(body: &Value, opts: DecodeOptions) -> ResponseInfo {
    let mut info = ResponseInfo {
        provider_request_id: str_at(body, "id"),
        model: str_at(body, "model"),
        usage: body.get("usage").and_then(usage),
        error: body
            .get("error")
            .filter(|e| !e.is_null())
            .and_then(|_| error_of(body)),
        ..ResponseInfo::default()
    };
    let mut texts = Vec::new();
    for item in body
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                if let (Some(t), _) = content_text(item.get("content")) {
                    texts.push(t);
                }
            }
            Some("function_call") => {
                info.tool_calls.push(tool_call(
                    str_at(item, "call_id"),
                    str_at(item, "name"),
                    item.get("arguments").and_then(Value::as_str).map(arguments),
                    opts.capture_content,
                ));
            }
            Some("custom_tool_call") => {
                info.tool_calls.push(custom_call(
                    str_at(item, "call_id"),
                    str_at(item, "name"),
                    item.get("input")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    opts.capture_content,
                ));
            }
            _ => {}
        }
    }
    let status = body.get("status").and_then(Value::as_str).unwrap_or("");
    let finish = match status {
        "failed" => "error",
        "incomplete" => match body
            .get("incomplete_details")
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str)
        {
            Some("content_filter") => "content_filter",
            Some("max_output_tokens") => "length",
            _ => "other",
        },
        "completed" if !info.tool_calls.is_empty() => "tool_calls",
        "completed" => "stop",
        _ => "",
    };
    if !finish.is_empty() {
        info.finish_reason = Some(finish.to_string());
    }
    info.choices.push(Choice {
        index: Some(0),
        message: Some(message(
            "assistant",
            (!texts.is_empty()).then(|| texts.join("\n")),
            0,
            opts.capture_content,
        )),
        finish_reason: info.finish_reason.clone(),
        ..Choice::default()
    });
    info
}

/// A custom tool call: free-form `input` text instead of JSON arguments.
fn custom_call(
    id: Option<String>,
    name: Option<String>,
    input: Option<String>,
    capture: bool,
) -> ToolCall {
    let mut call = tool_call(id, name, input.map(Content::Text), capture);
    call.kind = Some("custom".into());
    call
}

/// The error of an `error` stream event: the SSE form carries `code` and
/// `message` at the top, the WebSocket form nests an `error` object.
fn stream_error(v: &Value) -> Option<AiError> {
    let inner = v.get("error").filter(|e| e.is_object()).unwrap_or(v);
    error_of(&serde_json::json!({ "error": inner }))
}

/// Assembles streamed `response.*` events.
#[derive(Debug)]
pub(crate) struct Assembler {
    opts: DecodeOptions,
    /// The full response from the closing event.
    last: Option<Value>,
    /// Fallbacks when the stream ends without a closing event.
    id: Option<String>,
    model: Option<String>,
    text: String,
    /// Tool calls by output index: call id, name, arguments or input so
    /// far, and whether it is a custom tool call.
    calls: BTreeMap<u64, (Option<String>, Option<String>, String, bool)>,
    error: Option<AiError>,
}

impl Assembler {
    /// An empty assembly.
    pub(crate) fn new(opts: DecodeOptions) -> Assembler {
        Assembler {
            opts,
            last: None,
            id: None,
            model: None,
            text: String::new(),
            calls: BTreeMap::new(),
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
            "response.created" | "response.in_progress" => {
                let r = v.get("response").unwrap_or(&Value::Null);
                self.id = str_at(r, "id").or(self.id.take());
                self.model = str_at(r, "model").or(self.model.take());
            }
            "response.output_text.delta" => {
                let d = v.get("delta").and_then(Value::as_str).unwrap_or("");
                self.text.push_str(d);
                out.token = !d.is_empty();
                out.delta = Some(ChunkDelta {
                    content: Some(d.to_string()),
                    ..ChunkDelta::default()
                });
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                out.token = true;
            }
            "response.output_item.added" => {
                let item = v.get("item").unwrap_or(&Value::Null);
                let kind = item.get("type").and_then(Value::as_str);
                if let Some(k @ ("function_call" | "custom_tool_call")) = kind {
                    out.token = true;
                    let index = u64_at(v, "output_index").unwrap_or(0);
                    let custom = k == "custom_tool_call";
                    self.calls.insert(
                        index,
                        (
                            str_at(item, "call_id"),
                            str_at(item, "name"),
                            String::new(),
                            custom,
                        ),
                    );
                    out.delta = Some(ChunkDelta {
                        tool_calls: Some(vec![ToolCall {
                            id: str_at(item, "call_id"),
                            name: str_at(item, "name"),
                            kind: Some(if custom { "custom" } else { "function" }.into()),
                            ..ToolCall::default()
                        }]),
                        ..ChunkDelta::default()
                    });
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                out.token = true;
                let index = u64_at(v, "output_index").unwrap_or(0);
                if let Some(call) = self.calls.get_mut(&index) {
                    call.2
                        .push_str(v.get("delta").and_then(Value::as_str).unwrap_or(""));
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.last = v.get("response").cloned();
                let f = self
                    .last
                    .as_ref()
                    .map(|r| response(r, self.opts))
                    .and_then(|r| r.finish_reason);
                out.finish_reason = f;
            }
            "error" => {
                self.error = stream_error(v);
            }
            _ => {}
        }
        out
    }

    /// The assembled response.
    pub(crate) fn finish(self) -> ResponseInfo {
        if let Some(r) = &self.last {
            let mut info = response(r, self.opts);
            if info.error.is_none() {
                info.error = self.error;
            }
            return info;
        }
        let mut info = ResponseInfo {
            provider_request_id: self.id,
            model: self.model,
            error: self.error,
            ..ResponseInfo::default()
        };
        for (id, name, args, custom) in self.calls.into_values() {
            info.tool_calls.push(if custom {
                custom_call(
                    id,
                    name,
                    (!args.is_empty()).then_some(args),
                    self.opts.capture_content,
                )
            } else {
                let args = (!args.is_empty()).then(|| arguments(&args));
                tool_call(id, name, args, self.opts.capture_content)
            });
        }
        info.choices.push(Choice {
            index: Some(0),
            message: Some(message(
                "assistant",
                (!self.text.is_empty()).then_some(self.text),
                0,
                self.opts.capture_content,
            )),
            ..Choice::default()
        });
        info
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const OPTS: DecodeOptions = DecodeOptions {
        capture_content: true,
    };

    fn completed() -> Value {
        json!({
            "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "id": "fc_1", "call_id": "call_7", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}
            ],
            "usage": {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42,
                      "input_tokens_details": {"cached_tokens": 8}, "output_tokens_details": {"reasoning_tokens": 4}}
        })
    }

    #[test]
    fn plain_response() {
        let r = response(&completed(), OPTS);
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(r.tool_calls[0].id.as_deref(), Some("call_7"));
        assert_eq!(
            r.tool_calls[0].arguments,
            Some(Content::Json(json!({"city": "Oslo"})))
        );
        let u = r.usage.unwrap();
        assert_eq!(
            (u.total_tokens, u.cached_tokens, u.reasoning_tokens),
            (Some(42), Some(8), Some(4))
        );
    }

    /// Scenario: a stream of response.* events closing with response.completed.
    /// Guarantees: the deltas mark tokens and the closing response wins.
    #[test]
    fn stream_events() {
        let mut a = Assembler::new(OPTS);
        a.record(Some("response.created"), &json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-4.1", "status": "in_progress"}}));
        let d = a.record(
            None,
            &json!({"type": "response.output_text.delta", "delta": "Hi", "output_index": 0}),
        );
        assert!(d.token);
        a.record(
            None,
            &json!({"type": "response.completed", "response": completed()}),
        );
        let r = a.finish();
        assert_eq!(r.provider_request_id.as_deref(), Some("resp_1"));
        assert_eq!(r.usage.unwrap().prompt_tokens, Some(30));
    }

    /// Scenario: a custom tool call (free-form input) in a completed
    /// response, streamed without its closing event, and its output in the
    /// next request.
    /// Guarantees: the call keeps its id, name and input text with kind
    /// `custom` both ways, and the output is a tool result for its id.
    #[test]
    fn custom_tool_calls() {
        let body = json!({"status": "completed", "output": [
            {"type": "custom_tool_call", "call_id": "call_9", "name": "apply_patch", "input": "*** Begin Patch"}
        ]});
        let r = response(&body, OPTS);
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
        let c = &r.tool_calls[0];
        assert_eq!(
            (c.id.as_deref(), c.name.as_deref(), c.kind.as_deref()),
            (Some("call_9"), Some("apply_patch"), Some("custom"))
        );
        assert_eq!(c.arguments, Some(Content::Text("*** Begin Patch".into())));

        let mut a = Assembler::new(OPTS);
        let added = a.record(None, &json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"type": "custom_tool_call", "call_id": "call_9", "name": "apply_patch", "input": ""}}));
        assert!(added.token);
        a.record(
            None,
            &json!({"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": "*** Begin"}),
        );
        a.record(
            None,
            &json!({"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": " Patch"}),
        );
        let r = a.finish();
        assert_eq!(r.tool_calls[0].kind.as_deref(), Some("custom"));
        assert_eq!(
            r.tool_calls[0].arguments,
            Some(Content::Text("*** Begin Patch".into()))
        );

        let req = request(
            &json!({"model": "gpt-5", "input": [
                {"type": "custom_tool_call_output", "call_id": "call_9", "output": "Done"}
            ]}),
            OPTS,
        );
        assert_eq!(req.tool_results[0].call_id.as_deref(), Some("call_9"));
        assert_eq!(req.tool_results[0].text.as_deref(), Some("Done"));
    }

    /// Scenario: an `error` event in its SSE form and in its WebSocket form.
    /// Guarantees: both yield the error's type, code and message.
    #[test]
    fn error_events() {
        for v in [
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}),
            json!({"type": "error", "status": 429, "error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded", "message": "slow down"}}),
        ] {
            let mut a = Assembler::new(OPTS);
            a.record(None, &v);
            let e = a.finish().error.unwrap();
            assert_eq!(e.message.as_deref(), Some("slow down"));
            assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        }
    }

    #[test]
    fn request_items() {
        let body = json!({
            "model": "gpt-4.1", "instructions": "be nice", "stream": true,
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {"type": "function_call", "call_id": "call_7", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_7", "output": "{\"t\":3}"}
            ],
            "tools": [{"type": "function", "name": "get_weather"}],
            "max_output_tokens": 50
        });
        let r = request(&body, OPTS);
        assert_eq!(r.data.messages_count, Some(3));
        assert_eq!(r.data.has_system_prompt, Some(true));
        assert_eq!(r.tool_results[0].call_id.as_deref(), Some("call_7"));
        assert_eq!(r.data.parameters.unwrap().max_tokens, Some(50));
    }
}
