//! From capture records to OISP events, without I/O: TLS chunks go
//! through the [`CaptureDecoder`]; activity records keep the process table
//! and the agent marks current and become enriched `process.*`,
//! `network.*` and `file.*` events for the processes `activity` selects
//! (a file's reads merged into one `file.read` per run, `reads`); every
//! decoded AI call marks its process as an agent; request/response pairs
//! become spans when a traces pipeline wants them.
//!
//! The run loop feeds records in capture order and takes events, spans
//! and the processes to mark in the kernel.

use oispd_semconv::common::Host;
use oispd_semconv::{EventData, OispEvent};
use opentelemetry_proto::tonic::trace::v1::Span;

use super::activity::{activity_event, activity_tid, enrich, read_event, MonoClock};
use super::agents::Agents;
use super::procs::{ExecFacts, ProcTable};
use super::reads::{FileReads, Read, ReadRun};
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
    /// Runs of file reads not reported yet.
    pub read_runs: usize,
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
    /// Events ready to be sent. Its capacity is kept across batches: an
    /// event is over 5 KB, so regrowing it for every batch allocated (and
    /// page-faulted in) hundreds of KB per batch.
    events: Vec<OispEvent>,
    /// The events one chunk completed (reused, see `events`).
    fresh: Vec<OispEvent>,
    span_out: Vec<(OispEvent, Span)>,
    reads: FileReads,
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
            fresh: Vec::new(),
            span_out: Vec::new(),
            reads: FileReads::default(),
            file_path_unknown: 0,
        }
    }

    /// Handles one record of the capture.
    pub(crate) fn handle(&mut self, record: CaptureRecord) {
        match record {
            CaptureRecord::Tls(chunk) => {
                self.procs.observe(chunk.pid);
                let mut fresh = std::mem::take(&mut self.fresh);
                self.decoder.push_into(chunk, &self.procs, &mut fresh);
                self.decoded(fresh.drain(..));
                self.fresh = fresh;
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

    /// Expires idle decoder state and old held activity at monotonic
    /// `now`, and reports the runs of file reads that ended by time.
    pub(crate) fn tick(&mut self, now_mono: u64) {
        let events = self.decoder.tick(now_mono, &self.procs);
        self.decoded(events);
        let runs = self.reads.expire(now_mono);
        self.report_reads(runs);
        self.agents.expire(now_mono);
    }

    /// Reports every run of file reads still open (the receiver stops).
    pub(crate) fn finish(&mut self) {
        let runs = self.reads.drain();
        self.report_reads(runs);
    }

    /// Events ready to be sent.
    pub(crate) fn pending(&self) -> usize {
        self.events.len() + self.span_out.len()
    }

    /// Takes the events ready to be sent (in a vector of their exact size;
    /// the assembler keeps its own buffer).
    pub(crate) fn take_events(&mut self) -> Vec<OispEvent> {
        self.events.drain(..).collect()
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
            read_runs: self.reads.len(),
            pending_requests: self.spans.as_ref().map_or(0, SpanPairs::pending),
        }
    }

    /// Requests let go before their response came (spans lost).
    pub(crate) fn spans_evicted(&self) -> u64 {
        self.spans.as_ref().map_or(0, |s| s.evicted)
    }

    /// File reads and writes that could not be reported for want of a path.
    pub(crate) fn file_path_unknown(&self) -> u64 {
        self.file_path_unknown
    }

    fn decoded(&mut self, events: impl IntoIterator<Item = OispEvent>) {
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
                let runs = self.reads.exited(pid);
                self.report_reads(runs);
            }
            RawActivity::FileOpen { result, .. } => {
                self.procs.observe(pid);
                let run = self.reads.reopened(pid, *result);
                self.report_reads(run);
            }
            _ => self.procs.observe(pid),
        }
        let exited = matches!(a, RawActivity::Exit { .. });
        match a {
            _ if self.mode == ActivityMode::Off => {}
            RawActivity::FileRead {
                pid,
                tid,
                fd,
                bytes,
                offset,
                size,
                path,
                ts_mono_ns,
            } => match path {
                Some(path) => {
                    let ended = self.reads.read(Read {
                        pid,
                        tid,
                        fd,
                        path,
                        bytes,
                        offset,
                        size,
                        ts_mono_ns,
                    });
                    self.report_reads(ended);
                }
                None => self.file_path_unknown += 1,
            },
            other => self.report(&other, pid),
        }
        if exited {
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
        let is_exit = matches!(a, RawActivity::Exit { .. });
        self.deliver(ev, pid, activity_tid(a), a.ts_mono_ns(), is_exit);
    }

    fn report_reads(&mut self, runs: impl IntoIterator<Item = ReadRun>) {
        if self.mode == ActivityMode::Off {
            return;
        }
        for run in runs {
            let ev = read_event(&run, self.clock);
            self.deliver(ev, run.pid, run.tid, run.first_ts, false);
        }
    }

    /// Enriches an activity event and sends it, or holds it until its
    /// process is known as an agent (an exit is never held).
    fn deliver(&mut self, mut ev: OispEvent, pid: u32, tid: u32, ts_mono: u64, is_exit: bool) {
        enrich(&mut ev, pid, tid, self.procs.get(pid), &self.host);
        if self.mode == ActivityMode::All || self.agents.is_agent(pid) {
            self.events.push(ev);
        } else if !is_exit {
            self.agents.hold(pid, ts_mono, ev);
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
        let procs = ProcTable::new(
            dir.path().join("proc"),
            dir.path().join("passwd"),
            dir.path(),
        );
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

    fn file_read(pid: u32, fd: i32, path: Option<&str>, offset: u64, ts: u64) -> CaptureRecord {
        CaptureRecord::Activity(RawActivity::FileRead {
            pid,
            tid: pid,
            fd,
            bytes: 4096,
            offset,
            size: 3 * 4096,
            path: path.map(str::to_string),
            ts_mono_ns: ts,
        })
    }

    fn read_data(ev: &OispEvent) -> &oispd_semconv::file::FileRead {
        match &ev.data {
            Some(EventData::FileRead(d)) => d,
            other => panic!("not a file.read: {other:?}"),
        }
    }

    /// Scenario: with `activity: all`, A reads a 12 KiB file in three 4 KiB
    /// chunks, opens another file on the same fd and reads it, reads a third
    /// file and then nothing, and exits; B reads a file and the receiver
    /// stops; a read whose fd cannot be named.
    /// Guarantees: one file.read per file and fd, not per chunk; the reopen
    /// reports the first run at once; the idle run comes out at the tick
    /// one second after its last read (not before); the exit reports the
    /// open run before process.exit; the stop reports what is left; the
    /// unnamed read is counted.
    #[test]
    fn file_reads_are_merged_per_file() {
        let (mut asm, _d) = assembler(ActivityMode::All, false);
        let ms = 1_000_000;
        for (i, off) in [0, 4096, 8192].into_iter().enumerate() {
            asm.handle(file_read(A, 5, Some("/w/a.txt"), off, i as u64 * ms));
        }
        assert!(
            asm.take_events().is_empty(),
            "a run is reported when it ends"
        );
        asm.handle(CaptureRecord::Activity(RawActivity::FileOpen {
            pid: A,
            tid: A,
            path: "/w/b.txt".into(),
            dirfd: -100,
            flags: 0,
            mode: 0,
            result: 5,
            ts_mono_ns: 10 * ms,
        }));
        let ev = asm.take_events();
        assert_eq!(kinds(&ev), vec![s("file.read", A), s("file.open", A)]);
        let first = read_data(&ev[0]);
        assert_eq!(
            (first.path.as_str(), first.bytes_read, first.complete),
            ("/w/a.txt", Some(3 * 4096), Some(true))
        );
        assert_eq!(ev[0].ts_mono, Some(0));
        asm.handle(file_read(A, 5, Some("/w/b.txt"), 0, 11 * ms));
        asm.handle(file_read(A, 6, Some("/w/c.txt"), 0, 12 * ms));
        asm.handle(file_read(A, 6, Some("/w/c.txt"), 4096, 500 * ms));
        asm.tick(1_499 * ms);
        let ev = asm.take_events();
        assert_eq!(kinds(&ev), vec![s("file.read", A)], "only b.txt is idle");
        assert_eq!(read_data(&ev[0]).path, "/w/b.txt");
        assert_eq!(asm.state_sizes().read_runs, 1);
        asm.handle(exit(A, 1_600 * ms));
        let ev = asm.take_events();
        assert_eq!(kinds(&ev), vec![s("file.read", A), s("process.exit", A)]);
        let c = read_data(&ev[0]);
        assert_eq!((c.path.as_str(), c.bytes_read), ("/w/c.txt", Some(8192)));
        assert_eq!(c.extra["fd"], 6);

        asm.handle(file_read(B, 3, Some("/w/d.txt"), 0, 2_000 * ms));
        asm.handle(file_read(B, 4, None, 0, 2_000 * ms));
        assert_eq!(asm.file_path_unknown(), 1);
        asm.finish();
        let ev = asm.take_events();
        assert_eq!(kinds(&ev), vec![s("file.read", B)]);
        assert_eq!(asm.state_sizes().read_runs, 0);
    }

    /// Scenario: with `activity: agents`, process B (no agent yet) reads a
    /// file, then makes an AI call.
    /// Guarantees: its file.read is held like its other activity and comes
    /// out once it is an agent.
    #[test]
    fn reads_of_a_future_agent_are_held() {
        let (mut asm, _d) = assembler(ActivityMode::Agents, false);
        asm.handle(file_read(B, 3, Some("/w/prompt.md"), 0, 1));
        asm.tick(2_000_000_000);
        assert!(asm.take_events().is_empty());
        for r in ai_call(B, 3_000_000_000) {
            asm.handle(r);
        }
        assert_eq!(
            kinds(&asm.take_events()),
            vec![s("file.read", B), s("ai.request", B), s("ai.response", B)]
        );
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
