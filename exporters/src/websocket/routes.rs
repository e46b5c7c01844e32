//! The admin-server routes of a `websocket` exporter: the event stream
//! (`GET /ws/events[?event_type=PREFIX]`, one OISP event per text message)
//! and the live page (`GET /`), embedded in the binary.
//!
//! The stream carries every prompt, so it needs the admin token when the
//! admin server has `auth` ([`RouteAccess::Authenticated`]). The page is
//! static HTML holding no data ([`RouteAccess::Public`]): it takes the
//! token from the `#token=` fragment of its URL (which browsers never send
//! to a server) or from a form, keeps it in the tab's `sessionStorage`
//! (per origin, so per port), and passes it on as `Authorization: Bearer`
//! to `/api/health` and as `?token=` to the stream, since browsers cannot
//! set headers on a WebSocket. Cookies were not used: a cookie set by
//! 127.0.0.1:7777 is also sent to every other port of 127.0.0.1, where any
//! local user can listen.

use super::hub::{Hub, Subscription};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::SinkExt;
use oispd_component::{AdminRoute, RouteAccess};
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The live page; `__OISPD_WS_PATH__` is replaced by the stream's path.
const PAGE: &str = include_str!("page/index.html");
/// Placeholder of the stream's path in [`PAGE`].
const WS_PATH_PLACEHOLDER: &str = "__OISPD_WS_PATH__";
/// Close code for a client cut off for being slow (RFC 6455 "try again later").
const CLOSE_TOO_SLOW: u16 = 1013;
/// Close code when oispd stops ("going away").
const CLOSE_GOING_AWAY: u16 = 1001;
/// How long a close frame may take to go out to a client.
const CLOSE_WRITE_LIMIT: Duration = Duration::from_millis(200);

/// `?event_type=PREFIX`.
#[derive(Debug, Deserialize)]
struct StreamParams {
    event_type: Option<String>,
}

/// The stream at `ws_path`.
pub(crate) fn stream_route(hub: Arc<Hub>, ws_path: &str) -> AdminRoute {
    AdminRoute {
        router: Router::new().route(ws_path, get(stream)).with_state(hub),
        access: RouteAccess::Authenticated,
    }
}

/// The live page at `page_path`, reading the stream at `ws_path`.
pub(crate) fn page_route(ws_path: &str, page_path: &str) -> AdminRoute {
    let html: Arc<str> = PAGE.replace(WS_PATH_PLACEHOLDER, ws_path).into();
    let router = Router::new().route(
        page_path,
        get(move || {
            let html = html.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    html.to_string(),
                )
            }
        }),
    );
    AdminRoute {
        router,
        access: RouteAccess::Public,
    }
}

async fn stream(
    State(hub): State<Arc<Hub>>,
    Query(params): Query<StreamParams>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| async move {
        let sub = hub.subscribe(params.event_type);
        let id = sub.id;
        tracing::debug!(client = id, "websocket client connected");
        serve(socket, sub).await;
        hub.unsubscribe(id);
        tracing::debug!(client = id, "websocket client gone");
    })
    .into_response()
}

/// Moves a client's messages to its socket until the client leaves, is cut
/// off, or the exporter stops.
async fn serve(mut socket: WebSocket, mut sub: Subscription) {
    loop {
        tokio::select! {
            biased;
            _ = sub.cut.cancelled() => break,
            next = sub.rx.recv() => {
                let Some(chunk) = next else { break };
                for text in chunk.iter() {
                    // A peer that does not read blocks this write; being
                    // cut off aborts it.
                    tokio::select! {
                        biased;
                        _ = sub.cut.cancelled() => break,
                        sent = socket.send(Message::Text(text.clone())) => {
                            if sent.is_err() {
                                return;
                            }
                        }
                    }
                    sub.pending.fetch_sub(1, Ordering::AcqRel);
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Close(_))) => {
                    // Flush the close reply the socket queued.
                    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, socket.close()).await;
                    return;
                }
                // Pings are answered by the socket itself; client text is ignored.
                Some(Ok(_)) => {}
            },
        }
    }
    // Cut off or stopping: say why, without waiting on a stuck peer.
    let (code, reason) = if sub.stopping.is_cancelled() {
        (CLOSE_GOING_AWAY, "oispd is stopping")
    } else {
        (CLOSE_TOO_SLOW, "client too slow")
    };
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, socket.send(close)).await;
}
