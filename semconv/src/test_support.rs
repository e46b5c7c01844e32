//! Test helpers: locating the OISP spec checkout and loading its examples.
//! A missing spec fails the test with a message; it never passes silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// The OISP spec directory: `$OISP_SPEC_DIR`, else `spec/oisp-spec` (the copy in this repository)
/// relative to this crate. Panics with a clear message when it is missing.
pub fn spec_dir() -> PathBuf {
    let dir = match std::env::var_os("OISP_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/oisp-spec"),
    };
    assert!(
        dir.join("schema/v0.1/envelope.schema.json").is_file(),
        "OISP spec not found at {}: set OISP_SPEC_DIR to a checkout of the OISP spec \
         (the directory holding schema/v0.1 and examples/)",
        dir.display()
    );
    dir
}

/// Every example event of the spec as (file name, JSON value), sorted by name.
pub fn examples() -> Vec<(String, serde_json::Value)> {
    let dir = spec_dir().join("examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let v: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 9,
        "expected the spec's 9 examples in {}",
        dir.display()
    );
    out
}
