//! HMAC-SHA1 signatures in base64, the primitive of both Alibaba Cloud signature versions the
//! emulator checks (ROA for ACK, RPC for STS); they differ only in the key and the string to
//! sign.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

fn mac(key: &[u8], message: &str) -> Hmac<Sha1> {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(message.as_bytes());
    mac
}

/// Base64 (standard alphabet, padded) of HMAC-SHA1 of `message` under `key`.
pub(crate) fn sign(key: &[u8], message: &str) -> String {
    STANDARD.encode(mac(key, message).finalize().into_bytes())
}

/// Checks a base64 signature in constant time. An undecodable signature never matches.
pub(crate) fn verify(key: &[u8], message: &str, signature_b64: &str) -> bool {
    match STANDARD.decode(signature_b64) {
        Ok(bytes) => mac(key, message).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}
