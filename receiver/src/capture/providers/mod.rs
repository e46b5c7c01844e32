//! Payload decoding of AI APIs: which API a request speaks (from its path),
//! and what its request body, response body and streamed response records
//! mean in OISP terms. One module per API family; this one holds the shared
//! shapes and the dispatch.
//!
//! These decoders are oispd's own craft (no crate reads provider payloads
//! into OISP), written against the providers' public API references.

mod anthropic;
mod common;
mod gemini;
mod ollama;
mod openai;
mod responses;

pub(crate) use common::sha256_tag;

use oispd_semconv::ai::{AiError, AiRequest, Choice, ChunkDelta, ToolCall, Usage};
use serde_json::Value;

/// An AI API, recognised from the request path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Api {
    /// OpenAI Chat Completions and every OpenAI-compatible server.
    OpenAiChat,
    /// OpenAI Responses API.
    OpenAiResponses,
    /// OpenAI (and compatible) embeddings.
    OpenAiEmbeddings,
    /// Anthropic Messages.
    AnthropicMessages,
    /// Gemini / Vertex `generateContent`.
    GeminiGenerate,
    /// Gemini / Vertex `streamGenerateContent`.
    GeminiStream,
    /// Gemini `embedContent` / `batchEmbedContents`.
    GeminiEmbed,
    /// Ollama `/api/chat`.
    OllamaChat,
    /// Ollama `/api/generate`.
    OllamaGenerate,
    /// Ollama `/api/embed` and `/api/embeddings`.
    OllamaEmbed,
}

impl Api {
    /// The API of a request, from its method and path (query ignored).
    pub(crate) fn classify(method: &str, path: &str) -> Option<Api> {
        if !method.eq_ignore_ascii_case("POST") {
            return None;
        }
        let path = path.split(['?', '#']).next().unwrap_or("");
        let path = path.trim_end_matches('/');
        if path.ends_with("/chat/completions") {
            return Some(Api::OpenAiChat);
        }
        if path.ends_with("/responses") {
            return Some(Api::OpenAiResponses);
        }
        if path == "/api/embed" || path == "/api/embeddings" {
            return Some(Api::OllamaEmbed);
        }
        if path.ends_with("/embeddings") {
            return Some(Api::OpenAiEmbeddings);
        }
        if path.ends_with("/v1/messages") {
            return Some(Api::AnthropicMessages);
        }
        if path.ends_with(":streamGenerateContent") {
            return Some(Api::GeminiStream);
        }
        if path.ends_with(":generateContent") {
            return Some(Api::GeminiGenerate);
        }
        if path.ends_with(":embedContent") || path.ends_with(":batchEmbedContents") {
            return Some(Api::GeminiEmbed);
        }
        match path {
            "/api/chat" => Some(Api::OllamaChat),
            "/api/generate" => Some(Api::OllamaGenerate),
            _ => None,
        }
    }

    /// The API spoken in the messages of a WebSocket opened by a `GET` to
    /// `path` (query ignored): the Responses API's WebSocket mode.
    pub(crate) fn classify_websocket(path: &str) -> Option<Api> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.trim_end_matches('/')
            .ends_with("/responses")
            .then_some(Api::OpenAiResponses)
    }

    /// Whether the call is an embedding call.
    pub(crate) fn is_embedding(self) -> bool {
        matches!(
            self,
            Api::OpenAiEmbeddings | Api::GeminiEmbed | Api::OllamaEmbed
        )
    }

    /// How a streamed response body is framed when the server does not say
    /// `text/event-stream`.
    pub(crate) fn stream_framing(self) -> Framing {
        match self {
            Api::OllamaChat | Api::OllamaGenerate => Framing::Ndjson,
            Api::GeminiStream => Framing::JsonArray,
            _ => Framing::Sse,
        }
    }

    /// Whether a request body of this API without its own `stream` flag
    /// is streamed: Ollama streams unless told not to.
    pub(crate) fn streams_by_default(self) -> bool {
        matches!(
            self,
            Api::OllamaChat | Api::OllamaGenerate | Api::GeminiStream
        )
    }
}

/// How a streamed body is split into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-sent events.
    Sse,
    /// One JSON document per line.
    Ndjson,
    /// A JSON array sent element by element.
    JsonArray,
    /// Records that arrive already split (WebSocket messages).
    Messages,
}

/// What the decoders may copy into events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecodeOptions {
    /// Keep message text, tool arguments and tool results (length and hash
    /// are always kept).
    pub capture_content: bool,
}

/// A tool result found in a request (a `tool` message, a `tool_result`
/// block, a `function_call_output` item, a `functionResponse` part).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ToolResultInfo {
    /// The call id it answers, when the API has ids.
    pub call_id: Option<String>,
    /// The tool name, when the API says it.
    pub name: Option<String>,
    /// The result as text.
    pub text: Option<String>,
    /// Whether the result reports an error.
    pub is_error: Option<bool>,
}

/// A decoded request.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RequestInfo {
    /// The `ai.request` data (ids, provider and auth are set by the caller).
    pub data: AiRequest,
    /// Tool results the request carries.
    pub tool_results: Vec<ToolResultInfo>,
    /// Number of inputs of an embedding request.
    pub embedding_inputs: Option<u64>,
}

/// A decoded response (plain or assembled from a stream).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ResponseInfo {
    /// Provider's id for the response.
    pub provider_request_id: Option<String>,
    /// Model that answered.
    pub model: Option<String>,
    /// Choices.
    pub choices: Vec<Choice>,
    /// Tool calls across choices.
    pub tool_calls: Vec<ToolCall>,
    /// Token usage.
    pub usage: Option<Usage>,
    /// Finish reason (OISP vocabulary).
    pub finish_reason: Option<String>,
    /// Error reported in the body.
    pub error: Option<AiError>,
    /// Number of embeddings returned.
    pub embedding_count: Option<u64>,
    /// Embedding dimensions.
    pub embedding_dimensions: Option<u64>,
}

/// What one streamed record contributed.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RecordOutcome {
    /// The delta to publish as an `ai.streaming_chunk`.
    pub delta: Option<ChunkDelta>,
    /// A finish reason the record carried.
    pub finish_reason: Option<String>,
    /// The record carried generated output (text, a tool call, reasoning).
    pub token: bool,
}

/// Decodes a request body.
pub(crate) fn decode_request(
    api: Api,
    path: &str,
    body: &Value,
    opts: DecodeOptions,
) -> RequestInfo {
    match api {
        Api::OpenAiChat => openai::chat_request(body, opts),
        Api::OpenAiEmbeddings => openai::embedding_request(body),
        Api::OpenAiResponses => responses::request(body, opts),
        Api::AnthropicMessages => anthropic::request(body, opts),
        Api::GeminiGenerate | Api::GeminiStream => gemini::request(path, body, opts),
        Api::GeminiEmbed => gemini::embedding_request(path, body),
        Api::OllamaChat => ollama::chat_request(body, opts),
        Api::OllamaGenerate => ollama::generate_request(body, opts),
        Api::OllamaEmbed => ollama::embedding_request(body),
    }
}

/// Decodes a complete (not streamed) response body.
pub(crate) fn decode_response(api: Api, body: &Value, opts: DecodeOptions) -> ResponseInfo {
    let mut info = match api {
        Api::OpenAiChat => openai::chat_response(body, opts),
        Api::OpenAiEmbeddings => openai::embedding_response(body),
        Api::OpenAiResponses => responses::response(body, opts),
        Api::AnthropicMessages => anthropic::response(body, opts),
        Api::GeminiGenerate | Api::GeminiStream => {
            // A non-streamed answer to streamGenerateContent is an array.
            let mut asm = gemini::Assembler::new(opts);
            match body {
                Value::Array(items) => items.iter().for_each(|i| {
                    asm.record(i);
                }),
                other => {
                    asm.record(other);
                }
            }
            asm.finish()
        }
        Api::GeminiEmbed => gemini::embedding_response(body),
        Api::OllamaChat | Api::OllamaGenerate => {
            let mut asm = ollama::Assembler::new(opts);
            asm.record(body);
            asm.finish()
        }
        Api::OllamaEmbed => ollama::embedding_response(body),
    };
    if info.error.is_none() {
        info.error = common::error_of(body);
    }
    info
}

/// Assembles a streamed response into one [`ResponseInfo`].
#[derive(Debug)]
pub(crate) enum Assembler {
    /// OpenAI Chat Completions chunks.
    OpenAiChat(openai::ChatAssembler),
    /// Responses API events.
    Responses(responses::Assembler),
    /// Anthropic Messages events.
    Anthropic(anthropic::Assembler),
    /// Gemini response fragments.
    Gemini(gemini::Assembler),
    /// Ollama NDJSON records.
    Ollama(ollama::Assembler),
    /// An API whose responses are not streamed: records are ignored.
    None,
}

impl Assembler {
    /// An assembler for `api`.
    pub(crate) fn new(api: Api, opts: DecodeOptions) -> Assembler {
        match api {
            Api::OpenAiChat => Assembler::OpenAiChat(openai::ChatAssembler::new(opts)),
            Api::OpenAiResponses => Assembler::Responses(responses::Assembler::new(opts)),
            Api::AnthropicMessages => Assembler::Anthropic(anthropic::Assembler::new(opts)),
            Api::GeminiGenerate | Api::GeminiStream => {
                Assembler::Gemini(gemini::Assembler::new(opts))
            }
            Api::OllamaChat | Api::OllamaGenerate => {
                Assembler::Ollama(ollama::Assembler::new(opts))
            }
            Api::OpenAiEmbeddings | Api::GeminiEmbed | Api::OllamaEmbed => Assembler::None,
        }
    }

    /// Takes one record: an SSE event (`event` name and JSON data) or one
    /// NDJSON / array element (`event` is `None`).
    pub(crate) fn record(&mut self, event: Option<&str>, json: &Value) -> RecordOutcome {
        match self {
            Assembler::OpenAiChat(a) => a.record(json),
            Assembler::Responses(a) => a.record(event, json),
            Assembler::Anthropic(a) => a.record(event, json),
            Assembler::Gemini(a) => a.record(json),
            Assembler::Ollama(a) => a.record(json),
            Assembler::None => RecordOutcome::default(),
        }
    }

    /// The assembled response.
    pub(crate) fn finish(self) -> ResponseInfo {
        match self {
            Assembler::OpenAiChat(a) => a.finish(),
            Assembler::Responses(a) => a.finish(),
            Assembler::Anthropic(a) => a.finish(),
            Assembler::Gemini(a) => a.finish(),
            Assembler::Ollama(a) => a.finish(),
            Assembler::None => ResponseInfo::default(),
        }
    }
}

/// Whether a body on a host that is not a known provider looks like an
/// AI API request: it names a model and carries a conversation or input.
pub(crate) fn looks_like_ai_request(body: &Value) -> bool {
    body.get("model").is_some_and(Value::is_string)
        && ["messages", "input", "prompt", "contents"]
            .iter()
            .any(|k| body.get(*k).is_some())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn classify_paths() {
        let c = |p| Api::classify("POST", p);
        assert_eq!(c("/v1/chat/completions"), Some(Api::OpenAiChat));
        assert_eq!(
            c("/openai/deployments/gpt4/chat/completions?api-version=2024-06-01"),
            Some(Api::OpenAiChat)
        );
        assert_eq!(c("/v1/responses"), Some(Api::OpenAiResponses));
        assert_eq!(c("/v1/embeddings"), Some(Api::OpenAiEmbeddings));
        assert_eq!(c("/v1/messages"), Some(Api::AnthropicMessages));
        assert_eq!(
            c("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"),
            Some(Api::GeminiStream)
        );
        assert_eq!(
            c("/v1beta/models/gemini-2.0-flash:generateContent"),
            Some(Api::GeminiGenerate)
        );
        assert_eq!(c("/api/chat"), Some(Api::OllamaChat));
        assert_eq!(c("/api/embed"), Some(Api::OllamaEmbed));
        assert_eq!(c("/v1/models"), None);
        assert_eq!(Api::classify("GET", "/v1/chat/completions"), None);
        assert_eq!(
            Api::classify_websocket("/v1/responses?x=1"),
            Some(Api::OpenAiResponses)
        );
        assert_eq!(Api::classify_websocket("/v1/realtime"), None);
    }
}
