//! `oispd audit verify` and `oispd audit query`: reading the sentinel's
//! SQLite audit store from the command line. The checks themselves live in
//! `oispd_processors::audit`; this module parses arguments and prints.

use clap::Subcommand;
use oispd_processors::audit::{parse_time, query, verify, QueryFilter, VerifyError};
use oispd_semconv::Severity;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

/// `oispd audit ...`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verifies the hash chain; exit 0 with the number of entries checked,
    /// or 1 naming the first entry where the chain breaks.
    Verify {
        /// The audit store (sentinel `store.path`).
        #[arg(long)]
        store: PathBuf,
    },
    /// Prints matching entries as JSON lines, oldest first.
    Query {
        /// The audit store (sentinel `store.path`).
        #[arg(long)]
        store: PathBuf,
        /// Entries at or after: RFC 3339 time or a duration ago (`24h`, `7d`).
        #[arg(long)]
        since: Option<String>,
        /// Entries before: RFC 3339 time or a duration ago.
        #[arg(long)]
        until: Option<String>,
        /// Lowest severity: none, low, medium, high, critical.
        #[arg(long)]
        min_severity: Option<String>,
        /// Detector id (`SEC-02`).
        #[arg(long)]
        detector: Option<String>,
    },
}

/// Runs an audit subcommand.
pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify { store } => match verify(&store) {
            Ok(report) => {
                crate::write_stdout(&format!(
                    "audit chain verified: {} entries checked (last id {})\n",
                    report.checked, report.last_id
                ));
                ExitCode::SUCCESS
            }
            Err(e @ VerifyError::Broken { .. }) => {
                eprintln!("Error: {e}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("Error: cannot verify {}: {e}", store.display());
                ExitCode::FAILURE
            }
        },
        AuditCommand::Query {
            store,
            since,
            until,
            min_severity,
            detector,
        } => match build_filter(since, until, min_severity, detector) {
            Err(message) => {
                eprintln!("Error: {message}");
                ExitCode::FAILURE
            }
            Ok(filter) => match query(&store, &filter) {
                Ok(entries) => {
                    let mut text = String::new();
                    for e in entries {
                        text.push_str(&e.to_string());
                        text.push('\n');
                    }
                    crate::write_stdout(&text);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("Error: cannot query {}: {e}", store.display());
                    ExitCode::FAILURE
                }
            },
        },
    }
}

fn build_filter(
    since: Option<String>,
    until: Option<String>,
    min_severity: Option<String>,
    detector: Option<String>,
) -> Result<QueryFilter, String> {
    let now = SystemTime::now();
    let time = |s: Option<String>| -> Result<Option<SystemTime>, String> {
        s.map(|s| parse_time(&s, now).map_err(|e| e.to_string()))
            .transpose()
    };
    let min_severity = min_severity
        .map(|s| {
            s.to_ascii_lowercase().parse::<Severity>().map_err(|_| {
                format!("--min-severity {s:?}: use none, low, medium, high or critical")
            })
        })
        .transpose()?;
    Ok(QueryFilter {
        since: time(since)?,
        until: time(until)?,
        min_severity,
        detector,
    })
}
