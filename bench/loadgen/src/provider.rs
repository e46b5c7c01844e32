//! `fake-provider`: an HTTPS server on a loopback address that answers
//! OpenAI Chat Completions requests (`POST /v1/chat/completions`) like the
//! real API, non-streaming, with token usage, over HTTP/1.1 keep-alive.
//!
//! TLS is rustls, so oispd's uprobes on OpenSSL never see the server side
//! and only the client's calls are captured. At start it makes a throw-away
//! CA and a certificate for the providers' host names (`api.openai.com`,
//! `api.anthropic.com`) signed by it, and writes the CA to `--ca-out` for
//! the client to trust. Counts are printed as JSON on SIGINT / SIGTERM.

use crate::chat::{completion, error_response, requested_model, CHAT_PATH};
use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Host names the certificate is valid for.
const HOSTS: [&str; 2] = ["api.openai.com", "api.anthropic.com"];

/// Largest request head plus body the server reads.
const MAX_REQUEST_BYTES: usize = 4 << 20;

/// Where to listen and where the CA goes.
#[derive(Clone, Debug, clap::Args)]
pub struct ProviderArgs {
    /// Loopback `ip:port` to listen on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// File the CA certificate (PEM) is written to.
    #[arg(long)]
    pub ca_out: PathBuf,
}

#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    tls_failures: AtomicU64,
    answered: AtomicU64,
    rejected: AtomicU64,
}

/// Serves until SIGINT / SIGTERM; returns the counts.
pub async fn run(args: ProviderArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "the fake provider only listens on loopback addresses, not {}",
        args.listen
    );
    let acceptor = TlsAcceptor::from(Arc::new(server_config(&args.ca_out)?));
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let counts = Arc::new(Counts::default());
    tokio::select! {
        () = serve(listener, acceptor, counts.clone()) => {}
        () = crate::shutdown_signal() => {}
    }
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(json!({
        "listen": args.listen.to_string(),
        "connections": load(&counts.connections),
        "tls_failures": load(&counts.tls_failures),
        "answered": load(&counts.answered),
        "rejected": load(&counts.rejected),
    }))
}

/// Accepts connections and answers them, forever.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, counts: Arc<Counts>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of descriptors or similar: do not spin.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(tcp, acceptor.clone(), counts.clone()));
    }
}

/// A CA (written to `ca_out`) and a server configuration whose certificate
/// it signed.
fn server_config(ca_out: &std::path::Path) -> anyhow::Result<rustls::ServerConfig> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "oispd benchmark CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(HOSTS.iter().map(|h| h.to_string()).collect::<Vec<_>>())?
        .signed_by(&key, &ca)?;
    std::fs::write(ca_out, ca.pem()).with_context(|| format!("writing {}", ca_out.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// One client connection: TLS, then requests answered in order until the
/// client closes.
async fn connection(tcp: TcpStream, acceptor: TlsAcceptor, counts: Arc<Counts>) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut tls) = acceptor.accept(tcp).await else {
        counts.tls_failures.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut buf: Vec<u8> = Vec::with_capacity(32 << 10);
    loop {
        let (response, used) = loop {
            match parse(&buf) {
                Parsed::Complete(response, used) => break (response, used),
                Parsed::Bad(response) => {
                    counts.rejected.fetch_add(1, Ordering::Relaxed);
                    let _ = tls.write_all(&response).await;
                    return;
                }
                Parsed::Partial if buf.len() >= MAX_REQUEST_BYTES => return,
                Parsed::Partial => match tls.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
            }
        };
        let seq = match &response {
            Answer::Ok { .. } => counts.answered.fetch_add(1, Ordering::Relaxed),
            Answer::Refused(_) => counts.rejected.fetch_add(1, Ordering::Relaxed),
        };
        let bytes = response.into_bytes(seq);
        buf.drain(..used);
        if tls.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// What to answer to one request.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// A chat completion for `model`; `body_len` sizes the usage.
    Ok { model: String, body_len: usize },
    /// A complete error response.
    Refused(Vec<u8>),
}

impl Answer {
    fn into_bytes(self, seq: u64) -> Vec<u8> {
        match self {
            Answer::Ok { model, body_len } => {
                let created = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                completion(&model, seq, body_len, created)
            }
            Answer::Refused(bytes) => bytes,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A whole request: the answer and the bytes it took.
    Complete(Answer, usize),
    /// Not HTTP/1.1 this server can follow: answer and close.
    Bad(Vec<u8>),
}

/// Parses one request from the front of `buf`.
fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(e) => {
            return Parsed::Bad(error_response(
                400,
                "Bad Request",
                &format!("bad request: {e}"),
            ))
        }
    };
    let mut length = 0usize;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Bad(error_response(
                411,
                "Length Required",
                "send a content-length",
            ));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) => length = n,
                None => {
                    return Parsed::Bad(error_response(400, "Bad Request", "bad content-length"))
                }
            }
        }
    }
    if head + length > MAX_REQUEST_BYTES {
        return Parsed::Bad(error_response(
            413,
            "Payload Too Large",
            "request too large",
        ));
    }
    if buf.len() < head + length {
        return Parsed::Partial;
    }
    let body = &buf[head..head + length];
    let answer = match (req.method, req.path) {
        (Some("POST"), Some(CHAT_PATH)) => match requested_model(body) {
            Some(model) => Answer::Ok {
                model,
                body_len: length,
            },
            None => Answer::Refused(error_response(
                400,
                "Bad Request",
                "body is not a chat completions request",
            )),
        },
        _ => Answer::Refused(error_response(404, "Not Found", "no such route")),
    };
    Parsed::Complete(answer, head + length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::CallsArgs;
    use crate::chat::RequestTemplate;
    use std::time::Duration;

    /// Scenario: the `ai-calls` client (system OpenSSL, verifying the
    /// certificate for api.openai.com against the CA file) makes 40 calls
    /// over 4 connections to the server on a loopback port.
    /// Guarantees: every call is answered 200 and counted once on both
    /// sides; no TLS failure.
    #[test]
    fn client_and_server_complete_every_call() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = dir.path().join("ca.pem");
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let config = server_config(&ca).unwrap_or_else(|e| panic!("{e}"));
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        let counts = Arc::new(Counts::default());
        rt.spawn(serve(
            listener,
            TlsAcceptor::from(Arc::new(config)),
            counts.clone(),
        ));
        let summary = crate::calls::run(&CallsArgs {
            host: "api.openai.com".into(),
            port,
            resolve: "127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}")),
            ca_file: ca,
            connections: 4,
            rate: 400.0,
            duration: Duration::from_millis(100),
            body_bytes: 8192,
            model: "gpt-4o-mini".into(),
            timeout: Duration::from_secs(10),
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(summary["calls_scheduled"], 40);
        assert_eq!(summary["calls_ok"], 40, "{summary}");
        assert_eq!(summary["calls_failed"], 0);
        assert_eq!(summary["latency_ms"]["n"], 40);
        assert_eq!(counts.answered.load(Ordering::Relaxed), 40);
        assert_eq!(counts.connections.load(Ordering::Relaxed), 4);
        assert_eq!(counts.tls_failures.load(Ordering::Relaxed), 0);
    }

    /// Scenario: a chat request arriving in two pieces, followed by the
    /// start of the next request.
    /// Guarantees: partial until the body is complete; then answered with
    /// the model asked for, consuming exactly the first request.
    #[test]
    fn answers_a_request_once_its_body_is_complete() {
        let mut t = RequestTemplate::new("api.openai.com", "gpt-4o-mini", 8192)
            .unwrap_or_else(|e| panic!("{e}"));
        let req = t.render(1).to_vec();
        assert_eq!(parse(&req[..req.len() - 1]), Parsed::Partial);
        let mut two = req.clone();
        two.extend_from_slice(&req[..100]);
        assert_eq!(
            parse(&two),
            Parsed::Complete(
                Answer::Ok {
                    model: "gpt-4o-mini".into(),
                    body_len: 8192
                },
                req.len()
            )
        );
    }

    /// Scenario: a request to another path, and a chunked request.
    /// Guarantees: 404 for the path (connection kept), 411 and close for
    /// the chunked body the server does not decode.
    #[test]
    fn refuses_what_it_does_not_serve() {
        let other = b"GET /v1/models HTTP/1.1\r\nhost: api.openai.com\r\n\r\n";
        match parse(other) {
            Parsed::Complete(Answer::Refused(r), n) => {
                assert!(r.starts_with(b"HTTP/1.1 404"));
                assert_eq!(n, other.len());
            }
            p => panic!("{p:?}"),
        }
        let chunked = b"POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n";
        match parse(chunked) {
            Parsed::Bad(r) => assert!(r.starts_with(b"HTTP/1.1 411")),
            p => panic!("{p:?}"),
        }
    }
}
