//! The kernel capture against real TLS clients and a real TLS server on
//! 127.0.0.1: Python's `ssl` and curl (the system libssl), node (its static
//! OpenSSL), a copy of libssl loaded after the capture started, and process,
//! network, DNS and file activity; a rustls + aws-lc-rs client (the test
//! client `scripts/build-test-clients.sh` builds) against the e2e fake
//! provider.
//!
//! Needs root with BPF (as in CI). Where BPF is unavailable every test FAILS
//! with the reason, unless `OISPD_NO_BPF=1` is set, which makes them skip
//! (and say so). Needs python3, curl, node and openssl on PATH.
//!
//! ```text
//! cargo test -p oispd-receiver --test ebpf_capture
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use oispd_receiver::capture::{Direction, TlsChunk};
use oispd_receiver::ebpf::{
    ActivityMode, CaptureRecord, EbpfCapture, EbpfCaptureConfig, Protocol, RawActivity,
};

/// How long a test waits for the records it expects before it fails.
const WAIT: Duration = Duration::from_secs(30);

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ebpf_support")
        .join(file)
}

/// Starts a capture, or returns None (skip) when BPF is explicitly unavailable.
fn start(config: &EbpfCaptureConfig) -> Option<EbpfCapture> {
    match EbpfCapture::start(config) {
        Ok(c) => Some(c),
        Err(e) if std::env::var("OISPD_NO_BPF").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: OISPD_NO_BPF=1 and the ebpf capture cannot start: {e}");
            None
        }
        Err(e) => panic!(
            "the ebpf capture tests need root with BPF (set OISPD_NO_BPF=1 to skip them): {e}"
        ),
    }
}

/// The Python TLS server, with a self-signed certificate made for the run.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<serde_json::Value>,
    reports: RefCell<HashMap<String, serde_json::Value>>,
    _dir: tempfile::TempDir,
}

/// What the server received and sent on one connection.
struct Exchange {
    req: Vec<u8>,
    resp: Vec<u8>,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl req failed");
        let mut child = Command::new("python3")
            .arg(support("tls_server.py"))
            .arg(&cert)
            .arg(&key)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let v = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_else(
                    |_| serde_json::json!({ "error": format!("unparsable server line {line:?}") }),
                );
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(WAIT).expect("server port");
        let port = first["port"].as_u64().unwrap() as u16;
        Server {
            child,
            port,
            lines: rx,
            reports: RefCell::new(HashMap::new()),
            _dir: dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits for the server's report of the exchange on `path` (reports of
    /// other paths are kept for later calls).
    fn exchange(&self, path: &str) -> Exchange {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut reports = self.reports.borrow_mut();
        while !reports.contains_key(path) {
            let v = self.lines.recv_timeout(WAIT).unwrap_or_else(|_| {
                panic!(
                    "server never answered {path}; it answered {:?}",
                    reports.keys()
                )
            });
            assert!(v.get("error").is_none(), "server error: {v}");
            let p = v["path"].as_str().unwrap().to_string();
            reports.insert(p, v);
        }
        let v = &reports[path];
        Exchange {
            req: b64.decode(v["req"].as_str().unwrap()).unwrap(),
            resp: b64.decode(v["resp"].as_str().unwrap()).unwrap(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records collected from a capture.
#[derive(Default)]
struct Seen {
    records: Vec<CaptureRecord>,
}

impl Seen {
    fn chunks(&self, pid: u32) -> Vec<&TlsChunk> {
        self.records
            .iter()
            .filter_map(|r| match r {
                CaptureRecord::Tls(c) if c.pid == pid => Some(c),
                _ => None,
            })
            .collect()
    }

    /// Plaintext per connection and direction of `pid`, in capture order.
    fn streams(&self, pid: u32) -> BTreeMap<(u64, bool), Vec<u8>> {
        let mut out: BTreeMap<(u64, bool), Vec<u8>> = BTreeMap::new();
        for c in self.chunks(pid) {
            out.entry((c.conn, c.direction == Direction::Write))
                .or_default()
                .extend_from_slice(&c.data);
        }
        out
    }

    fn activity(&self, pid: u32) -> Vec<&RawActivity> {
        self.records
            .iter()
            .filter_map(|r| match r {
                CaptureRecord::Activity(a) if a.pid() == pid => Some(a),
                _ => None,
            })
            .collect()
    }

    fn has_exit(&self, pid: u32) -> bool {
        self.activity(pid)
            .iter()
            .any(|a| matches!(a, RawActivity::Exit { .. }))
    }
}

/// Pulls records until `done` holds (or fails after [`WAIT`]).
async fn collect(
    capture: &mut EbpfCapture,
    seen: &mut Seen,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(seen) {
        match tokio::time::timeout_at(deadline, capture.next()).await {
            Ok(Some(r)) => seen.records.push(r),
            Ok(None) => panic!("capture ended while waiting for {what}"),
            Err(_) => panic!(
                "timed out waiting for {what}; drops {:?}; probed {:?}",
                capture.dropped(),
                capture.probed_binaries()
            ),
        }
    }
}

/// Runs a client to completion while the capture keeps draining, then waits
/// for its exit record.
async fn run(
    capture: &mut EbpfCapture,
    seen: &mut Seen,
    cmd: &mut Command,
) -> (u32, std::process::ExitStatus) {
    let (pid, status) = run_quietly(capture, seen, cmd).await;
    collect(capture, seen, "the client's exit", |s| s.has_exit(pid)).await;
    (pid, status)
}

/// Runs a client to completion while the capture keeps draining.
async fn run_quietly(
    capture: &mut EbpfCapture,
    seen: &mut Seen,
    cmd: &mut Command,
) -> (u32, std::process::ExitStatus) {
    let mut child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(20), capture.next()).await {
            seen.records.push(r);
        }
    };
    (pid, status)
}

fn python_client(port: u16, path: &str, body: usize, code: i32) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(support("tls_client.py"))
        .arg(port.to_string())
        .arg(path)
        .arg(body.to_string())
        .arg(code.to_string());
    cmd
}

/// Asserts that `pid` wrote exactly the request and read exactly the
/// response of `ex` on one connection, and returns that connection.
fn assert_exchange(seen: &Seen, pid: u32, ex: &Exchange) -> u64 {
    let streams = seen.streams(pid);
    let conn = streams
        .iter()
        .find(|((_, write), data)| *write && **data == ex.req)
        .map(|((conn, _), _)| *conn)
        .unwrap_or_else(|| {
            panic!(
                "no connection of pid {pid} wrote the request {:?}; saw {:?}",
                String::from_utf8_lossy(&ex.req),
                streams
                    .iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned()))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(
        streams
            .get(&(conn, false))
            .map(|v| String::from_utf8_lossy(v).into_owned()),
        Some(String::from_utf8_lossy(&ex.resp).into_owned()),
        "the response read on the same connection"
    );
    conn
}

/// Scenario: a capture starts; then a TLS server, a Python client (system
/// libssl, SSL_write_ex/SSL_read_ex) that exits with code 3 under `sh`, and
/// curl (system libssl, SSL_write/SSL_read) make one request each.
/// Guarantees: the exact request and response bytes come out as TlsChunks of
/// the client's pid with Write/Read directions, one stable conn per
/// connection, the server's address as peer; exec, fork, connect and exit
/// records carry the right pids, addresses and exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libssl_clients_are_captured_exactly() {
    let Some(mut capture) = start(&EbpfCaptureConfig::default()) else {
        return;
    };
    let server = Server::start();
    let mut seen = Seen::default();

    // python3 under sh: sh forks python (the `; exit $?` keeps sh from exec'ing it).
    let script = format!(
        "python3 {} {} /py 300 3; exit $?",
        support("tls_client.py").display(),
        server.port
    );
    let (sh_pid, status) = run(
        &mut capture,
        &mut seen,
        Command::new("sh").args(["-c", &script]),
    )
    .await;
    assert_eq!(status.code(), Some(3));
    let ex = server.exchange("/py");
    let py_pid = seen
        .activity(sh_pid)
        .iter()
        .find_map(|a| match a {
            RawActivity::Fork { child, .. } => Some(*child),
            _ => None,
        })
        .expect("fork record of sh");
    collect(&mut capture, &mut seen, "python's exit", |s| {
        s.has_exit(py_pid)
    })
    .await;

    let conn = assert_exchange(&seen, py_pid, &ex);
    let py_chunks: Vec<&TlsChunk> = seen
        .chunks(py_pid)
        .into_iter()
        .filter(|c| c.conn == conn)
        .collect();
    assert!(
        py_chunks.iter().all(|c| c.peer == Some(server.addr())),
        "peer on every chunk"
    );
    assert!(py_chunks.iter().all(|c| c.data.len() as u64 == c.full_len));

    let act = seen.activity(py_pid);
    assert!(act.iter().any(|a| matches!(a,
        RawActivity::Exec { filename, argv, .. } if filename.contains("python3") && argv.iter().any(|x| x == "/py"))),
        "exec record: {act:?}");
    let local = act
        .iter()
        .find_map(|a| match a {
            RawActivity::Connect {
                peer,
                local,
                protocol: Protocol::Tcp,
                ..
            } if *peer == Some(server.addr()) => Some(*local),
            _ => None,
        })
        .expect("connect record to the server");
    assert_eq!(
        py_chunks[0].local, local,
        "the chunk's local address is the connected socket's"
    );
    assert!(act.iter().any(|a| matches!(
        a,
        RawActivity::Exit {
            exit_code: 3,
            signal: None,
            ..
        }
    )));

    // curl: SSL_write / SSL_read, sendto / recvfrom.
    let url = format!("https://127.0.0.1:{}/curl", server.port);
    let (curl_pid, status) = run(
        &mut capture,
        &mut seen,
        Command::new("curl").args([
            "-sk",
            "--http1.1",
            "-H",
            "Expect:",
            "-d",
            "{\"model\":\"m\"}",
            &url,
        ]),
    )
    .await;
    assert!(status.success());
    let ex = server.exchange("/curl");
    let conn = assert_exchange(&seen, curl_pid, &ex);
    assert!(seen
        .chunks(curl_pid)
        .iter()
        .filter(|c| c.conn == conn)
        .all(|c| c.peer == Some(server.addr())));
    assert_eq!(capture.dropped().tls_records, 0);
}

/// Scenario: one node process makes two concurrent HTTPS POSTs on two
/// connections through its statically linked OpenSSL (memory BIOs: the
/// socket is tied to the SSL* by inference).
/// Guarantees: each request's exact bytes and its response come out on their
/// own conn, stable per connection and different between the two, with the
/// server's address as peer on every chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_concurrent_connections_stay_apart() {
    let Some(mut capture) = start(&EbpfCaptureConfig::default()) else {
        return;
    };
    let server = Server::start();
    let mut seen = Seen::default();
    let (pid, status) = run(
        &mut capture,
        &mut seen,
        Command::new("node")
            .arg(support("node_client.js"))
            .arg(server.port.to_string()),
    )
    .await;
    assert!(status.success(), "node client failed");
    let mut exchanges = HashMap::new();
    for path in ["/node/1", "/node/2"] {
        exchanges.insert(path, server.exchange(path));
    }
    let c1 = assert_exchange(&seen, pid, &exchanges["/node/1"]);
    let c2 = assert_exchange(&seen, pid, &exchanges["/node/2"]);
    assert_ne!(c1, c2, "two connections, two conns");
    for c in seen
        .chunks(pid)
        .iter()
        .filter(|c| c.conn == c1 || c.conn == c2)
    {
        assert_eq!(
            c.peer,
            Some(server.addr()),
            "peer of {:?} chunk of conn {:#x}",
            c.direction,
            c.conn
        );
    }
}

/// Scenario: a capture with max_body_bytes 4096 that excludes curl; a Python
/// client sends a 20 000-byte body in one SSL_write; curl makes a request.
/// Guarantees: the big write comes out as 4096 bytes (the request's prefix)
/// with full_len the whole length; curl produces no TLS chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_writes_are_truncated_and_excluded_processes_skipped() {
    let config = EbpfCaptureConfig {
        max_body_bytes: 4096,
        ring_buffer_size: 1 << 20,
        exclude: oispd_receiver::ebpf::ProcessMatch {
            names: vec!["curl".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let Some(mut capture) = start(&config) else {
        return;
    };
    let server = Server::start();
    let mut seen = Seen::default();
    let (pid, status) = run(
        &mut capture,
        &mut seen,
        &mut python_client(server.port, "/big", 20_000, 0),
    )
    .await;
    assert!(status.success());
    let ex = server.exchange("/big");
    let big = seen
        .chunks(pid)
        .into_iter()
        .find(|c| c.direction == Direction::Write && c.full_len == ex.req.len() as u64)
        .expect("the big write");
    assert_eq!(big.data.len(), 4096);
    assert_eq!(big.data[..], ex.req[..4096]);

    let url = format!("https://127.0.0.1:{}/excluded", server.port);
    let (curl_pid, status) = run_quietly(
        &mut capture,
        &mut seen,
        Command::new("curl").args(["-sk", "--http1.1", &url]),
    )
    .await;
    assert!(status.success());
    server.exchange("/excluded");
    // a later client's exit proves the capture drained past curl's records
    let (_, status) = run(
        &mut capture,
        &mut seen,
        &mut python_client(server.port, "/after", 10, 0),
    )
    .await;
    assert!(status.success());
    assert!(
        seen.chunks(curl_pid).is_empty(),
        "excluded curl was captured"
    );
    assert!(
        seen.activity(curl_pid).is_empty(),
        "excluded curl's activity was reported"
    );
}

/// Scenario: after the capture started, a client loads a private copy of
/// libssl (as in a virtualenv or a container) through LD_LIBRARY_PATH; it
/// waits 300 ms after loading it before connecting.
/// Guarantees: the copy is found from its mapping, probed, and the client's
/// exchange is captured exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_copy_mapped_after_start_is_probed() {
    let Some(mut capture) = start(&EbpfCaptureConfig::default()) else {
        return;
    };
    let system = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
    assert!(system.exists(), "test needs the system libssl.so.3");
    let libdir = tempfile::tempdir().unwrap();
    let copy = libdir.path().join("libssl.so.3");
    std::fs::copy(system, &copy).unwrap();
    let server = Server::start();
    let mut seen = Seen::default();
    let mut cmd = python_client(server.port, "/copy", 100, 0);
    cmd.arg("0.3").env("LD_LIBRARY_PATH", libdir.path());
    let (pid, status) = run(&mut capture, &mut seen, &mut cmd).await;
    assert!(status.success());
    let copy_name = copy.to_string_lossy().into_owned();
    assert!(
        capture
            .probed_binaries()
            .iter()
            .any(|p| p.path.to_string_lossy().ends_with(&copy_name)),
        "copy not probed: {:?}",
        capture.probed_binaries()
    );
    assert_exchange(&seen, pid, &server.exchange("/copy"));
}

const DNS_AND_FILES: &str = r#"
import socket, struct, sys
def query(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 28, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(query("api.openai.com"), ("127.0.0.1", 53))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("127.0.0.1", 53))
c.send(query("Api.Anthropic.com"))
sys.stdin.readline()
with open(sys.argv[1], "w") as f:
    f.write("hello from an agent\n")
"#;

/// Scenario: `activity: agents`; two processes send DNS questions to
/// 127.0.0.1:53 (sendto, and send on a connected socket) and then write a
/// file; only the first is marked as an agent (trace_pid) before it writes.
/// Guarantees: both questions are reported with names and type; the agent's
/// openat and write come with the file's path and size; the other process's
/// file activity is not reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_questions_and_agent_file_activity() {
    let config = EbpfCaptureConfig {
        activity: ActivityMode::Agents,
        ..Default::default()
    };
    let Some(mut capture) = start(&config) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Seen::default();
    let mut pids = Vec::new();
    for (i, traced) in [(0, true), (1, false)] {
        let file = dir.path().join(format!("out{i}.txt"));
        let mut child = Command::new("python3")
            .args(["-c", DNS_AND_FILES])
            .arg(&file)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        collect(&mut capture, &mut seen, "DNS questions", |s| {
            s.activity(pid)
                .iter()
                .filter(|a| matches!(a, RawActivity::DnsQuery { .. }))
                .count()
                == 2
        })
        .await;
        if traced {
            capture.trace_pid(pid);
        }
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        while child.try_wait().unwrap().is_none() {
            if let Ok(Some(r)) =
                tokio::time::timeout(Duration::from_millis(20), capture.next()).await
            {
                seen.records.push(r);
            }
        }
        collect(&mut capture, &mut seen, "exit", |s| s.has_exit(pid)).await;
        pids.push((pid, file));
    }

    let (agent, agent_file) = &pids[0];
    let names: Vec<(String, u16)> = seen
        .activity(*agent)
        .iter()
        .filter_map(|a| match a {
            RawActivity::DnsQuery {
                name,
                query_type,
                resolver,
                ..
            } => {
                assert_eq!(*resolver, Some(SocketAddr::from(([127, 0, 0, 1], 53))));
                Some((name.clone(), *query_type))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("api.openai.com".to_string(), 28),
            ("api.anthropic.com".to_string(), 28)
        ]
    );

    let agent_path = agent_file.to_string_lossy().into_owned();
    let act = seen.activity(*agent);
    assert!(
        act.iter().any(|a| matches!(a, RawActivity::FileOpen { path, result, .. } if *path == agent_path && *result >= 0)),
        "agent's openat: {act:?}"
    );
    assert!(
        act.iter().any(|a| matches!(a, RawActivity::FileWrite { path: Some(p), bytes: 20, .. } if *p == agent_path)),
        "agent's write: {act:?}"
    );
    let (other, other_file) = &pids[1];
    let other_path = other_file.to_string_lossy().into_owned();
    assert!(
        !seen.activity(*other).iter().any(|a| matches!(a,
            RawActivity::FileOpen { path, .. } if *path == other_path)),
        "file activity of a process that is not an agent"
    );
}

/// Builds `ebpf_support/fake_ssl.c` into `dir/libfakessl.so` and
/// `ebpf_support/reused_ssl_client.c` linked against it; returns (library,
/// client).
fn build_reused_ssl_client(dir: &Path) -> (PathBuf, PathBuf) {
    let lib = dir.join("libfakessl.so");
    let client = dir.join("reused_ssl_client");
    let cc = |args: &[&std::ffi::OsStr]| {
        let status = Command::new("cc")
            .args(args)
            .status()
            .expect("cc builds the fixtures");
        assert!(status.success(), "cc {args:?} failed");
    };
    cc(&[
        "-shared".as_ref(),
        "-fPIC".as_ref(),
        "-O1".as_ref(),
        "-o".as_ref(),
        lib.as_os_str(),
        support("fake_ssl.c").as_os_str(),
    ]);
    let rpath = format!("-Wl,-rpath,{}", dir.display());
    let libdir = format!("-L{}", dir.display());
    cc(&[
        "-O1".as_ref(),
        "-o".as_ref(),
        client.as_os_str(),
        support("reused_ssl_client.c").as_os_str(),
        libdir.as_ref(),
        "-lfakessl".as_ref(),
        rpath.as_ref(),
    ]);
    (lib, client)
}

/// Scenario: a TLS library without SSL_free (as BoringSSL located in a
/// stripped binary) whose client runs two connections one after the other
/// through the same SSL* address, to two servers, closing the first socket
/// before opening the second (on another fd).
/// Guarantees: close(2) of each socket ends its connection (a TlsClosed
/// for that SSL* after each write), and the second connection's plaintext
/// carries the second server as peer: a reused SSL* does not inherit the
/// stale socket binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_ssl_address_after_close_is_bound_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, client) = build_reused_ssl_client(dir.path());
    let config = EbpfCaptureConfig {
        libraries: vec![lib],
        ..EbpfCaptureConfig::default()
    };
    let Some(mut capture) = start(&config) else {
        return;
    };
    let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let second = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ports = [first.local_addr().unwrap(), second.local_addr().unwrap()];
    let mut seen = Seen::default();
    let mut cmd = Command::new(&client);
    cmd.arg(ports[0].port().to_string())
        .arg(ports[1].port().to_string());
    let (pid, status) = run(&mut capture, &mut seen, &mut cmd).await;
    assert!(status.success(), "{status:?}");
    collect(&mut capture, &mut seen, "both writes", |s| {
        s.chunks(pid).len() >= 2
    })
    .await;

    let order: Vec<String> = seen
        .records
        .iter()
        .filter_map(|r| match r {
            CaptureRecord::Tls(c) if c.pid == pid => Some(format!(
                "{} to {:?}",
                String::from_utf8_lossy(&c.data),
                c.peer
            )),
            CaptureRecord::TlsClosed { pid: p, .. } if *p == pid => Some("closed".into()),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            format!("first connection to {:?}", Some(ports[0])),
            "closed".to_string(),
            format!("second connection to {:?}", Some(ports[1])),
            "closed".to_string(),
        ],
        "{order:?}"
    );
    let chunks = seen.chunks(pid);
    assert_eq!(chunks[0].conn, chunks[1].conn, "one SSL* address for both");
}

/// The rustls + aws-lc-rs test client (symbols kept; usage in
/// tests/fixtures/rustls-client/src/main.rs).
const RUSTLS_AWS_LC_CLIENT: &str = "/var/tmp/oispd-test-clients/rustls-client-aws-lc";
/// Runs of the client at most until its exec was examined.
const WARM_UP_RUNS: usize = 10;

/// The e2e fake provider (ebpf_support/fake_provider_server.py) on an
/// ephemeral port, with its own test CA.
struct FakeProvider {
    child: Child,
    port: u16,
    ca: PathBuf,
    requests: mpsc::Receiver<serde_json::Value>,
    _dir: tempfile::TempDir,
}

impl FakeProvider {
    fn start(tls12_only: bool) -> FakeProvider {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(support("fake_provider_server.py")).arg(dir.path());
        if tls12_only {
            cmd.arg("tls1.2");
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let first = rx.recv_timeout(WAIT).expect("fake provider port");
        FakeProvider {
            child,
            port: first["port"].as_u64().unwrap() as u16,
            ca: PathBuf::from(first["ca"].as_str().unwrap()),
            requests: rx,
            _dir: dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The body of the next request the provider answered.
    fn next_request_body(&self) -> Vec<u8> {
        let v = self
            .requests
            .recv_timeout(WAIT)
            .expect("the fake provider got no request");
        base64::engine::general_purpose::STANDARD
            .decode(v["body"].as_str().unwrap())
            .unwrap()
    }

    /// The test client asking this provider, over `http` (h1, h2) in `mode`
    /// (plain, sse).
    fn rustls_client(&self, http: &str, mode: &str) -> Command {
        let client = Path::new(RUSTLS_AWS_LC_CLIENT);
        assert!(
            client.exists(),
            "{RUSTLS_AWS_LC_CLIENT} is missing: build it with scripts/build-test-clients.sh"
        );
        let mut cmd = Command::new(client);
        cmd.arg(format!("https://api.openai.com:{}", self.port))
            .arg(&self.ca)
            .args([http, mode]);
        cmd
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that the rustls client `pid` wrote the request (whose body the
/// provider received as `body`) and read the answer on one connection,
/// both directions bound to the provider's socket, and that no TLS
/// handshake bytes came out (the server certificate names the test CA).
fn assert_rustls_exchange(seen: &Seen, pid: u32, provider: &FakeProvider, http: &str, sse: bool) {
    let streams = seen.streams(pid);
    let shown = || {
        streams
            .iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned()))
            .collect::<Vec<_>>()
    };
    let body = provider.next_request_body();
    assert!(contains(&body, b"Say hello from rustls"), "{body:?}");
    let conn = streams
        .iter()
        .find(|((_, write), data)| *write && contains(data, &body))
        .map(|((conn, _), _)| *conn)
        .unwrap_or_else(|| {
            panic!(
                "{http}: no connection wrote the request body; saw {:?}",
                shown()
            )
        });
    let (write, read) = (&streams[&(conn, true)], streams.get(&(conn, false)));
    let read = read.unwrap_or_else(|| {
        panic!(
            "{http}: nothing read on the request's connection; saw {:?}",
            shown()
        )
    });
    if http == "h1" {
        assert!(
            write.starts_with(b"POST /v1/chat/completions HTTP/1.1\r\n"),
            "{}",
            String::from_utf8_lossy(write)
        );
        assert!(
            read.starts_with(b"HTTP/1.1 200 "),
            "{}",
            String::from_utf8_lossy(read)
        );
    } else {
        assert!(
            write.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            "{write:?}"
        );
    }
    let answer: &[&[u8]] = if sse {
        &[
            b"chat.completion.chunk",
            b"\"content\": \"fake\"",
            b"data: [DONE]",
            b"\"total_tokens\": 22",
        ]
    } else {
        &[
            b"\"content\": \"Hello from the fake\"",
            b"\"total_tokens\": 20",
        ]
    };
    for part in answer {
        assert!(
            contains(read, part),
            "{http}: {:?} not read in {:?}",
            String::from_utf8_lossy(part),
            String::from_utf8_lossy(read)
        );
    }
    // HTTP/2 headers are HPACK-coded; the decoder tests read them.
    assert!(
        http != "h1" || contains(write, b"authorization: Bearer sk-test-not-a-real-key"),
        "{}",
        String::from_utf8_lossy(write)
    );
    for c in seen.chunks(pid) {
        assert!(
            !contains(&c.data, b"oispd e2e test CA"),
            "handshake bytes captured: {:?}",
            c.data
        );
        if c.conn == conn {
            assert_eq!(
                c.peer,
                Some(provider.addr()),
                "{http}: {:?} chunk unbound",
                c.direction
            );
            assert!(c.local.is_some());
        }
    }
}

/// Scenario: the rustls + aws-lc-rs test client (a static Rust binary with
/// no SSL_* functions) runs against the fake provider over HTTP/1.1 and
/// HTTP/2, each plain and streaming (SSE), once with TLS 1.3 and once
/// with the server limited to TLS 1.2 (AES-GCM: writes through
/// EVP_AEAD_CTX_seal_scatter).
/// Guarantees: the client is probed at aws-lc's AEAD functions (found by
/// its symbols) and not reported unhooked; each run's request (headers,
/// the exact body the server received) and the answer come out as one
/// connection with both directions, bound to the provider's address;
/// handshake records never reach the chunks; no AEAD call was refused for
/// its shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustls_aws_lc_client_is_captured_at_the_aead_boundary() {
    let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    let Some(mut capture) = start(&EbpfCaptureConfig::default()) else {
        return;
    };
    let mut seen = Seen::default();
    // The client is examined when it is exec'd, through /proc/PID/exe: a
    // run that ends before the capture reads its exec record is not
    // examined, and its first records may come before the examination is
    // done (a cold start). So warm-up runs first, unchecked, until one was
    // examined.
    let warm_up = FakeProvider::start(false);
    let probed = |capture: &EbpfCapture| {
        capture
            .probed_binaries()
            .iter()
            .find(|b| b.path.ends_with("rustls-client-aws-lc"))
            .map(|b| b.method)
    };
    for _ in 0..WARM_UP_RUNS {
        let mut cmd = warm_up.rustls_client("h1", "plain");
        run(&mut capture, &mut seen, cmd.arg("20")).await;
        if probed(&capture).is_some() {
            break;
        }
    }
    let method = probed(&capture).unwrap_or_else(|| {
        panic!(
            "client not probed after {WARM_UP_RUNS} runs: {:?}",
            capture.probed_binaries()
        )
    });
    assert_eq!(method.label(), "aws_lc_aead_symbols");
    drop(warm_up);
    for tls12_only in [false, true] {
        let provider = FakeProvider::start(tls12_only);
        for (http, mode) in [
            ("h1", "plain"),
            ("h1", "sse"),
            ("h2", "plain"),
            ("h2", "sse"),
        ] {
            let (pid, status) = run(
                &mut capture,
                &mut seen,
                &mut provider.rustls_client(http, mode),
            )
            .await;
            assert!(status.success(), "{http} {mode}: client failed ({status})");
            let what = format!("tls1.2 only: {tls12_only}, {http} {mode}");
            collect(&mut capture, &mut seen, &what, |s| {
                s.streams(pid)
                    .values()
                    .any(|d| contains(d, b"\"total_tokens\": 2"))
            })
            .await;
            assert_rustls_exchange(&seen, pid, &provider, http, mode == "sse");
        }
    }
    assert!(
        capture
            .unhooked_binaries()
            .iter()
            .all(|u| !u.path.ends_with("rustls-client-aws-lc")),
        "{:?}",
        capture.unhooked_binaries()
    );
    assert_eq!(capture.dropped().aead_not_tls_records, 0);
}
