//! The `data` of process lifecycle events: `process.exec`, `process.exit`
//! and `process.fork` (`schema/v0.1/events/process.schema.json`).

use crate::common::{BinaryHash, CodeSignature, Extra};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// `process.exec`: a new program starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessExec {
    /// Executable path (required).
    pub exe: String,
    /// Command line arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Working directory at exec time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Selected environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<IndexMap<String, String>>,
    /// Script interpreter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// Script path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    /// A shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_shell: Option<bool>,
    /// A script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_script: Option<bool>,
    /// Interactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_interactive: Option<bool>,
    /// Hash of the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_hash: Option<BinaryHash>,
    /// Code signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_signature: Option<CodeSignature>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `process.exit`: a process ends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessExit {
    /// Exit code (required).
    pub exit_code: i64,
    /// Terminating signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i64>,
    /// Signal name (`SIGKILL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_name: Option<String>,
    /// Runtime in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_ms: Option<u64>,
    /// User CPU time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_user_ms: Option<u64>,
    /// System CPU time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_system_ms: Option<u64>,
    /// Peak RSS in KB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_kb: Option<u64>,
    /// `normal`, `signaled`, `coredump`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_type: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `process.fork`: a process creates a child.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessFork {
    /// Child pid (required).
    pub child_pid: u32,
    /// Clone flags (Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_flags: Option<u64>,
    /// A thread rather than a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_thread: Option<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}
