//! Google Gemini and Vertex AI `generateContent` / `streamGenerateContent`
//! (the stream is a JSON array, or SSE with `alt=sse`; each element is a
//! response fragment) and `embedContent` / `batchEmbedContents`. The model
//! is named in the path (`models/{model}:generateContent`).

use std::collections::BTreeMap;

use oispd_semconv::ai::{
    AiError, AiRequest, Choice, ChunkDelta, Content, Parameters, ToolCall, Usage,
};
use serde_json::Value;

use super::common::{
    error_of, leading_system, message, non_empty, norm_role, num_at, set_messages, stop_list,
    str_at, tool_call, tool_def, tool_result, u64_at,
};
use super::openai::model_info;
use super::{DecodeOptions, RecordOutcome, RequestInfo, ResponseInfo};

/// The model named in a Gemini path: the segment after `models/` up to `:`.
pub(crate) fn model_from_path(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or("");
    let rest = &path[path.find("/models/")? + "/models/".len()..];
    let model = rest.split(':').next().unwrap_or("");
    (!model.is_empty()).then(|| model.to_string())
}

/// Text, images, function calls and function responses of a `parts` array.
struct Parts {
    text: Option<String>,
    images: u64,
    calls: Vec<(Option<String>, Option<String>, Option<Value>)>,
    responses: Vec<(Option<String>, Option<String>, Option<Value>)>,
}

fn parts(content: &Value) -> Parts {
    let mut texts = Vec::new();
    let mut p = Parts {
        text: None,
        images: 0,
        calls: Vec::new(),
        responses: Vec::new(),
    };
    for part in content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            texts.push(t.to_string());
        }
        if let Some(d) = part.get("inlineData").or_else(|| part.get("inline_data")) {
            let mime = d
                .get("mimeType")
                .or_else(|| d.get("mime_type"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if mime.starts_with("image/") {
                p.images += 1;
            }
        }
        if let Some(fc) = part
            .get("functionCall")
            .or_else(|| part.get("function_call"))
        {
            p.calls.push((
                str_at(fc, "id"),
                str_at(fc, "name"),
                fc.get("args").cloned(),
            ));
        }
        if let Some(fr) = part
            .get("functionResponse")
            .or_else(|| part.get("function_response"))
        {
            p.responses.push((
                str_at(fr, "id"),
                str_at(fr, "name"),
                fr.get("response").cloned(),
            ));
        }
    }
    if !texts.is_empty() {
        p.text = Some(texts.concat());
    }
    p
}

/// Decodes a `generateContent` / `streamGenerateContent` request.
pub(crate) fn request(path: &str, body: &Value, opts: DecodeOptions) -> RequestInfo {
    let stream = path.contains(":streamGenerateContent");
    let mut data = AiRequest {
        request_type: Some("chat".into()),
        model: model_from_path(path)
            .or_else(|| str_at(body, "model"))
            .map(model_info),
        streaming: Some(stream),
        ..AiRequest::default()
    };
    let mut msgs = Vec::new();
    let system = body
        .get("systemInstruction")
        .or_else(|| body.get("system_instruction"))
        .map(parts)
        .and_then(|p| p.text);
    leading_system(&mut data, &mut msgs, system, opts.capture_content);
    let mut tool_results = Vec::new();
    let mut images = 0;
    for c in body
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = parts(c);
        images += p.images;
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        let role = if p.responses.is_empty() {
            norm_role(role)
        } else {
            "tool"
        };
        for (id, name, resp) in &p.responses {
            tool_results.push(tool_result(id.clone(), name.clone(), resp.as_ref(), None));
        }
        msgs.push(message(role, p.text, p.images, opts.capture_content));
    }
    set_messages(&mut data, msgs, images);
    let mut defs = Vec::new();
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let decls = t
            .get("functionDeclarations")
            .or_else(|| t.get("function_declarations"))
            .and_then(Value::as_array);
        match decls {
            Some(decls) => defs.extend(
                decls
                    .iter()
                    .map(|d| tool_def(str_at(d, "name"), "function", str_at(d, "description"))),
            ),
            None => {
                let kind = t
                    .as_object()
                    .and_then(|o| o.keys().next())
                    .map_or("other", |k| {
                        if k == "codeExecution" {
                            "code_interpreter"
                        } else {
                            "other"
                        }
                    });
                let name = t.as_object().and_then(|o| o.keys().next()).cloned();
                defs.push(tool_def(name, kind, None));
            }
        }
    }
    if !defs.is_empty() {
        data.tools_count = Some(defs.len() as u64);
        data.tools = Some(defs);
    }
    if let Some(mode) = body
        .get("toolConfig")
        .and_then(|c| c.get("functionCallingConfig"))
        .and_then(|c| c.get("mode"))
        .and_then(Value::as_str)
    {
        data.tool_choice = Some(
            match mode {
                "ANY" => "required",
                "NONE" => "none",
                _ => "auto",
            }
            .into(),
        );
    }
    let g = body
        .get("generationConfig")
        .or_else(|| body.get("generation_config"))
        .unwrap_or(&Value::Null);
    let mut p = Parameters {
        temperature: num_at(g, "temperature"),
        top_p: num_at(g, "topP"),
        max_tokens: u64_at(g, "maxOutputTokens"),
        frequency_penalty: num_at(g, "frequencyPenalty"),
        presence_penalty: num_at(g, "presencePenalty"),
        stop: stop_list(g.get("stopSequences")),
        ..Parameters::default()
    };
    for (from, to) in [("topK", "top_k"), ("candidateCount", "n"), ("seed", "seed")] {
        if let Some(v) = g.get(from) {
            p.extra.insert(to.into(), v.clone());
        }
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
    let completion = u64_at(u, "candidatesTokenCount");
    let thoughts = u64_at(u, "thoughtsTokenCount");
    Some(Usage {
        prompt_tokens: u64_at(u, "promptTokenCount"),
        // Thinking tokens are billed as output.
        completion_tokens: match (completion, thoughts) {
            (Some(c), Some(t)) => Some(c + t),
            (c, t) => c.or(t),
        },
        total_tokens: u64_at(u, "totalTokenCount"),
        cached_tokens: u64_at(u, "cachedContentTokenCount"),
        reasoning_tokens: thoughts,
        ..Usage::default()
    })
}

fn finish(reason: &str) -> String {
    match reason {
        "STOP" => "stop",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        "MALFORMED_FUNCTION_CALL" => "error",
        _ => "other",
    }
    .to_string()
}

#[derive(Debug, Default)]
struct Candidate {
    text: String,
    has_text: bool,
    finish: Option<String>,
}

/// Assembles Gemini response fragments (one fragment for a plain response).
#[derive(Debug)]
pub(crate) struct Assembler {
    opts: DecodeOptions,
    id: Option<String>,
    model: Option<String>,
    usage: Option<Usage>,
    candidates: BTreeMap<u64, Candidate>,
    calls: Vec<ToolCall>,
    error: Option<AiError>,
}

impl Assembler {
    /// An empty assembly.
    pub(crate) fn new(opts: DecodeOptions) -> Assembler {
        Assembler {
            opts,
            id: None,
            model: None,
            usage: None,
            candidates: BTreeMap::new(),
            calls: Vec::new(),
            error: None,
        }
    }

    /// Takes one fragment.
    pub(crate) fn record(&mut self, v: &Value) -> RecordOutcome {
        let mut out = RecordOutcome::default();
        if let Some(e) = error_of(v) {
            self.error = Some(e);
            return out;
        }
        if let Some(id) = str_at(v, "responseId") {
            self.id = Some(id);
        }
        if let Some(m) = str_at(v, "modelVersion") {
            self.model = Some(m);
        }
        if let Some(u) = v.get("usageMetadata").and_then(usage) {
            self.usage = Some(u);
        }
        for (i, c) in v
            .get("candidates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = u64_at(c, "index").unwrap_or(i as u64);
            let cand = self.candidates.entry(index).or_default();
            let p = c.get("content").map(parts);
            let mut delta = ChunkDelta::default();
            if let Some(p) = p {
                if let Some(t) = p.text {
                    out.token |= !t.is_empty();
                    cand.text.push_str(&t);
                    cand.has_text = true;
                    delta.content = Some(t);
                }
                let mut calls = Vec::new();
                for (id, name, args) in p.calls {
                    out.token = true;
                    let call =
                        tool_call(id, name, args.map(Content::Json), self.opts.capture_content);
                    calls.push(call.clone());
                    self.calls.push(call);
                }
                if !calls.is_empty() {
                    delta.tool_calls = Some(calls);
                }
            }
            if let Some(f) = c.get("finishReason").and_then(Value::as_str) {
                let f = finish(f);
                cand.finish = Some(f.clone());
                out.finish_reason = Some(f);
            }
            if index == 0 {
                out.delta = Some(delta);
            }
        }
        out
    }

    /// The assembled response.
    pub(crate) fn finish(self) -> ResponseInfo {
        let mut info = ResponseInfo {
            provider_request_id: self.id,
            model: self.model,
            usage: self.usage,
            error: self.error,
            tool_calls: self.calls,
            ..ResponseInfo::default()
        };
        for (index, c) in self.candidates {
            if info.finish_reason.is_none() {
                info.finish_reason.clone_from(&c.finish);
            }
            info.choices.push(Choice {
                index: Some(index),
                message: Some(message(
                    "assistant",
                    c.has_text.then_some(c.text),
                    0,
                    self.opts.capture_content,
                )),
                finish_reason: c.finish,
                ..Choice::default()
            });
        }
        if !info.tool_calls.is_empty() && info.finish_reason.as_deref() == Some("stop") {
            info.finish_reason = Some("tool_calls".into());
        }
        info
    }
}

/// Decodes an `embedContent` / `batchEmbedContents` request.
pub(crate) fn embedding_request(path: &str, body: &Value) -> RequestInfo {
    let inputs = body
        .get("requests")
        .and_then(Value::as_array)
        .map_or(1, |r| r.len() as u64);
    RequestInfo {
        data: AiRequest {
            request_type: Some("embedding".into()),
            model: model_from_path(path).map(model_info),
            streaming: Some(false),
            ..AiRequest::default()
        },
        tool_results: Vec::new(),
        embedding_inputs: Some(inputs),
    }
}

/// Decodes an embedding response.
pub(crate) fn embedding_response(body: &Value) -> ResponseInfo {
    let values = |e: &Value| {
        e.get("values")
            .and_then(Value::as_array)
            .map(|v| v.len() as u64)
    };
    let (count, dims) = if let Some(e) = body.get("embedding") {
        (Some(1), values(e))
    } else if let Some(list) = body.get("embeddings").and_then(Value::as_array) {
        (Some(list.len() as u64), list.first().and_then(values))
    } else {
        (None, None)
    };
    ResponseInfo {
        embedding_count: count,
        embedding_dimensions: dims,
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

    #[test]
    fn request_fields() {
        let body = json!({
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 20}}}]}
            ],
            "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "w"}]}],
            "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64, "topK": 3}
        });
        let r = request(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            &body,
            OPTS,
        );
        assert_eq!(
            r.data.model.unwrap().id.as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(r.data.streaming, Some(true));
        assert_eq!(r.data.messages_count, Some(4));
        assert_eq!(r.data.messages.unwrap()[3].role, "tool");
        assert_eq!(r.data.tools_count, Some(1));
        assert_eq!(r.data.parameters.unwrap().max_tokens, Some(64));
        assert_eq!(r.tool_results[0].name.as_deref(), Some("get_weather"));
    }

    /// Scenario: three stream fragments, the last with usage and finish reason.
    /// Guarantees: the text is concatenated, usage and finish taken from the end.
    #[test]
    fn stream_fragments() {
        let mut a = Assembler::new(OPTS);
        a.record(&json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}], "modelVersion": "gemini-2.5-flash", "responseId": "r1"}));
        a.record(&json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "index": 0}]}));
        a.record(&json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}}));
        let r = a.finish();
        assert_eq!(r.provider_request_id.as_deref(), Some("r1"));
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            r.choices[0].message.as_ref().unwrap().content,
            Some(Content::Text("Hello".into()))
        );
        assert_eq!(r.usage.unwrap().total_tokens, Some(6));
    }

    #[test]
    fn model_in_vertex_path() {
        assert_eq!(
            model_from_path("/v1/projects/p/locations/us/publishers/google/models/gemini-2.0-flash:generateContent"),
            Some("gemini-2.0-flash".into())
        );
    }
}
