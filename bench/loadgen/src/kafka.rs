//! `kafka-count`: what a collector delivered to a Kafka topic. With
//! `--watermarks-only` it sums the partitions' high watermarks (messages
//! so far, cheap enough to poll during a run); otherwise it reads every
//! message up to those watermarks and counts the OTLP records inside each
//! (messages are protobuf `ExportLogsServiceRequest`s, walked with
//! [`crate::wire`]).

use crate::wire::count_records;
use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Metadata and watermark request deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Which topic to count.
#[derive(Clone, Debug, clap::Args)]
pub struct KafkaCountArgs {
    /// Bootstrap broker `host:port`.
    #[arg(long)]
    pub brokers: String,
    /// The topic.
    #[arg(long)]
    pub topic: String,
    /// Only sum the high watermarks (messages), read nothing.
    #[arg(long)]
    pub watermarks_only: bool,
    /// Longest time reading may take.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "120s")]
    pub timeout: Duration,
}

/// Counts and returns `{"messages", "records"?, "bytes"?, "malformed"?}`.
pub fn run(args: &KafkaCountArgs) -> anyhow::Result<Value> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", "oispd-bench-count")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "52428800")
        .create()
        .context("creating the Kafka consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(&args.topic), REQUEST_TIMEOUT)
        .context("fetching topic metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == args.topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut ends = Vec::new();
    let mut list = TopicPartitionList::new();
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&args.topic, *p, REQUEST_TIMEOUT)
            .with_context(|| format!("watermarks of partition {p}"))?;
        ends.push((*p, high));
        if high > low {
            list.add_partition_offset(&args.topic, *p, Offset::Offset(low))?;
        }
    }
    let messages: i64 = ends.iter().map(|(_, h)| *h).sum();
    if args.watermarks_only {
        return Ok(json!({ "topic": args.topic, "messages": messages }));
    }
    consumer.assign(&list).context("assigning partitions")?;
    let (mut read, mut records, mut bytes, mut malformed) = (0i64, 0u64, 0u64, 0u64);
    let mut done: Vec<(i32, i64)> = ends.iter().filter(|(_, h)| *h > 0).copied().collect();
    let give_up = Instant::now() + args.timeout;
    while !done.is_empty() && Instant::now() < give_up {
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.context("reading a message")?;
        read += 1;
        let payload = msg.payload().unwrap_or_default();
        bytes += payload.len() as u64;
        match count_records(payload) {
            Ok(n) => records += n,
            Err(_) => malformed += 1,
        }
        let (p, next) = (msg.partition(), msg.offset() + 1);
        done.retain(|(q, high)| !(*q == p && next >= *high));
    }
    anyhow::ensure!(
        done.is_empty(),
        "timed out after {read} of {messages} messages"
    );
    Ok(json!({
        "topic": args.topic,
        "messages": messages,
        "records": records,
        "bytes": bytes,
        "malformed": malformed,
    }))
}
