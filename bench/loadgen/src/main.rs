//! `oispd-loadgen`: the load generator and blackhole sink of oispd's
//! benchmark harness (`bench/run.sh`).
//!
//! - `send`: pre-encoded OTLP/gRPC log batches at a fixed or unbounded rate
//!   over several connections with several requests in flight ([`send`]);
//! - `sink`: a blackhole OTLP/gRPC server that counts what it receives
//!   ([`sink`]);
//! - `jsonl`: a replay file of the same OISP events ([`jsonl`]);
//! - `kafka-count`: messages and records a collector delivered to a Kafka
//!   topic ([`kafka`]).
//!
//! Every subcommand prints one JSON object on stdout when it ends.

mod codec;
mod jsonl;
mod kafka;
mod records;
mod send;
mod sink;
mod wire;

use clap::{Parser, Subcommand};
use std::io::Write;

/// oispd's benchmark load generator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Tokio worker threads.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send OTLP/gRPC log batches and print a JSON summary.
    Send(send::SendArgs),
    /// Run a blackhole OTLP/gRPC server; print its counts on exit.
    Sink(sink::SinkArgs),
    /// Write a JSONL replay file of OISP events.
    Jsonl(jsonl::JsonlArgs),
    /// Count the messages and OTLP records in a Kafka topic.
    KafkaCount(kafka::KafkaCountArgs),
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    let summary = match cli.command {
        Command::Send(args) => runtime.block_on(send::run(args))?,
        Command::Sink(args) => runtime.block_on(sink::run(args))?,
        Command::Jsonl(args) => jsonl::run(&args)?,
        Command::KafkaCount(args) => kafka::run(&args)?,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(())
}
