//! The `data` of agent events: `agent.tool_call`, `agent.tool_result`,
//! `agent.plan_step`, `agent.rag_retrieve` and `agent.session`, as
//! `schema/v0.1/events/agent.schema.json` defines them.

use crate::ai::Content;
use crate::common::Extra;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// The AI agent (`$defs/agent_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Agent name (`claude-code`, `aider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ide`, `cli`, `browser`, `server`, `autonomous`, `workflow`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Framework (`langchain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Agent session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Task id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool (`$defs/tool_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Category: `file_read`, `file_write`, `file_edit`, `terminal`, `shell`,
    /// `browser`, `http`, `database`, `code_execution`, `search`,
    /// `retrieval`, `api_call`, `computer_use`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Tool provider (`mcp`, `langchain`, `native`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// MCP server name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `agent.tool_call`: the agent invokes a tool (`$defs/tool_call`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentToolCall {
    /// Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    /// Tool (required).
    pub tool: ToolInfo,
    /// Call id (links the result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// `llm_decision`, `user_approval`, `automatic`, `workflow`, `retry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Map<String, Value>>,
    /// Hash of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments_hash: Option<String>,
    /// Required user approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_approval: Option<bool>,
    /// Approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// Approver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// `low`, `medium`, `high`, `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<String>,
    /// Reasons for the risk level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_reasons: Option<Vec<String>>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Error of a failed tool execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolError {
    /// Error type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A side effect of a tool execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SideEffect {
    /// `file_created`, `file_modified`, `file_deleted`, `process_spawned`,
    /// `network_request`, `database_write`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What was affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `agent.tool_result`: the result of a tool execution (`$defs/tool_result`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentToolResult {
    /// Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    /// Tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolInfo>,
    /// Call id of the `agent.tool_call` (required).
    pub call_id: String,
    /// Success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ToolError>,
    /// Result (text, JSON or redaction marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Content>,
    /// Hash of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_hash: Option<String>,
    /// Result size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_size_bytes: Option<u64>,
    /// Execution time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Known side effects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_effects: Option<Vec<SideEffect>>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `agent.plan_step`: a planning or reasoning step (`$defs/plan_step`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentPlanStep {
    /// Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    /// Step number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_index: Option<u64>,
    /// `planning`, `reasoning`, `decision`, `reflection`, `revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_type: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Planned actions (`{action, tool, rationale}` objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_actions: Option<Vec<Map<String, Value>>>,
    /// Files considered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_files: Option<Vec<String>>,
    /// Iteration number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Source of retrieved context.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RagSource {
    /// `vector_db`, `knowledge_base`, `file_search`, `web_search`, `database`, `api`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Source name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider (`pinecone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `agent.rag_retrieve`: context retrieval (`$defs/rag_retrieve`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentRagRetrieve {
    /// Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    /// Source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RagSource>,
    /// Query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Hash of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_hash: Option<String>,
    /// Number of results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_count: Option<u64>,
    /// Results (`{source, score, content_preview, content_hash, metadata}` objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<Map<String, Value>>>,
    /// Latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Estimated tokens retrieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_retrieved: Option<u64>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Statistics of an agent session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStats {
    /// LLM calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_calls: Option<u64>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<u64>,
    /// Files read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_read: Option<u64>,
    /// Files written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_written: Option<u64>,
    /// Tokens used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_used: Option<u64>,
    /// Estimated cost in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost_usd: Option<Number>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `agent.session`: agent session lifecycle (`$defs/session`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSession {
    /// Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    /// `start`, `end`, `pause`, `resume`, `error` (required).
    pub action: String,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Task description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_description: Option<String>,
    /// Session duration in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<SessionStats>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}
