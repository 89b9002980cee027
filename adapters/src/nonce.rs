//! The signature nonce of the Alibaba Cloud signers: fresh random bytes per request, so a
//! captured request cannot be replayed.

/// 32 lower-case hex characters (16 random bytes), fresh per call.
pub(crate) fn hex_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn nonces_are_32_lower_hex_and_fresh() {
        let a = super::hex_nonce();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')), "{a}");
        assert_ne!(a, super::hex_nonce());
    }
}
