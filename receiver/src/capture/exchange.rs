//! Request/response exchanges of one connection: turns the HTTP decoders'
//! events into calls, keeps each AI call's bodies (content-decoded, capped)
//! and hands them to the call layer at the right moments. Exchanges that
//! are not AI calls are not kept at all, so their bodies cost nothing. A
//! WebSocket upgrade to an AI API path is followed to its 101, after which
//! the connection's messages go to a [`WsSession`].

use std::collections::HashMap;

use oispd_semconv::providers::ProviderCatalog;

use super::body::{BodyDecoder, BodyFlaws, Coding};
use super::call::{Call, CallEnv};
use super::events::Origin;
use super::message::{Head, HttpEvent, Role, StartLine};
use super::ws_calls::{WsSession, WsUpgrade};

/// WebSocket upgrade requests followed at once on one connection.
const MAX_PENDING_UPGRADES: usize = 4;

/// One exchange being followed.
#[derive(Debug)]
struct Exchange {
    call: Call,
    request_body: Option<BodyDecoder>,
    response_body: Option<BodyDecoder>,
}

/// The AI exchanges of one connection.
#[derive(Debug, Default)]
pub(crate) struct Exchanges {
    open: HashMap<u64, Exchange>,
    /// WebSocket upgrade requests waiting for their answer.
    upgrades: HashMap<u64, WsUpgrade>,
    /// The connection's WebSocket, once a 101 switched it.
    ws: Option<WsSession>,
}

impl Exchanges {
    /// Bytes held by bodies and stream decoders.
    pub(crate) fn held(&self) -> usize {
        self.open
            .values()
            .map(|e| {
                e.request_body.as_ref().map_or(0, BodyDecoder::held)
                    + e.response_body.as_ref().map_or(0, BodyDecoder::held)
                    + e.call.held()
            })
            .sum::<usize>()
            + self.ws.as_ref().map_or(0, WsSession::held)
    }

    /// Whether the connection is a WebSocket with no call waiting for its
    /// answer: quiet between turns, which may be minutes apart.
    pub(crate) fn between_turns(&self) -> bool {
        self.open.is_empty() && self.ws.as_ref().is_some_and(WsSession::is_idle)
    }

    /// Takes one HTTP event. `origin` is asked for the call's origin when a
    /// request head starts an AI call; it returns `None` when the call must
    /// not be followed (server side without `capture_server_side`).
    pub(crate) fn handle(
        &mut self,
        event: HttpEvent,
        catalog: &ProviderCatalog,
        origin: &mut dyn FnMut() -> Option<Origin>,
        env: &mut CallEnv<'_>,
    ) {
        match event {
            HttpEvent::Head {
                stream,
                role: Role::Request,
                head,
                ts,
            } => self.request_head(stream, &head, ts, catalog, origin, env),
            HttpEvent::Head {
                stream,
                role: Role::Response,
                head,
                ts,
            } => {
                if let Some(up) = self.upgrades.remove(&stream) {
                    // A refusal (Codex gets 426 and falls back to HTTP) ends it.
                    if head.start == (StartLine::Response { status: 101 }) {
                        self.ws = Some(up.open());
                    }
                    return;
                }
                let Some(x) = self.open.get_mut(&stream) else {
                    return;
                };
                if !x.call.request_done() {
                    finish_request(x, true, ts, env);
                }
                if x.call.is_not_ai() {
                    self.open.remove(&stream);
                    return;
                }
                x.call.on_response_head(&head);
                x.response_body = Some(BodyDecoder::new(
                    Coding::from_header(head.header("content-encoding")),
                    env.config.max_body_bytes,
                ));
            }
            HttpEvent::Data {
                stream,
                role,
                data,
                ts,
            } => {
                let Some(x) = self.open.get_mut(&stream) else {
                    return;
                };
                match role {
                    Role::Request => {
                        if let Some(b) = x.request_body.as_mut() {
                            b.write(&data);
                        }
                    }
                    Role::Response => {
                        let Some(b) = x.response_body.as_mut() else {
                            return;
                        };
                        b.write(&data);
                        if x.call.is_streaming() {
                            let decoded = b.take_output();
                            x.call.on_stream_bytes(&decoded, false, ts, env);
                        }
                    }
                }
            }
            HttpEvent::Gap { stream, role, len } => {
                let Some(x) = self.open.get_mut(&stream) else {
                    return;
                };
                let body = match role {
                    Role::Request => x.request_body.as_mut(),
                    Role::Response => x.response_body.as_mut(),
                };
                if let Some(b) = body {
                    b.gap(len);
                }
            }
            HttpEvent::End {
                stream,
                role: Role::Request,
                ts,
            } => {
                let Some(x) = self.open.get_mut(&stream) else {
                    return;
                };
                finish_request(x, false, ts, env);
                if x.call.is_not_ai() {
                    self.open.remove(&stream);
                }
            }
            HttpEvent::End {
                stream,
                role: Role::Response,
                ts,
            } => {
                let Some(mut x) = self.open.remove(&stream) else {
                    return;
                };
                let Some(mut b) = x.response_body.take() else {
                    return;
                };
                b.finish();
                let flaws = b.flaws();
                if x.call.is_streaming() {
                    let decoded = b.take_output();
                    x.call.on_stream_bytes(&decoded, true, ts, env);
                    x.call.on_response_end(None, flaws, ts, env);
                } else {
                    count_flaws(&flaws, env);
                    x.call.on_response_end(Some(b.output()), flaws, ts, env);
                }
            }
            HttpEvent::Reset { stream, ts } => {
                if let Some(x) = self.open.remove(&stream) {
                    abort(x, "stream_reset", ts, env);
                }
            }
            HttpEvent::Message {
                role,
                data,
                truncated,
                ts,
                ..
            } => {
                if let Some(ws) = self.ws.as_mut() {
                    ws.message(role, &data, truncated, ts, catalog, env);
                }
            }
            HttpEvent::Desync { ts } => self.abort_all("decoder_desync", ts, env),
        }
    }

    fn request_head(
        &mut self,
        stream: u64,
        head: &Head,
        ts: u64,
        catalog: &ProviderCatalog,
        origin: &mut dyn FnMut() -> Option<Origin>,
        env: &mut CallEnv<'_>,
    ) {
        // A stream id reused while an exchange is open: the old one is over.
        if let Some(old) = self.open.remove(&stream) {
            abort(old, "stream_reused", ts, env);
        }
        self.upgrades.remove(&stream);
        if let Some(up) = WsUpgrade::candidate(head, origin) {
            // Pipelined upgrades without answers are not kept without bound.
            if self.upgrades.len() < MAX_PENDING_UPGRADES {
                self.upgrades.insert(stream, up);
            }
            return;
        }
        if !Call::candidate(head) {
            return;
        }
        let Some(o) = origin() else {
            return;
        };
        let Some(call) = Call::start(head, ts, o, catalog) else {
            return;
        };
        self.open.insert(
            stream,
            Exchange {
                call,
                request_body: Some(BodyDecoder::new(
                    Coding::from_header(head.header("content-encoding")),
                    env.config.max_body_bytes,
                )),
                response_body: None,
            },
        );
    }

    /// Ends every open exchange as incomplete.
    pub(crate) fn abort_all(&mut self, reason: &'static str, ts: u64, env: &mut CallEnv<'_>) {
        let mut open: Vec<(u64, Exchange)> = self.open.drain().collect();
        open.sort_by_key(|(id, _)| *id);
        for (_, x) in open {
            abort(x, reason, ts, env);
        }
        if let Some(ws) = self.ws.as_mut() {
            ws.abort_all(reason, ts, env);
        }
    }
}

/// Hands the request body to the call; `early` when the response started
/// before the request was seen to end.
/// Counts a buffered body's truncation and decoding failure in the stats.
fn count_flaws(flaws: &BodyFlaws, env: &mut CallEnv<'_>) {
    if flaws.truncated {
        env.stats.bodies_truncated += 1;
    }
    if flaws.undecodable {
        env.stats.decompress_errors += 1;
    }
}

fn finish_request(x: &mut Exchange, early: bool, ts: u64, env: &mut CallEnv<'_>) {
    let Some(mut b) = x.request_body.take() else {
        return;
    };
    b.finish();
    let mut flaws = b.flaws();
    if early {
        flaws.gap = true;
    }
    count_flaws(&flaws, env);
    x.call.on_request(b.output(), flaws, ts, env);
}

fn abort(mut x: Exchange, reason: &'static str, ts: u64, env: &mut CallEnv<'_>) {
    if !x.call.request_done() {
        finish_request(&mut x, true, ts, env);
    }
    if let Some(mut b) = x.response_body.take() {
        if x.call.is_streaming() {
            b.finish();
            let decoded = b.take_output();
            x.call.on_stream_bytes(&decoded, false, ts, env);
        }
    }
    x.call.abort(reason, ts, env);
}
