//! `tail-events`: follows a JSONL file of OISP events as a collector writes
//! it and measures, for every event, the time from its capture to the
//! moment its line could be read from the file.
//!
//! The tailer blocks on inotify (`IN_MODIFY` on the file) and reads the new
//! bytes as soon as it is woken; the clock is read when `read` returns
//! them. An event's capture time is its `ts_mono` (oispd writes the
//! kernel's `bpf_ktime_get_ns`, i.e. `CLOCK_MONOTONIC`, so both ends use the
//! same clock in nanoseconds); events without `ts_mono` fall back to `ts`
//! (RFC 3339, microseconds) against `CLOCK_REALTIME`. The measured delay
//! therefore includes the tailer's own wake-up, which makes every figure an
//! upper bound of the collector's latency.
//!
//! Stops on SIGINT / SIGTERM after reading what the file holds by then, and
//! prints counts by event type and latency percentiles, overall and for
//! `ai.request` + `ai.response` per second of capture time (so that a
//! transient, such as the first calls of a new process, can be told from
//! the steady state).

use crate::latency::Samples;
use anyhow::Context as _;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::inotify;
use rustix::time::{clock_gettime, ClockId, Timespec};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the stop flag is looked at while the file is idle.
const IDLE_CHECK: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 50_000_000,
};

/// Longest span of capture time the per-second latency covers.
const MAX_SECONDS: u64 = 3600;

/// What to follow.
#[derive(Clone, Debug, clap::Args)]
pub struct TailArgs {
    /// The JSONL file (it may not exist yet).
    #[arg(long)]
    pub file: PathBuf,
    /// How long to wait for the file to appear.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub wait: Duration,
}

/// The read clocks at one wake-up, in nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Stamp {
    mono: u64,
    real: u64,
}

impl Stamp {
    fn now() -> Stamp {
        let ns = |t: Timespec| {
            (t.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(t.tv_nsec as u64)
        };
        Stamp {
            mono: ns(clock_gettime(ClockId::Monotonic)),
            real: ns(clock_gettime(ClockId::Realtime)),
        }
    }
}

/// Counts and latencies by event type.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    bytes: u64,
    wakeups: u64,
    by_type: BTreeMap<String, (u64, Samples)>,
    clock_mono: u64,
    clock_real: u64,
    untimed: u64,
    unparsed: u64,
    /// `ai.request` + `ai.response` delays by `ts_mono`: (capture ns, delay ns).
    ai_timeline: Vec<(u64, u64)>,
}

impl Tally {
    /// Accounts one complete line read at `stamp`.
    fn line(&mut self, line: &[u8], stamp: Stamp) {
        self.lines += 1;
        self.bytes += line.len() as u64 + 1;
        let Some(kind) = string_field(line, "event_type") else {
            self.unparsed += 1;
            return;
        };
        let ai = kind == "ai.request" || kind == "ai.response";
        let delay = if let Some(mono) = number_field(line, "ts_mono") {
            self.clock_mono += 1;
            let delay = stamp.mono.saturating_sub(mono);
            if ai {
                self.ai_timeline.push((mono, delay));
            }
            Some(delay)
        } else if let Some(real) = string_field(line, "ts").and_then(oispd_semconv::parse_ts_nanos)
        {
            self.clock_real += 1;
            Some(stamp.real.saturating_sub(real))
        } else {
            self.untimed += 1;
            None
        };
        let entry = self.by_type.entry(kind.to_string()).or_default();
        entry.0 += 1;
        if let Some(d) = delay {
            entry.1.push(d);
        }
    }

    fn json(self, file: &std::path::Path) -> Value {
        let mut events = Map::new();
        let mut latency = Map::new();
        let mut ai = Samples::default();
        for (kind, (count, samples)) in self.by_type {
            events.insert(kind.clone(), json!(count));
            if kind == "ai.request" || kind == "ai.response" {
                ai.extend(samples.clone());
            }
            latency.insert(kind, samples.summary());
        }
        latency.insert("ai.request+ai.response".into(), ai.summary());
        let per_second = per_second(self.ai_timeline);
        json!({
            "file": file.display().to_string(),
            "lines": self.lines,
            "bytes": self.bytes,
            "wakeups": self.wakeups,
            "events": events,
            "latency_ms": latency,
            "capture_clock": {"ts_mono": self.clock_mono, "ts": self.clock_real, "none": self.untimed},
            "unparsed_lines": self.unparsed,
            "ai_latency_by_second": per_second,
        })
    }
}

/// Latency summaries of consecutive one-second slices of capture time,
/// from the first event's (at most [`MAX_SECONDS`] of them).
fn per_second(mut timeline: Vec<(u64, u64)>) -> Vec<Value> {
    timeline.sort_unstable();
    let Some(&(first, _)) = timeline.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut slice = Samples::default();
    let mut second = 0;
    for (at, delay) in timeline {
        let s = (at - first) / 1_000_000_000;
        if s >= MAX_SECONDS {
            break;
        }
        while s > second {
            out.push(std::mem::take(&mut slice).summary());
            second += 1;
        }
        slice.push(delay);
    }
    out.push(slice.summary());
    out
}

/// Follows the file until `stop` is set; returns the JSON summary.
pub fn run(args: &TailArgs, stop: &AtomicBool) -> anyhow::Result<Value> {
    let give_up = Instant::now() + args.wait;
    while !args.file.exists() {
        anyhow::ensure!(
            Instant::now() < give_up && !stop.load(Ordering::Relaxed),
            "{} did not appear within {:?}",
            args.file.display(),
            args.wait
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Watch first, then read: a write between the two still wakes us.
    let notify = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .context("inotify_init")?;
    inotify::add_watch(&notify, &args.file, inotify::WatchFlags::MODIFY)
        .with_context(|| format!("watching {}", args.file.display()))?;
    let mut file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let mut tally = Tally::default();
    let mut pending: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 20];
    let mut events = [0u8; 4096];
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        read_new(&mut file, &mut chunk, &mut pending, &mut tally)?;
        if stopping {
            break;
        }
        let mut fds = [PollFd::new(&notify, PollFlags::IN)];
        if poll(&mut fds, Some(&IDLE_CHECK)).unwrap_or(0) > 0 {
            // Only the wake-up matters; drop the queued notifications.
            while rustix::io::read(&notify, &mut events).is_ok_and(|n| n > 0) {}
            tally.wakeups += 1;
        }
    }
    Ok(tally.json(&args.file))
}

/// Reads everything the file has beyond what was read, and accounts every
/// line it completes with the time of that read.
fn read_new(
    file: &mut File,
    chunk: &mut [u8],
    pending: &mut Vec<u8>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    loop {
        let n = file.read(chunk).context("reading the events file")?;
        if n == 0 {
            return Ok(());
        }
        let stamp = Stamp::now();
        pending.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + end];
            if !line.iter().all(u8::is_ascii_whitespace) {
                tally.line(line, stamp);
            }
            start += end + 1;
        }
        pending.drain(..start);
    }
}

/// The bytes right after `"key":` (spaces allowed around the colon).
fn value_of<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let needle = format!("\"{key}\"");
    let needle = needle.as_bytes();
    let at = line.windows(needle.len()).position(|w| w == needle)?;
    let rest = &line[at + needle.len()..];
    let rest = rest.trim_ascii_start().strip_prefix(b":")?;
    Some(rest.trim_ascii_start())
}

/// A string field of the event (the first occurrence of the key, which for
/// the envelope's fields is the top-level one: they come first).
fn string_field<'a>(line: &'a [u8], key: &str) -> Option<&'a str> {
    let rest = value_of(line, key)?.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// An unsigned integer field of the event.
fn number_field(line: &[u8], key: &str) -> Option<u64> {
    let rest = value_of(line, key)?;
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: envelope lines with ts_mono, with only ts, and with neither.
    /// Guarantees: counted by type; delay = read time minus ts_mono on the
    /// monotonic clock, or minus ts on the real-time clock.
    #[test]
    fn delays_come_from_the_events_own_capture_time() {
        let mut t = Tally::default();
        let stamp = Stamp {
            mono: 5_000_000_000,
            real: 1_700_000_000_002_000_000,
        };
        t.line(
            br#"{"oisp_version":"0.1","event_id":"a","event_type":"ai.request","ts":"2023-11-14T22:13:20Z","ts_mono":4997000000,"data":{"x":1}}"#,
            stamp,
        );
        t.line(
            br#"{"event_type" : "ai.response", "ts" : "2023-11-14T22:13:20.000500Z"}"#,
            stamp,
        );
        t.line(br#"{"event_type":"process.exec"}"#, stamp);
        t.line(b"not json", stamp);
        let v = t.json(std::path::Path::new("f"));
        assert_eq!(v["lines"], 4);
        assert_eq!(v["unparsed_lines"], 1);
        assert_eq!(v["events"]["ai.request"], 1);
        assert_eq!(v["events"]["ai.response"], 1);
        assert_eq!(v["latency_ms"]["ai.request"]["p50"], 3.0);
        assert_eq!(v["latency_ms"]["ai.response"]["p50"], 1.5);
        assert_eq!(v["latency_ms"]["ai.request+ai.response"]["n"], 2);
        assert_eq!(v["capture_clock"]["ts_mono"], 1);
        assert_eq!(v["capture_clock"]["ts"], 1);
        assert_eq!(v["capture_clock"]["none"], 1);
        // Only the event with ts_mono is placed in time.
        assert_eq!(v["ai_latency_by_second"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["ai_latency_by_second"][0]["n"], 1);
    }

    /// Scenario: AI events captured 0.5 s, 1.2 s and 3.1 s after the first.
    /// Guarantees: one summary per second of capture time, empty seconds kept.
    #[test]
    fn latency_is_sliced_by_second_of_capture_time() {
        let base = 10_000_000_000u64;
        let slices = per_second(vec![
            (base + 3_100_000_000, 4_000_000),
            (base, 1_000_000),
            (base + 500_000_000, 2_000_000),
            (base + 1_200_000_000, 3_000_000),
        ]);
        let n: Vec<_> = slices.iter().map(|s| s["n"].clone()).collect();
        assert_eq!(n, vec![2, 1, 0, 1]);
        assert_eq!(slices[0]["max"], 2.0);
        assert_eq!(slices[3]["p50"], 4.0);
    }

    /// Scenario: a file that grows by a partial line, then the rest.
    /// Guarantees: the line is counted once, when it is complete.
    #[test]
    fn partial_lines_wait_for_their_end() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("events.jsonl");
        std::fs::write(
            &path,
            b"{\"event_type\":\"ai.request\",\"ts_mono\":1}\n{\"event_ty",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut file = File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let (mut chunk, mut pending, mut tally) = (vec![0u8; 64], Vec::new(), Tally::default());
        read_new(&mut file, &mut chunk, &mut pending, &mut tally).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tally.lines, 1);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        std::io::Write::write_all(&mut f, b"pe\":\"ai.response\",\"ts_mono\":2}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        read_new(&mut file, &mut chunk, &mut pending, &mut tally).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tally.lines, 2);
        assert_eq!(tally.by_type.get("ai.response").map(|e| e.0), Some(1));
        assert!(pending.is_empty());
    }
}
