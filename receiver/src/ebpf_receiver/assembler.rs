//! From capture records to OISP events, without I/O: TLS chunks go
//! through the [`CaptureDecoder`]; activity records keep the process table
//! and the agent marks current and become enriched `process.*`,
//! `network.*` and `file.*` events for the processes `activity` selects;
//! every decoded AI call marks its process as an agent; request/response
//! pairs become spans when a traces pipeline wants them.
//!
//! The run loop feeds records in capture order and takes events, spans
//! and the processes to mark in the kernel.

use oispd_semconv::common::Host;
use oispd_semconv::{EventData, OispEvent};
use opentelemetry_proto::tonic::trace::v1::Span;

use super::activity::{activity_event, activity_tid, enrich, MonoClock};
use super::agents::Agents;
use super::procs::{ExecFacts, ProcTable};
use super::spans::SpanPairs;
use crate::capture::{CaptureDecoder, DecoderStats};
use crate::ebpf::{ActivityMode, CaptureRecord, RawActivity};

/// How much state the assembler holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateSizes {
    /// TLS connections being decoded.
    pub connections: usize,
    /// Bytes the decoder holds.
    pub decoder_bytes: usize,
    /// Entries of the process table.
    pub processes: usize,
    /// Activity events held until their process is known as an agent.
    pub held_activity: usize,
    /// Requests waiting for their response (spans).
    pub pending_requests: usize,
}

/// Turns capture records into events.
pub(crate) struct Assembler {
    decoder: CaptureDecoder,
    procs: ProcTable,
    agents: Agents,
    spans: Option<SpanPairs>,
    mode: ActivityMode,
    host: Host,
    clock: MonoClock,
    events: Vec<OispEvent>,
    span_out: Vec<(OispEvent, Span)>,
    file_path_unknown: u64,
}

impl Assembler {
    /// An assembler around `decoder`; spans are paired only when `spans`.
    pub(crate) fn new(
        decoder: CaptureDecoder,
        procs: ProcTable,
        agents: Agents,
        mode: ActivityMode,
        host: Host,
        spans: bool,
    ) -> Assembler {
        Assembler {
            decoder,
            procs,
            agents,
            spans: spans.then(SpanPairs::default),
            mode,
            host,
            clock: MonoClock::system(),
            events: Vec::new(),
            span_out: Vec::new(),
            file_path_unknown: 0,
        }
    }

    /// Handles one record of the capture.
    pub(crate) fn handle(&mut self, record: CaptureRecord) {
        match record {
            CaptureRecord::Tls(chunk) => {
                self.procs.observe(chunk.pid);
                let events = self.decoder.push(chunk, &self.procs);
                self.decoded(events);
            }
            CaptureRecord::TlsClosed {
                pid,
                conn,
                ts_mono_ns,
            } => {
                let events = self.decoder.close(pid, conn, ts_mono_ns, &self.procs);
                self.decoded(events);
            }
            CaptureRecord::Activity(a) => self.activity(a),
        }
    }

    /// Expires idle decoder state and old held activity at monotonic `now`.
    pub(crate) fn tick(&mut self, now_mono: u64) {
        let events = self.decoder.tick(now_mono, &self.procs);
        self.decoded(events);
        self.agents.expire(now_mono);
    }

    /// Events ready to be sent.
    pub(crate) fn pending(&self) -> usize {
        self.events.len() + self.span_out.len()
    }

    /// Takes the events ready to be sent.
    pub(crate) fn take_events(&mut self) -> Vec<OispEvent> {
        std::mem::take(&mut self.events)
    }

    /// Takes the completed spans (with their request, for the resource).
    pub(crate) fn take_spans(&mut self) -> Vec<(OispEvent, Span)> {
        std::mem::take(&mut self.span_out)
    }

    /// Processes that became agents since the last call.
    pub(crate) fn take_new_agents(&mut self) -> Vec<u32> {
        self.agents.take_newly_marked()
    }

    /// The decoder's counters.
    pub(crate) fn decoder_stats(&self) -> &DecoderStats {
        self.decoder.stats()
    }

    /// Sizes of the state held now, for the periodic debug log.
    pub(crate) fn state_sizes(&self) -> StateSizes {
        StateSizes {
            connections: self.decoder.connections(),
            decoder_bytes: self.decoder.held_bytes(),
            processes: self.procs.len(),
            held_activity: self.agents.held(),
            pending_requests: self.spans.as_ref().map_or(0, SpanPairs::pending),
        }
    }

    /// Requests let go before their response came (spans lost).
    pub(crate) fn spans_evicted(&self) -> u64 {
        self.spans.as_ref().map_or(0, |s| s.evicted)
    }

    /// File writes that could not be reported for want of a path.
    pub(crate) fn file_path_unknown(&self) -> u64 {
        self.file_path_unknown
    }

    fn decoded(&mut self, events: Vec<OispEvent>) {
        for ev in events {
            if let Some(pid) = ev
                .process
                .as_ref()
                .and_then(|p| p.pid)
                .filter(|_| is_ai_event(&ev))
            {
                let held = self.agents.mark(pid);
                self.events.extend(held);
            }
            if let Some(pairs) = &mut self.spans {
                if let Some(span) = pairs.observe(&ev) {
                    self.span_out.push(span);
                }
            }
            self.events.push(ev);
        }
    }

    fn activity(&mut self, a: RawActivity) {
        let pid = a.pid();
        match &a {
            RawActivity::Exec {
                pid,
                ppid,
                uid,
                comm,
                filename,
                argv,
                ..
            } => {
                self.procs.exec(&ExecFacts {
                    pid: *pid,
                    ppid: *ppid,
                    uid: *uid,
                    comm: comm.clone(),
                    filename: filename.clone(),
                    argv: argv.clone(),
                });
                self.agents.exec(*pid, *ppid);
            }
            RawActivity::Fork { parent, child, .. } => {
                self.procs.fork(*parent, *child);
                self.agents.fork(*parent, *child);
            }
            RawActivity::Exit { ts_mono_ns, .. } => {
                let events = self.decoder.process_exited(pid, *ts_mono_ns, &self.procs);
                self.decoded(events);
            }
            _ => self.procs.observe(pid),
        }
        if self.mode != ActivityMode::Off {
            self.report(&a, pid);
        }
        if let RawActivity::Exit { .. } = a {
            self.procs.forget(pid);
            self.agents.exit(pid);
        }
    }

    fn report(&mut self, a: &RawActivity, pid: u32) {
        let Some(mut ev) = activity_event(a, self.clock) else {
            if matches!(a, RawActivity::FileWrite { path: None, .. }) {
                self.file_path_unknown += 1;
            }
            return;
        };
        if let Some(EventData::ProcessExec(x)) = &mut ev.data {
            x.cwd = self.procs.cwd(pid);
        }
        enrich(
            &mut ev,
            pid,
            activity_tid(a),
            self.procs.get(pid),
            &self.host,
        );
        if self.mode == ActivityMode::All || self.agents.is_agent(pid) {
            self.events.push(ev);
        } else if !matches!(a, RawActivity::Exit { .. }) {
            self.agents.hold(pid, a.ts_mono_ns(), ev);
        }
    }
}

/// Whether an event comes from a decoded AI call (and so marks its process).
fn is_ai_event(ev: &OispEvent) -> bool {
    matches!(
        ev.data,
        Some(
            EventData::AiRequest(_)
                | EventData::AiResponse(_)
                | EventData::AiEmbedding(_)
                | EventData::AiStreamingChunk(_)
                | EventData::AgentToolCall(_)
                | EventData::AgentToolResult(_)
        )
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::{DecoderConfig, Direction, TlsChunk};
    use crate::ebpf::Protocol;
    use oispd_semconv::providers::ProviderCatalog;
    use std::time::Duration;

    const A: u32 = 3_900_001;
    const B: u32 = 3_900_002;
    const C: u32 = 3_900_003;

    fn assembler(mode: ActivityMode, spans: bool) -> (Assembler, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "alice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        let decoder = CaptureDecoder::new(
            DecoderConfig {
                host: Some(Host {
                    hostname: Some("test-host".into()),
                    ..Host::default()
                }),
                ..DecoderConfig::default()
            },
            ProviderCatalog::builtin(),
        );
        let procs = ProcTable::new(dir.path().join("proc"), dir.path().join("passwd"));
        let host = Host {
            hostname: Some("test-host".into()),
            ..Host::default()
        };
        let asm = Assembler::new(
            decoder,
            procs,
            Agents::new(Duration::from_secs(60)),
            mode,
            host,
            spans,
        );
        (asm, dir)
    }

    fn exec(pid: u32, ppid: u32, comm: &str, ts: u64) -> CaptureRecord {
        CaptureRecord::Activity(RawActivity::Exec {
            pid,
            ppid,
            uid: 1000,
            gid: 1000,
            cgroup_id: 1,
            comm: comm.into(),
            filename: format!("/usr/bin/{comm}"),
            argv: vec![comm.into(), "agent.py".into()],
            argv_truncated: false,
            ts_mono_ns: ts,
        })
    }

    fn connect(pid: u32, ts: u64) -> CaptureRecord {
        CaptureRecord::Activity(RawActivity::Connect {
            pid,
            tid: pid,
            fd: 3,
            protocol: Protocol::Tcp,
            local: Some("127.0.0.1:40000".parse().unwrap()),
            peer: Some("127.0.0.1:443".parse().unwrap()),
            result: 0,
            ts_mono_ns: ts,
        })
    }

    fn exit(pid: u32, ts: u64) -> CaptureRecord {
        CaptureRecord::Activity(RawActivity::Exit {
            pid,
            comm: "x".into(),
            exit_code: 0,
            signal: None,
            ts_mono_ns: ts,
        })
    }

    fn tls(pid: u32, direction: Direction, ts: u64, data: &[u8]) -> CaptureRecord {
        CaptureRecord::Tls(TlsChunk {
            pid,
            tid: pid,
            conn: 0xabc,
            ts_mono_ns: ts,
            direction,
            data: data.to_vec(),
            full_len: data.len() as u64,
            local: None,
            peer: None,
        })
    }

    /// One OpenAI chat completion call of `pid`.
    fn ai_call(pid: u32, ts: u64) -> Vec<CaptureRecord> {
        let body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
        let mut req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-proj-TESTKEY0123456789abcdef\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let rbody = br#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":13,"completion_tokens":7,"total_tokens":20}}"#;
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            rbody.len()
        )
        .into_bytes();
        resp.extend_from_slice(rbody);
        vec![
            tls(pid, Direction::Write, ts, &req),
            tls(pid, Direction::Read, ts + 1_000_000, &resp),
        ]
    }

    fn kinds(events: &[OispEvent]) -> Vec<(String, u32)> {
        events
            .iter()
            .map(|e| {
                (
                    e.event_type.clone(),
                    e.process.as_ref().and_then(|p| p.pid).unwrap_or(0),
                )
            })
            .collect()
    }

    fn s(t: &str, pid: u32) -> (String, u32) {
        (t.to_string(), pid)
    }

    /// Scenario: with `activity: agents`, processes A and B exec and connect;
    /// A makes an AI call, forks C which execs; A and B exit.
    /// Guarantees: A's earlier exec and connect come out right before its
    /// call, B's activity never does; C (A's child) is an agent; A's exit
    /// is reported; the kernel is told to trace A and C; events are enriched.
    #[test]
    fn agents_mode_reports_agents_and_their_descendants_only() {
        let (mut asm, _dir) = assembler(ActivityMode::Agents, false);
        for r in [
            exec(A, 1, "python3", 1),
            connect(A, 2),
            exec(B, 1, "curl", 3),
            connect(B, 4),
        ] {
            asm.handle(r);
        }
        assert!(asm.take_events().is_empty(), "nothing before the AI call");
        for r in ai_call(A, 10_000_000) {
            asm.handle(r);
        }
        let ev = asm.take_events();
        assert_eq!(
            kinds(&ev),
            vec![
                s("process.exec", A),
                s("network.connect", A),
                s("ai.request", A),
                s("ai.response", A)
            ]
        );
        let p = ev[0].process.as_ref().unwrap();
        assert_eq!(p.name.as_deref(), Some("python3"));
        assert_eq!(p.cmdline.as_deref(), Some("python3 agent.py"));
        assert_eq!(ev[0].actor.as_ref().unwrap().user.as_deref(), Some("alice"));
        assert_eq!(
            ev[2].process.as_ref().unwrap().name.as_deref(),
            Some("python3")
        );
        assert_eq!(
            ev[2].host.as_ref().unwrap().hostname.as_deref(),
            Some("test-host")
        );
        let text = serde_json::to_string(&ev).unwrap();
        assert!(
            !text.contains("TESTKEY0123456789abcdef"),
            "a key leaked: {text}"
        );

        asm.handle(CaptureRecord::Activity(RawActivity::Fork {
            parent: A,
            child: C,
            ts_mono_ns: 20_000_000,
        }));
        asm.handle(exec(C, A, "git", 21_000_000));
        asm.handle(CaptureRecord::Activity(RawActivity::FileOpen {
            pid: C,
            tid: C,
            path: "/tmp/notes.md".into(),
            dirfd: -100,
            flags: 0,
            mode: 0,
            result: 3,
            ts_mono_ns: 22_000_000,
        }));
        asm.handle(exit(C, 23_000_000));
        asm.handle(exit(B, 24_000_000));
        asm.handle(exit(A, 25_000_000));
        let ev = asm.take_events();
        assert_eq!(
            kinds(&ev),
            vec![
                s("process.fork", A),
                s("process.exec", C),
                s("file.open", C),
                s("process.exit", C),
                s("process.exit", A)
            ]
        );
        assert_eq!(ev[1].process.as_ref().unwrap().ppid, Some(A));
        assert_eq!(ev[1].process.as_ref().unwrap().name.as_deref(), Some("git"));
        let mut traced = asm.take_new_agents();
        traced.sort_unstable();
        assert_eq!(traced, vec![A, C]);
        assert_eq!(asm.state_sizes().processes, 0, "exits forget their process");
        assert_eq!(asm.state_sizes().held_activity, 0);
    }

    /// Scenario: the same records with `activity: all` and with `activity: off`.
    /// Guarantees: all reports every process's activity as it comes; off reports none, calls still.
    #[test]
    fn all_and_off_modes() {
        let (mut all, _d1) = assembler(ActivityMode::All, false);
        let (mut off, _d2) = assembler(ActivityMode::Off, false);
        for asm in [&mut all, &mut off] {
            asm.handle(exec(B, 1, "curl", 1));
            asm.handle(connect(B, 2));
            for r in ai_call(A, 10) {
                asm.handle(r);
            }
            asm.handle(exit(B, 20));
        }
        assert_eq!(
            kinds(&all.take_events()),
            vec![
                s("process.exec", B),
                s("network.connect", B),
                s("ai.request", A),
                s("ai.response", A),
                s("process.exit", B)
            ]
        );
        assert_eq!(
            kinds(&off.take_events()),
            vec![s("ai.request", A), s("ai.response", A)]
        );
    }

    /// Scenario: a call with spans wanted, and one without.
    /// Guarantees: one span per call when wanted, none otherwise.
    #[test]
    fn spans_only_when_wanted() {
        let (mut with, _d1) = assembler(ActivityMode::Off, true);
        let (mut without, _d2) = assembler(ActivityMode::Off, false);
        for asm in [&mut with, &mut without] {
            for r in ai_call(A, 10) {
                asm.handle(r);
            }
        }
        let spans = with.take_spans();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].1.name, "chat gpt-4o-mini");
        assert!(without.take_spans().is_empty());
        assert_eq!(with.pending(), 2);
    }

    /// Scenario: a file write of a process whose fd cannot be named.
    /// Guarantees: no event, and it is counted.
    #[test]
    fn unnamed_file_writes_are_counted() {
        let (mut asm, _d) = assembler(ActivityMode::All, false);
        asm.handle(CaptureRecord::Activity(RawActivity::FileWrite {
            pid: A,
            tid: A,
            fd: 9,
            bytes: 3,
            path: None,
            ts_mono_ns: 1,
        }));
        assert!(asm.take_events().is_empty());
        assert_eq!(asm.file_path_unknown(), 1);
    }
}
