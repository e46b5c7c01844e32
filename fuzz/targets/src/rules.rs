//! `gitleaks_rules`: a gitleaks-format rules file (`rules_file` of the
//! redaction processor) as the loader reads it: TOML, rules, allowlists,
//! regex compilation with a size limit.
//!
//! Scanning with the loaded rules is not part of this target: building a
//! scanner compiles oispd's built-in rules too (`Scanner::new`), which
//! would dominate every execution; the redactor target covers scanning.
//!
//! Input: the file's text (UTF-8, lossy).

use oispd_processors::redaction::gitleaks;

/// Loads one rules file.
pub fn gitleaks_rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(rules) = gitleaks::parse(&text, "fuzz") {
        let _ = rules.ids().count();
    }
}
