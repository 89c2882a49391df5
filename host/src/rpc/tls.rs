//! TLS for the QUIC transport: the server's certificate (generated and kept
//! in the state directory on first start, or supplied by the operator) and
//! the two ways a client trusts a server: a pinned SHA-256 fingerprint or a
//! CA certificate file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::proto::ALPN;

/// Something went wrong with certificates or keys.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{what} `{path}`: {source}")]
    Io {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{what} `{path}` holds no {expected} in PEM form")]
    Pem {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was expected in it.
        expected: &'static str,
    },
    /// A fingerprint is not 64 hex digits.
    #[error(
        "invalid certificate fingerprint `{0}`: expected 64 hex digits (SHA-256), colons allowed"
    )]
    BadFingerprint(String),
    /// rustls refused the configuration.
    #[error("TLS configuration failed: {0}")]
    Config(String),
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

/// The SHA-256 fingerprint of a DER certificate, as 64 lowercase hex digits.
pub fn fingerprint(cert: &[u8]) -> String {
    crate::digest::sha256_hex(cert)
}

/// Normalises a fingerprint typed by a person: strips colons and spaces,
/// lowercases, and checks it is 64 hex digits.
///
/// # Errors
///
/// [`TlsError::BadFingerprint`] otherwise.
pub fn parse_fingerprint(text: &str) -> Result<String, TlsError> {
    let clean: String = text
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if clean.len() == 64 && clean.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(clean)
    } else {
        Err(TlsError::BadFingerprint(text.to_owned()))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Io {
            what,
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            path: path.to_owned(),
            expected: "certificate",
        });
    }
    Ok(certs)
}

/// How a client decides to trust the server.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Trust exactly the certificate with this SHA-256 fingerprint (any name).
    Fingerprint(String),
    /// Trust certificates issued by the CA (or self-signed certificate) in
    /// this PEM file, checking the server name.
    CaFile(PathBuf),
}

/// The client side of TLS for `trust`.
///
/// # Errors
///
/// When the CA file cannot be read or the configuration is refused.
pub fn client_config(trust: &Trust) -> Result<rustls::ClientConfig, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config = match trust {
        Trust::Fingerprint(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCert {
                fingerprint: fp.clone(),
                provider: provider(),
            }))
            .with_no_client_auth(),
        Trust::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(path, "CA file")? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::Config(format!("CA file `{}`: {e}", path.display())))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// Accepts exactly one certificate, by fingerprint, still checking that the
/// server holds its private key (the handshake signature).
#[derive(Debug)]
struct PinnedCert {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        if got == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate fingerprint is {got}, not the pinned {}",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

/// The fingerprint of the certificate a local server keeps in `state_dir`,
/// so clients on the same machine can pin it without being told.
///
/// # Errors
///
/// When the server has not written its certificate there (yet).
pub fn local_fingerprint(state_dir: &Path) -> Result<String, TlsError> {
    let path = state_dir.join(CERT_FILE);
    let certs = read_certs(&path, "server certificate")?;
    Ok(fingerprint(&certs[0]))
}

/// File name of the server certificate in the state directory.
pub const CERT_FILE: &str = "cert.pem";
/// File name of the server key in the state directory.
pub const KEY_FILE: &str = "key.pem";

/// A server's certificate chain and key.
#[derive(Debug)]
pub struct ServerIdentity {
    /// The chain, end-entity certificate first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        ServerIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ServerIdentity {
    /// The SHA-256 fingerprint of the end-entity certificate.
    pub fn fingerprint(&self) -> String {
        self.chain
            .first()
            .map(|c| fingerprint(c))
            .unwrap_or_default()
    }

    /// Reads a certificate chain and key from PEM files.
    ///
    /// # Errors
    ///
    /// When either file cannot be read or holds nothing usable.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = read_certs(cert, "certificate file")?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Pem {
            what: "key file",
            path: key.to_owned(),
            expected: "private key",
        })?;
        Ok(ServerIdentity { chain, key })
    }

    /// Reads the certificate kept in `state_dir`, generating a self-signed
    /// one (for `localhost`, `127.0.0.1` and `::1`) on first use. Returns the
    /// identity and whether it was generated now.
    ///
    /// # Errors
    ///
    /// When the directory or files cannot be created or read.
    #[cfg(feature = "server")]
    pub fn load_or_generate(state_dir: &Path) -> Result<(Self, bool), TlsError> {
        let cert = state_dir.join(CERT_FILE);
        let key = state_dir.join(KEY_FILE);
        if cert.exists() && key.exists() {
            return Ok((Self::from_files(&cert, &key)?, false));
        }
        crate::state_dir::prepare(state_dir).map_err(|e| TlsError::Io {
            what: "state directory",
            path: state_dir.to_owned(),
            source: std::io::Error::other(e),
        })?;
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, generated.cert.pem()).map_err(|source| TlsError::Io {
            what: "certificate file",
            path: cert.clone(),
            source,
        })?;
        Ok((Self::from_files(&cert, &key)?, true))
    }

    /// The server side of TLS for this identity.
    ///
    /// # Errors
    ///
    /// When rustls refuses the certificate or key.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    /// A TLS config for the HTTP gateway with the same certificate: TLS 1.2
    /// and 1.3, ALPN `h2` and `http/1.1`.
    ///
    /// # Errors
    ///
    /// When rustls refuses the certificate or key.
    pub fn http_server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Writes a file readable by its owner only.
#[cfg(feature = "server")]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let io = |source| TlsError::Io {
        what: "key file",
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalised() {
        let fp = "AB:".repeat(31) + "AB";
        assert_eq!(parse_fingerprint(&fp).unwrap(), "ab".repeat(32));
        assert!(parse_fingerprint("abc").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[cfg(feature = "server")]
    #[test]
    fn the_generated_certificate_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, generated) = ServerIdentity::load_or_generate(dir.path()).unwrap();
        assert!(generated);
        let (second, generated) = ServerIdentity::load_or_generate(dir.path()).unwrap();
        assert!(!generated);
        assert_eq!(first.fingerprint(), second.fingerprint());
        assert_eq!(local_fingerprint(dir.path()).unwrap(), first.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
    }
}
