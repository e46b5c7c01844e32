//! Ollama's native API: `/api/chat` and `/api/generate` (streamed as NDJSON
//! unless `"stream": false`; the last record has `done: true` and the
//! token counts) and `/api/embed` / `/api/embeddings`.

use oispd_semconv::ai::{
    AiError, AiRequest, Choice, ChunkDelta, Content, Parameters, ToolCall, Usage,
};
use serde_json::Value;

use super::common::{
    content_text, error_of, message, non_empty, note_system, num_at, openai_finish, set_messages,
    set_tools, sha256_tag, stop_list, str_at, tool_call, tool_result, u64_at,
};
use super::openai::model_info;
use super::{DecodeOptions, RecordOutcome, RequestInfo, ResponseInfo};

fn parameters(body: &Value) -> Option<Parameters> {
    let o = body.get("options").unwrap_or(&Value::Null);
    let mut p = Parameters {
        temperature: num_at(o, "temperature"),
        top_p: num_at(o, "top_p"),
        max_tokens: u64_at(o, "num_predict"),
        frequency_penalty: num_at(o, "frequency_penalty"),
        presence_penalty: num_at(o, "presence_penalty"),
        stop: stop_list(o.get("stop")),
        ..Parameters::default()
    };
    for k in ["top_k", "seed", "num_ctx"] {
        if let Some(v) = o.get(k) {
            p.extra.insert(k.into(), v.clone());
        }
    }
    non_empty(p)
}

fn streaming(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(true)
}

/// Decodes an `/api/chat` request.
pub(crate) fn chat_request(body: &Value, opts: DecodeOptions) -> RequestInfo {
    let mut data = AiRequest {
        request_type: Some("chat".into()),
        model: str_at(body, "model").map(model_info),
        streaming: Some(streaming(body)),
        parameters: parameters(body),
        ..AiRequest::default()
    };
    let mut msgs = Vec::new();
    let mut tool_results = Vec::new();
    let mut images = 0;
    data.has_system_prompt = Some(false);
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        let (text, _) = content_text(m.get("content"));
        let imgs = m
            .get("images")
            .and_then(Value::as_array)
            .map_or(0, |a| a.len() as u64);
        images += imgs;
        note_system(&mut data, role, text.as_deref());
        if role == "tool" {
            tool_results.push(tool_result(
                str_at(m, "tool_call_id"),
                str_at(m, "tool_name").or_else(|| str_at(m, "name")),
                m.get("content"),
                None,
            ));
        }
        let mut msg = message(role, text, imgs, opts.capture_content);
        msg.name = str_at(m, "tool_name");
        msgs.push(msg);
    }
    set_messages(&mut data, msgs, images);
    set_tools(&mut data, body, true);
    RequestInfo {
        data,
        tool_results,
        embedding_inputs: None,
    }
}

/// Decodes an `/api/generate` request.
pub(crate) fn generate_request(body: &Value, opts: DecodeOptions) -> RequestInfo {
    let mut msgs = Vec::new();
    let system = str_at(body, "system");
    let mut data = AiRequest {
        request_type: Some("completion".into()),
        model: str_at(body, "model").map(model_info),
        streaming: Some(streaming(body)),
        parameters: parameters(body),
        has_system_prompt: Some(system.is_some()),
        system_prompt_hash: system.as_deref().map(|s| sha256_tag(s.as_bytes())),
        ..AiRequest::default()
    };
    if let Some(s) = system {
        msgs.push(message("system", Some(s), 0, opts.capture_content));
    }
    let images = body
        .get("images")
        .and_then(Value::as_array)
        .map_or(0, |a| a.len() as u64);
    msgs.push(message(
        "user",
        str_at(body, "prompt"),
        images,
        opts.capture_content,
    ));
    data.has_images = Some(images > 0);
    data.messages_count = Some(msgs.len() as u64);
    data.messages = Some(msgs);
    RequestInfo {
        data,
        tool_results: Vec::new(),
        embedding_inputs: None,
    }
}

/// Assembles `/api/chat` and `/api/generate` records (one for a plain response).
#[derive(Debug)]
pub(crate) struct Assembler {
    opts: DecodeOptions,
    model: Option<String>,
    role: Option<String>,
    text: String,
    has_text: bool,
    calls: Vec<ToolCall>,
    usage: Option<Usage>,
    finish: Option<String>,
    error: Option<AiError>,
}

impl Assembler {
    /// An empty assembly.
    pub(crate) fn new(opts: DecodeOptions) -> Assembler {
        Assembler {
            opts,
            model: None,
            role: None,
            text: String::new(),
            has_text: false,
            calls: Vec::new(),
            usage: None,
            finish: None,
            error: None,
        }
    }

    /// Takes one record.
    pub(crate) fn record(&mut self, v: &Value) -> RecordOutcome {
        let mut out = RecordOutcome::default();
        if let Some(e) = error_of(v) {
            self.error = Some(e);
            return out;
        }
        if self.model.is_none() {
            self.model = str_at(v, "model");
        }
        let mut delta = ChunkDelta::default();
        let piece = match v.get("message") {
            Some(m) => {
                if let Some(r) = str_at(m, "role") {
                    self.role = Some(r.clone());
                    delta.role = Some(r);
                }
                let mut calls = Vec::new();
                for tc in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let f = tc.get("function").unwrap_or(&Value::Null);
                    let call = tool_call(
                        str_at(tc, "id"),
                        str_at(f, "name"),
                        f.get("arguments").cloned().map(Content::Json),
                        self.opts.capture_content,
                    );
                    calls.push(call.clone());
                    self.calls.push(call);
                }
                if !calls.is_empty() {
                    out.token = true;
                    delta.tool_calls = Some(calls);
                }
                m.get("content").and_then(Value::as_str)
            }
            None => v.get("response").and_then(Value::as_str),
        };
        if let Some(p) = piece {
            out.token |= !p.is_empty();
            self.text.push_str(p);
            self.has_text = true;
            delta.content = Some(p.to_string());
        }
        if v.get("done").and_then(Value::as_bool) == Some(true) {
            let prompt = u64_at(v, "prompt_eval_count");
            let completion = u64_at(v, "eval_count");
            self.usage = Some(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: match (prompt, completion) {
                    (Some(p), Some(c)) => Some(p + c),
                    (p, c) => p.or(c),
                },
                ..Usage::default()
            });
            let f = if self.calls.is_empty() {
                openai_finish(
                    v.get("done_reason")
                        .and_then(Value::as_str)
                        .unwrap_or("stop"),
                )
            } else {
                "tool_calls".to_string()
            };
            self.finish = Some(f.clone());
            out.finish_reason = Some(f);
        }
        out.delta = Some(delta);
        out
    }

    /// The assembled response.
    pub(crate) fn finish(self) -> ResponseInfo {
        let role = self.role.as_deref().unwrap_or("assistant");
        ResponseInfo {
            model: self.model,
            usage: self.usage,
            finish_reason: self.finish.clone(),
            error: self.error,
            choices: vec![Choice {
                index: Some(0),
                message: Some(message(
                    role,
                    self.has_text.then_some(self.text),
                    0,
                    self.opts.capture_content,
                )),
                finish_reason: self.finish,
                ..Choice::default()
            }],
            tool_calls: self.calls,
            ..ResponseInfo::default()
        }
    }
}

/// Decodes an `/api/embed` or `/api/embeddings` request.
pub(crate) fn embedding_request(body: &Value) -> RequestInfo {
    let inputs = match body.get("input").or_else(|| body.get("prompt")) {
        Some(Value::Array(a)) => a.len() as u64,
        Some(Value::Null) | None => 0,
        Some(_) => 1,
    };
    RequestInfo {
        data: AiRequest {
            request_type: Some("embedding".into()),
            model: str_at(body, "model").map(model_info),
            streaming: Some(false),
            ..AiRequest::default()
        },
        tool_results: Vec::new(),
        embedding_inputs: Some(inputs),
    }
}

/// Decodes an embedding response.
pub(crate) fn embedding_response(body: &Value) -> ResponseInfo {
    let (count, dims) = if let Some(list) = body.get("embeddings").and_then(Value::as_array) {
        (
            Some(list.len() as u64),
            list.first()
                .and_then(Value::as_array)
                .map(|v| v.len() as u64),
        )
    } else if let Some(e) = body.get("embedding").and_then(Value::as_array) {
        (Some(1), Some(e.len() as u64))
    } else {
        (None, None)
    };
    let prompt = u64_at(body, "prompt_eval_count");
    ResponseInfo {
        model: str_at(body, "model"),
        embedding_count: count,
        embedding_dimensions: dims,
        usage: prompt.map(|p| Usage {
            prompt_tokens: Some(p),
            total_tokens: Some(p),
            ..Usage::default()
        }),
        ..ResponseInfo::default()
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

    /// Scenario: NDJSON records of a streamed chat, the last with counts.
    /// Guarantees: text assembled, usage summed, finish reason mapped.
    #[test]
    fn stream_records() {
        let mut a = Assembler::new(OPTS);
        a.record(&json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Hi"}, "done": false}));
        a.record(&json!({"model": "llama3.2", "message": {"role": "assistant", "content": " there"}, "done": false}));
        let last = a.record(&json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 7}));
        assert_eq!(last.finish_reason.as_deref(), Some("stop"));
        let r = a.finish();
        assert_eq!(
            r.choices[0].message.as_ref().unwrap().content,
            Some(Content::Text("Hi there".into()))
        );
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (Some(26), Some(7), Some(33))
        );
    }

    #[test]
    fn chat_request_defaults_to_streaming() {
        let r = chat_request(
            &json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}),
            OPTS,
        );
        assert_eq!(r.data.streaming, Some(true));
        let r = chat_request(
            &json!({"model": "llama3.2", "stream": false, "messages": []}),
            OPTS,
        );
        assert_eq!(r.data.streaming, Some(false));
    }
}
