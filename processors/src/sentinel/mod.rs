//! The `sentinel` processor: security detectors over OISP events and the
//! hash-chained audit trail of their findings.
//!
//! | id | name | looks at |
//! |---|---|---|
//! | SEC-01 | `prompt_injection` | user messages (direct), tool results and retrieved content (indirect) |
//! | SEC-02 | `credential_exposure` | prompts, responses, tool arguments and results, commands |
//! | SEC-05 | `jailbreak` | user messages, tool results and retrieved content |
//! | SEC-23 | `pii_leakage` | prompts, responses, tool arguments and results |
//! | SEC-24 | `invisible_unicode` | all text, paths and commands |
//! | SEC-40 | `dangerous_command` | process arguments, shell tool input, file writes |
//! | SEC-41 | `credential_file_access` | file opens and reads, commands, tool arguments |
//! | SEC-42 | `shadow_ai` | `ai.request` providers, `network.*` destinations |
//! | SEC-43 | `large_upload` | `ai.request` content size, `network.flow` bytes sent |
//!
//! Detectors run on `ai.request`, `ai.response`, `agent.tool_call`,
//! `agent.tool_result`, `agent.rag_retrieve`, `process.exec`, `file.*` and
//! `network.*` events read from the OTLP body, one finding per detector and
//! event at most, each with severity none/low/medium/high/critical bounded
//! by the detector's configured floor and cap.
//!
//! Ordering with redaction: put `sentinel` before `redaction` in a pipeline
//! (the binary's always-on redactor runs after all processors anyway). The
//! sentinel then sees credentials and personal data as they are, reports
//! their kind, field, length and hash prefix, and never copies them into a
//! finding; excerpts it quotes are redacted first. Behind a `redaction`
//! processor it still reports SEC-02 and SEC-23 from the markers and tokens
//! redaction leaves.
//!
//! Each finding becomes an audit entry ([`crate::audit`]) and a
//! `security.finding` record appended to the batch: the body is the OISP
//! event, with the one-line summary as `data.summary`.

mod commands;
pub mod config;
pub mod credential_files;
mod credentials;
pub mod detector;
pub mod engine;
pub mod event;
mod finding;
mod injection;
mod jailbreak;
mod phrases;
mod pii_leak;
mod prefilter;
pub mod processor;
mod providers;
mod unicode;

#[cfg(test)]
mod tests;

pub use config::{DetectorConfig, SentinelConfig};
pub use detector::{DetectorId, Hit, SeverityBounds};
pub use engine::{Finding, Sentinel, SentinelError};
pub use processor::{SentinelFactory, SentinelProcessor};
