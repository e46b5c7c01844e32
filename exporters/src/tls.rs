//! `tls` client settings shared by the network exporters, with the
//! collector's keys (`configtls.ClientConfig`: `insecure`,
//! `insecure_skip_verify`, `ca_file`/`ca_pem`,
//! `include_system_ca_certs_pool`, `cert_file`/`cert_pem`,
//! `key_file`/`key_pem`, `min_version`, `max_version`,
//! `server_name_override`), and the rustls client configuration built from
//! them.
//!
//! Trust follows the collector: without `ca_file`/`ca_pem` the server is
//! checked against the host's CA store (`SSL_CERT_FILE`/`SSL_CERT_DIR`, else
//! the distribution's bundle, e.g. `/etc/ssl/certs/ca-certificates.crt` that
//! `update-ca-certificates` writes), so a private CA installed on the host
//! is trusted; with them, only the given CAs, plus the host's store when
//! `include_system_ca_certs_pool` is true. Where the host has no CA store
//! at all (a minimal container), the Mozilla root set built into oispd is
//! used and a warning says so. `cert_*` + `key_*` present a client
//! certificate (mutual TLS). rustls implements TLS 1.2 and 1.3 only:
//! `min_version`/`max_version` 1.0 or 1.1 are refused by `validate`.

use oispd_component::ComponentError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedProtocolVersion,
};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
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
    /// (default: the host's CA store).
    pub ca_file: Option<PathBuf>,
    /// The same, inline.
    pub ca_pem: Option<Pem>,
    /// With `ca_file`/`ca_pem`: trust the host's CA store too (default
    /// false, as in the collector).
    pub include_system_ca_certs_pool: bool,
    /// PEM client certificate chain for mutual TLS (needs a key).
    pub cert_file: Option<PathBuf>,
    /// The same, inline.
    pub cert_pem: Option<Pem>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// The same, inline (never shown in logs or debug output).
    pub key_pem: Option<Pem>,
    /// Oldest TLS version accepted (default "1.2", as in the collector).
    pub min_version: Option<TlsVersion>,
    /// Newest TLS version offered (default: the newest, 1.3).
    pub max_version: Option<TlsVersion>,
    /// Name to verify the server certificate against instead of the
    /// endpoint's host.
    pub server_name_override: Option<String>,
}

/// Inline PEM text from the config; its `Debug` shows only its length, so
/// a private key never reaches a log line.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Pem(String);

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pem({} bytes)", self.0.len())
    }
}

/// A TLS protocol version as the collector spells it.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (refused: rustls does not implement it).
    #[serde(rename = "1.0")]
    V1_0,
    /// TLS 1.1 (refused: rustls does not implement it).
    #[serde(rename = "1.1")]
    V1_1,
    /// TLS 1.2.
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    V1_3,
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::V1_0 => "1.0",
            TlsVersion::V1_1 => "1.1",
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        })
    }
}

/// One source of PEM text: a file or an inline value, named by its key.
enum PemSource<'a> {
    File(&'a Path, &'static str),
    Inline(&'a Pem, &'static str),
}

impl PemSource<'_> {
    fn pick<'a>(
        file: &'a Option<PathBuf>,
        file_key: &'static str,
        pem: &'a Option<Pem>,
        pem_key: &'static str,
    ) -> Option<PemSource<'a>> {
        match (file, pem) {
            (Some(path), _) => Some(PemSource::File(path, file_key)),
            (None, Some(pem)) => Some(PemSource::Inline(pem, pem_key)),
            (None, None) => None,
        }
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>, ComponentError> {
        let (certs, key, shown): (Result<Vec<_>, _>, _, String) = match self {
            PemSource::File(path, key) => (
                CertificateDer::pem_file_iter(path)
                    .map_err(|e| {
                        ComponentError::Environment(format!(
                            "cannot read {key} {}: {e}",
                            path.display()
                        ))
                    })?
                    .collect(),
                *key,
                format!(" {}", path.display()),
            ),
            PemSource::Inline(pem, key) => (
                CertificateDer::pem_slice_iter(pem.0.as_bytes()).collect(),
                *key,
                String::new(),
            ),
        };
        let certs = certs.map_err(|e| {
            ComponentError::Environment(format!("{key}{shown} is not valid PEM: {e}"))
        })?;
        if certs.is_empty() {
            return Err(ComponentError::Environment(format!(
                "{key}{shown} holds no PEM certificate"
            )));
        }
        Ok(certs)
    }

    fn private_key(&self) -> Result<PrivateKeyDer<'static>, ComponentError> {
        match self {
            PemSource::File(path, key) => PrivateKeyDer::from_pem_file(path).map_err(|e| {
                ComponentError::Environment(format!(
                    "cannot read a PEM private key from {key} {}: {e}",
                    path.display()
                ))
            }),
            // The error of an inline key says nothing of its content.
            PemSource::Inline(pem, key) => {
                PrivateKeyDer::from_pem_slice(pem.0.as_bytes()).map_err(|_| {
                    ComponentError::Environment(format!("{key} holds no usable PEM private key"))
                })
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            PemSource::File(path, key) => format!("{key} {}", path.display()),
            PemSource::Inline(_, key) => key.to_string(),
        }
    }
}

impl TlsSettings {
    /// Problems with the values, for `validate` (no file is read).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (file, file_key, pem, pem_key) in [
            (&self.ca_file, "ca_file", &self.ca_pem, "ca_pem"),
            (&self.cert_file, "cert_file", &self.cert_pem, "cert_pem"),
            (&self.key_file, "key_file", &self.key_pem, "key_pem"),
        ] {
            if file.is_some() && pem.is_some() {
                out.push(format!(
                    "'tls.{file_key}' and 'tls.{pem_key}' are both set; set one of them"
                ));
            }
        }
        let cert = self.cert_file.is_some() || self.cert_pem.is_some();
        let key = self.key_file.is_some() || self.key_pem.is_some();
        match (cert, key) {
            (true, false) => out.push(
                "'tls.cert_file' (or 'tls.cert_pem') is set but 'tls.key_file' (or 'tls.key_pem') is not"
                    .into(),
            ),
            (false, true) => out.push(
                "'tls.key_file' (or 'tls.key_pem') is set but 'tls.cert_file' (or 'tls.cert_pem') is not"
                    .into(),
            ),
            _ => {}
        }
        for (key, version) in [
            ("min_version", self.min_version),
            ("max_version", self.max_version),
        ] {
            if let Some(v @ (TlsVersion::V1_0 | TlsVersion::V1_1)) = version {
                out.push(format!(
                    "'tls.{key}' {v}: oispd's TLS (rustls) implements TLS 1.2 and 1.3 only"
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version) {
            if max < min {
                out.push(format!(
                    "'tls.max_version' {max} is older than 'tls.min_version' {min}"
                ));
            }
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

    /// The protocol versions offered: from `min_version` (default 1.2) to
    /// `max_version` (default 1.3).
    fn versions(&self) -> Result<Vec<&'static SupportedProtocolVersion>, ComponentError> {
        let min = self.min_version.unwrap_or(TlsVersion::V1_2);
        let max = self.max_version.unwrap_or(TlsVersion::V1_3);
        let versions: Vec<_> = [
            (TlsVersion::V1_2, &rustls::version::TLS12),
            (TlsVersion::V1_3, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, supported)| supported)
        .collect();
        if versions.is_empty() {
            return Err(ComponentError::Config(format!(
                "tls: no TLS version between min_version {min} and max_version {max} is implemented (1.2 and 1.3 are)"
            )));
        }
        Ok(versions)
    }

    /// The rustls client configuration these settings describe, announcing
    /// `alpn` protocols. Reads the certificate files and the host's CA
    /// store; errors name the file and the key.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<ClientConfig, ComponentError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| ComponentError::Config(format!("tls: {e}")))?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let cert = PemSource::pick(
            &self.cert_file,
            "tls.cert_file",
            &self.cert_pem,
            "tls.cert_pem",
        );
        let key = PemSource::pick(&self.key_file, "tls.key_file", &self.key_pem, "tls.key_pem");
        let mut config = match (cert, key) {
            (Some(cert), Some(key)) => {
                let chain = cert.certs()?;
                let key_der = key.private_key()?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    ComponentError::Config(format!(
                        "{} and {} do not form a usable client certificate: {e}",
                        cert.describe(),
                        key.describe()
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
        match PemSource::pick(&self.ca_file, "tls.ca_file", &self.ca_pem, "tls.ca_pem") {
            Some(source) => {
                for cert in source.certs()? {
                    roots.add(cert).map_err(|e| {
                        ComponentError::Environment(format!(
                            "{} holds a certificate that cannot be used as a CA: {e}",
                            source.describe()
                        ))
                    })?;
                }
                if self.include_system_ca_certs_pool {
                    add_system_roots(&mut roots);
                }
            }
            None => {
                if add_system_roots(&mut roots) == 0 {
                    tracing::warn!(
                        "the host has no usable CA store (SSL_CERT_FILE, SSL_CERT_DIR, /etc/ssl/certs): \
                         trusting the Mozilla root set built into oispd; set tls.ca_file to trust a private CA"
                    );
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
            }
        }
        Ok(roots)
    }
}

/// Adds the host's CA certificates to `roots`; returns how many were added.
/// Unreadable entries are skipped (a CA store often holds a few
/// certificates rustls cannot use), and said once at debug level.
fn add_system_roots(roots: &mut RootCertStore) -> usize {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "skipping part of the host's CA store");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::debug!(
            ignored,
            "certificates of the host's CA store rustls cannot use"
        );
    }
    added
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
            vec!["'tls.cert_file' (or 'tls.cert_pem') is set but 'tls.key_file' (or 'tls.key_pem') is not".to_string()]
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

    fn parse(yaml: &str) -> TlsSettings {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    /// Scenario: the collector's TLS keys as a collector user writes them.
    /// Guarantees: they parse into the settings they name, and the inline
    /// key never shows in debug output.
    #[test]
    fn collector_keys_parse() {
        let t = parse(
            "ca_pem: |\n  -----BEGIN CERTIFICATE-----\ninclude_system_ca_certs_pool: true\n\
             cert_pem: c\nkey_pem: very-private-key-material\nmin_version: \"1.3\"\nmax_version: \"1.3\"",
        );
        assert!(t.include_system_ca_certs_pool);
        assert_eq!(t.min_version, Some(TlsVersion::V1_3));
        assert_eq!(t.max_version, Some(TlsVersion::V1_3));
        let shown = format!("{t:?}");
        assert!(!shown.contains("very-private"), "{shown}");
        assert!(t.problems().is_empty(), "{:?}", t.problems());
    }

    /// Scenario: versions rustls does not implement, an inverted range, a
    /// file and an inline value for the same thing.
    /// Guarantees: validate names each problem.
    #[test]
    fn impossible_settings_are_config_problems() {
        let t = parse("min_version: \"1.1\"\nmax_version: \"1.0\"");
        let p = t.problems();
        assert!(
            p.iter().any(|e| e.contains("'tls.min_version' 1.1")),
            "{p:?}"
        );
        assert!(p.iter().any(|e| e.contains("older than")), "{p:?}");
        let t = parse("ca_file: /a.pem\nca_pem: x");
        assert_eq!(
            t.problems(),
            vec!["'tls.ca_file' and 'tls.ca_pem' are both set; set one of them".to_string()]
        );
    }

    /// Scenario: min_version 1.3; max_version 1.2; neither.
    /// Guarantees: the protocol versions offered are exactly the range
    /// (TLS 1.2 and 1.3 by default), and the config builds with them.
    #[test]
    fn versions_offered_follow_the_range() {
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        let offered = |t: &TlsSettings| -> Vec<_> {
            t.client_config(&[]).unwrap();
            t.versions().unwrap().iter().map(|v| v.version).collect()
        };
        assert_eq!(offered(&parse("min_version: \"1.3\"")), vec![TLSv1_3]);
        assert_eq!(offered(&parse("max_version: \"1.2\"")), vec![TLSv1_2]);
        assert_eq!(offered(&TlsSettings::default()), vec![TLSv1_2, TLSv1_3]);
    }

    /// Scenario: an inline CA that is not PEM, and an inline key that is not
    /// a key.
    /// Guarantees: errors name the key and never quote the value.
    #[test]
    fn bad_inline_pem_is_named_not_quoted() {
        let e = parse("ca_pem: not-a-certificate-SECRETISH")
            .client_config(&[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls.ca_pem"), "{e}");
        assert!(!e.contains("SECRETISH"), "{e}");
        let pki = crate::testing::test_pki();
        let ca = std::fs::read_to_string(&pki.ca_file).unwrap();
        let t = TlsSettings {
            ca_pem: Some(Pem(ca)),
            cert_pem: Some(Pem(pki.server_cert_pem.clone())),
            key_pem: Some(Pem("-----BEGIN PRIVATE KEY-----\nSECRETISH\n".into())),
            ..Default::default()
        };
        let e = t.client_config(&[]).unwrap_err().to_string();
        assert!(e.contains("tls.key_pem"), "{e}");
        assert!(!e.contains("SECRETISH"), "{e}");
    }

    /// Scenario: default settings.
    /// Guarantees: a config with the host's roots and the requested ALPN.
    #[test]
    fn default_uses_the_host_roots() {
        let c = TlsSettings::default().client_config(&[b"h2"]).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
