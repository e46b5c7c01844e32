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
