//! `jsonl`: writes a replay file of OISP events, one JSON object per line,
//! the input of the `jsonl` receiver in the replay benchmark. The events are
//! the same `ai.request` records [`crate::send`] sends over OTLP.

use crate::records::{PromptKind, RecordBuilder, TARGET_RECORD_BYTES};
use anyhow::Context as _;
use serde_json::{json, Value};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// What to write.
#[derive(Clone, Debug, clap::Args)]
pub struct JsonlArgs {
    /// The file to (over)write.
    #[arg(long)]
    pub out: PathBuf,
    /// Events to write.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Prompt text: repetitive (compressible) or random (incompressible).
    #[arg(long, value_enum, default_value_t = PromptKind::Repetitive)]
    pub prompt: PromptKind,
    /// Encoded size of one OTLP log record the prompt is sized for.
    #[arg(long, default_value_t = TARGET_RECORD_BYTES)]
    pub record_bytes: usize,
    /// Seed of the random prompt text.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Writes the file and returns `{"path", "events", "bytes"}`.
pub fn run(args: &JsonlArgs) -> anyhow::Result<Value> {
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    let mut builder = RecordBuilder::new(args.prompt, args.seed, args.record_bytes);
    let mut bytes = 0u64;
    for _ in 0..args.count {
        let line = builder.event().to_json();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += line.len() as u64 + 1;
    }
    out.flush()?;
    Ok(json!({
        "path": args.out.display().to_string(),
        "events": args.count,
        "bytes": bytes,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_semconv::OispEvent;

    /// Scenario: a replay file of 5 events.
    /// Guarantees: 5 lines, each an OISP `ai.request` event, and the
    /// reported byte count is the file's size.
    #[test]
    fn writes_oisp_lines() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("replay.jsonl");
        let summary = run(&JsonlArgs {
            out: out.clone(),
            count: 5,
            prompt: PromptKind::Random,
            record_bytes: TARGET_RECORD_BYTES,
            seed: 2,
        })
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(summary["bytes"], text.len() as u64);
        let events: Vec<OispEvent> = text
            .lines()
            .map(|l| OispEvent::from_json(l).unwrap())
            .collect();
        assert_eq!(events.len(), 5);
        assert!(events.iter().all(|e| e.event_type == "ai.request"));
    }
}
