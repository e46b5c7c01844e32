//! The `oispd` command: runs the pipelines of a collector-style config (or
//! the embedded default), validates configs, lists components, and works
//! with the sentinel audit store.

mod audit_cli;
mod state;

use anyhow::Context;
use clap::{Parser, Subcommand};
use oispd::{config, least_privilege, pipeline, registry};
use oispd_component::{RedactionKey, Telemetry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc instead of glibc's malloc: decoding OTLP allocates per key and
/// value, and glibc's allocator was a fifth of oispd's CPU in case 1 of the
/// benchmarks (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Opts oispd out of transparent huge pages. mimalloc asks for them on its
/// arenas, and where THP is in `madvise` mode (a common distribution
/// default) every 2 MiB region it touches becomes resident whole: under the
/// capture load of case 6 in BENCHMARKS.md that was ~110 MB of RSS against
/// ~65 MB with 4 KiB pages, for the same CPU. The flag covers the whole
/// process and is checked at each page fault, so the arena mapped before
/// `main` is covered too. Kernels without it (before 3.15) just keep THP.
fn use_small_pages() {
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Captures AI activity on this host and runs it through collector-style pipelines.
#[derive(Parser, Debug)]
#[command(name = "oispd", version, about)]
struct Cli {
    /// Config file(s); several are merged in order. Without any, the embedded
    /// default config runs.
    #[arg(long = "config", global = true)]
    config: Vec<PathBuf>,

    /// Longest time shutdown waits for exporters to flush.
    #[arg(long, global = true, default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,

    /// Directory for oispd's own state (the redaction key). Default:
    /// `$STATE_DIRECTORY`, else `/var/lib/oispd` as root, else
    /// `$XDG_STATE_HOME/oispd` or `~/.local/state/oispd`.
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Checks a config without starting anything; prints every error.
    Validate,
    /// Lists the receivers, processors, connectors, exporters and extensions compiled in.
    Components,
    /// Works with config files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Verifies or queries the sentinel's audit store.
    Audit {
        #[command(subcommand)]
        command: audit_cli::AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Prints the collector-style YAML equivalent of an OISP Sensor TOML config.
    Convert {
        /// The sensor's TOML file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    use_small_pages();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Validate) => validate(&cli.config),
        Some(Command::Components) => {
            let text = registry::Registry::builtin().describe();
            write_stdout(&text);
            ExitCode::SUCCESS
        }
        Some(Command::Audit { command }) => audit_cli::run(command),
        Some(Command::Config {
            command: ConfigCommand::Convert { file },
        }) => convert_sensor_toml(&file),
        None => run(&cli.config, cli.shutdown_timeout, cli.state_dir.as_deref()),
    }
}

fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
}

fn print_errors(errors: &[oispd_component::ConfigError]) {
    for e in errors {
        eprintln!("Error: {e}");
    }
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    let registry = registry::Registry::builtin();
    let config = match config::load(paths, &config::expand::ProcessEnv) {
        Ok(c) => c,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::FAILURE;
        }
    };
    let errors = config::validate::validate(&config, &registry);
    if errors.is_empty() {
        for w in config::validate::warnings(&config, &registry) {
            eprintln!("Warning: {w}");
        }
        ExitCode::SUCCESS
    } else {
        print_errors(&errors);
        ExitCode::FAILURE
    }
}

fn convert_sensor_toml(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Error: cannot read {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    match config::sensor_toml::convert(&text) {
        Ok(yaml) => {
            write_stdout(&yaml);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {}: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(paths: &[PathBuf], shutdown_timeout: Duration, state_dir: Option<&Path>) -> ExitCode {
    let registry = registry::Registry::builtin();
    let config = match config::load(paths, &config::expand::ProcessEnv) {
        Ok(c) => c,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::FAILURE;
        }
    };
    let errors = config::validate::validate(&config, &registry);
    if !errors.is_empty() {
        eprintln!("Error: invalid configuration:");
        print_errors(&errors);
        return ExitCode::FAILURE;
    }
    init_logging(&config.service.telemetry.logs.level);
    for w in config::validate::warnings(&config, &registry) {
        tracing::warn!("{w}");
    }
    if paths.is_empty() {
        tracing::info!("no --config given: running the embedded default config");
    }
    match least_privilege::drop_unneeded(&config, &registry) {
        Ok(dropped) if !dropped.permitted.is_empty() => tracing::info!(
            dropped = ?dropped.permitted,
            dropped_from_bounding_set = dropped.bounding.len(),
            kept = ?least_privilege::needed(&config, &registry),
            "dropped the capabilities no configured receiver needs"
        ),
        Ok(_) => {}
        Err(e) => {
            eprintln!("Error: cannot drop unneeded capabilities: {e}");
            return ExitCode::FAILURE;
        }
    }
    let is_root = rustix::process::geteuid().is_root();
    let dir = state::state_dir(state_dir, &|name| std::env::var_os(name), is_root);
    let key = match state::redaction_key(dir.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("Error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config, registry, shutdown_timeout, key)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    config: config::Config,
    registry: registry::Registry,
    shutdown_timeout: Duration,
    key: RedactionKey,
) -> anyhow::Result<()> {
    let telemetry = Arc::new(Telemetry::new().context("internal telemetry")?);
    let mut running = pipeline::start(&config, &registry, telemetry, key).await?;
    tracing::info!(
        pipelines = config.service.pipelines.len(),
        "oispd is running"
    );
    tokio::select! {
        _ = running.receivers_finished() => {
            tracing::info!("every receiver finished its input; draining");
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down; flushing what was accepted");
        }
    }
    if !running.shutdown(shutdown_timeout).await {
        tracing::warn!("some records were not flushed before the shutdown timeout");
    }
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
