//! The `webhook` exporter behind the exporter helper, against an in-process
//! HTTP server on 127.0.0.1 that fails the first attempts and then accepts.
//!
//! Run: `cargo test -p oispd-exporters --test webhook`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use oispd_component::{Batch, BuildContext, ComponentId, ExporterFactory, Telemetry};
use oispd_exporters::helper::start_exporter;
use oispd_exporters::webhook::WebhookFactory;
use oispd_semconv::otel::events_to_resource_logs;
use oispd_semconv::OispEvent;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "s3cret";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    attempt: usize,
    header_batch_id: String,
    body: Value,
    signature_ok: bool,
    /// The server processed it (answered 200 or was about to when the
    /// client gave up).
    processed: bool,
}

#[derive(Default)]
struct Server {
    seen: Vec<Seen>,
}

fn valid_signature(headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers
        .get("x-oisp-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// Attempt 1: 503 with `Retry-After: 0`. Attempt 2: reads the body, then
/// answers too late for the client (a lost answer). Later: 200.
async fn hook(
    State(server): State<Arc<Mutex<Server>>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let attempt = {
        let mut s = server.lock().unwrap();
        let attempt = s.seen.len() + 1;
        s.seen.push(Seen {
            attempt,
            header_batch_id: headers
                .get("x-oisp-batch-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            signature_ok: valid_signature(&headers, &body),
            processed: attempt >= 2,
        });
        attempt
    };
    match attempt {
        1 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "0")],
            "busy",
        )
            .into_response(),
        2 => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::OK.into_response()
        }
        _ => StatusCode::OK.into_response(),
    }
}

fn event(i: usize) -> OispEvent {
    OispEvent::from_value(json!({
        "oisp_version": "0.1",
        "event_id": format!("01JWEBHOOK{i:016}"),
        "event_type": "ai.request",
        "ts": format!("2025-12-22T14:30:16.{i:03}Z"),
        "host": {"hostname": "h"},
        "process": {"pid": 1 + (i % 3), "name": "python3"},
        "source": {"collector": "test"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": {"provider": {"name": "openai"}, "model": {"id": "gpt-4o"}}
    }))
    .unwrap()
}

/// Scenario: 25 events, batches of 10 sent one at a time
/// (`num_consumers: 1`, so the answers below meet the batches in order);
/// the server answers the first request 503 (Retry-After: 0), lets the
/// second time out after reading it, and accepts everything after.
/// Guarantees: every event arrives; each batch keeps its batch_id across
/// retries, so after de-duplication by batch_id every event is there
/// exactly once; every body is validly signed and names its batch in the
/// header; the helper counts 25 sent.
#[tokio::test]
async fn retried_batches_keep_their_id_and_every_event_arrives_signed() {
    let server = Arc::new(Mutex::new(Server::default()));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let telemetry = Arc::new(Telemetry::new().unwrap());
    let ctx = BuildContext {
        id: ComponentId::parse("webhook").unwrap(),
        telemetry: telemetry.clone(),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!(
        "endpoint: http://{addr}/hook\n\
         secret: {SECRET}\n\
         sensor_id: sensor-7\n\
         batch_size: 10\n\
         flush_interval: 50ms\n\
         timeout: 500ms\n\
         retry_on_failure: {{initial_interval: 10ms, max_interval: 50ms}}\n\
         sending_queue: {{num_consumers: 1}}"
    ))
    .unwrap();
    let (exporter, settings) = WebhookFactory.create(&ctx, &config).unwrap();
    let (consumer, handle) = start_exporter(
        "webhook",
        exporter,
        settings,
        telemetry.clone(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let ids: Vec<String> = (0..25).map(|i| event(i).event_id.clone()).collect();
    let events: Vec<OispEvent> = (0..25).map(event).collect();
    consumer
        .consume(Batch::Logs(events_to_resource_logs(events)))
        .await
        .unwrap();
    drop(consumer);
    tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .unwrap()
        .unwrap();

    let seen = server.lock().unwrap().seen.clone();
    assert!(seen.len() >= 5, "3 batches + 2 failed attempts: {seen:?}");
    for s in &seen {
        assert!(s.signature_ok, "attempt {} badly signed", s.attempt);
        assert_eq!(s.body["sensor_id"], "sensor-7");
        assert_eq!(s.body["batch_id"], s.header_batch_id.as_str());
    }
    // The failed attempts carried the batch that was later accepted.
    let first_id = &seen[0].header_batch_id;
    assert_eq!(&seen[1].header_batch_id, first_id);
    assert_eq!(&seen[2].header_batch_id, first_id);

    // The receiver's view: bodies it processed, de-duplicated by batch_id.
    let mut by_batch: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut processed_events = 0;
    for s in seen.iter().filter(|s| s.processed) {
        let ids: Vec<String> = s.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_string())
            .collect();
        processed_events += ids.len();
        if let Some(prev) = by_batch.insert(s.header_batch_id.clone(), ids.clone()) {
            assert_eq!(prev, ids, "one batch_id, one content");
        }
    }
    assert!(
        processed_events > 25,
        "the lost answer made one batch arrive twice"
    );
    let delivered: Vec<String> = by_batch.values().flatten().cloned().collect();
    assert_eq!(delivered.len(), 25, "each event once after de-duplication");
    assert_eq!(
        delivered.iter().collect::<BTreeSet<_>>(),
        ids.iter().collect::<BTreeSet<_>>()
    );
    assert!(by_batch.values().all(|b| b.len() <= 10));
    let metrics = telemetry.render();
    assert!(
        metrics.contains("otelcol_exporter_sent_log_records{exporter=\"webhook\"} 25"),
        "{metrics}"
    );
}

/// Scenario: a webhook URL with a user and password, a secret path and a
/// token in the query; first nothing listens there (a connection error,
/// whose reqwest message embeds the URL), then a server answers 404.
/// Guarantees: the exporter's errors name the host and the path's first
/// segment only: no password, no secret path segment, no token.
#[tokio::test]
async fn webhook_errors_do_not_show_the_secret_url() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let secrets = ["hunter2", "B000", "XXXXSECRET", "t0ken"];
    let create = |port: u16| {
        let ctx = BuildContext {
            id: ComponentId::parse("webhook").unwrap(),
            telemetry: Arc::new(Telemetry::new().unwrap()),
            admin_routes: Default::default(),
            redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
        };
        let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!(
            "endpoint: http://hook:hunter2@127.0.0.1:{port}/T000/B000/XXXXSECRET?token=t0ken"
        ))
        .unwrap();
        WebhookFactory.create(&ctx, &config).unwrap().0
    };
    let batch = || Batch::Logs(events_to_resource_logs(vec![event(1)]));

    let mut refused = create(port);
    let e = refused.export(batch()).await.unwrap_err().to_string();
    assert!(e.contains("127.0.0.1") && e.contains("/T000/***"), "{e}");
    for s in secrets {
        assert!(!e.contains(s), "{s} in {e}");
    }

    let app = Router::new().route("/other", post(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut answered = create(addr.port());
    let e = answered.export(batch()).await.unwrap_err().to_string();
    assert!(e.contains("404"), "{e}");
    for s in secrets {
        assert!(!e.contains(s), "{s} in {e}");
    }
}
