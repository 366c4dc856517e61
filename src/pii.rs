//! Personal data protection (PIPL-minded): values such as phone numbers are
//! stored encrypted (AES-256-GCM, random nonce), looked up through a keyed hash
//! (HMAC-SHA256, so the table cannot be reversed by hashing every number), and
//! shown masked.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::config::PiiSettings;
use crate::kernel::keys::decode_key;

/// Ciphertexts carry a key version so keys can be rotated later.
const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct PiiCipher {
    aead: Aes256Gcm,
    hash_key: [u8; 32],
}

impl std::fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiCipher([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stored personal data could not be decrypted")]
pub struct DecryptError;

#[derive(Debug, thiserror::Error)]
#[error("personal data could not be encrypted")]
pub struct EncryptError;

impl From<EncryptError> for crate::kernel::error::ApiError {
    fn from(err: EncryptError) -> Self {
        crate::kernel::error::ApiError::internal(err)
    }
}

impl From<DecryptError> for crate::kernel::error::ApiError {
    fn from(err: DecryptError) -> Self {
        crate::kernel::error::ApiError::internal(err)
    }
}

impl PiiCipher {
    pub fn from_settings(settings: &PiiSettings) -> anyhow::Result<Self> {
        let enc = decode_key(settings.encryption_key.expose_secret())
            .map_err(|e| anyhow::anyhow!("pii.encryption_key: {e}"))?;
        let hash_key = decode_key(settings.hash_key.expose_secret())
            .map_err(|e| anyhow::anyhow!("pii.hash_key: {e}"))?;
        Ok(Self {
            aead: Aes256Gcm::new(&enc.into()),
            hash_key,
        })
    }

    pub fn encrypt(&self, plaintext: &str) -> Result<String, EncryptError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| EncryptError)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(format!("{VERSION_PREFIX}{}", B64.encode(out)))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, DecryptError> {
        let body = stored.strip_prefix(VERSION_PREFIX).ok_or(DecryptError)?;
        let bytes = B64.decode(body).map_err(|_| DecryptError)?;
        if bytes.len() <= NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }

    /// Keyed hash for lookups; `kind` separates domains (a phone number and an
    /// ID number that happen to share digits hash differently).
    pub fn lookup_hash(&self, kind: &str, normalised: &str) -> String {
        // HMAC zero-pads keys to the block size, so a 32-byte key padded to
        // 64 gives the same MAC, through the infallible fixed-size constructor.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.hash_key);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A person's name as other residents see it: the first character, then
/// `**` (`王**`).
pub fn masked_name(name: &str) -> String {
    let first: String = name.chars().take(1).collect();
    format!("{first}**")
}

/// A mainland China mobile number, normalised to its 11 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl PhoneNumber {
    /// Accepts `13812341234`, `+86 138 1234 1234`, `138-1234-1234`.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let digits: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .unwrap_or(&digits);
        let valid = digits.len() == 11
            && digits.chars().all(|c| c.is_ascii_digit())
            && digits.starts_with('1')
            && matches!(digits.as_bytes()[1], b'3'..=b'9');
        if valid {
            Ok(Self(digits.to_owned()))
        } else {
            Err("must be an 11-digit mainland mobile number, such as 13812341234")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****1234`
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }

    pub fn lookup_hash(&self, cipher: &PiiCipher) -> String {
        cipher.lookup_hash("phone", &self.0)
    }
}

/// A personal value ready to store: keyed hash, ciphertext, masked form.
pub struct Sealed {
    pub hash: String,
    pub enc: String,
    pub masked: String,
}

/// Parses a phone number from request field `field` and seals it.
pub fn seal_phone(
    cipher: &PiiCipher,
    field: &str,
    value: &str,
) -> Result<Sealed, crate::kernel::error::ApiError> {
    let phone = PhoneNumber::parse(value)
        .map_err(|e| crate::kernel::error::ApiError::invalid_field(field, e))?;
    Ok(Sealed {
        hash: phone.lookup_hash(cipher),
        enc: cipher.encrypt(phone.as_str())?,
        masked: phone.masked(),
    })
}

/// Parses a resident ID number from request field `field` and seals it.
pub fn seal_id_number(
    cipher: &PiiCipher,
    field: &str,
    value: &str,
) -> Result<Sealed, crate::kernel::error::ApiError> {
    let id = IdNumber::parse(value)
        .map_err(|e| crate::kernel::error::ApiError::invalid_field(field, e))?;
    Ok(Sealed {
        hash: id.lookup_hash(cipher),
        enc: cipher.encrypt(id.as_str())?,
        masked: id.masked(),
    })
}

/// A mainland resident identity card number (居民身份证号): 17 digits and a
/// check character (digit or X), checksum verified (ISO 7064 MOD 11-2).
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl IdNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let value = input.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if bytes.len() != 18
            || !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err("must be an 18-character resident ID number");
        }
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let sum: u32 = bytes[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        if CHECK[(sum % 11) as usize] != bytes[17] {
            return Err("is not a valid resident ID number (check digit mismatch)");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `350***********123X`
    pub fn masked(&self) -> String {
        format!("{}{}{}", &self.0[..3], "*".repeat(11), &self.0[14..])
    }

    pub fn lookup_hash(&self, cipher: &PiiCipher) -> String {
        cipher.lookup_hash("id_number", &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn cipher() -> PiiCipher {
        PiiCipher::from_settings(&PiiSettings {
            encryption_key: SecretString::from(B64.encode([7u8; 32])),
            hash_key: SecretString::from(B64.encode([9u8; 32])),
        })
        .unwrap()
    }

    #[test]
    fn encrypted_values_decrypt_back_and_never_repeat() {
        let c = cipher();
        let a = c.encrypt("13812341234").unwrap();
        let b = c.encrypt("13812341234").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("13812341234"));
        assert_eq!(c.decrypt(&a).unwrap(), "13812341234");
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let c = cipher();
        let mut stored = c.encrypt("13812341234").unwrap();
        stored.replace_range(10..11, if &stored[10..11] == "A" { "B" } else { "A" });
        assert!(c.decrypt(&stored).is_err());
        assert!(c.decrypt("garbage").is_err());
    }

    #[test]
    fn phone_numbers_are_normalised_masked_and_validated() {
        let p = PhoneNumber::parse("+86 138-1234-5678").unwrap();
        assert_eq!(p.as_str(), "13812345678");
        assert_eq!(p.masked(), "138****5678");
        assert!(PhoneNumber::parse("12345").is_err());
        assert!(PhoneNumber::parse("12812345678").is_err());
        assert!(PhoneNumber::parse("1381234567x").is_err());
    }

    #[test]
    fn id_numbers_are_checksummed_and_masked() {
        // A well-known sample number with a valid check digit.
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110***********002X");
        assert!(IdNumber::parse("110105194912310021").is_err());
        assert!(IdNumber::parse("1101051949123100").is_err());
    }

    #[test]
    fn lookup_hashes_are_stable_and_domain_separated() {
        let c = cipher();
        assert_eq!(c.lookup_hash("phone", "1"), c.lookup_hash("phone", "1"));
        assert_ne!(c.lookup_hash("phone", "1"), c.lookup_hash("id_number", "1"));
        // Same as HMAC over the unpadded 32-byte key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[9u8; 32]).unwrap();
        mac.update(b"phone\x001");
        assert_eq!(
            c.lookup_hash("phone", "1"),
            hex::encode(mac.finalize().into_bytes())
        );
    }
}
