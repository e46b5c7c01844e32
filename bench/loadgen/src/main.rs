//! `oispd-loadgen`: the load generator and blackhole sink of oispd's
//! benchmark harness (`bench/run.sh`).
//!
//! - `send`: pre-encoded OTLP/gRPC log batches at a fixed or unbounded rate
//!   over several connections with several requests in flight ([`send`]);
//! - `sink`: a blackhole OTLP/gRPC server that counts what it receives
//!   ([`sink`]);
//! - `jsonl`: a replay file of the same OISP events ([`jsonl`]);
//! - `kafka-count`: messages and records a collector delivered to a Kafka
//!   topic ([`kafka`]);
//! - `ai-calls`: concurrent AI clients calling an OpenAI-style API over TLS
//!   (the system's libssl) at a fixed rate ([`calls`]);
//! - `fake-provider`: the HTTPS server (rustls) they call ([`provider`]);
//! - `tail-events`: follows a collector's OISP JSONL output and measures
//!   capture-to-export latency per event ([`tail`]).
//!
//! Every subcommand prints one JSON object on stdout when it ends.

mod calls;
mod chat;
mod codec;
mod jsonl;
mod kafka;
mod latency;
mod provider;
mod records;
mod send;
mod sink;
mod tail;
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
    /// Make AI calls over TLS at a fixed rate and print a JSON summary.
    AiCalls(calls::CallsArgs),
    /// Serve OpenAI-style chat completions over TLS; print counts on exit.
    FakeProvider(provider::ProviderArgs),
    /// Follow an OISP JSONL file; print counts and capture-to-export latency on exit.
    TailEvents(tail::TailArgs),
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
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads.max(1))
            .enable_all()
            .build()
    };
    let summary = match cli.command {
        Command::Send(args) => runtime()?.block_on(send::run(args))?,
        Command::Sink(args) => runtime()?.block_on(sink::run(args))?,
        Command::Jsonl(args) => jsonl::run(&args)?,
        Command::KafkaCount(args) => kafka::run(&args)?,
        // Plain threads: the client's process holds nothing but its callers.
        Command::AiCalls(args) => calls::run(&args)?,
        Command::FakeProvider(args) => runtime()?.block_on(provider::run(args))?,
        Command::TailEvents(args) => {
            let rt = runtime()?;
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            rt.spawn(async move {
                shutdown_signal().await;
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            tail::run(&args, &stop)?
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(())
}
