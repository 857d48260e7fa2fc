//! TLS for both ends of a link, configured with node-ipc's option shape:
//! `private` (key path), `public` (certificate path), `trustedConnections`
//! (CA path or paths), `rejectUnauthorized`, `requestCert`. Frames inside TLS
//! are unchanged. Configurations are built when a server starts or a
//! connection opens, so a missing file or a bad PEM is an error right there,
//! naming the option and the file, instead of a link that never comes up.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

/// node-ipc's TLS options, as given in `start({tls})` or `ipc.config.tls`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// `private`: path of the PEM private key.
    pub private: Option<String>,
    /// `public`: path of the PEM certificate (chain).
    pub public: Option<String>,
    /// `trustedConnections`: paths of PEM CA certificates.
    pub trusted: Vec<String>,
    /// `rejectUnauthorized` (Node's default: true).
    pub reject_unauthorized: Option<bool>,
    /// `requestCert`: a server asks clients for a certificate (default false).
    pub request_cert: Option<bool>,
}

/// A TLS configuration that cannot be used.
#[derive(Debug)]
pub enum TlsError {
    /// A file an option names could not be read.
    Read {
        /// The option (`private`, `public`, `trustedConnections`).
        option: &'static str,
        /// The path it gave.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A file an option names holds no usable PEM of the kind it needs.
    Pem {
        /// The option (`private`, `public`, `trustedConnections`).
        option: &'static str,
        /// The path it gave.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An option the configuration needs is not set.
    Missing(&'static str),
    /// rustls refused the configuration.
    Rustls(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { option, path, source } => write!(f, "TLS option '{option}': cannot read {path}: {source}"),
            TlsError::Pem { option, path, detail } => write!(f, "TLS option '{option}': {path} is not usable PEM: {detail}"),
            TlsError::Missing(what) => write!(f, "TLS option '{what}' is required"),
            TlsError::Rustls(e) => write!(f, "TLS configuration rejected: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Rustls(e.to_string())
    }
}

/// ring's provider, which rustls 0.23.48 marks deprecated because it has no
/// post-quantum key exchange. Our peers are node-ipc servers and clients on
/// Node's OpenSSL, which negotiate the classical groups ring offers; moving to
/// aws-lc-rs (a C and assembly build) for a key exchange no JS peer offers
/// would cost every install a C toolchain.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(option: &'static str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { option, path: path.to_string(), source })
}

fn certs(option: &'static str, path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(option, path)?;
    let pem_err = |detail: String| TlsError::Pem { option, path: path.to_string(), detail };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

fn key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("private", path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| TlsError::Pem { option: "private", path: path.to_string(), detail: e.to_string() })
}

fn roots(trusted: &[String]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for path in trusted {
        for cert in certs("trustedConnections", path)? {
            store
                .add(cert)
                .map_err(|e| TlsError::Pem { option: "trustedConnections", path: path.clone(), detail: e.to_string() })?;
        }
    }
    Ok(store)
}

/// The server side. A key and a certificate are required.
pub fn server_config(o: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let key_path = o.private.as_deref().ok_or(TlsError::Missing("private"))?;
    let cert_path = o.public.as_deref().ok_or(TlsError::Missing("public"))?;
    let chain = certs("public", cert_path)?;
    let key = key(key_path)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = if o.request_cert.unwrap_or(false) {
        if o.reject_unauthorized.unwrap_or(true) {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&o.trusted)?), provider)
                .build()
                .map_err(|e| TlsError::Rustls(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_client_cert_verifier(Arc::new(AnyClient(provider)))
        }
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(builder.with_single_cert(chain, key)?))
}

/// The client side. With `rejectUnauthorized` (the default) the server must
/// present a certificate for the host we dial, signed by a trusted CA (the
/// public roots when no `trustedConnections` are given).
pub fn client_config(o: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = if o.reject_unauthorized.unwrap_or(true) {
        let store = if o.trusted.is_empty() {
            RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
        } else {
            roots(&o.trusted)?
        };
        builder.with_root_certificates(store)
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
    };
    let config = match (&o.private, &o.public) {
        (Some(k), Some(c)) => builder.with_client_auth_cert(certs("public", c)?, key(k)?)?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|e| TlsError::Rustls(format!("host '{host}': {e}")))
}

/// The handshake-signature checks both permissive verifiers share: whatever
/// they accept as a certificate, the peer must still prove it holds the key.
macro_rules! handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    };
}

/// `rejectUnauthorized: false` on a client: any server certificate, but the
/// handshake signatures are still checked.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
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

    handshake_signatures!();
}

/// `requestCert: true, rejectUnauthorized: false` on a server: ask for a
/// client certificate, accept any or none.
#[derive(Debug)]
struct AnyClient(Arc<CryptoProvider>);

impl ClientCertVerifier for AnyClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    handshake_signatures!();
}
