//! `tls` client settings shared by the network exporters, with the
//! collector's keys (`insecure`, `insecure_skip_verify`, `ca_file`,
//! `cert_file`, `key_file`, `server_name_override`), and the rustls client
//! configuration built from them.
//!
//! Without `ca_file` the server is checked against the Mozilla root set
//! (`webpki-roots`); `ca_file` replaces it with the given PEM bundle.
//! `cert_file` + `key_file` present a client certificate (mutual TLS).

use oispd_component::ComponentError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// `tls`: how a client exporter secures its connection.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// gRPC only: connect without TLS (default false: TLS unless the
    /// endpoint says `http://`). HTTP exporters follow the URL scheme.
    pub insecure: bool,
    /// Accept any server certificate (testing only; default false).
    pub insecure_skip_verify: bool,
    /// PEM file of the CA certificates that sign the server's certificate
    /// (default: the Mozilla root set).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (needs `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name to verify the server certificate against instead of the
    /// endpoint's host.
    pub server_name_override: Option<String>,
}

impl TlsSettings {
    /// Problems with the values, for `validate` (no file is read).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => out.push("'tls.cert_file' is set but 'tls.key_file' is not".into()),
            (None, Some(_)) => out.push("'tls.key_file' is set but 'tls.cert_file' is not".into()),
            _ => {}
        }
        if let Some(name) = &self.server_name_override {
            if ServerName::try_from(name.as_str()).is_err() {
                out.push(format!(
                    "'tls.server_name_override' {name:?} is not a valid DNS name or IP address"
                ));
            }
        }
        out
    }

    /// The rustls client configuration these settings describe, announcing
    /// `alpn` protocols. Reads the certificate files; errors name the file
    /// and the key.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<ClientConfig, ComponentError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ComponentError::Config(format!("tls: {e}")))?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert, "tls.cert_file")?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    ComponentError::Environment(format!(
                        "cannot read a PEM private key from tls.key_file {}: {e}",
                        key.display()
                    ))
                })?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| {
                        ComponentError::Config(format!(
                            "tls.cert_file {} and tls.key_file {} do not form a usable client certificate: {e}",
                            cert.display(),
                            key.display()
                        ))
                    })?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// The name the server certificate must carry: the override, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, ComponentError> {
        let name = self.server_name_override.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(name.to_string()).map_err(|_| {
            ComponentError::Config(format!(
                "{name:?} is not a valid TLS server name; set tls.server_name_override"
            ))
        })
    }

    fn roots(&self) -> Result<RootCertStore, ComponentError> {
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in read_certs(path, "tls.ca_file")? {
                    roots.add(cert).map_err(|e| {
                        ComponentError::Environment(format!(
                            "tls.ca_file {} holds a certificate that cannot be used as a CA: {e}",
                            path.display()
                        ))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        Ok(roots)
    }
}

fn read_certs(path: &PathBuf, key: &str) -> Result<Vec<CertificateDer<'static>>, ComponentError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| {
            ComponentError::Environment(format!("cannot read {key} {}: {e}", path.display()))
        })?
        .collect();
    let certs = certs.map_err(|e| {
        ComponentError::Environment(format!(
            "{key} {} is not a valid PEM file: {e}",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(ComponentError::Environment(format!(
            "{key} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// `insecure_skip_verify`: accepts any certificate but still checks that
/// the handshake is signed by the key in it.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: a client certificate without its key.
    /// Guarantees: validate names both keys.
    #[test]
    fn cert_without_key_is_a_config_problem() {
        let t = TlsSettings {
            cert_file: Some("/x.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            t.problems(),
            vec!["'tls.cert_file' is set but 'tls.key_file' is not".to_string()]
        );
    }

    /// Scenario: ca_file points to a missing file.
    /// Guarantees: a one-line error naming the key and the path.
    #[test]
    fn missing_ca_file_names_the_file() {
        let t = TlsSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = t.client_config(&[]).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read tls.ca_file /nonexistent/ca.pem: "),
            "{e}"
        );
    }

    /// Scenario: default settings.
    /// Guarantees: a config with the public roots and the requested ALPN.
    #[test]
    fn default_uses_public_roots() {
        let c = TlsSettings::default().client_config(&[b"h2"]).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
