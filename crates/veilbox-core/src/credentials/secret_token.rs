//! Random bearer secrets: session ids, API tokens, set-password links. The holder of one
//! is trusted, so they are long, random, and stored only as digests.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a token: 256 bits.
const TOKEN_BYTES: usize = 32;

/// A new bearer secret: `prefix`, `_`, then 32 random bytes as unpadded base64url (43
/// characters), e.g. `vbs_Jx3...`. The prefix says what kind of token it is, to people and
/// to secret scanners. The random part may itself contain `_` and `-`, so split a token at
/// its first `_` only.
///
/// # Panics
///
/// If the OS random number generator fails.
pub fn generate(prefix: &str) -> String {
    let mut random = [0_u8; TOKEN_BYTES];
    super::fill_random(&mut random);
    format!(
        "{prefix}_{}",
        data_encoding::BASE64URL_NOPAD.encode(&random)
    )
}

/// The stored form of a high-entropy token: its SHA-256 in lowercase hex (64 characters).
/// Tokens are never stored in the clear; a plain hash suffices because they carry 256
/// random bits.
pub fn digest(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// Whether `a` and `b` are equal, in time that depends on their lengths but not on where
/// they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn token_is_prefix_underscore_and_43_base64url_characters() {
        let token = generate("vbs");
        let (prefix, random) = token.split_once('_').unwrap();
        assert_eq!(prefix, "vbs");
        assert_eq!(random.len(), 43);
        assert!(random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let decoded = data_encoding::BASE64URL_NOPAD
            .decode(random.as_bytes())
            .unwrap();
        assert_eq!(decoded.len(), TOKEN_BYTES);
        assert_eq!(generate("api").len(), "api_".len() + 43);
    }

    #[test]
    fn tokens_are_unique() {
        let tokens: HashSet<String> = (0..1000).map(|_| generate("vbs")).collect();
        assert_eq!(tokens.len(), 1000);
    }

    #[test]
    fn digest_is_sha256_hex() {
        let token = generate("vbs");
        let stored = digest(&token);
        assert_eq!(stored.len(), 64);
        assert!(stored
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(digest(&token), stored, "deterministic");
        assert_ne!(digest(&generate("vbs")), stored);
        // SHA-256("abc"), FIPS 180-2.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn same_compares_whole_strings() {
        let token = generate("vbs");
        assert!(same(&token, &token.clone()));
        assert!(same("", ""));
        assert!(!same(&token, &generate("vbs")));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("abc", ""));
    }
}
