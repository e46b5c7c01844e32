//! Test support shared by the network exporters' tests: a throw-away CA and
//! a server certificate for `localhost` / 127.0.0.1 written to a temp dir.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use std::path::PathBuf;

/// PEM files of a test PKI.
pub(crate) struct TestPki {
    /// Keeps the files alive.
    pub(crate) _dir: tempfile::TempDir,
    /// The CA certificate (for `tls.ca_file`).
    pub(crate) ca_file: PathBuf,
    /// The server certificate chain, PEM.
    pub(crate) server_cert_pem: String,
    /// The server key, PEM.
    pub(crate) server_key_pem: String,
}

/// A CA and a server certificate it signed for `localhost` and 127.0.0.1.
pub(crate) fn test_pki() -> TestPki {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap_or_else(|e| panic!("{e}"));
    let server_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap_or_else(|e| panic!("{e}"))
        .signed_by(&server_key, &ca)
        .unwrap_or_else(|e| panic!("{e}"));
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap_or_else(|e| panic!("{e}"));
    TestPki {
        _dir: dir,
        ca_file,
        server_cert_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
    }
}

/// The OISP spec's example events, from `$OISP_SPEC_DIR` or
/// `spec/oisp-spec` (the copy in this repository); a missing spec fails the test.
pub(crate) fn spec_examples() -> Vec<serde_json::Value> {
    let dir = match std::env::var_os("OISP_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/oisp-spec"),
    }
    .join("examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "OISP spec examples not found at {}: {e} (set OISP_SPEC_DIR)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 9,
        "expected the spec's examples in {}",
        dir.display()
    );
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}"));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// A logs batch carrying `events` as OTel log records, as receivers build it.
pub(crate) fn oisp_batch(events: &[serde_json::Value]) -> oispd_component::Batch {
    let parsed = events
        .iter()
        .map(|e| {
            oispd_semconv::OispEvent::from_value(e.clone()).unwrap_or_else(|err| panic!("{err}"))
        })
        .collect();
    oispd_component::Batch::Logs(oispd_semconv::otel::events_to_resource_logs(parsed))
}
