//! Secret keys as the settings spell them, decoded. Settings are checked with
//! these when read, and the code that uses a key decodes it the same way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// A 32-byte key written in standard base64 (`pii.encryption_key`,
/// `pii.hash_key`).
pub fn decode_key(value: &str) -> Result<[u8; 32], &'static str> {
    let bytes = B64.decode(value.trim()).map_err(|_| "not base64")?;
    bytes.try_into().map_err(|_| "not 32 bytes")
}

/// WeChat's EncodingAESKey: 43 base64 characters without the trailing `=`,
/// standing for a 32-byte AES key.
pub fn encoding_aes_key(value: &str) -> Result<[u8; 32], &'static str> {
    let value = value.trim();
    if value.len() != 43 {
        return Err("must be 43 characters");
    }
    // The 43rd character carries 2 spare bits that WeChat's keys do not
    // zero, so decoding must allow trailing bits.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let bytes = lenient
        .decode(format!("{value}="))
        .map_err(|_| "must be base64")?;
    bytes.try_into().map_err(|_| "must stand for 32 bytes")
}
