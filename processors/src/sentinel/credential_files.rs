//! SEC-41 credential file access: an agent opening or reading files that
//! hold credentials (SSH private keys, cloud CLI credentials, `.env` files,
//! `.netrc`, `.git-credentials`, `/etc/shadow`...), by a file event, a
//! command (`cat ~/.ssh/id_rsa`) or a tool argument (`{"path": ".env"}`).
//!
//! Programs whose job is to read these files (`ssh`, `git`, `aws`,
//! `gcloud`, `kubectl`, `docker`, `gpg`...) are not findings when they are
//! the reader: the `credential_readers` list names them. Public keys
//! (`id_rsa.pub`) and templates (`.env.example`) are not credentials.

use super::detector::Hit;
use super::event::{EventView, Segment, Source};
use oispd_semconv::Severity;
use regex::Regex;

/// The default `credential_readers`: programs that legitimately read
/// credential files.
pub const DEFAULT_READERS: &[&str] = &[
    "ssh",
    "ssh-agent",
    "ssh-add",
    "ssh-keygen",
    "scp",
    "sftp",
    "sshd",
    "git",
    "git-remote-http",
    "git-remote-https",
    "aws",
    "gcloud",
    "az",
    "kubectl",
    "helm",
    "docker",
    "gpg",
    "gpg-agent",
    "gh",
];

struct CredentialPath {
    kind: &'static str,
    pattern: &'static str,
    severity: Severity,
}

const PATHS: &[CredentialPath] = &[
    CredentialPath {
        kind: "ssh_private_key",
        pattern: r"(?:^|/)\.ssh/(?:id_(?:rsa|dsa|ecdsa|ed25519|ecdsa_sk|ed25519_sk|xmss)|identity)$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "aws_credentials",
        pattern: r"(?:^|/)\.aws/credentials$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "gcloud_credentials",
        pattern: r"(?:^|/)\.config/gcloud/(?:credentials\.db|access_tokens\.db|application_default_credentials\.json|legacy_credentials/.+)$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "azure_credentials",
        pattern: r"(?:^|/)\.azure/(?:accessTokens\.json|msal_token_cache\.(?:json|bin)|service_principal_entries\.json)$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "git_credentials",
        pattern: r"(?:^|/)(?:\.git-credentials|\.config/gh/hosts\.yml)$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "shadow_file",
        pattern: r"^/etc/g?shadow-?$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "gpg_private_keys",
        pattern: r"(?:^|/)\.gnupg/(?:private-keys-v1\.d/.+|secring\.gpg)$",
        severity: Severity::High,
    },
    CredentialPath {
        kind: "dotenv",
        pattern: r"(?:^|/)\.env(?:\.[A-Za-z0-9_\-]+)?$",
        severity: Severity::Medium,
    },
    CredentialPath {
        kind: "netrc",
        pattern: r"(?:^|/)[._]netrc$|(?:^|/)\.pgpass$",
        severity: Severity::Medium,
    },
    CredentialPath {
        kind: "package_registry_token",
        pattern: r"(?:^|/)\.(?:npmrc|pypirc)$|(?:^|/)\.cargo/credentials(?:\.toml)?$|(?:^|/)\.docker/config\.json$",
        severity: Severity::Medium,
    },
    CredentialPath {
        kind: "kubeconfig",
        pattern: r"(?:^|/)\.kube/config$",
        severity: Severity::Medium,
    },
];

/// `.env` variants that are templates, not secrets.
const DOTENV_TEMPLATES: &[&str] = &[
    "example", "sample", "template", "dist", "defaults", "schema", "test",
];

/// The SEC-41 detector.
pub(crate) struct CredentialFiles {
    paths: Vec<Regex>,
    readers: Vec<String>,
}

impl CredentialFiles {
    /// Builds the detector with the given reader allow-list.
    pub(crate) fn new(readers: &[String]) -> Result<CredentialFiles, regex::Error> {
        Ok(CredentialFiles {
            paths: PATHS
                .iter()
                .map(|p| Regex::new(p.pattern))
                .collect::<Result<_, _>>()?,
            readers: readers.to_vec(),
        })
    }

    fn is_reader(&self, program: &str) -> bool {
        let base = program.rsplit('/').next().unwrap_or(program);
        self.readers.iter().any(|r| r == base)
    }

    /// The credential kind and severity of `path`, if it is a credential file.
    fn classify(&self, path: &str) -> Option<&'static CredentialPath> {
        let path = path.trim_matches(|c| c == '"' || c == '\'' || c == ',' || c == ';');
        if path.is_empty() || path.len() > 4096 {
            return None;
        }
        let i = self.paths.iter().position(|re| re.is_match(path))?;
        let found = &PATHS[i];
        if found.kind == "dotenv" {
            if let Some((_, suffix)) = path.rsplit('/').next().unwrap_or(path).split_once(".env.") {
                if DOTENV_TEMPLATES.contains(&suffix.to_ascii_lowercase().as_str()) {
                    return None;
                }
            }
        }
        Some(found)
    }

    /// Looks at a file path, a command or a tool argument.
    pub(crate) fn inspect(
        &self,
        ev: &EventView<'_>,
        text: &str,
        seg: &Segment<'_, '_>,
        hits: &mut Vec<Hit>,
    ) {
        match seg.source {
            Source::FilePath => {
                if !matches!(ev.event_type, "file.open" | "file.read") {
                    return;
                }
                if ev.process_name().is_some_and(|p| self.is_reader(p)) {
                    return;
                }
                if let Some(found) = self.classify(text) {
                    hits.push(
                        Hit::new(found.severity, &seg.field.render(), found.kind)
                            .with("path", text),
                    );
                }
            }
            Source::Command | Source::ToolArguments => {
                if !text.contains('/') && !text.contains(".env") && !text.contains("netrc") {
                    return;
                }
                let words = text.split_whitespace();
                if seg.source == Source::Command {
                    if let Some(first) = words.clone().next() {
                        if self.is_reader(first) {
                            return;
                        }
                    }
                }
                for word in words {
                    let word = word
                        .strip_prefix("--")
                        .and_then(|w| w.split_once('='))
                        .map_or(word, |(_, v)| v);
                    if let Some(found) = self.classify(word) {
                        hits.push(
                            Hit::new(found.severity, &seg.field.render(), found.kind).with(
                                "path",
                                word.trim_matches(|c| {
                                    c == '"' || c == '\'' || c == ',' || c == ';'
                                }),
                            ),
                        );
                        return;
                    }
                }
            }
            _ => {}
        }
    }
}

/// The one-line summary of a SEC-41 finding.
pub(crate) fn summary(ev: &EventView<'_>, hits: &[Hit]) -> String {
    let mut paths: Vec<&str> = hits
        .iter()
        .filter_map(|h| h.evidence.get("path").and_then(serde_json::Value::as_str))
        .collect();
    paths.dedup();
    format!(
        "Credential file access by {}: {}",
        ev.actor_label(),
        paths.join(", ")
    )
}
