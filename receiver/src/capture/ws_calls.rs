//! AI calls carried by WebSocket messages: the OpenAI Responses API's
//! WebSocket mode (`GET /v1/responses` with `Upgrade: websocket`, as Codex
//! uses by default). Each client `response.create` message is one call,
//! decoded like a `POST /v1/responses` body; the server's `response.*`
//! messages are that call's event stream, assembled like the SSE stream of
//! the HTTP transport; `response.completed` / `response.failed` /
//! `response.incomplete` or an `error` message ends it. Both transports
//! go through the same [`Call`] and the same Responses API decoders, so
//! they yield the same `ai.request`, `ai.response` (usage, time to first
//! token, finish reason), `agent.tool_call` and `agent.tool_result` events.
//!
//! The provider, endpoint and auth of every call come from the upgrade
//! request's head (its `Host` and `Authorization`, reduced to a hash as on
//! the HTTP path). Turns on one socket are sequential; server messages go
//! to the oldest call still waiting for its end.
//!
//! A `response.create` with `"generate": false` (Codex's prewarm) asks the
//! server to load context without running the model. It still sends input
//! to the provider, so it is reported, not hidden: an `ai.request` whose
//! `parameters.generate` is `false`, and the `ai.response` the server
//! answers with (no output, zero usage).

use std::collections::VecDeque;

use oispd_semconv::providers::ProviderCatalog;
use serde::Deserialize;

use super::body::BodyFlaws;
use super::call::{Call, CallEnv};
use super::events::Origin;
use super::message::{Head, Role, StartLine};
use super::providers::Api;

/// Calls waiting for their end on one socket; more means the server's
/// messages are not being seen, and the oldest is ended as incomplete.
const MAX_OPEN_CALLS: usize = 8;

/// Just the `type` of a message.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// The `type` of a message; for a message cut at the size cap (no longer
/// JSON), the `type` it starts with, as every Responses API message does.
fn kind_of(data: &[u8]) -> Option<String> {
    if let Ok(k) = serde_json::from_slice::<Kind<'_>>(data) {
        return k.kind.map(|k| k.into_owned());
    }
    let rest = data
        .trim_ascii_start()
        .strip_prefix(b"{")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(br#""type""#)?.trim_ascii_start();
    let rest = rest
        .strip_prefix(b":")?
        .trim_ascii_start()
        .strip_prefix(b"\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}

/// A WebSocket upgrade request to an AI API path, waiting for its 101.
#[derive(Debug)]
pub(crate) struct WsUpgrade {
    head: Head,
    api: Api,
    origin: Origin,
}

impl WsUpgrade {
    /// The upgrade `head` asks for, when it opens a WebSocket to an AI API
    /// path; `origin` is asked only then.
    pub(crate) fn candidate(
        head: &Head,
        origin: &mut dyn FnMut() -> Option<Origin>,
    ) -> Option<WsUpgrade> {
        let StartLine::Request { method, path } = &head.start else {
            return None;
        };
        let upgrade = head
            .header("upgrade")
            .is_some_and(|u| u.to_ascii_lowercase().contains("websocket"));
        if !upgrade || !method.eq_ignore_ascii_case("GET") {
            return None;
        }
        let api = Api::classify_websocket(path)?;
        Some(WsUpgrade {
            head: head.clone(),
            api,
            origin: origin()?,
        })
    }

    /// The server switched protocols: the socket's messages are decoded.
    pub(crate) fn open(self) -> WsSession {
        WsSession {
            upgrade: self,
            calls: VecDeque::new(),
            front_started: false,
        }
    }
}

/// The calls of one WebSocket.
#[derive(Debug)]
pub(crate) struct WsSession {
    upgrade: WsUpgrade,
    calls: VecDeque<Call>,
    /// The oldest call has had its `response.created`.
    front_started: bool,
}

impl WsSession {
    /// Bytes held by the calls' stream decoders.
    pub(crate) fn held(&self) -> usize {
        self.calls.iter().map(Call::held).sum()
    }

    /// No call is waiting for its answer.
    pub(crate) fn is_idle(&self) -> bool {
        self.calls.is_empty()
    }

    /// Takes one data message.
    pub(crate) fn message(
        &mut self,
        role: Role,
        data: &[u8],
        truncated: bool,
        ts: u64,
        catalog: &ProviderCatalog,
        env: &mut CallEnv<'_>,
    ) {
        let kind = kind_of(data);
        match role {
            Role::Request => {
                if kind.as_deref() != Some("response.create") {
                    return;
                }
                let u = &self.upgrade;
                let Some(mut call) =
                    Call::start_websocket(&u.head, u.api, ts, u.origin.clone(), catalog)
                else {
                    return;
                };
                let flaws = BodyFlaws {
                    truncated,
                    ..BodyFlaws::default()
                };
                if truncated {
                    env.stats.bodies_truncated = env.stats.bodies_truncated.saturating_add(1);
                }
                call.on_request(data, flaws, ts, env);
                if call.is_not_ai() {
                    return;
                }
                call.start_messages();
                if self.calls.len() >= MAX_OPEN_CALLS {
                    if let Some(mut old) = self.calls.pop_front() {
                        self.front_started = false;
                        old.abort("superseded", ts, env);
                    }
                }
                self.calls.push_back(call);
            }
            Role::Response => {
                if kind.as_deref() == Some("response.created") {
                    // A new response while the previous one never ended
                    // (its closing message was lost): that one is over.
                    if self.front_started {
                        if let Some(mut old) = self.calls.pop_front() {
                            old.abort("response_end_missed", ts, env);
                        }
                    }
                    self.front_started = true;
                }
                let Some(call) = self.calls.front_mut() else {
                    if kind.as_deref() == Some("response.created") {
                        env.stats.responses_without_request =
                            env.stats.responses_without_request.saturating_add(1);
                    }
                    return;
                };
                // A cut message fails to parse there and is counted.
                call.on_stream_bytes(data, false, ts, env);
                let end = matches!(
                    kind.as_deref(),
                    Some(
                        "response.completed" | "response.failed" | "response.incomplete" | "error"
                    )
                );
                if end || call.stream_ended() {
                    self.front_started = false;
                    if let Some(mut done) = self.calls.pop_front() {
                        if truncated {
                            done.abort("message_truncated", ts, env);
                        } else {
                            done.on_response_end(None, BodyFlaws::default(), ts, env);
                        }
                    }
                }
            }
        }
    }

    /// Ends every waiting call as incomplete (`reason`).
    pub(crate) fn abort_all(&mut self, reason: &'static str, ts: u64, env: &mut CallEnv<'_>) {
        self.front_started = false;
        for mut call in self.calls.drain(..) {
            call.abort(reason, ts, env);
        }
    }
}
