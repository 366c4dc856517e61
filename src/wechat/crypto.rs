//! The service account's message signatures and "safe mode" encryption
//! (WXBizMsgCrypt): SHA-1 over the sorted parameters, and AES-256-CBC with
//! the 43-character EncodingAESKey, PKCS#7 padded to 32-byte blocks (so pads
//! of 1 to 32 bytes are valid, not just 1 to 16).

use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use sha1::{Digest, Sha1};

const BLOCK: usize = 32;

/// `sha1(sort(parts).concat())`, lowercase hex: the callback `signature`
/// (token, timestamp, nonce), `msg_signature` (plus the ciphertext) and the
/// JS-SDK signature all use this shape.
pub fn sha1_sorted(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Compares two signatures without leaking where they differ.
pub fn same_signature(expected: &str, given: &str) -> bool {
    let (a, b) = (
        expected.as_bytes(),
        given.trim().to_ascii_lowercase().into_bytes(),
    );
    a.len() == b.len() && a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptError {
    #[error("the EncodingAESKey must be 43 characters of base64")]
    BadKey,
    #[error("the ciphertext is not base64 of whole blocks")]
    BadCiphertext,
    #[error("the padding is not PKCS#7 to 32 bytes")]
    BadPadding,
    #[error("the decrypted frame is malformed")]
    BadFrame,
    #[error("the message is for another app id")]
    WrongAppId,
}

/// One account's cipher: the key from the EncodingAESKey, the IV its first
/// 16 bytes, and the app id every frame must end with.
#[derive(Clone)]
pub struct MsgCrypt {
    key: [u8; 32],
    app_id: String,
}

impl std::fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl MsgCrypt {
    pub fn new(encoding_aes_key: &str, app_id: &str) -> Result<Self, CryptError> {
        let key = crate::kernel::keys::encoding_aes_key(encoding_aes_key)
            .map_err(|_| CryptError::BadKey)?;
        Ok(Self {
            key,
            app_id: app_id.to_owned(),
        })
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// Decrypts an `Encrypt` value: `random(16) ‖ len(4, big-endian) ‖ msg ‖
    /// app_id`, checking the padding and that the app id is ours.
    pub fn decrypt(&self, encrypted: &str) -> Result<String, CryptError> {
        let mut buf = B64
            .decode(encrypted.trim())
            .map_err(|_| CryptError::BadCiphertext)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptError::BadCiphertext);
        }
        let plain = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptError::BadCiphertext)?;
        let pad = usize::from(*plain.last().ok_or(CryptError::BadPadding)?);
        if pad == 0 || pad > BLOCK || pad > plain.len() {
            return Err(CryptError::BadPadding);
        }
        let (frame, padding) = plain.split_at(plain.len() - pad);
        if padding.iter().any(|&b| usize::from(b) != pad) {
            return Err(CryptError::BadPadding);
        }
        let header = frame.get(16..20).ok_or(CryptError::BadFrame)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let len = usize::try_from(len).map_err(|_| CryptError::BadFrame)?;
        let msg_end = 20usize.checked_add(len).ok_or(CryptError::BadFrame)?;
        let msg = frame.get(20..msg_end).ok_or(CryptError::BadFrame)?;
        let app_id = frame.get(msg_end..).ok_or(CryptError::BadFrame)?;
        if app_id != self.app_id.as_bytes() {
            return Err(CryptError::WrongAppId);
        }
        String::from_utf8(msg.to_vec()).map_err(|_| CryptError::BadFrame)
    }

    /// Encrypts a reply with fresh random bytes.
    pub fn encrypt(&self, msg: &str) -> String {
        let mut random = [0u8; 16];
        rand::rng().fill_bytes(&mut random);
        self.encrypt_with(&random, msg)
    }

    /// Encrypts with the given 16 random bytes (deterministic, for tests
    /// against published vectors).
    pub fn encrypt_with(&self, random: &[u8; 16], msg: &str) -> String {
        let msg = msg.as_bytes();
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        let body_len = 20 + msg.len() + self.app_id.len();
        let pad = BLOCK - body_len % BLOCK;
        let mut buf = Vec::with_capacity(body_len + pad);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(self.app_id.as_bytes());
        // `pad` is 1..=32, so it fits a byte.
        buf.resize(body_len + pad, u8::try_from(pad).unwrap_or(32));
        let total = buf.len();
        let encrypted = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, total)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        B64.encode(encrypted)
    }
}

#[cfg(test)]
mod tests {
    //! WeChat's published sample vectors (the WXBizMsgCrypt demos and the
    //! current message-push documentation).
    use super::*;

    const QDG6EK_ENCRYPT: &str = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";

    #[test]
    fn a_message_padded_with_30_bytes_decrypts_and_its_signature_matches() {
        // The WeCom sample: the frame is 322 bytes, so the pad is 30 (> 16).
        let crypt = MsgCrypt::new(
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "wx5823bf96d3bd56c7",
        )
        .unwrap();
        assert_eq!(
            sha1_sorted(&["QDG6eK", "1409659813", "1372623149", QDG6EK_ENCRYPT]),
            "477715d11cdb4164915debcba66cb864d751f3e6"
        );
        assert_eq!(
            crypt.decrypt(QDG6EK_ENCRYPT).unwrap(),
            "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
        );
    }

    #[test]
    fn the_documentation_push_padded_with_19_bytes_decrypts() {
        let crypt = MsgCrypt::new(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "wxba5fad812f8e6fb9",
        )
        .unwrap();
        let encrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";
        assert_eq!(
            sha1_sorted(&["AAAAA", "1714112445", "415670741", encrypt]),
            "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
        );
        assert_eq!(
            crypt.decrypt(encrypt).unwrap(),
            r#"{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}"#
        );
        // Re-encrypting with the documented random bytes gives the same bytes.
        let random: [u8; 16] = *b"a8eedb185eb2fecf";
        let again = crypt.encrypt_with(&random, &crypt.decrypt(encrypt).unwrap());
        assert_eq!(again, encrypt);
    }

    #[test]
    fn the_documented_encrypted_reply_is_reproduced_exactly() {
        let crypt = MsgCrypt::new(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "wxba5fad812f8e6fb9",
        )
        .unwrap();
        let encrypt = crypt.encrypt_with(b"707722b803182950", r#"{"demo_resp":"good luck"}"#);
        assert_eq!(
            encrypt,
            "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
        );
        assert_eq!(
            sha1_sorted(&["AAAAA", "1713424427", "415670741", &encrypt]),
            "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
        );
    }

    #[test]
    fn the_official_java_demo_replies_encrypt_to_the_published_ciphertexts() {
        let crypt = MsgCrypt::new(
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wxb11529c136998cb6",
        )
        .unwrap();
        assert_eq!(
            crypt.encrypt_with(b"aaaabbbbccccdddd", "我是中文abcd123"),
            "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
        );
    }

    #[test]
    fn the_service_account_demo_decrypts_and_plain_signatures_match() {
        let crypt = MsgCrypt::new(
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wx2c2769f8efd9abc2",
        )
        .unwrap();
        let encrypt = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
        assert_eq!(
            sha1_sorted(&["spamtest", "1409735669", "1320562132", encrypt]),
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        );
        assert!(
            crypt
                .decrypt(encrypt)
                .unwrap()
                .contains("<Content><![CDATA[abcdteT]]></Content>")
        );
        // URL verification and plain-mode signatures from the documentation.
        assert_eq!(
            sha1_sorted(&["AAAAA", "1714036504", "1514711492"]),
            "f464b24fc39322e44b38aa78f5edd27bd1441696"
        );
        assert_eq!(
            sha1_sorted(&["AAAAA", "1714037059", "486452656"]),
            "899cf89e464efb63f54ddac96b0a0a235f53aa78"
        );
    }

    #[test]
    fn the_encrypted_url_verification_echostr_decrypts() {
        let crypt = MsgCrypt::new(
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "wx5823bf96d3bd56c7",
        )
        .unwrap();
        let echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
        assert_eq!(
            sha1_sorted(&["QDG6eK", "1409659589", "263014780", echostr]),
            "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
        );
        assert_eq!(crypt.decrypt(echostr).unwrap(), "1616140317555161061");
    }

    #[test]
    fn replies_of_every_length_round_trip_including_a_full_32_byte_pad() {
        let crypt = MsgCrypt::new(
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wx2c2769f8efd9abc2",
        )
        .unwrap();
        for n in 0..70 {
            let msg = "回".repeat(n % 7) + &"x".repeat(n);
            assert_eq!(crypt.decrypt(&crypt.encrypt(&msg)).unwrap(), msg);
        }
        // 20 + 26 + 18 = 64: a whole number of blocks gets a full block of 32.
        let raw = B64.decode(crypt.encrypt(&"y".repeat(26))).unwrap();
        assert_eq!(raw.len(), 96);
    }

    #[test]
    fn tampered_or_foreign_ciphertexts_are_refused() {
        let ours = MsgCrypt::new(
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wx2c2769f8efd9abc2",
        )
        .unwrap();
        let theirs = MsgCrypt::new(
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wx0000000000000000",
        )
        .unwrap();
        assert_eq!(
            ours.decrypt(&theirs.encrypt("hi")),
            Err(CryptError::WrongAppId)
        );
        assert_eq!(ours.decrypt("not base64!"), Err(CryptError::BadCiphertext));
        assert_eq!(
            ours.decrypt(&B64.encode([1u8; 15])),
            Err(CryptError::BadCiphertext)
        );
        let mut raw = B64.decode(ours.encrypt("hello")).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x55;
        assert!(ours.decrypt(&B64.encode(raw)).is_err());
        assert_eq!(MsgCrypt::new("short", "x").err(), Some(CryptError::BadKey));
    }
}
