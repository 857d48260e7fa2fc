//! Writes the certificates the TLS tests use into a directory:
//! `cargo run --release --example gencerts -- DIR`.
//!
//! - `ca.pem` / `ca.key`: the cluster's CA.
//! - `node.pem` / `node.key`: a node certificate from that CA for 127.0.0.1 and
//!   localhost, good for server and client authentication (mutual TLS).
//! - `expired.pem` / `expired.key`: the same, but valid only in 2020.
//! - `other-ca.pem`, `rogue.pem` / `rogue.key`: a second CA and a node
//!   certificate it signed, which the cluster does not trust.

use std::path::Path;

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn ca(name: &str) -> Res<(Certificate, KeyPair)> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate()?;
    Ok((p.self_signed(&key)?, key))
}

fn node(issuer: &Certificate, issuer_key: &KeyPair, expired: bool) -> Res<(Certificate, KeyPair)> {
    let mut p = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    p.distinguished_name.push(DnType::CommonName, "clusterluck node");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    if expired {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2020, 12, 31);
    }
    let key = KeyPair::generate()?;
    Ok((p.signed_by(&key, issuer, issuer_key)?, key))
}

fn write(dir: &Path, name: &str, cert: &Certificate, key: Option<&KeyPair>) -> Res<()> {
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem())?;
    if let Some(key) = key {
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem())?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let dir = std::env::args().nth(1).ok_or("usage: gencerts DIR")?;
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let (ca_cert, ca_key) = ca("clusterluck test CA")?;
    write(dir, "ca", &ca_cert, Some(&ca_key))?;
    let (n, nk) = node(&ca_cert, &ca_key, false)?;
    write(dir, "node", &n, Some(&nk))?;
    let (e, ek) = node(&ca_cert, &ca_key, true)?;
    write(dir, "expired", &e, Some(&ek))?;
    let (other, other_key) = ca("untrusted CA")?;
    write(dir, "other-ca", &other, None)?;
    let (r, rk) = node(&other, &other_key, false)?;
    write(dir, "rogue", &r, Some(&rk))?;
    println!("certificates written to {}", dir.display());
    Ok(())
}
