//! Replays every input kept under `fuzz/regressions/<target>/` through the
//! target's body, without libFuzzer, so `cargo test` on stable catches a
//! crash found once by fuzzing if it ever comes back. A target directory
//! that does not name a target is an error (a renamed target must take its
//! regressions along).

#![allow(clippy::expect_used)]

use std::path::Path;

use oispd_fuzz_targets::{redactor_leaks, SECRETS, TARGETS};

/// Runs `f` on a thread with the 2 MiB stack a capture or pipeline thread
/// has, so a recursion that would overflow it in oispd does so here too.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn a test thread");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Scenario: every crash input kept in fuzz/regressions, replayed through
/// its target.
/// Guarantees: none panics or overflows the stack any more; every
/// directory belongs to a target and holds at least one input.
#[test]
fn crash_inputs_stay_fixed() {
    replay_dir("../regressions");
}

/// Replays `<dir>/<target>/*` through each target.
fn replay_dir(dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&root).expect("the directory exists") {
        let target_dir = entry.expect("read the directory").path();
        let name = target_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 directory name")
            .to_string();
        let (_, target) = TARGETS
            .iter()
            .find(|(t, _)| *t == name)
            .unwrap_or_else(|| panic!("{dir}/{name} is not a fuzz target"));
        let target = *target;
        let mut files: Vec<_> = std::fs::read_dir(&target_dir)
            .expect("read a target directory")
            .map(|e| e.expect("read a target directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{dir}/{name} is empty");
        for file in files {
            let data = std::fs::read(&file).expect("read an input");
            let label = file.display().to_string();
            on_small_stack(move || {
                eprintln!("replaying {label}");
                target(&data);
            });
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs found under {root:?}");
}

/// Scenario: every seed of the kept corpora (fuzz/corpus/<target>/),
/// replayed through its target.
/// Guarantees: the corpus the fuzzers start from runs clean on stable, so
/// a regression in a parser's common paths fails `cargo test` too.
#[test]
fn corpus_inputs_run_clean() {
    replay_dir("../corpus");
}

/// Scenario: every credential of the redactor target's table, planted raw
/// between spaces in plain text.
/// Guarantees: the target's property holds on the easy case, so a
/// failure it reports is about an encoding or a place, not a credential
/// the rules never knew.
#[test]
fn redactor_target_plants_detectable_credentials() {
    for i in 0..SECRETS.len() {
        // credential i, raw, as redact_text input, space delimiters.
        let mut input = vec![i as u8, 0, 0, 0, 0, 0, 0, 5, 0];
        input.extend_from_slice(b"hello there");
        redactor_leaks(&input);
    }
}

/// Scenario: a redaction that leaves the credential in place.
/// Guarantees: the target's leak check sees raw, percent-encoded, base64
/// and JSON-escaped forms (it is not a check that cannot fail).
#[test]
fn leak_check_sees_every_form() {
    let secret = SECRETS[2];
    let forms = [
        format!("x {secret} y"),
        secret.bytes().map(|b| format!("%{b:02X}")).collect(),
        {
            use base64::Engine;
            format!(
                "t {} u",
                base64::engine::general_purpose::STANDARD.encode(secret)
            )
        },
        format!("{{\"k\": \"\\u{:04x}{}\"}}", u32::from(b'A'), &secret[1..]),
    ];
    for form in forms {
        assert!(
            oispd_fuzz_targets::leak_form(&form, secret).is_some(),
            "{form}"
        );
    }
    assert_eq!(oispd_fuzz_targets::leak_form("nothing here", secret), None);
}
