//! What more than one integration test needs: each test file that uses
//! this includes it with `mod common;`.

/// Writes a CA and a node certificate from it (for 127.0.0.1, server and
/// client use) into `dir`; returns the TLS options of a node using them.
pub fn mutual_tls(dir: &std::path::Path) -> clusterluck_native::TlsOptions {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let mut node = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    node.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let node_key = KeyPair::generate().unwrap();
    let node_cert = node.signed_by(&node_key, &ca_cert, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("node.pem"), node_cert.pem()).unwrap();
    std::fs::write(dir.join("node.key"), node_key.serialize_pem()).unwrap();
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    clusterluck_native::TlsOptions {
        private: Some(path("node.key")),
        public: Some(path("node.pem")),
        trusted: vec![path("ca.pem")],
        reject_unauthorized: Some(true),
        request_cert: Some(true),
    }
}
