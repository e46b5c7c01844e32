//! The admin server over real sockets (TCP on 127.0.0.1:0 and a Unix
//! socket in a temp dir), with the `websocket` exporter's real routes and
//! real WebSocket clients (tokio-tungstenite): Host, Origin and token
//! checks, CORS, the socket's mode, and events flowing once let in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::listen::Bound;
use super::*;
use futures::StreamExt;
use oispd_component::{Batch, ComponentId, Exporter, ExporterFactory};
use oispd_exporters::websocket::WebsocketFactory;
use oispd_semconv::otel::events_to_resource_logs;
use oispd_semconv::OispEvent;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const TOKEN: &str = "test-token-0123456789abcdef";

/// A running admin server with a websocket exporter's routes.
struct Running {
    addr: Option<SocketAddr>,
    exporter: Box<dyn Exporter>,
    shutdown: CancellationToken,
    handle: JoinHandle<()>,
}

impl Running {
    fn port(&self) -> u16 {
        self.addr.unwrap().port()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.unwrap();
    }
}

/// Starts the admin server of `admin_yaml` with a `websocket` exporter.
async fn start(admin_yaml: &str) -> Running {
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let routes: AdminRoutes = Default::default();
    let ctx = |id: &str| BuildContext {
        id: ComponentId::parse(id).unwrap(),
        telemetry: telemetry.clone(),
        admin_routes: routes.clone(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let (exporter, _) = WebsocketFactory
        .create(&ctx("websocket"), &serde_yaml_ng::Value::Null)
        .unwrap();
    let config: Value = serde_yaml_ng::from_str(admin_yaml).unwrap();
    let admin = Admin::new(&ctx("admin"), &config).unwrap();
    let bound = admin.bind().await.unwrap();
    let addr = match &bound {
        Bound::Tcp(_, addr) => Some(*addr),
        Bound::Unix(..) => None,
    };
    let shutdown = CancellationToken::new();
    let handle = admin.serve(bound, shutdown.clone());
    Running {
        addr,
        exporter,
        shutdown,
        handle,
    }
}

/// One HTTP answer: status, lower-cased head, body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Sends `request` (head lines without the final blank line) and reads
/// the answer to the end.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> Answer {
    stream
        .write_all(format!("{request}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

async fn http(addr: SocketAddr, request: &str) -> Answer {
    exchange(tokio::net::TcpStream::connect(addr).await.unwrap(), request).await
}

/// A WebSocket handshake to `path` with extra headers (Host overrides
/// the URL's); the HTTP status when refused.
async fn websocket(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, u16> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
    }
}

fn event() -> Batch {
    let e = OispEvent::from_value(serde_json::json!({
        "oisp_version": "0.1",
        "event_id": "01JADMIN000000000000000001",
        "event_type": "ai.request",
        "ts": "2025-12-22T14:30:16.000Z",
        "host": {"hostname": "h"},
        "process": {"pid": 7, "name": "python3"},
        "source": {"collector": "test"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": {"prompt": "the secret plan"}
    }))
    .unwrap();
    Batch::Logs(events_to_resource_logs(vec![e]))
}

/// Publishes one event and reads it from `ws`.
async fn receives_event(
    r: &mut Running,
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) {
    // The hub registers the client right after the handshake.
    for _ in 0..200 {
        r.exporter.export(event()).await.unwrap();
        let next = tokio::time::timeout(Duration::from_millis(50), ws.next()).await;
        if let Ok(Some(Ok(Message::Text(text)))) = next {
            assert!(text.contains("the secret plan"), "{text}");
            return;
        }
    }
    panic!("no event reached the client");
}

/// Scenario: no `auth`; requests with the server's own Host, a DNS
/// rebinding Host, no Host; WebSocket handshakes from the server's own
/// page, from a foreign page and with a foreign Host; a client without
/// Origin (not a browser).
/// Guarantees: foreign Host and foreign Origin are refused (403) on every
/// route, the stream included, and counted; own-origin and Origin-less
/// clients get in and receive events.
#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let mut r = start("endpoint: 127.0.0.1:0").await;
    let addr = r.addr.unwrap();
    let port = r.port();
    let own = format!("127.0.0.1:{port}");
    let ok = http(addr, &format!("GET /api/health HTTP/1.1\r\nHost: {own}")).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.head.contains("x-frame-options: deny"), "{}", ok.head);
    let ok = http(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: localhost:{port}"),
    )
    .await;
    assert_eq!(ok.status, 200);
    for path in ["/api/health", "/metrics", "/"] {
        let rebind = http(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: attacker.example:{port}"),
        )
        .await;
        assert_eq!(rebind.status, 403, "{path}");
        assert!(rebind.body.contains("allowed_hosts"), "{}", rebind.body);
    }
    assert_eq!(http(addr, "GET /api/health HTTP/1.0").await.status, 403);

    let foreign_origin = websocket(addr, "/ws/events", &[("Origin", "http://evil.example")]).await;
    assert_eq!(foreign_origin.err(), Some(403));
    let other_port = websocket(
        addr,
        "/ws/events",
        &[("Origin", &format!("http://127.0.0.1:{}", port + 1))],
    )
    .await;
    assert_eq!(other_port.err(), Some(403));
    let foreign_host = websocket(
        addr,
        "/ws/events",
        &[
            ("Host", &format!("attacker.example:{port}")),
            ("Origin", &format!("http://attacker.example:{port}")),
        ],
    )
    .await;
    assert_eq!(foreign_host.err(), Some(403));
    let fetch = http(
        addr,
        &format!("GET /api/health HTTP/1.1\r\nHost: {own}\r\nOrigin: http://evil.example"),
    )
    .await;
    assert_eq!(fetch.status, 403);

    let mut page = websocket(addr, "/ws/events", &[("Origin", &format!("http://{own}"))])
        .await
        .unwrap();
    receives_event(&mut r, &mut page).await;
    let mut tool = websocket(addr, "/ws/events", &[]).await.unwrap();
    receives_event(&mut r, &mut tool).await;

    let metrics = http(addr, &format!("GET /metrics HTTP/1.1\r\nHost: {own}")).await;
    for (reason, n) in [("host", 5), ("origin", 3)] {
        let line =
            format!("oispd_admin_requests_refused{{extension=\"admin\",reason=\"{reason}\"}} {n}");
        assert!(metrics.body.contains(&line), "{line}\n{}", metrics.body);
    }
    drop((page, tool));
    r.stop().await;
}

/// Scenario: `auth.bearer_token_file`; requests without a token, with a
/// wrong one, with `Authorization: Bearer`; stream handshakes the same
/// ways and with `?token=`; the page without a token.
/// Guarantees: data routes answer 401 without the right token and work
/// with it; the stream takes the token from the header or the query and
/// then delivers events; the page (static HTML) loads without it.
#[tokio::test]
async fn token_is_required_for_data_routes() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let mut r = start(&format!(
        "{{endpoint: '127.0.0.1:0', auth: {{bearer_token_file: {}}}}}",
        token_file.display()
    ))
    .await;
    let addr = r.addr.unwrap();
    let own = format!("127.0.0.1:{}", r.port());
    for path in ["/api/health", "/metrics"] {
        let none = http(addr, &format!("GET {path} HTTP/1.1\r\nHost: {own}")).await;
        assert_eq!(none.status, 401, "{path}");
        assert!(
            none.head.contains("www-authenticate: bearer"),
            "{}",
            none.head
        );
        let wrong = http(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: {own}\r\nAuthorization: Bearer {TOKEN}x"),
        )
        .await;
        assert_eq!(wrong.status, 401, "{path}");
        let right = http(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: {own}\r\nAuthorization: Bearer {TOKEN}"),
        )
        .await;
        assert_eq!(right.status, 200, "{path}");
    }
    let in_query = http(
        addr,
        &format!("GET /api/health?token={TOKEN} HTTP/1.1\r\nHost: {own}"),
    )
    .await;
    assert_eq!(
        in_query.status, 401,
        "the query is for WebSocket handshakes only"
    );

    let origin = format!("http://{own}");
    let none = websocket(addr, "/ws/events", &[("Origin", &origin)]).await;
    assert_eq!(none.err(), Some(401));
    let wrong = websocket(addr, "/ws/events?token=nope", &[("Origin", &origin)]).await;
    assert_eq!(wrong.err(), Some(401));
    let mut from_page = websocket(
        addr,
        &format!("/ws/events?event_type=ai.&token={TOKEN}"),
        &[("Origin", &origin)],
    )
    .await
    .unwrap();
    receives_event(&mut r, &mut from_page).await;
    let bearer = format!("Bearer {TOKEN}");
    let mut from_tool = websocket(addr, "/ws/events", &[("Authorization", &bearer)])
        .await
        .unwrap();
    receives_event(&mut r, &mut from_tool).await;

    let page = http(addr, &format!("GET / HTTP/1.1\r\nHost: {own}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("oispd live"));
    assert!(!page.body.contains(TOKEN));
    drop((from_page, from_tool));
    r.stop().await;
}

/// Scenario: `cors.allowed_origins` with a wildcard and `auth`; a
/// preflight and a request from a listed origin, a preflight from another.
/// Guarantees: the listed origin gets the CORS headers (preflight without
/// a token, the request with it); the other gets none and its request is
/// refused.
#[tokio::test]
async fn listed_origins_get_cors() {
    let mut r = start(&format!(
        "{{endpoint: '127.0.0.1:0', cors: {{allowed_origins: ['https://*.example.com'], max_age: 60}}, auth: {{bearer_token: {TOKEN}}}}}"
    ))
    .await;
    let addr = r.addr.unwrap();
    let own = format!("127.0.0.1:{}", r.port());
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /api/health HTTP/1.1\r\nHost: {own}\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization"
        )
    };
    let listed = http(addr, &preflight("https://dash.example.com")).await;
    assert_eq!(listed.status, 200, "{}", listed.head);
    assert!(
        listed
            .head
            .contains("access-control-allow-origin: https://dash.example.com"),
        "{}",
        listed.head
    );
    assert!(listed.head.contains("access-control-max-age: 60"));
    let other = http(addr, &preflight("https://evil.example")).await;
    assert!(
        !other.head.contains("access-control-allow-origin"),
        "{}",
        other.head
    );
    let read = http(
        addr,
        &format!("GET /api/health HTTP/1.1\r\nHost: {own}\r\nOrigin: https://dash.example.com\r\nAuthorization: Bearer {TOKEN}"),
    )
    .await;
    assert_eq!(read.status, 200);
    assert!(read
        .head
        .contains("access-control-allow-origin: https://dash.example.com"));
    let refused = http(
        addr,
        &format!("GET /api/health HTTP/1.1\r\nHost: {own}\r\nOrigin: https://evil.example\r\nAuthorization: Bearer {TOKEN}"),
    )
    .await;
    assert_eq!(refused.status, 403);
    let mut ws = websocket(
        addr,
        &format!("/ws/events?token={TOKEN}"),
        &[("Origin", "https://dash.example.com")],
    )
    .await
    .unwrap();
    receives_event(&mut r, &mut ws).await;
    drop(ws);
    r.stop().await;
}

/// Scenario: a Unix socket at a path whose directory does not exist yet,
/// then again over a stale socket file left by a stopped server, with
/// `auth`; a regular file at the path.
/// Guarantees: the socket is mode 0600 in a 0700 directory and serves
/// requests (with the token; any Host, since no browser reaches it); a
/// stale socket is replaced, the socket is removed at shutdown, and a
/// regular file is never touched.
#[tokio::test]
async fn unix_socket_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/admin.sock");
    let yaml = format!(
        "{{endpoint: 'unix://{}', auth: {{bearer_token: {TOKEN}}}}}",
        path.display()
    );
    let r = start(&yaml).await;
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
    let unix = || async { tokio::net::UnixStream::connect(&path).await.unwrap() };
    let refused = exchange(unix().await, "GET /api/health HTTP/1.1\r\nHost: localhost").await;
    assert_eq!(refused.status, 401);
    let ok = exchange(
        unix().await,
        &format!("GET /api/health HTTP/1.1\r\nHost: anything\r\nAuthorization: Bearer {TOKEN}"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // A stale socket (left by a crash): no one answers on it.
    let handle = r.handle;
    handle.abort();
    let _ = handle.await;
    assert!(path.exists());
    let r = start(&yaml).await;
    let ok = exchange(
        unix().await,
        &format!("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"),
    )
    .await;
    assert_eq!(ok.status, 200);
    r.stop().await;
    assert!(!path.exists(), "the socket is removed at shutdown");

    std::fs::write(&path, b"not a socket").unwrap();
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let ctx = BuildContext {
        id: ComponentId::parse("admin").unwrap(),
        telemetry,
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let admin = Admin::new(&ctx, &serde_yaml_ng::from_str(&yaml).unwrap()).unwrap();
    let err = admin.bind().await.err().unwrap().to_string();
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}

/// Scenario: a Unix socket with `socket_group` (this process's own group,
/// by number).
/// Guarantees: the socket is 0660 and owned by that group.
#[tokio::test]
async fn unix_socket_group_gets_0660() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.sock");
    let gid = std::fs::metadata(dir.path()).unwrap().gid();
    let r = start(&format!(
        "{{transport: unix, endpoint: '{}', socket_group: '{gid}'}}",
        path.display()
    ))
    .await;
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, gid));
    r.stop().await;
}

/// Scenario: a token file that is missing, and one holding a short token.
/// Guarantees: the admin server is not built; the errors name the file's
/// key and the length rule.
#[test]
fn bad_token_files_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "abc\n").unwrap();
    let ctx = BuildContext {
        id: ComponentId::parse("admin").unwrap(),
        telemetry: Arc::new(Telemetry::new().unwrap()),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let build = |file: &Path| {
        let yaml = format!("auth: {{bearer_token_file: {}}}", file.display());
        Admin::new(&ctx, &serde_yaml_ng::from_str(&yaml).unwrap())
            .err()
            .unwrap()
            .to_string()
    };
    let missing = build(&dir.path().join("missing"));
    assert!(missing.contains("bearer_token_file"), "{missing}");
    let short = build(&short);
    assert!(short.contains("at least 16 characters"), "{short}");
}

/// Scenario: admin configs on and beyond loopback, with and without auth,
/// and on a Unix socket.
/// Guarantees: only a listener beyond loopback without auth is reported.
#[test]
fn exposure_is_reported_beyond_loopback_without_auth() {
    let check = |yaml: &str| exposure_warning(&serde_yaml_ng::from_str(yaml).unwrap());
    assert_eq!(
        check("endpoint: 0.0.0.0:7777").as_deref(),
        Some("0.0.0.0:7777")
    );
    assert_eq!(check("~"), None);
    assert_eq!(check("endpoint: 'localhost:1'"), None);
    assert_eq!(
        check(&format!(
            "{{endpoint: '0.0.0.0:7777', auth: {{bearer_token: {TOKEN}}}}}"
        )),
        None
    );
    assert_eq!(check("endpoint: unix:///run/oispd/admin.sock"), None);
}
