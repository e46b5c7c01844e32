//! SEC-40 dangerous commands: what an agent runs (process arguments, the
//! input of shell tools, `command`/`script` tool arguments) that downloads
//! and executes code, destroys data, hides its tracks, opens a shell to a
//! remote host or plants persistent access; and file writes to
//! `authorized_keys` or `sudoers`.
//!
//! Only text that runs is looked at: a prompt asking whether `curl | sh` is
//! safe, or a script written to a file, is not a command. `rm -rf` of a
//! project directory is ordinary; of `/`, `~` or a system directory it is not.

use super::detector::Hit;
use super::event::{get, num_of, str_of, EventView, Segment, Source};
use super::phrases::{Phrase, PhraseError, PhraseMatch, PhraseSet};
use crate::redaction::Redactor;
use oispd_semconv::Severity;

const EXCERPT_MAX: usize = 160;

pub(crate) const PHRASES: &[Phrase] = &[
    Phrase {
        name: "pipe_to_shell",
        pattern: r"\b(?:curl|wget|fetch)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+\S+\s+)?(?:/usr)?(?:/bin/)?(?:ba|z|da|k|c|tc|fi)?sh\b|\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+)?(?:python[0-9.]*|perl|ruby|node)\b|\b(?:ba|z)?sh\s+(?:-c\s+)?[\x22']?\$\(\s*(?:curl|wget)\b|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b",
        keywords: &["curl", "wget", "fetch"],
    },
    Phrase {
        name: "history_tampering",
        pattern: r"\bhistory\s+-c\b|\bunset\s+HISTFILE\b|\bHISTFILE=/dev/null\b|\bHISTSIZE=0\b|\bset\s+\+o\s+history\b|\b(?:rm|shred|truncate)\b[^;&|\n]*\.(?:bash|zsh|sh|python)_history\b|>\s*~?/?[^\s;]*\.(?:bash|zsh)_history\b|\bln\s+-sf?\s+/dev/null\s+\S*_history\b",
        keywords: &["history", "histfile", "histsize"],
    },
    Phrase {
        name: "ssh_key_persistence",
        pattern: r">{1,2}\s*[^\s;|&]*\.ssh/authorized_keys2?\b|\btee\s+(?:-a\s+|--append\s+)?[^\s;|&]*\.ssh/authorized_keys2?\b|\b(?:cp|mv|install|ln)\s+(?:-\S+\s+)*\S+\s+[^\s;|&]*\.ssh/authorized_keys2?\b",
        keywords: &["authorized_keys"],
    },
    Phrase {
        name: "reverse_shell",
        pattern: r"\b(?:ba)?sh\s+-i\s*>&?\s*/dev/tcp/|/dev/tcp/[\w.\-]+/\d+|\bnc(?:at)?\s+(?:-\S+\s+)*-[ec]\s+/bin/(?:ba)?sh\b|\bmkfifo\b[^;\n]*\bnc\b|\bsocat\b[^;\n]*\bexec:",
        keywords: &["/dev/tcp/", "nc ", "ncat ", "mkfifo", "socat"],
    },
    Phrase {
        name: "disk_wipe",
        pattern: r"\bmkfs(?:\.\w+)?\s+(?:-\S+\s+)*/dev/|\bdd\b[^;\n]*\bof=/dev/(?:sd|nvme|hd|vd|xvd|mmcblk|disk)|\bshred\b[^;\n]*/dev/(?:sd|nvme|hd|vd|xvd)|:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
        keywords: &["mkfs", "of=/dev/", "shred", ":(){"],
    },
];

/// Severity of each phrase, by index in [`PHRASES`].
const SEVERITIES: [Severity; 5] = [
    Severity::High,
    Severity::High,
    Severity::High,
    Severity::Critical,
    Severity::Critical,
];

/// Top-level directories whose recursive removal breaks the system.
const SYSTEM_DIRS: &[&str] = &[
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "opt", "root", "sbin", "srv",
    "usr", "var", "Users", "System", "Library",
];

/// The SEC-40 detector.
pub(crate) struct Commands {
    set: PhraseSet,
}

/// What an `rm` invocation removes, if it is destructive.
fn rm_severity(args: &str) -> Option<Severity> {
    let mut recursive = false;
    let mut worst: Option<Severity> = None;
    let mut no_more_flags = false;
    for a in args.split_whitespace() {
        let a = a.trim_matches(|c| c == '"' || c == '\'');
        if !no_more_flags && a == "--" {
            no_more_flags = true;
            continue;
        }
        if !no_more_flags && a.starts_with("--") {
            recursive |= a == "--recursive";
            if a == "--no-preserve-root" {
                worst = Some(Severity::Critical);
            }
            continue;
        }
        if !no_more_flags && a.starts_with('-') && a.len() > 1 {
            recursive |= a.contains('r') || a.contains('R');
            continue;
        }
        let target = a.trim_end_matches('*').trim_end_matches('/');
        let s = if target.is_empty() || matches!(target, "~" | "$HOME" | "${HOME}" | "/*") {
            Some(Severity::Critical)
        } else if let Some(dir) = target.strip_prefix('/') {
            (!dir.contains('/') && SYSTEM_DIRS.contains(&dir)).then_some(Severity::High)
        } else {
            None
        };
        if s.is_some() {
            worst = worst.max(s);
        }
    }
    if recursive {
        worst
    } else {
        None
    }
}

impl Commands {
    pub(crate) fn new() -> Result<Commands, PhraseError> {
        Ok(Commands {
            set: PhraseSet::new(PHRASES)?,
        })
    }

    /// The keywords that gate each pattern.
    pub(crate) fn keywords(&self) -> &[(String, usize)] {
        self.set.keywords()
    }

    /// Looks at a command; one hit per pattern.
    pub(crate) fn inspect(
        &self,
        text: &str,
        seg: &Segment<'_, '_>,
        triggered: &[usize],
        redactor: &Redactor,
        scratch: &mut Vec<PhraseMatch>,
        hits: &mut Vec<Hit>,
    ) {
        if seg.source != Source::Command {
            return;
        }
        let mut field = None;
        // Cut from the redacted command: a credential the cut would split
        // (a URL cut between its password and `@`) is replaced whole.
        let quote =
            |start: usize, end: usize| redactor.redact_excerpt(text, start, end, EXCERPT_MAX);
        self.set.find_triggered(text, triggered, scratch);
        let mut seen: Vec<usize> = Vec::new();
        for m in scratch.iter() {
            if seen.contains(&m.phrase) {
                continue;
            }
            seen.push(m.phrase);
            let field = field.get_or_insert_with(|| seg.field.render());
            hits.push(
                Hit::new(SEVERITIES[m.phrase], field, self.set.name(m.phrase))
                    .with("excerpt", quote(m.start, m.end)),
            );
        }
        for (i, _) in text.match_indices("rm ") {
            let at_word = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
            if !at_word {
                continue;
            }
            let end = text[i..]
                .find([';', '&', '|', '\n'])
                .map_or(text.len(), |e| i + e);
            if let Some(severity) = rm_severity(&text[i + 3..end]) {
                let field = field.get_or_insert_with(|| seg.field.render());
                hits.push(
                    Hit::new(severity, field, "recursive_delete").with("excerpt", quote(i, end)),
                );
                break;
            }
        }
    }

    /// File writes that plant persistent access.
    pub(crate) fn inspect_file(
        &self,
        ev: &EventView<'_>,
        path: &str,
        seg: &Segment<'_, '_>,
        hits: &mut Vec<Hit>,
    ) {
        if !is_write(ev) {
            return;
        }
        let kind = if path.ends_with("/.ssh/authorized_keys")
            || path.ends_with("/.ssh/authorized_keys2")
        {
            "ssh_key_persistence"
        } else if path == "/etc/sudoers" || path.starts_with("/etc/sudoers.d/") {
            "sudoers_change"
        } else {
            return;
        };
        hits.push(Hit::new(Severity::High, &seg.field.render(), kind).with("path", path));
    }
}

/// True for file events that write: `file.write`, `file.rename` (the new
/// path), and `file.open` with write flags (`O_WRONLY`/`O_RDWR`/`O_APPEND`
/// as text, or access mode bits as a number).
fn is_write(ev: &EventView<'_>) -> bool {
    match ev.event_type {
        "file.write" | "file.rename" => true,
        "file.open" => match get(ev.data, "flags") {
            Some(v) => match (str_of(v), num_of(v)) {
                (Some(s), _) => {
                    let s = s.to_ascii_uppercase();
                    ["WRONLY", "RDWR", "APPEND", "CREAT", "TRUNC"]
                        .iter()
                        .any(|f| s.contains(f))
                }
                (None, Some(n)) => (n as i64) & 0b11 != 0,
                _ => false,
            },
            None => false,
        },
        _ => false,
    }
}

/// The one-line summary of a SEC-40 finding.
pub(crate) fn summary(ev: &EventView<'_>, hits: &[Hit]) -> String {
    let mut kinds: Vec<&str> = hits.iter().map(Hit::kind).collect();
    kinds.dedup();
    let what = hits
        .iter()
        .find_map(|h| {
            h.evidence
                .get("excerpt")
                .or_else(|| h.evidence.get("path"))
                .and_then(serde_json::Value::as_str)
        })
        .unwrap_or("");
    format!(
        "Dangerous command by {} ({}): {what}",
        ev.actor_label(),
        kinds.join(", ").replace('_', " ")
    )
}
