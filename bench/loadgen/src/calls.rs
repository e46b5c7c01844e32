//! `ai-calls`: concurrent AI clients at a fixed call rate. Each of
//! `--connections` threads owns one HTTP/1.1 keep-alive connection over
//! TLS and makes `POST /v1/chat/completions` calls with bodies of exactly
//! `--body-bytes`; the calls are spread evenly over time (open loop: call
//! `i` is due at `i / rate` seconds, whichever thread is free takes it).
//!
//! TLS goes through the `openssl` crate, i.e. the system's shared
//! `libssl.so`, one `SSL_write` per request and `SSL_read`s for the
//! response: the calls oispd's uprobes capture. The provider's host name is
//! kept (server name, certificate check, `Host` header) while the
//! connection goes to a loopback address, like curl's `--resolve`.
//!
//! The summary counts calls made (answered 200 with a complete body) and
//! failed, the achieved rate, each call's latency, and how late calls
//! started against their schedule (the client falling behind).

use crate::chat::RequestTemplate;
use crate::latency::Samples;
use anyhow::Context as _;
use openssl::ssl::{SslConnector, SslMethod, SslStream};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest response the client reads.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Where to call, how often and for how long.
#[derive(Clone, Debug, clap::Args)]
pub struct CallsArgs {
    /// Provider host name: TLS server name, certificate name and `Host`.
    #[arg(long, default_value = "api.openai.com")]
    pub host: String,
    /// Port of the provider.
    #[arg(long)]
    pub port: u16,
    /// Loopback address the host name is resolved to (like curl's `--resolve`).
    #[arg(long, default_value = "127.0.0.1")]
    pub resolve: IpAddr,
    /// CA certificate (PEM) the provider's certificate must chain to.
    #[arg(long)]
    pub ca_file: PathBuf,
    /// Connections, each driven by its own thread.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Calls per second over all connections.
    #[arg(long)]
    pub rate: f64,
    /// How long calls are scheduled for.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Size of each request's JSON body.
    #[arg(long, default_value_t = 8192)]
    pub body_bytes: usize,
    /// Model asked for.
    #[arg(long, default_value = "gpt-4o-mini")]
    pub model: String,
    /// Socket timeout of connecting, writing and reading.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
}

/// The schedule and the counters the threads share.
struct Shared {
    start: Instant,
    interval: f64,
    total: u64,
    next: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    /// The next call number and its due time, or `None` when all are taken.
    fn take(&self) -> Option<(u64, Instant)> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.total).then(|| {
            (
                n,
                self.start + Duration::from_secs_f64(n as f64 * self.interval),
            )
        })
    }

    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.errors.lock() {
            *map.entry(what).or_default() += 1;
        }
    }
}

/// What one thread measured.
#[derive(Default)]
struct Measured {
    latency: Samples,
    start_delay: Samples,
    last_done: Option<Instant>,
}

/// Opens TLS connections to the provider.
struct Dialer {
    connector: SslConnector,
    addr: SocketAddr,
    host: String,
    timeout: Duration,
}

impl Dialer {
    fn dial(&self) -> Result<SslStream<TcpStream>, String> {
        let tcp = TcpStream::connect_timeout(&self.addr, self.timeout)
            .map_err(|e| format!("connect: {}", e.kind()))?;
        let setup = tcp
            .set_nodelay(true)
            .and_then(|()| tcp.set_read_timeout(Some(self.timeout)))
            .and_then(|()| tcp.set_write_timeout(Some(self.timeout)));
        setup.map_err(|e| format!("socket options: {}", e.kind()))?;
        self.connector
            .connect(&self.host, tcp)
            .map_err(|e| format!("tls handshake: {e}"))
    }
}

/// Runs the calls and returns the JSON summary.
pub fn run(args: &CallsArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(
        args.resolve.is_loopback(),
        "ai-calls only calls loopback addresses, not {}",
        args.resolve
    );
    anyhow::ensure!(args.connections > 0, "connections must be positive");
    anyhow::ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "rate must be positive"
    );
    let authority = if args.port == 443 {
        args.host.clone()
    } else {
        format!("{}:{}", args.host, args.port)
    };
    let template = RequestTemplate::new(&authority, &args.model, args.body_bytes)?;
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    builder
        .set_ca_file(&args.ca_file)
        .with_context(|| format!("loading {}", args.ca_file.display()))?;
    builder.set_alpn_protos(b"\x08http/1.1")?;
    let dialer = Dialer {
        connector: builder.build(),
        addr: SocketAddr::new(args.resolve, args.port),
        host: args.host.clone(),
        timeout: args.timeout,
    };
    let mut streams = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let s = dialer
            .dial()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("connecting to {} as {}", dialer.addr, args.host))?;
        streams.push(s);
    }

    let total = (args.rate * args.duration.as_secs_f64()).round() as u64;
    let mono_start = monotonic_ns();
    let shared = Shared {
        start: Instant::now() + Duration::from_millis(20),
        interval: 1.0 / args.rate,
        total,
        next: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        errors: Mutex::new(BTreeMap::new()),
    };
    let measured: Vec<Measured> = std::thread::scope(|scope| {
        let threads: Vec<_> = streams
            .into_iter()
            .map(|s| {
                let (shared, dialer, template) = (&shared, &dialer, template.clone());
                scope.spawn(move || caller(Some(s), template, shared, dialer))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect()
    });
    let mono_end = monotonic_ns();

    let mut latency = Samples::default();
    let mut start_delay = Samples::default();
    let mut last_done = shared.start;
    for m in measured {
        latency.extend(m.latency);
        start_delay.extend(m.start_delay);
        last_done = last_done.max(m.last_done.unwrap_or(shared.start));
    }
    let ok = shared.ok.load(Ordering::Relaxed);
    let window = last_done
        .saturating_duration_since(shared.start)
        .as_secs_f64();
    let errors = shared.errors.lock().map(|m| m.clone()).unwrap_or_default();
    Ok(json!({
        "host": args.host,
        "address": dialer.addr.to_string(),
        "connections": args.connections,
        "rate": args.rate,
        "duration_s": args.duration.as_secs_f64(),
        "body_bytes": template.body_len(),
        "request_bytes": template.request_len(),
        "calls_scheduled": total,
        "calls_ok": ok,
        "calls_failed": shared.failed.load(Ordering::Relaxed),
        "window_s": window,
        "achieved_per_s": if window > 0.0 { ok as f64 / window } else { 0.0 },
        "latency_ms": latency.summary(),
        "start_delay_ms": start_delay.summary(),
        "mono_start_ns": mono_start,
        "mono_end_ns": mono_end,
        "errors": errors,
    }))
}

/// One thread: takes due calls until none are left; reconnects after an
/// error.
fn caller(
    mut stream: Option<SslStream<TcpStream>>,
    mut template: RequestTemplate,
    shared: &Shared,
    dialer: &Dialer,
) -> Measured {
    let mut m = Measured::default();
    let mut buf = Vec::with_capacity(16 << 10);
    while let Some((n, due)) = shared.take() {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let sent = Instant::now();
        m.start_delay
            .push(sent.saturating_duration_since(due).as_nanos() as u64);
        let s = match stream.as_mut() {
            Some(s) => s,
            None => match dialer.dial() {
                Ok(s) => stream.insert(s),
                Err(e) => {
                    shared.fail(e);
                    continue;
                }
            },
        };
        match call(s, template.render(n), &mut buf) {
            Ok(200) => {
                let done = Instant::now();
                shared.ok.fetch_add(1, Ordering::Relaxed);
                m.latency.push(done.duration_since(sent).as_nanos() as u64);
                m.last_done = Some(done);
            }
            Ok(status) => shared.fail(format!("http {status}")),
            Err(e) => {
                shared.fail(e);
                stream = None;
            }
        }
    }
    m
}

/// Sends one request and reads its whole response; returns the status.
fn call(s: &mut SslStream<TcpStream>, request: &[u8], buf: &mut Vec<u8>) -> Result<u16, String> {
    s.write_all(request)
        .map_err(|e| format!("write: {}", e.kind()))?;
    buf.clear();
    let mut chunk = [0u8; 16 << 10];
    loop {
        if let Some((status, need)) = response_status(buf)? {
            if buf.len() >= need {
                return Ok(status);
            }
        }
        if buf.len() >= MAX_RESPONSE_BYTES {
            return Err("response too large".into());
        }
        let n = s
            .read(&mut chunk)
            .map_err(|e| format!("read: {}", e.kind()))?;
        if n == 0 {
            return Err("closed by the server".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The status and total length (head + body) of the response at the start
/// of `buf`, once its head is complete.
fn response_status(buf: &[u8]) -> Result<Option<(u16, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad response: {e}")),
    };
    let length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or("response without a content-length")?;
    Ok(Some((resp.code.unwrap_or(0), head + length)))
}

/// `CLOCK_MONOTONIC` now, in nanoseconds (the clock of oispd's `ts_mono`).
fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: a response arriving in pieces.
    /// Guarantees: unknown until the head is complete; then the status and
    /// the length of head plus body.
    #[test]
    fn response_length_comes_from_the_head() {
        let resp = crate::chat::completion("gpt-4o-mini", 1, 100, 0);
        assert_eq!(response_status(&resp[..10]), Ok(None));
        let (status, len) = response_status(&resp)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("head incomplete"));
        assert_eq!((status, len), (200, resp.len()));
        assert!(response_status(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }

    /// Scenario: the schedule of 4 calls at 1000 calls/s.
    /// Guarantees: call i is due i ms after the start; nothing after the
    /// last.
    #[test]
    fn calls_are_spread_evenly() {
        let start = Instant::now();
        let shared = Shared {
            start,
            interval: 1.0 / 1000.0,
            total: 4,
            next: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
        };
        for i in 0..4u64 {
            let (n, due) = shared.take().unwrap_or_else(|| panic!("call {i} missing"));
            assert_eq!(n, i);
            let offset = due.duration_since(start).as_micros();
            assert!((offset as i128 - (i as i128) * 1000).abs() <= 1, "{offset}");
        }
        assert!(shared.take().is_none());
    }

    /// Scenario: an address that is not loopback.
    /// Guarantees: refused before anything is sent.
    #[test]
    fn refuses_non_loopback_addresses() {
        let args = CallsArgs {
            host: "api.openai.com".into(),
            port: 443,
            resolve: "192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}")),
            ca_file: PathBuf::from("/nonexistent"),
            connections: 1,
            rate: 1.0,
            duration: Duration::from_secs(1),
            body_bytes: 8192,
            model: "gpt-4o-mini".into(),
            timeout: Duration::from_secs(1),
        };
        let err = run(&args).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("loopback"), "{err}");
    }
}
