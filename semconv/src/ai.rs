//! The `data` of AI events: `ai.request`, `ai.response`,
//! `ai.streaming_chunk` and `ai.embedding`, with their building blocks
//! (provider, model, auth, messages, tools, usage, redaction markers), as
//! `schema/v0.1/events/ai.schema.json` defines them.
//!
//! Schema `number` fields are [`serde_json::Number`] so that `1` and `1.0`
//! both come back exactly as they were read.

use crate::common::Extra;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// AI provider identification (`$defs/provider_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// Canonical provider name. The schema allows `openai`, `anthropic`,
    /// `google`, `azure_openai`, `aws_bedrock`, `cohere`, `mistral`, `groq`,
    /// `together`, `fireworks`, `replicate`, `huggingface`, `ollama`,
    /// `lmstudio`, `vllm` and `other` (see
    /// [`crate::providers::ProviderMatch::oisp_name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// oispd's extension: the provider catalogue id when `name` cannot say
    /// it (`deepseek` behind `name: other`). The schema allows extra keys here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Endpoint URL (`https://api.openai.com/v1/chat/completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Provider region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Organization id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ProviderInfo {
    /// The most precise provider id: `id` when set, else `name`.
    pub fn provider_id(&self) -> Option<&str> {
        self.id.as_deref().or(self.name.as_deref())
    }
}

/// Model identification (`$defs/model_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model id as sent or returned (`gpt-4o`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Model family (`gpt-4o`, `claude-3-5-sonnet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Version or snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Known capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<ModelCapabilities>,
    /// Context window in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Maximum output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Known model capabilities.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCapabilities {
    /// Image input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<bool>,
    /// Function calling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_calling: Option<bool>,
    /// Streaming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// JSON mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_mode: Option<bool>,
    /// System messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_messages: Option<bool>,
    /// Reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    /// Web search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    /// Code execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_execution: Option<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Authentication of an AI request, without the credential itself (`$defs/auth_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// `api_key`, `oauth`, `service_account`, `session`, `none`, `unknown`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `personal`, `corporate`, `shared`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// First characters of the key (at most 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Hash of the full key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Content that may be plain text, a redaction marker, or (for tool
/// arguments and results) any JSON value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// `{"$redacted": {...}}`.
    Redacted(Box<RedactedContent>),
    /// Any other JSON (an object of tool arguments, an array result, ...).
    Json(Value),
}

/// Marker that replaces redacted content (`$defs/redacted_content`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RedactedContent {
    /// What was redacted and why.
    #[serde(rename = "$redacted")]
    pub redacted: Redaction,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Details of a redaction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Redaction {
    /// Why (`pii_detected`, `secret_detected`, `policy`, `default_safe`).
    pub reason: String,
    /// Detector that triggered it (`regex_api_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// Length of the original content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_length: Option<u64>,
    /// Hash of the original content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Safe preview (at most 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Redaction profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction_profile: Option<String>,
    /// What was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<RedactionFinding>>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One kind of finding that caused a redaction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RedactionFinding {
    /// Finding type (`email`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// How many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A conversation message (`$defs/message`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool`, `function`.
    pub role: String,
    /// Content (text or redaction marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Hash of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Content length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
    /// Contains images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_images: Option<bool>,
    /// Number of images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_count: Option<u64>,
    /// Tool call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Function or tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool offered to the model (`$defs/tool_definition`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `function`, `code_interpreter`, `file_search`, `computer_use`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool call made by the model (`$defs/tool_call`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Call type (`function`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Arguments: a JSON string, an object or a redaction marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Content>,
    /// Hash of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments_hash: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token usage and cost (`$defs/usage`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Total tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Input tokens served from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Input tokens written to the prompt cache (Anthropic's
    /// `cache_creation_input_tokens`), billed at the cache-write price. Not
    /// in the OISP v0.1 schema, whose `usage` allows further keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_tokens: Option<u64>,
    /// Reasoning tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Estimated input cost in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_usd: Option<Number>,
    /// Estimated output cost in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_usd: Option<Number>,
    /// Estimated total cost in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<Number>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Model parameters of a request (`request.parameters`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// Maximum output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<Number>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<Number>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Unknown keys (other parameters the client sent).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ai.request`: an AI API request (`$defs/request`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AiRequest {
    /// Request id (links the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Conversation thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderInfo>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelInfo>,
    /// Authentication, without the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthInfo>,
    /// `chat`, `completion`, `embedding`, `image`, `audio`, `moderation`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// Streaming requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// Messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Number of messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_count: Option<u64>,
    /// A system prompt was included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_system_prompt: Option<bool>,
    /// Hash of the system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt_hash: Option<String>,
    /// Tools offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDefinition>>,
    /// Number of tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_count: Option<u64>,
    /// Tool choice (`auto`, `none`, `required`, `specific`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<String>,
    /// Model parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// RAG context detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_rag_context: Option<bool>,
    /// Images included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_images: Option<bool>,
    /// Number of images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_count: Option<u64>,
    /// Estimated prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_tokens: Option<u64>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Error of a failed AI call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AiError {
    /// Error type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One response choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// `stop`, `length`, `tool_calls`, `content_filter`, `error`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ai.response`: an AI API response (`$defs/response`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AiResponse {
    /// Request id of the matching `ai.request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Conversation thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Provider's response id (`chatcmpl-...`, `msg_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_request_id: Option<String>,
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderInfo>,
    /// Model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelInfo>,
    /// HTTP status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Error of a failed call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AiError>,
    /// Choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
    /// Tool calls the model asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Number of tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls_count: Option<u64>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Total response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Time to first token in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<u64>,
    /// Served from a cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was_cached: Option<bool>,
    /// `stop`, `length`, `tool_calls`, `content_filter`, `error`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

impl AiResponse {
    /// True when the response reports a failure: `success: false`, an
    /// `error` object, or an HTTP status of 400 or more.
    pub fn is_error(&self) -> bool {
        self.success == Some(false)
            || self.error.is_some()
            || self.status_code.is_some_and(|s| s >= 400)
    }
}

/// Delta of a streaming chunk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkDelta {
    /// Text delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Tool call deltas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ai.streaming_chunk`: one chunk of a streamed response (`$defs/streaming_chunk`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AiStreamingChunk {
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Chunk index, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_index: Option<u64>,
    /// Delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<ChunkDelta>,
    /// Finish reason on the last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ai.embedding`: an embedding call (`$defs/embedding`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AiEmbedding {
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderInfo>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelInfo>,
    /// Number of inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_count: Option<u64>,
    /// Tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Embedding dimensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u64>,
    /// Latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}
