//! The emulator's private certificate authority.
//!
//! ACK answers `DescribeClusterUserKubeconfig` with a real, freshly issued client certificate;
//! to behave the same way the emulator owns a throw-away CA (generated at start, never written
//! anywhere unless asked) that mints one ECDSA P-256 client certificate per successful call and
//! the server certificates of the TLS main listener and of the Kubernetes API listener (which
//! also authenticates client certificates against this CA). Tests can then check the issued
//! certificate against [`crate::Emulator::ca_pem`] exactly as a kube-apiserver would.

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::EmulatorError;

/// Organisation placed in issued client certificates (the Kubernetes group of the user).
pub const CLIENT_CERT_ORGANIZATION: &str = "system:users";

/// A freshly minted client certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// `-----BEGIN CERTIFICATE-----` PEM of the client certificate.
    pub cert_pem: String,
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8, ECDSA P-256) PEM of its key.
    pub key_pem: String,
}

/// The CA: its certificate (PEM/DER) and signing key.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// Generates a new self-signed CA (ECDSA P-256, valid from one hour ago for ten years).
    pub fn generate() -> Result<Ca, EmulatorError> {
        let now = Utc::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "ack-ram-emulator CA");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "ack-ram-emulator");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = to_time(now - chrono::Duration::hours(1))?;
        params.not_after = to_time(now + chrono::Duration::days(3653))?;
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate()?;
        let issuer = CertifiedIssuer::self_signed(params, key)?;
        let pem = issuer.pem();
        Ok(Ca { issuer, pem })
    }

    /// PEM of the CA certificate.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Mints a client certificate: `CN=<common_name>`, `O=system:users`, extended key usage
    /// clientAuth, valid from `not_before` to `not_after` (whole seconds).
    pub fn issue_client(
        &self,
        common_name: &str,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<IssuedCert, EmulatorError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, CLIENT_CERT_ORGANIZATION);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = to_time(not_before)?;
        params.not_after = to_time(not_after)?;
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Mints the TLS server certificate (SANs `127.0.0.1`, `::1`, `localhost`), valid for a year.
    pub fn issue_server(
        &self,
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), EmulatorError> {
        let now = Utc::now();
        let mut params = CertificateParams::new(vec![
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "localhost".to_owned(),
        ])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "ack-ram-emulator");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = to_time(now - chrono::Duration::hours(1))?;
        params.not_after = to_time(now + chrono::Duration::days(365))?;
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((cert.der().clone(), key_der))
    }
}

fn to_time(t: DateTime<Utc>) -> Result<time::OffsetDateTime, EmulatorError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| EmulatorError::Certificate(format!("date out of range: {e}")))
}

/// 16 random bytes, positive and minimally encoded as a DER INTEGER.
fn random_serial() -> Result<SerialNumber, EmulatorError> {
    let mut bytes = [0u8; 16];
    crate::random_bytes(&mut bytes)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}
