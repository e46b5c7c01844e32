//! Replays files through one fuzz target on stable, without libFuzzer,
//! reporting each input that panics (and going on to the next):
//!
//! ```text
//! cargo run -p oispd-fuzz-targets --example replay -- TARGET FILE_OR_DIR...
//! ```
//!
//! Exit status 1 when any input panicked. For triaging a corpus or the
//! inputs a campaign found; the regression tests replay kept crashes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use oispd_fuzz_targets::TARGETS;

fn inputs(path: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            out.extend(paths);
        }
        Err(_) => out.push(path.to_path_buf()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, paths)) = args.split_first() else {
        eprintln!("usage: replay TARGET FILE_OR_DIR...");
        return ExitCode::from(2);
    };
    let Some((_, target)) = TARGETS.iter().find(|(t, _)| t == name) else {
        eprintln!("unknown target {name}");
        return ExitCode::from(2);
    };
    let mut files = Vec::new();
    for p in paths {
        inputs(Path::new(p), &mut files);
    }
    std::panic::set_hook(Box::new(|info| eprintln!("  {info}")));
    let mut failed = 0;
    for file in &files {
        let Ok(data) = std::fs::read(file) else {
            eprintln!("cannot read {}", file.display());
            continue;
        };
        if std::panic::catch_unwind(|| target(&data)).is_err() {
            eprintln!("PANIC {}", file.display());
            failed += 1;
        }
    }
    eprintln!("{} inputs, {failed} panicked", files.len());
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
