//! Helpers shared by the payload decoders: reading JSON leniently, content
//! hashing, message building, and mapping provider vocabularies (roles,
//! finish reasons, tool types) onto the OISP enums.

use oispd_semconv::ai::{
    AiError, AiRequest, Content, Message, Parameters, ToolCall, ToolDefinition,
};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use super::ToolResultInfo;

/// `sha256:` and the hex SHA-256 of `bytes`.
pub(crate) fn sha256_tag(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A string field.
pub(crate) fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A non-negative integer field (integers sent as floats are accepted).
pub(crate) fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(as_u64)
}

/// A value as a non-negative integer.
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    })
}

/// A number field, kept in its JSON form.
pub(crate) fn num_at(v: &Value, key: &str) -> Option<Number> {
    match v.get(key) {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    }
}

/// Stop sequences given as a string or an array of strings.
pub(crate) fn stop_list(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

/// Whether `params` carries anything.
pub(crate) fn non_empty(params: Parameters) -> Option<Parameters> {
    let empty = params.temperature.is_none()
        && params.top_p.is_none()
        && params.max_tokens.is_none()
        && params.frequency_penalty.is_none()
        && params.presence_penalty.is_none()
        && params.stop.is_none()
        && params.extra.is_empty();
    (!empty).then_some(params)
}

/// Copies the scalar fields `keys` of `body` into `extra` when present.
pub(crate) fn copy_scalars(body: &Value, keys: &[&str], extra: &mut Map<String, Value>) {
    for key in keys {
        if let Some(v) = body.get(*key) {
            if v.is_number() || v.is_string() || v.is_boolean() {
                extra.insert((*key).to_string(), v.clone());
            }
        }
    }
}

/// The OISP role for a provider's role name.
pub(crate) fn norm_role(role: &str) -> &'static str {
    match role {
        "system" | "developer" => "system",
        "assistant" | "model" => "assistant",
        "tool" | "ipython" => "tool",
        "function" => "function",
        _ => "user",
    }
}

/// The text and image count of message content given as a string or as
/// an array of parts (OpenAI, Anthropic, Responses API shapes).
pub(crate) fn content_text(content: Option<&Value>) -> (Option<String>, u64) {
    match content {
        None | Some(Value::Null) => (None, 0),
        Some(Value::String(s)) => (Some(s.clone()), 0),
        Some(Value::Array(parts)) => {
            let mut texts: Vec<&str> = Vec::new();
            let mut images = 0;
            for part in parts {
                if let Some(s) = part.as_str() {
                    texts.push(s);
                    continue;
                }
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
                match kind {
                    "image_url" | "image" | "input_image" => images += 1,
                    _ => {
                        if let Some(t) = part.get("text").and_then(Value::as_str) {
                            texts.push(t);
                        }
                    }
                }
            }
            if texts.is_empty() {
                (None, images)
            } else {
                (Some(texts.join("\n")), images)
            }
        }
        Some(other) => (Some(other.to_string()), 0),
    }
}

/// Builds an OISP message; `capture` decides whether the text itself is kept
/// (length and hash are always set).
pub(crate) fn message(role: &str, text: Option<String>, images: u64, capture: bool) -> Message {
    let mut m = Message {
        role: norm_role(role).to_string(),
        ..Message::default()
    };
    if let Some(text) = text {
        m.content_length = Some(text.chars().count() as u64);
        m.content_hash = Some(sha256_tag(text.as_bytes()));
        if capture {
            m.content = Some(Content::Text(text));
        }
    }
    if images > 0 {
        m.has_images = Some(true);
        m.image_count = Some(images);
    }
    m
}

/// Flags a request's leading system prompt (Anthropic `system`, Responses
/// `instructions`, Gemini `systemInstruction`), hashes it and pushes it as
/// the first message.
pub(crate) fn leading_system(
    data: &mut AiRequest,
    msgs: &mut Vec<Message>,
    system: Option<String>,
    capture: bool,
) {
    data.has_system_prompt = Some(system.is_some());
    if let Some(s) = system {
        data.system_prompt_hash = Some(sha256_tag(s.as_bytes()));
        msgs.push(message("system", Some(s), 0, capture));
    }
}

/// Takes the first system-role message of a conversation as the request's
/// system prompt.
pub(crate) fn note_system(data: &mut AiRequest, role: &str, text: Option<&str>) {
    if norm_role(role) == "system" && data.has_system_prompt != Some(true) {
        data.has_system_prompt = Some(true);
        data.system_prompt_hash = text.map(|t| sha256_tag(t.as_bytes()));
    }
}

/// Sets a request's messages, their count and its image totals.
pub(crate) fn set_messages(data: &mut AiRequest, msgs: Vec<Message>, images: u64) {
    data.messages_count = Some(msgs.len() as u64);
    data.messages = Some(msgs);
    data.has_images = Some(images > 0);
    if images > 0 {
        data.image_count = Some(images);
    }
}

/// Sets the tools offered by the `tools` array of a request, if any. With
/// `wrapped`, name and description sit in a `function` object when there is
/// one (Chat Completions shape); otherwise on the tool itself.
pub(crate) fn set_tools(data: &mut AiRequest, body: &Value, wrapped: bool) {
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let defs: Vec<_> = tools
            .iter()
            .map(|t| {
                let f = if wrapped {
                    t.get("function").unwrap_or(t)
                } else {
                    t
                };
                tool_def(
                    str_at(f, "name"),
                    t.get("type").and_then(Value::as_str).unwrap_or("function"),
                    str_at(f, "description"),
                )
            })
            .collect();
        data.tools_count = Some(defs.len() as u64);
        data.tools = Some(defs);
    }
}

/// Tool call arguments: a JSON object when the text parses as one, the text otherwise.
pub(crate) fn arguments(text: &str) -> Content {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Content::Json(v),
        _ => Content::Text(text.to_string()),
    }
}

/// A tool call the model asked for.
pub(crate) fn tool_call(
    id: Option<String>,
    name: Option<String>,
    args: Option<Content>,
    capture: bool,
) -> ToolCall {
    let hash = args.as_ref().map(|a| match a {
        Content::Text(t) => sha256_tag(t.as_bytes()),
        other => sha256_tag(serde_json::to_string(other).unwrap_or_default().as_bytes()),
    });
    ToolCall {
        id,
        name,
        kind: Some("function".to_string()),
        arguments: if capture { args } else { None },
        arguments_hash: hash,
        ..ToolCall::default()
    }
}

/// A tool offered to the model.
pub(crate) fn tool_def(
    name: Option<String>,
    kind: &str,
    description: Option<String>,
) -> ToolDefinition {
    let kind = match kind {
        "function" | "custom" | "" => "function",
        "code_interpreter" | "code_execution" => "code_interpreter",
        "file_search" => "file_search",
        k if k.starts_with("computer") => "computer_use",
        _ => "other",
    };
    ToolDefinition {
        name,
        kind: Some(kind.to_string()),
        description,
        ..ToolDefinition::default()
    }
}

/// A tool result carried by a request.
pub(crate) fn tool_result(
    call_id: Option<String>,
    name: Option<String>,
    content: Option<&Value>,
    is_error: Option<bool>,
) -> ToolResultInfo {
    let text = match content {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ Value::Array(_)) => content_text(Some(v)).0.or_else(|| Some(v.to_string())),
        Some(v) => Some(v.to_string()),
    };
    ToolResultInfo {
        call_id,
        name,
        text,
        is_error,
    }
}

/// OpenAI-style finish reasons (also used by Ollama and OpenAI-compatible servers).
pub(crate) fn openai_finish(reason: &str) -> String {
    match reason {
        "stop" | "end_turn" | "eos" => "stop",
        "length" | "max_tokens" => "length",
        "tool_calls" | "function_call" => "tool_calls",
        "content_filter" => "content_filter",
        "error" => "error",
        _ => "other",
    }
    .to_string()
}

/// The error object of a failed call, in the OpenAI (`{"error": {...}}`),
/// Anthropic (`{"type": "error", "error": {...}}`) or Google
/// (`{"error": {"code", "message", "status"}}`) shape.
pub(crate) fn error_of(body: &Value) -> Option<AiError> {
    let e = body.get("error")?;
    if let Some(msg) = e.as_str() {
        return Some(AiError {
            message: Some(msg.to_string()),
            ..AiError::default()
        });
    }
    if !e.is_object() {
        return None;
    }
    let code = match e.get("code") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(AiError {
        kind: str_at(e, "type").or_else(|| str_at(e, "status")),
        message: str_at(e, "message"),
        code,
        ..AiError::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_parts_and_images() {
        let parts = json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:..."}},
            {"type": "text", "text": "here"}
        ]);
        assert_eq!(content_text(Some(&parts)), (Some("look\nhere".into()), 1));
        let m = message("developer", Some("héllo".into()), 0, false);
        assert_eq!(m.role, "system");
        assert_eq!(m.content_length, Some(5));
        assert!(m.content.is_none());
        assert!(m.content_hash.unwrap().starts_with("sha256:"));
    }

    #[test]
    fn errors_in_every_shape() {
        let openai =
            json!({"error": {"message": "bad", "type": "invalid_request_error", "code": "x"}});
        assert_eq!(
            error_of(&openai).unwrap().kind.as_deref(),
            Some("invalid_request_error")
        );
        let google = json!({"error": {"code": 400, "message": "m", "status": "INVALID_ARGUMENT"}});
        let g = error_of(&google).unwrap();
        assert_eq!(g.code.as_deref(), Some("400"));
        assert_eq!(g.kind.as_deref(), Some("INVALID_ARGUMENT"));
        assert!(error_of(&json!({"ok": true})).is_none());
    }
}
