//! WeChat Pay API v3 cryptography: the merchant's request signatures
//! (`WECHATPAY2-SHA256-RSA2048`), the client's payment signature, the
//! verification of WeChat's signatures (responses and notifications) with a
//! platform public key or certificate, and the AEAD_AES_256_GCM resource of a
//! notification.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use x509_cert::der::{Decode, DecodePem};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// rsaEncryption (RFC 8017): the only key algorithm WeChat Pay uses.
const RSA_ENCRYPTION: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A signature WeChat sends to probe that merchants verify signatures; it
/// must always be refused.
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Why a WeChat signature or resource was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("a Wechatpay-* header is missing")]
    MissingHeader,
    #[error("the signature is WeChat's SIGNTEST probe")]
    SignTest,
    #[error("the timestamp is {0} s away from now, beyond the allowed skew")]
    Stale(i64),
    #[error("no platform key or certificate with serial {0} is configured")]
    UnknownSerial(String),
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the resource could not be decrypted")]
    Undecryptable,
}

/// The merchant's private key and the serial number of its certificate.
/// Signing runs on `ring` (constant-time RSA).
pub struct MerchantKey {
    pub mch_id: String,
    pub serial_no: String,
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl MerchantKey {
    /// From a PKCS#8 PEM (`apiclient_key.pem`).
    pub fn from_pem(mch_id: &str, serial_no: &str, pem: &str) -> anyhow::Result<Self> {
        let (label, der) = x509_cert::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| anyhow::anyhow!("the merchant private key is not PEM: {e}"))?;
        if label != "PRIVATE KEY" {
            anyhow::bail!("the merchant private key is a {label:?}, not a PKCS#8 \"PRIVATE KEY\"");
        }
        Self::from_pkcs8_der(mch_id, serial_no, &der)
    }

    /// From a PKCS#8 DER RSA key of 2048 bits or more.
    pub fn from_pkcs8_der(mch_id: &str, serial_no: &str, der: &[u8]) -> anyhow::Result<Self> {
        let key = RsaKeyPair::from_pkcs8(der).map_err(|e| {
            anyhow::anyhow!("the merchant private key is not a PKCS#8 RSA key: {e}")
        })?;
        Ok(Self {
            mch_id: mch_id.to_owned(),
            serial_no: serial_no.to_owned(),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// SHA256withRSA over `message`, base64. Fails only if the system's
    /// random source does (the buffer is the modulus's size).
    pub fn sign(&self, message: &str) -> anyhow::Result<String> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        Ok(B64.encode(signature))
    }

    /// The `Authorization` header of a request to WeChat Pay:
    /// `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`, signed.
    pub fn authorization(
        &self,
        method: &str,
        path_and_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> anyhow::Result<String> {
        let signature = self.sign(&format!(
            "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n"
        ))?;
        Ok(format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mch_id, self.serial_no
        ))
    }

    /// The client's payment signature (`paySign`) for `wx.requestPayment`:
    /// `appId\ntimeStamp\nnonceStr\npackage\n`, signed.
    pub fn pay_sign(
        &self,
        app_id: &str,
        timestamp: i64,
        nonce: &str,
        package: &str,
    ) -> anyhow::Result<String> {
        self.sign(&format!("{app_id}\n{timestamp}\n{nonce}\n{package}\n"))
    }
}

/// WeChat Pay's public keys, by the serial `Wechatpay-Serial` names: a
/// `PUB_KEY_ID_…` (public-key mode) and/or platform certificate serials
/// (certificate mode). Both modes may be configured at once (WeChat's
/// migration from certificates to public keys).
#[derive(Default)]
pub struct PlatformKeys {
    /// Each serial's RSAPublicKey (PKCS#1 DER), verified on `ring`.
    keys: HashMap<String, UnparsedPublicKey<Vec<u8>>>,
}

impl PlatformKeys {
    /// Adds the public key WeChat gives in public-key mode (a PEM
    /// `PUBLIC KEY`).
    pub fn add_public_key(&mut self, id: &str, pem: &str) -> anyhow::Result<()> {
        let spki = SubjectPublicKeyInfoOwned::from_pem(pem.trim().as_bytes()).map_err(|e| {
            anyhow::anyhow!("the WeChat Pay public key {id} is not a PEM public key: {e}")
        })?;
        self.add(id, &spki)
            .map_err(|e| anyhow::anyhow!("the WeChat Pay public key {id}: {e}"))
    }

    /// Adds a platform certificate (PEM); its serial number is read from it.
    /// Returns the serial.
    pub fn add_certificate(&mut self, pem: &str) -> anyhow::Result<String> {
        use x509_cert::Certificate;
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("not a PEM certificate: {e}"))?;
        let serial: String = cert
            .tbs_certificate
            .serial_number
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        self.add(&serial, &cert.tbs_certificate.subject_public_key_info)
            .map_err(|e| anyhow::anyhow!("the certificate's key: {e}"))?;
        Ok(serial)
    }

    /// Adds a DER SubjectPublicKeyInfo under `serial`.
    pub fn add_der(&mut self, serial: &str, spki_der: &[u8]) -> anyhow::Result<()> {
        let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)
            .map_err(|e| anyhow::anyhow!("not a DER public key: {e}"))?;
        self.add(serial, &spki)
    }

    fn add(&mut self, serial: &str, spki: &SubjectPublicKeyInfoOwned) -> anyhow::Result<()> {
        if spki.algorithm.oid != RSA_ENCRYPTION {
            anyhow::bail!("not an RSA key (algorithm {})", spki.algorithm.oid);
        }
        let pkcs1 = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| anyhow::anyhow!("the key's bit string is not whole bytes"))?;
        // Parsed once now, so a bad key fails at start and not at the first
        // notification.
        let key = pkcs1::RsaPublicKey::from_der(pkcs1)
            .map_err(|e| anyhow::anyhow!("not an RSA public key: {e}"))?;
        let modulus = key.modulus.as_bytes();
        let bits = modulus.len() * 8 - modulus.first().map_or(8, |b| b.leading_zeros() as usize);
        if !(2048..=8192).contains(&bits) {
            anyhow::bail!("an RSA key of {bits} bits (WeChat Pay's are 2048)");
        }
        self.keys.insert(
            serial.to_ascii_uppercase(),
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1.to_vec()),
        );
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies WeChat's signature over `timestamp\nnonce\nbody\n` (the raw
    /// body bytes), refusing the SIGNTEST probe and timestamps further than
    /// `max_skew_secs` from `now`.
    pub fn verify(
        &self,
        headers: &SignedHeaders<'_>,
        body: &[u8],
        now: i64,
        max_skew_secs: u64,
    ) -> Result<(), Refused> {
        if headers.signature.starts_with(SIGNTEST_PREFIX) {
            return Err(Refused::SignTest);
        }
        let timestamp: i64 = headers
            .timestamp
            .trim()
            .parse()
            .map_err(|_| Refused::MissingHeader)?;
        let skew = now - timestamp;
        if skew.unsigned_abs() > max_skew_secs {
            return Err(Refused::Stale(skew));
        }
        let key = self
            .keys
            .get(&headers.serial.trim().to_ascii_uppercase())
            .ok_or_else(|| Refused::UnknownSerial(headers.serial.chars().take(64).collect()))?;
        let raw = B64
            .decode(headers.signature.trim())
            .map_err(|_| Refused::BadSignature)?;
        let mut message = Vec::with_capacity(body.len() + 64);
        message.extend_from_slice(headers.timestamp.trim().as_bytes());
        message.push(b'\n');
        message.extend_from_slice(headers.nonce.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(body);
        message.push(b'\n');
        key.verify(&message, &raw)
            .map_err(|_| Refused::BadSignature)
    }
}

/// The `Wechatpay-*` headers of a response or notification.
pub struct SignedHeaders<'a> {
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
    pub serial: &'a str,
}

/// The encrypted part of a notification.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
    #[serde(default)]
    pub original_type: String,
}

/// Decrypts a notification's resource with the APIv3 key.
pub fn decrypt(api_v3_key: &[u8; 32], resource: &Resource) -> Result<Vec<u8>, Refused> {
    if resource.algorithm != "AEAD_AES_256_GCM" || resource.nonce.len() != 12 {
        return Err(Refused::Undecryptable);
    }
    let cipher = Aes256Gcm::new(api_v3_key.into());
    let ciphertext = B64
        .decode(resource.ciphertext.trim())
        .map_err(|_| Refused::Undecryptable)?;
    cipher
        .decrypt(
            Nonce::from_slice(resource.nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: resource.associated_data.as_bytes(),
            },
        )
        .map_err(|_| Refused::Undecryptable)
}

/// Encrypts like WeChat Pay does (for the sandbox and the tests' fake).
pub fn encrypt(
    api_v3_key: &[u8; 32],
    nonce: &str,
    associated_data: &str,
    plain: &[u8],
) -> Option<String> {
    if nonce.len() != 12 {
        return None;
    }
    let cipher = Aes256Gcm::new(api_v3_key.into());
    cipher
        .encrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: plain,
                aad: associated_data.as_bytes(),
            },
        )
        .ok()
        .map(|c| B64.encode(c))
}

/// The APIv3 key: exactly 32 bytes of text.
pub fn api_v3_key(text: &str) -> anyhow::Result<[u8; 32]> {
    text.as_bytes()
        .try_into()
        .map_err(|_| anyhow::anyhow!("wechat_pay.api_v3_key must be exactly 32 characters"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    /// `key` as the merchant's signing key (test keys are made with `rsa`).
    pub(super) fn signer(mch_id: &str, serial: &str, key: &RsaPrivateKey) -> MerchantKey {
        MerchantKey::from_pkcs8_der(mch_id, serial, key.to_pkcs8_der().unwrap().as_bytes()).unwrap()
    }

    fn keys() -> (MerchantKey, PlatformKeys, RsaPrivateKey) {
        let mut rng = rand_core_rng();
        let platform = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let merchant = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let mut keys = PlatformKeys::default();
        let pem = platform
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        keys.add_public_key("PUB_KEY_ID_TEST", &pem).unwrap();
        (signer("1900000001", "SERIAL", &merchant), keys, platform)
    }

    fn rand_core_rng() -> rsa::rand_core::OsRng {
        rsa::rand_core::OsRng
    }

    fn signed(platform: &RsaPrivateKey, timestamp: &str, nonce: &str, body: &str) -> String {
        signer("", "", platform)
            .sign(&format!("{timestamp}\n{nonce}\n{body}\n"))
            .unwrap()
    }

    fn headers<'a>(signature: &'a str, serial: &'a str, timestamp: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            timestamp,
            nonce: "n1",
            signature,
            serial,
        }
    }

    #[test]
    fn a_signature_from_the_platform_key_verifies_and_anything_else_is_refused() {
        let (merchant, keys, platform) = keys();
        let body = r#"{"id":"1"}"#;
        let good = signed(&platform, "1700000000", "n1", body);
        let at = |now: i64, signature: &str, serial: &str, body: &[u8]| {
            keys.verify(&headers(signature, serial, "1700000000"), body, now, 300)
        };
        assert_eq!(
            at(1_700_000_100, &good, "PUB_KEY_ID_TEST", body.as_bytes()),
            Ok(())
        );
        assert_eq!(
            at(1_700_000_100, &good, "PUB_KEY_ID_TEST", br#"{"id":"2"}"#),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            at(1_700_000_100, &good, "PUB_KEY_ID_OTHER", body.as_bytes()),
            Err(Refused::UnknownSerial("PUB_KEY_ID_OTHER".into()))
        );
        assert_eq!(
            at(1_700_000_301, &good, "PUB_KEY_ID_TEST", body.as_bytes()),
            Err(Refused::Stale(301))
        );
        assert_eq!(
            at(
                1_700_000_000,
                "WECHATPAY/SIGNTEST/abc",
                "PUB_KEY_ID_TEST",
                body.as_bytes()
            ),
            Err(Refused::SignTest)
        );
        // The merchant's own key is not WeChat's.
        let forged = merchant.sign(&format!("1700000000\nn1\n{body}\n")).unwrap();
        assert_eq!(
            at(1_700_000_000, &forged, "PUB_KEY_ID_TEST", body.as_bytes()),
            Err(Refused::BadSignature)
        );
    }

    #[test]
    fn signatures_are_standard_pkcs1_v1_5_both_ways_and_weak_keys_are_refused() {
        use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
        use rsa::signature::{SignatureEncoding, Signer, Verifier};
        let merchant_private = RsaPrivateKey::new(&mut rand_core_rng(), 2048).unwrap();
        let merchant_public = merchant_private.to_public_key();
        let merchant = signer("", "", &merchant_private);
        let (_, keys, platform) = keys();
        // Made by another implementation, verified here.
        let theirs = SigningKey::<sha2::Sha256>::new(platform.clone())
            .sign(b"1700000000\nn1\n{}\n")
            .to_bytes();
        assert_eq!(
            keys.verify(
                &headers(&B64.encode(theirs), "PUB_KEY_ID_TEST", "1700000000"),
                b"{}",
                1_700_000_000,
                300
            ),
            Ok(())
        );
        // Made here, verified by another implementation.
        let ours = merchant.sign("GET\n/v3/x\n1\nN\n\n").unwrap();
        let raw = B64.decode(ours).unwrap();
        VerifyingKey::<sha2::Sha256>::new(merchant_public)
            .verify(
                b"GET\n/v3/x\n1\nN\n\n",
                &Signature::try_from(raw.as_slice()).unwrap(),
            )
            .unwrap();
        // A 1024-bit platform key fails when it is loaded.
        let weak = RsaPrivateKey::new(&mut rand_core_rng(), 1024).unwrap();
        let pem = weak
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let err = PlatformKeys::default()
            .add_public_key("PUB_KEY_ID_WEAK", &pem)
            .unwrap_err();
        assert!(err.to_string().contains("1024 bits"), "{err}");
        assert!(
            PlatformKeys::default()
                .add_public_key(
                    "PUB_KEY_ID_X",
                    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
                )
                .is_err()
        );
    }

    #[test]
    fn a_resource_decrypts_with_the_api_v3_key_only_and_untouched() {
        let key = api_v3_key("0123456789abcdef0123456789abcdef").unwrap();
        let ciphertext = encrypt(&key, "abcdefghijkl", "transaction", b"{\"ok\":1}").unwrap();
        let resource = Resource {
            algorithm: "AEAD_AES_256_GCM".into(),
            ciphertext: ciphertext.clone(),
            associated_data: "transaction".into(),
            nonce: "abcdefghijkl".into(),
            original_type: "transaction".into(),
        };
        assert_eq!(decrypt(&key, &resource).unwrap(), b"{\"ok\":1}");
        let other = api_v3_key("fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(decrypt(&other, &resource), Err(Refused::Undecryptable));
        let tampered = Resource {
            associated_data: "refund".into(),
            ..resource
        };
        assert_eq!(decrypt(&key, &tampered), Err(Refused::Undecryptable));
        assert!(api_v3_key("short").is_err());
    }

    #[test]
    fn the_authorization_header_carries_a_signature_of_the_canonical_request() {
        let (merchant, _, _) = keys();
        let header = merchant
            .authorization(
                "POST",
                "/v3/pay/transactions/jsapi",
                1_700_000_000,
                "NONCE",
                "{}",
            )
            .unwrap();
        assert!(header.starts_with(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"NONCE\",signature=\""
        ));
        assert!(header.ends_with("timestamp=\"1700000000\",serial_no=\"SERIAL\""));
    }
}

#[cfg(test)]
mod certificate_tests {
    #![allow(clippy::unwrap_used)]
    use std::str::FromStr;
    use std::time::Duration;

    use rsa::RsaPrivateKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::EncodePublicKey;
    use sha2::Sha256;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    use super::*;

    /// A self-signed platform certificate (test-only), with `serial`.
    fn certificate(key: &RsaPrivateKey, serial: &[u8]) -> String {
        let spki = SubjectPublicKeyInfoOwned::try_from(
            key.to_public_key().to_public_key_der().unwrap().as_bytes(),
        )
        .unwrap();
        let signer = SigningKey::<Sha256>::new(key.clone());
        let builder = CertificateBuilder::new(
            Profile::Root,
            SerialNumber::new(serial).unwrap(),
            Validity::from_now(Duration::from_secs(3600)).unwrap(),
            Name::from_str("CN=Tenpay.com Root CA,O=Tenpay.com").unwrap(),
            spki,
            &signer,
        )
        .unwrap();
        builder
            .build::<rsa::pkcs1v15::Signature>()
            .unwrap()
            .to_pem(x509_cert::der::pem::LineEnding::LF)
            .unwrap()
    }

    #[test]
    fn a_platform_certificate_and_a_public_key_work_side_by_side() {
        let mut rng = rsa::rand_core::OsRng;
        let old = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let new = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let mut keys = PlatformKeys::default();
        let serial = keys
            .add_certificate(&certificate(&old, &[0x5E, 0x12, 0xAB, 0x01]))
            .unwrap();
        assert_eq!(serial, "5E12AB01", "the certificate's serial, in hex");
        keys.add_public_key(
            "PUB_KEY_ID_NEW",
            &new.to_public_key()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap(),
        )
        .unwrap();
        let body = b"{}";
        let sign = |key: &RsaPrivateKey| {
            super::tests::signer("", "", key)
                .sign("1700000000\nn\n{}\n")
                .unwrap()
        };
        let (by_old, by_new) = (sign(&old), sign(&new));
        let check = |signature: &str, serial: &str| {
            keys.verify(
                &SignedHeaders {
                    timestamp: "1700000000",
                    nonce: "n",
                    signature,
                    serial,
                },
                body,
                1_700_000_000,
                300,
            )
        };
        assert_eq!(
            check(&by_old, "5e12ab01"),
            Ok(()),
            "serials match in any case"
        );
        assert_eq!(check(&by_new, "PUB_KEY_ID_NEW"), Ok(()));
        assert_eq!(check(&by_new, "5E12AB01"), Err(Refused::BadSignature));
        assert!(keys.add_certificate("not a certificate").is_err());
    }
}
