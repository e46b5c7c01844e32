//! Attribute names (and well-known values) of the conventions oispd speaks:
//!
//! - [`oisp`]: the OISP semantic conventions (`ai.*`, `agent.*`) plus
//!   `oisp.*` envelope attributes;
//! - [`gen_ai`]: the OpenTelemetry GenAI semantic conventions (`gen_ai.*`);
//! - [`otel`]: general OpenTelemetry attributes used on process, file and
//!   network events (`server.address`, `file.path`, ...);
//! - [`sentinel`]: oispd's sentinel processor (`ai.sentinel.*`);
//! - [`resource`]: OpenTelemetry resource attributes (`host.name`, `process.pid`, ...).
//!
//! [`gen_ai_provider_name`] and [`gen_ai_operation_name`] translate OISP
//! values to the GenAI conventions' well-known values.

/// OISP semantic conventions: `ai.*`, `agent.*`, and envelope attributes.
pub mod oisp {
    /// Provider id (`openai`, `anthropic`, `ollama`).
    pub const AI_PROVIDER: &str = "ai.provider";
    /// Provider endpoint URL.
    pub const AI_PROVIDER_ENDPOINT: &str = "ai.provider.endpoint";
    /// Provider region.
    pub const AI_PROVIDER_REGION: &str = "ai.provider.region";
    /// Model id as requested (or as answered on a response).
    pub const AI_MODEL_ID: &str = "ai.model.id";
    /// Model family (`gpt-4o`).
    pub const AI_MODEL_FAMILY: &str = "ai.model.family";
    /// Request type (`chat`, `completion`, `embedding`, ...).
    pub const AI_REQUEST_TYPE: &str = "ai.request_type";
    /// Request id linking request and response.
    pub const AI_REQUEST_ID: &str = "ai.request_id";
    /// Conversation id.
    pub const AI_CONVERSATION_ID: &str = "ai.conversation_id";
    /// Streaming requested.
    pub const AI_STREAMING: &str = "ai.streaming";
    /// Number of messages in the request.
    pub const AI_MESSAGES_COUNT: &str = "ai.messages_count";
    /// A system prompt was present.
    pub const AI_HAS_SYSTEM_PROMPT: &str = "ai.has_system_prompt";
    /// Number of tools offered.
    pub const AI_TOOLS_COUNT: &str = "ai.tools_count";
    /// Authentication type (`api_key`, `oauth`, ...).
    pub const AI_AUTH_TYPE: &str = "ai.auth.type";
    /// Prompt (input) tokens.
    pub const AI_TOKENS_PROMPT: &str = "ai.tokens.prompt";
    /// Completion (output) tokens.
    pub const AI_TOKENS_COMPLETION: &str = "ai.tokens.completion";
    /// Total tokens.
    pub const AI_TOKENS_TOTAL: &str = "ai.tokens.total";
    /// Input tokens served from the prompt cache.
    pub const AI_TOKENS_CACHED: &str = "ai.tokens.cached";
    /// Reasoning tokens.
    pub const AI_TOKENS_REASONING: &str = "ai.tokens.reasoning";
    /// Estimated total cost in USD.
    pub const AI_COST_TOTAL_USD: &str = "ai.cost.total_usd";
    /// Total latency of the call in milliseconds.
    pub const AI_LATENCY_MS: &str = "ai.latency_ms";
    /// Time to first token in milliseconds.
    pub const AI_TIME_TO_FIRST_TOKEN_MS: &str = "ai.time_to_first_token_ms";
    /// HTTP status code of the response.
    pub const AI_STATUS_CODE: &str = "ai.status_code";
    /// The call succeeded.
    pub const AI_SUCCESS: &str = "ai.success";
    /// Error type of a failed call.
    pub const AI_ERROR_TYPE: &str = "ai.error.type";
    /// Finish reason.
    pub const AI_FINISH_REASON: &str = "ai.finish_reason";
    /// Number of tool calls the model asked for.
    pub const AI_TOOL_CALLS_COUNT: &str = "ai.tool_calls_count";
    /// Provider's response id.
    pub const AI_PROVIDER_REQUEST_ID: &str = "ai.provider_request_id";
    /// Index of a streaming chunk.
    pub const AI_CHUNK_INDEX: &str = "ai.chunk_index";
    /// Embedding dimensions.
    pub const AI_EMBEDDING_DIMENSIONS: &str = "ai.embedding.dimensions";
    /// Number of inputs embedded.
    pub const AI_EMBEDDING_INPUT_COUNT: &str = "ai.embedding.input_count";

    /// Agent name.
    pub const AGENT_NAME: &str = "agent.name";
    /// Agent session id.
    pub const AGENT_SESSION_ID: &str = "agent.session_id";
    /// Tool name.
    pub const AGENT_TOOL_NAME: &str = "agent.tool.name";
    /// Tool category (`file_read`, `shell`, ...).
    pub const AGENT_TOOL_TYPE: &str = "agent.tool.type";
    /// Tool provider (`mcp`, `native`).
    pub const AGENT_TOOL_PROVIDER: &str = "agent.tool.provider";
    /// Tool call id.
    pub const AGENT_TOOL_CALL_ID: &str = "agent.tool.call_id";
    /// MCP server of the tool.
    pub const AGENT_MCP_SERVER: &str = "agent.mcp_server";
    /// Risk level of a tool call.
    pub const AGENT_RISK_LEVEL: &str = "agent.risk_level";
    /// Tool execution succeeded.
    pub const AGENT_TOOL_SUCCESS: &str = "agent.tool.success";
    /// Tool execution time in milliseconds.
    pub const AGENT_TOOL_DURATION_MS: &str = "agent.tool.duration_ms";

    /// OISP event id.
    pub const OISP_EVENT_ID: &str = "oisp.event_id";
    /// OISP event type (also the log record's `event_name`).
    pub const OISP_EVENT_TYPE: &str = "oisp.event_type";
    /// OISP version.
    pub const OISP_VERSION: &str = "oisp.version";
    /// Capture method (`tls_boundary`, `ebpf_tracepoint`).
    pub const OISP_CAPTURE_METHOD: &str = "oisp.capture_method";
    /// Confidence level.
    pub const OISP_CONFIDENCE_LEVEL: &str = "oisp.confidence.level";
    /// Completeness.
    pub const OISP_CONFIDENCE_COMPLETENESS: &str = "oisp.confidence.completeness";
}

/// OpenTelemetry GenAI semantic conventions (`gen_ai.*`).
pub mod gen_ai {
    /// Provider (`openai`, `anthropic`, `aws.bedrock`, ...; see [`provider`]).
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// Operation (`chat`, `embeddings`, ...; see [`operation`]).
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// Model requested.
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    /// Maximum output tokens requested.
    pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    /// Temperature.
    pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    /// Top-p.
    pub const REQUEST_TOP_P: &str = "gen_ai.request.top_p";
    /// Top-k.
    pub const REQUEST_TOP_K: &str = "gen_ai.request.top_k";
    /// Frequency penalty.
    pub const REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
    /// Presence penalty.
    pub const REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
    /// Stop sequences.
    pub const REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
    /// Seed.
    pub const REQUEST_SEED: &str = "gen_ai.request.seed";
    /// Requested number of choices.
    pub const REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
    /// Streaming requested.
    pub const REQUEST_STREAM: &str = "gen_ai.request.stream";
    /// Response id (`chatcmpl-123`).
    pub const RESPONSE_ID: &str = "gen_ai.response.id";
    /// Model that answered.
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// Finish reasons, one per choice.
    pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    /// Time to first chunk of a streamed response, in seconds.
    pub const RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
    /// Input tokens (including cached ones).
    pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    /// Output tokens.
    pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    /// Input tokens served from a provider cache.
    pub const USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    /// Input tokens written to a provider cache.
    pub const USAGE_CACHE_CREATION_INPUT_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
    /// Output tokens used for reasoning.
    pub const USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
    /// Conversation id.
    pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
    /// Agent id.
    pub const AGENT_ID: &str = "gen_ai.agent.id";
    /// Agent name.
    pub const AGENT_NAME: &str = "gen_ai.agent.name";
    /// Agent version.
    pub const AGENT_VERSION: &str = "gen_ai.agent.version";
    /// Tool name.
    pub const TOOL_NAME: &str = "gen_ai.tool.name";
    /// Tool call id.
    pub const TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
    /// Tool type (`function`, `extension`, `datastore`).
    pub const TOOL_TYPE: &str = "gen_ai.tool.type";
    /// Tool description.
    pub const TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
    /// Tool call arguments.
    pub const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    /// Tool call result.
    pub const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
    /// Output type requested (`text`, `json`, `image`, `speech`).
    pub const OUTPUT_TYPE: &str = "gen_ai.output.type";
    /// Embedding dimensions.
    pub const EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
    /// Input messages (structured).
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    /// Output messages (structured).
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    /// System instructions (structured).
    pub const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
    /// Tool definitions (structured).
    pub const TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";

    /// Well-known values of `gen_ai.operation.name`.
    pub mod operation {
        /// Chat completion.
        pub const CHAT: &str = "chat";
        /// Multimodal content generation (Gemini `generateContent`).
        pub const GENERATE_CONTENT: &str = "generate_content";
        /// Legacy text completion.
        pub const TEXT_COMPLETION: &str = "text_completion";
        /// Embeddings.
        pub const EMBEDDINGS: &str = "embeddings";
        /// Retrieval.
        pub const RETRIEVAL: &str = "retrieval";
        /// Create an agent.
        pub const CREATE_AGENT: &str = "create_agent";
        /// Invoke an agent.
        pub const INVOKE_AGENT: &str = "invoke_agent";
        /// Execute a tool.
        pub const EXECUTE_TOOL: &str = "execute_tool";
    }

    /// Well-known values of `gen_ai.provider.name`.
    pub mod provider {
        /// OpenAI.
        pub const OPENAI: &str = "openai";
        /// Anthropic.
        pub const ANTHROPIC: &str = "anthropic";
        /// Any Google endpoint when the backend is unknown.
        pub const GCP_GEN_AI: &str = "gcp.gen_ai";
        /// Gemini API (`generativelanguage.googleapis.com`).
        pub const GCP_GEMINI: &str = "gcp.gemini";
        /// Vertex AI (`aiplatform.googleapis.com`).
        pub const GCP_VERTEX_AI: &str = "gcp.vertex_ai";
        /// Azure OpenAI.
        pub const AZURE_AI_OPENAI: &str = "azure.ai.openai";
        /// Azure AI Inference.
        pub const AZURE_AI_INFERENCE: &str = "azure.ai.inference";
        /// AWS Bedrock.
        pub const AWS_BEDROCK: &str = "aws.bedrock";
        /// Cohere.
        pub const COHERE: &str = "cohere";
        /// Mistral AI.
        pub const MISTRAL_AI: &str = "mistral_ai";
        /// Groq.
        pub const GROQ: &str = "groq";
        /// DeepSeek.
        pub const DEEPSEEK: &str = "deepseek";
        /// xAI.
        pub const X_AI: &str = "x_ai";
        /// Perplexity.
        pub const PERPLEXITY: &str = "perplexity";
        /// IBM watsonx.ai.
        pub const IBM_WATSONX_AI: &str = "ibm.watsonx.ai";
        /// Moonshot AI.
        pub const MOONSHOT_AI: &str = "moonshot_ai";
    }
}

/// General OpenTelemetry attributes used on process, file and network events.
pub mod otel {
    /// Server (peer) host name or address.
    pub const SERVER_ADDRESS: &str = "server.address";
    /// Server port.
    pub const SERVER_PORT: &str = "server.port";
    /// Client address.
    pub const CLIENT_ADDRESS: &str = "client.address";
    /// Client port.
    pub const CLIENT_PORT: &str = "client.port";
    /// Peer IP address.
    pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
    /// Peer port.
    pub const NETWORK_PEER_PORT: &str = "network.peer.port";
    /// Transport (`tcp`, `udp`, `unix`).
    pub const NETWORK_TRANSPORT: &str = "network.transport";
    /// TLS protocol version.
    pub const TLS_PROTOCOL_VERSION: &str = "tls.protocol.version";
    /// TLS server name (SNI).
    pub const TLS_SERVER_NAME: &str = "tls.client.server_name";
    /// DNS question name.
    pub const DNS_QUESTION_NAME: &str = "dns.question.name";
    /// File path.
    pub const FILE_PATH: &str = "file.path";
    /// Process exit code.
    pub const PROCESS_EXIT_CODE: &str = "process.exit.code";
    /// Executable path of an exec.
    pub const PROCESS_EXECUTABLE_PATH: &str = "process.executable.path";
    /// Pid of a forked child.
    pub const PROCESS_CHILD_PID: &str = "process.child.pid";
    /// HTTP status code of a response.
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// URL of a request.
    pub const URL_FULL: &str = "url.full";
    /// Error type of a failed operation.
    pub const ERROR_TYPE: &str = "error.type";
}

/// oispd's sentinel processor (`ai.sentinel.*`).
pub mod sentinel {
    /// Detector id (`SEC-03`).
    pub const DETECTOR_ID: &str = "ai.sentinel.detector.id";
    /// Severity (`none`, `low`, `medium`, `high`, `critical`).
    pub const SEVERITY: &str = "ai.sentinel.severity";
    /// Finding id.
    pub const FINDING_ID: &str = "ai.sentinel.finding.id";
    /// Audit record id.
    pub const AUDIT_ID: &str = "ai.sentinel.audit.id";
    /// Audit record hash.
    pub const AUDIT_HASH: &str = "ai.sentinel.audit.hash";
    /// Previous audit record hash.
    pub const AUDIT_PREVIOUS_HASH: &str = "ai.sentinel.audit.previous_hash";
}

/// OpenTelemetry resource attributes.
pub mod resource {
    /// Host name.
    pub const HOST_NAME: &str = "host.name";
    /// Host id.
    pub const HOST_ID: &str = "host.id";
    /// Host architecture (`amd64`, `arm64`, ...).
    pub const HOST_ARCH: &str = "host.arch";
    /// OS type (`linux`, `darwin`, `windows`, `freebsd`).
    pub const OS_TYPE: &str = "os.type";
    /// OS version.
    pub const OS_VERSION: &str = "os.version";
    /// OS description (kernel version).
    pub const OS_DESCRIPTION: &str = "os.description";
    /// Process id.
    pub const PROCESS_PID: &str = "process.pid";
    /// Parent process id.
    pub const PROCESS_PARENT_PID: &str = "process.parent_pid";
    /// Executable path.
    pub const PROCESS_EXECUTABLE_PATH: &str = "process.executable.path";
    /// Executable name.
    pub const PROCESS_EXECUTABLE_NAME: &str = "process.executable.name";
    /// Full command line.
    pub const PROCESS_COMMAND_LINE: &str = "process.command_line";
    /// Command line arguments.
    pub const PROCESS_COMMAND_ARGS: &str = "process.command_args";
    /// Working directory.
    pub const PROCESS_WORKING_DIRECTORY: &str = "process.working_directory";
    /// Owner user name.
    pub const PROCESS_OWNER: &str = "process.owner";
    /// Real user id.
    pub const PROCESS_USER_ID: &str = "process.real_user.id";
    /// Container id.
    pub const CONTAINER_ID: &str = "container.id";
    /// Container name.
    pub const CONTAINER_NAME: &str = "container.name";
    /// Container image name.
    pub const CONTAINER_IMAGE_NAME: &str = "container.image.name";
    /// Container runtime.
    pub const CONTAINER_RUNTIME: &str = "container.runtime";
    /// Kubernetes cluster.
    pub const K8S_CLUSTER_NAME: &str = "k8s.cluster.name";
    /// Kubernetes namespace.
    pub const K8S_NAMESPACE_NAME: &str = "k8s.namespace.name";
    /// Kubernetes pod name.
    pub const K8S_POD_NAME: &str = "k8s.pod.name";
    /// Kubernetes pod UID.
    pub const K8S_POD_UID: &str = "k8s.pod.uid";
    /// Kubernetes container name (the name in the pod spec).
    pub const K8S_CONTAINER_NAME: &str = "k8s.container.name";
    /// Kubernetes node name.
    pub const K8S_NODE_NAME: &str = "k8s.node.name";
    /// Kubernetes deployment name.
    pub const K8S_DEPLOYMENT_NAME: &str = "k8s.deployment.name";
    /// Cloud provider.
    pub const CLOUD_PROVIDER: &str = "cloud.provider";
    /// Cloud region.
    pub const CLOUD_REGION: &str = "cloud.region";
    /// Service name.
    pub const SERVICE_NAME: &str = "service.name";
}

/// The GenAI conventions' `gen_ai.provider.name` for an OISP provider id
/// (either the schema's enum value such as `azure_openai` or a catalogue
/// id such as `google_vertex`). Unknown ids are returned unchanged, as the
/// conventions allow custom values.
pub fn gen_ai_provider_name(oisp_provider: &str) -> &str {
    use gen_ai::provider as p;
    match oisp_provider {
        "openai" => p::OPENAI,
        "anthropic" => p::ANTHROPIC,
        "google" | "gemini" | "google-gemini" => p::GCP_GEMINI,
        "google_vertex" | "google_vertex_anthropic" | "google-vertex" | "vertex" | "vertex_ai" => {
            p::GCP_VERTEX_AI
        }
        "azure_openai" | "azure" | "azure-openai" | "azure_cognitive_services" => {
            p::AZURE_AI_OPENAI
        }
        "azure-ai-inference" | "azure_ai_inference" => p::AZURE_AI_INFERENCE,
        "aws_bedrock" | "amazon-bedrock" | "bedrock" => p::AWS_BEDROCK,
        "cohere" => p::COHERE,
        "mistral" => p::MISTRAL_AI,
        "groq" => p::GROQ,
        "deepseek" => p::DEEPSEEK,
        "xai" | "x_ai" => p::X_AI,
        "perplexity" => p::PERPLEXITY,
        "moonshotai" | "moonshotai_cn" | "moonshot" => p::MOONSHOT_AI,
        other => other,
    }
}

/// The GenAI conventions' `gen_ai.operation.name` for an OISP
/// `request_type` (`chat` -> `chat`, `completion` -> `text_completion`,
/// `embedding` -> `embeddings`). Other types are returned unchanged.
pub fn gen_ai_operation_name(request_type: &str) -> &str {
    match request_type {
        "chat" => gen_ai::operation::CHAT,
        "completion" => gen_ai::operation::TEXT_COMPLETION,
        "embedding" => gen_ai::operation::EMBEDDINGS,
        other => other,
    }
}

/// The OTel `host.arch` value for an OISP `host.arch` (`x86_64` -> `amd64`,
/// `aarch64` -> `arm64`, `i686` -> `x86`, `arm` -> `arm32`).
pub fn otel_host_arch(oisp_arch: &str) -> &str {
    match oisp_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" => "x86",
        "arm" => "arm32",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: OISP provider ids and request types.
    /// Guarantees: they map to the GenAI conventions' registered values.
    #[test]
    fn maps_oisp_values_to_gen_ai_values() {
        assert_eq!(gen_ai_provider_name("azure_openai"), "azure.ai.openai");
        assert_eq!(gen_ai_provider_name("aws_bedrock"), "aws.bedrock");
        assert_eq!(gen_ai_provider_name("google"), "gcp.gemini");
        assert_eq!(gen_ai_provider_name("google_vertex"), "gcp.vertex_ai");
        assert_eq!(gen_ai_provider_name("mistral"), "mistral_ai");
        assert_eq!(gen_ai_provider_name("xai"), "x_ai");
        assert_eq!(gen_ai_provider_name("ollama"), "ollama");
        assert_eq!(gen_ai_operation_name("completion"), "text_completion");
        assert_eq!(gen_ai_operation_name("embedding"), "embeddings");
        assert_eq!(gen_ai_operation_name("chat"), "chat");
        assert_eq!(otel_host_arch("aarch64"), "arm64");
    }
}
