//! The `ebpf` receiver's report on what it can and cannot hook: the count
//! of distinct binaries found doing TLS that oispd cannot capture, in
//! `oispd_ebpf_tls_unhooked_binaries{receiver, library}` (one series per
//! known TLS library: bounded), and its `/api/health` entry listing the
//! binaries probed with their method (exported OpenSSL symbols, or
//! BoringSSL located by structure) and the unhooked ones with their guessed
//! library and why (each list capped, with how many more there are).

use std::sync::Arc;

use oispd_component::Telemetry;
use prometheus::IntCounter;
use serde_json::{json, Value};

use crate::ebpf::{ProbedBinary, TlsStack, UnhookedBinary};

/// Name of the unhooked-binaries family.
pub const TLS_UNHOOKED_BINARIES: &str = "oispd_ebpf_tls_unhooked_binaries";
/// Entries per list in `/api/health`.
const MAX_LISTED: usize = 32;

pub(crate) struct ProbeReport {
    id: String,
    telemetry: Arc<Telemetry>,
    counters: Vec<(TlsStack, IntCounter, u64)>,
    /// (probed, unhooked) totals last published to `/api/health`.
    published: Option<(usize, u64)>,
}

impl ProbeReport {
    pub(crate) fn new(
        telemetry: Arc<Telemetry>,
        id: &str,
    ) -> Result<ProbeReport, prometheus::Error> {
        let mut counters = Vec::new();
        for stack in TlsStack::ALL {
            let counter = telemetry.component_counter_with(
                TLS_UNHOOKED_BINARIES,
                "Distinct binaries (builds) found doing TLS through a library the ebpf receiver cannot hook, by guessed library.",
                &["receiver", "library"],
                &[id, stack.label()],
            )?;
            counters.push((stack, counter, 0));
        }
        Ok(ProbeReport {
            id: id.to_string(),
            telemetry,
            counters,
            published: None,
        })
    }

    /// Brings the counters and the health entry up to date (the entry is
    /// rebuilt only when something changed).
    pub(crate) fn sync(
        &mut self,
        probed: &[ProbedBinary],
        unhooked: &[UnhookedBinary],
        counts: &[(TlsStack, u64)],
    ) {
        let mut total = 0;
        for (stack, counter, seen) in &mut self.counters {
            let n = counts
                .iter()
                .find(|(s, _)| s == stack)
                .map_or(0, |(_, n)| *n);
            if n > *seen {
                counter.inc_by(n - *seen);
                *seen = n;
            }
            total += *seen;
        }
        if self.published != Some((probed.len(), total)) {
            self.published = Some((probed.len(), total));
            self.telemetry
                .set_receiver_status(&self.id, status(probed, unhooked, total));
        }
    }
}

/// The `/api/health` document: each list capped at [`MAX_LISTED`].
fn status(probed: &[ProbedBinary], unhooked: &[UnhookedBinary], unhooked_total: u64) -> Value {
    let listed_probed: Vec<Value> = probed
        .iter()
        .take(MAX_LISTED)
        .map(|p| json!({"path": p.path.display().to_string(), "method": p.method.label()}))
        .collect();
    let listed_unhooked: Vec<Value> = unhooked
        .iter()
        .take(MAX_LISTED)
        .map(|u| {
            json!({
                "path": u.path.display().to_string(),
                "tls_library": u.library.label(),
                "reason": u.reason,
            })
        })
        .collect();
    let more = |total: u64, listed: usize| total.saturating_sub(listed as u64);
    json!({
        "probed_binaries": listed_probed,
        "probed_binaries_more": more(probed.len() as u64, listed_probed.len()),
        "unhooked_tls_binaries": listed_unhooked,
        "unhooked_tls_binaries_more": more(unhooked_total, listed_unhooked.len()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ebpf::ProbeMethod;
    use std::path::PathBuf;

    fn unhooked(n: usize, library: TlsStack) -> Vec<UnhookedBinary> {
        (0..n)
            .map(|i| UnhookedBinary {
                path: PathBuf::from(format!("/opt/app{i}")),
                library,
                reason: format!("reason {i}"),
            })
            .collect()
    }

    fn probed(path: &str, method: ProbeMethod) -> ProbedBinary {
        ProbedBinary {
            path: PathBuf::from(path),
            method,
        }
    }

    /// Scenario: 3 probed binaries (two by exported symbols, one BoringSSL
    /// by structure) and 40 unhooked BoringSSL ones, then one more rustls
    /// binary.
    /// Guarantees: the metric counts each library's distinct binaries
    /// (`library` label, one series per known library); `/api/health`
    /// lists the probed ones with their method and the first 32 unhooked
    /// with their library and reason, and says how many more there are.
    #[test]
    fn counts_and_health_are_bounded() {
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let mut report = ProbeReport::new(telemetry.clone(), "ebpf").unwrap();
        let probed = vec![
            probed(
                "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                ProbeMethod::OpenSslSymbols,
            ),
            probed("/usr/bin/node", ProbeMethod::OpenSslSymbols),
            probed("/opt/bun", ProbeMethod::BoringSslStructure),
        ];
        let list = unhooked(40, TlsStack::BoringSsl);
        report.sync(&probed, &list, &[(TlsStack::BoringSsl, 40)]);
        report.sync(
            &probed,
            &list,
            &[(TlsStack::BoringSsl, 40), (TlsStack::Rustls, 1)],
        );
        let text = telemetry.render();
        assert!(
            text.contains(
                "oispd_ebpf_tls_unhooked_binaries{library=\"boringssl\",receiver=\"ebpf\"} 40"
            ),
            "{text}"
        );
        assert!(text
            .contains("oispd_ebpf_tls_unhooked_binaries{library=\"rustls\",receiver=\"ebpf\"} 1"));
        assert!(text
            .contains("oispd_ebpf_tls_unhooked_binaries{library=\"aws-lc\",receiver=\"ebpf\"} 0"));

        let health = telemetry.receiver_status_snapshot();
        let h = &health["ebpf"];
        assert_eq!(
            h["probed_binaries"][1],
            json!({"path": "/usr/bin/node", "method": "openssl_exported_symbols"})
        );
        assert_eq!(
            h["probed_binaries"][2],
            json!({"path": "/opt/bun", "method": "boringssl_structure"})
        );
        assert_eq!(h["probed_binaries_more"], 0);
        let listed = h["unhooked_tls_binaries"].as_array().unwrap();
        assert_eq!(listed.len(), 32);
        assert_eq!(
            listed[0],
            json!({"path": "/opt/app0", "tls_library": "boringssl", "reason": "reason 0"})
        );
        assert_eq!(h["unhooked_tls_binaries_more"], 41 - 32);
    }
}
