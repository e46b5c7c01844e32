//! The `websocket` exporter's routes served in-process on 127.0.0.1:0 the
//! way the admin extension serves them, with real WebSocket clients
//! (tokio-tungstenite), driven through the exporter helper.
//!
//! Run: `cargo test -p oispd-exporters --test websocket`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt;
use oispd_component::{Batch, BuildContext, ComponentId, ExporterFactory, Telemetry};
use oispd_exporters::helper::start_exporter;
use oispd_exporters::websocket::WebsocketFactory;
use oispd_semconv::otel::events_to_resource_logs;
use oispd_semconv::OispEvent;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

fn event(i: usize, event_type: &str) -> OispEvent {
    OispEvent::from_value(json!({
        "oisp_version": "0.1",
        "event_id": format!("01JWEBSOCKET{i:014}"),
        "event_type": event_type,
        "ts": "2025-12-22T14:30:16.000Z",
        "host": {"hostname": "h"},
        "process": {"pid": 7, "name": "python3"},
        "source": {"collector": "test"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": {}
    }))
    .unwrap()
}

struct Running {
    addr: SocketAddr,
    telemetry: Arc<Telemetry>,
    consumer: Arc<dyn oispd_component::Consumer>,
    handle: tokio::task::JoinHandle<()>,
}

async fn start(id: &str, config: &str) -> Running {
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let ctx = BuildContext {
        id: ComponentId::parse(id).unwrap(),
        telemetry: telemetry.clone(),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(config).unwrap();
    let (exporter, settings) = WebsocketFactory.create(&ctx, &config).unwrap();
    let mut app = axum::Router::new();
    for r in ctx.admin_routes.lock().unwrap().drain(..) {
        app = app.merge(r.router);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (consumer, handle) = start_exporter(
        id,
        exporter,
        settings,
        telemetry.clone(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    Running {
        addr,
        telemetry,
        consumer,
        handle,
    }
}

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10s")
            .expect("stream open")
            .expect("no error");
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Scenario: two clients, one asking for `ai.response` only; a batch of
/// requests and responses is exported.
/// Guarantees: each event arrives as one JSON text message, exact OISP
/// JSON, in order; the filtered client sees only its prefix.
#[tokio::test]
async fn events_stream_to_every_client_with_prefix_filter() {
    let r = start("websocket", "client_buffer: 64").await;
    let (mut all, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/events", r.addr))
        .await
        .unwrap();
    let (mut responses, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/events?event_type=ai.resp", r.addr))
            .await
            .unwrap();
    // Clients register when the upgrade completes; resend until both see
    // the first event, then compare the stream from there.
    let events: Vec<OispEvent> = (0..6)
        .map(|i| {
            event(
                i,
                if i % 2 == 0 {
                    "ai.request"
                } else {
                    "ai.response"
                },
            )
        })
        .collect();
    let mut tries = 0;
    loop {
        r.consumer
            .consume(Batch::Logs(events_to_resource_logs(vec![event(
                999,
                "ai.response",
            )])))
            .await
            .unwrap();
        let a = tokio::time::timeout(Duration::from_millis(300), all.next()).await;
        let b = tokio::time::timeout(Duration::from_millis(300), responses.next()).await;
        if a.is_ok() && b.is_ok() {
            break;
        }
        tries += 1;
        assert!(tries < 50, "clients never registered");
    }
    // Drain probe duplicates.
    while tokio::time::timeout(Duration::from_millis(200), all.next())
        .await
        .is_ok()
    {}
    while tokio::time::timeout(Duration::from_millis(200), responses.next())
        .await
        .is_ok()
    {}
    r.consumer
        .consume(Batch::Logs(events_to_resource_logs(events.clone())))
        .await
        .unwrap();
    for e in &events {
        let got = next_json(&mut all).await;
        assert_eq!(got, e.to_value());
    }
    for e in events.iter().filter(|e| e.event_type == "ai.response") {
        let got = next_json(&mut responses).await;
        assert_eq!(got["event_id"], e.event_id.as_str());
    }
    all.close(None).await.unwrap();
    drop(r.consumer);
    r.handle.await.unwrap();
}

/// Scenario: a client stops reading while events keep coming; another
/// keeps reading.
/// Guarantees: the silent client is disconnected and counted
/// (`oispd_exporter_websocket_clients_dropped`), exports never fail, and
/// the reading client gets every event.
#[tokio::test]
async fn silent_client_is_cut_off_while_the_other_keeps_receiving() {
    let r = start("websocket/live", "client_buffer: 8").await;
    let url = format!("ws://{}/ws/events/live", r.addr);
    let (mut reader, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (silent, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Wait until both are registered: a probe reaches the reader, and the
    // silent client's registration happened before its handshake answer.
    loop {
        r.consumer
            .consume(Batch::Logs(events_to_resource_logs(vec![event(
                999,
                "ai.request",
            )])))
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(300), reader.next())
            .await
            .is_ok()
        {
            break;
        }
    }
    while tokio::time::timeout(Duration::from_millis(200), reader.next())
        .await
        .is_ok()
    {}
    // Large events so that socket buffers fill quickly.
    let padding = "x".repeat(16 * 1024);
    let total = 2000;
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(0usize);
    let reading = tokio::spawn(async move {
        let mut seen = 0usize;
        while seen < total {
            match tokio::time::timeout(Duration::from_secs(20), reader.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => {
                    seen += 1;
                    let _ = seen_tx.send(seen);
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("reader stopped after {seen}: {other:?}"),
            }
        }
        seen
    });
    for chunk in 0..(total / 50) {
        let batch: Vec<OispEvent> = (0..50)
            .map(|i| {
                let mut e = event(chunk * 50 + i, "ai.request").to_value();
                e["data"] = json!({"padding": padding});
                OispEvent::from_value(e).unwrap()
            })
            .collect();
        r.consumer
            .consume(Batch::Logs(events_to_resource_logs(batch)))
            .await
            .unwrap();
        // The reader keeps up (this test is about the silent client): the
        // next batch goes once it has the previous one.
        let sent = (chunk + 1) * 50;
        tokio::time::timeout(Duration::from_secs(20), seen_rx.wait_for(|n| *n >= sent))
            .await
            .expect("the reader keeps receiving")
            .unwrap();
    }
    assert_eq!(reading.await.unwrap(), total);
    let metrics = r.telemetry.render();
    assert!(
        metrics.contains("oispd_exporter_websocket_clients_dropped{exporter=\"websocket/live\"} 1"),
        "{metrics}"
    );
    drop(silent);
    drop(r.consumer);
    r.handle.await.unwrap();
}

/// Scenario: the live page is requested.
/// Guarantees: HTML served from the binary, pointing at this instance's
/// stream, with no external resource.
#[tokio::test]
async fn page_is_served_with_its_stream_path() {
    let r = start("websocket/live", "~").await;
    let mut stream = tokio::net::TcpStream::connect(r.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /live/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("content-type: text/html"), "{text}");
    assert!(text.contains("content=\"/ws/events/live\""));
    assert!(!text.contains("__OISPD_WS_PATH__"));
    for external in ["http://", "https://", "//cdn", "<link "] {
        assert!(!text.contains(external), "external resource {external}");
    }
}
