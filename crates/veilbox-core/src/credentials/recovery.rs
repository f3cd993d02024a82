//! One-time recovery codes: what a user types to sign in when their authenticator app is
//! lost. Shown once at enrolment, stored only as digests, each struck off when used.

use sha2::{Digest, Sha256};

/// How many codes a user gets at a time.
pub const CODES_PER_USER: usize = 10;

/// Lowercase letters and digits without the look-alikes 0/o and 1/l: 32 symbols, 5 bits
/// each, so a random byte maps onto it without bias.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Symbols per code: 12 × 5 = 60 bits.
const SYMBOLS: usize = 12;
/// Symbols between dashes.
const GROUP: usize = 4;

/// [`CODES_PER_USER`] fresh, distinct codes such as `"k7dm-x2qa-pe9w"`, each of 60 random
/// bits from an unambiguous lowercase alphabet (no 0/o/1/l). Show them to the user once
/// and store their [`digest`]s.
///
/// # Panics
///
/// If the OS random number generator fails.
pub fn generate() -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(CODES_PER_USER);
    while codes.len() < CODES_PER_USER {
        let code = one_code();
        // A repeat is a 2^-60 event, but a duplicate would be one code shown twice.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

fn one_code() -> String {
    let mut random = [0_u8; SYMBOLS];
    super::fill_random(&mut random);
    let mut code = String::with_capacity(SYMBOLS + SYMBOLS / GROUP);
    for (i, byte) in random.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(byte & 0x1f)]));
    }
    code
}

/// What a user typed, made comparable: lowercase, with whitespace and dashes dropped, so
/// `" ABCD efgh-JKMN "` becomes `"abcdefghjkmn"`.
pub fn normalize(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The stored form of a code: the SHA-256 (lowercase hex) of its [`normalize`]d form, so
/// the digest of what the user typed matches the digest stored at enrolment. A plain hash
/// is enough: a code carries 60 random bits, too many to guess offline.
pub fn digest(code: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(normalize(code).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generates_ten_distinct_codes() {
        let codes = generate();
        assert_eq!(codes.len(), CODES_PER_USER);
        assert_eq!(CODES_PER_USER, 10);
        let distinct: HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), CODES_PER_USER);
        // And fresh on every call.
        let again: HashSet<String> = generate().into_iter().collect();
        assert!(codes.iter().all(|code| !again.contains(code)));
    }

    #[test]
    fn codes_are_three_groups_of_four_unambiguous_characters() {
        for code in generate() {
            assert_eq!(code.len(), 14, "{code}");
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 3, "{code}");
            for group in groups {
                assert_eq!(group.len(), 4, "{code}");
                assert!(
                    group
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                    "{code}"
                );
                assert!(!group.contains(['0', 'o', '1', 'l']), "{code}");
            }
            assert_eq!(normalize(&code).len(), SYMBOLS);
        }
    }

    #[test]
    fn alphabet_gives_at_least_60_bits() {
        let symbols: HashSet<u8> = ALPHABET.iter().copied().collect();
        assert_eq!(symbols.len(), 32);
        assert!(!symbols.iter().any(|b| b"0o1l".contains(b)));
        let bits = (symbols.len() as f64).log2() * SYMBOLS as f64;
        assert!(bits >= 60.0, "{bits}");
    }

    #[test]
    fn every_symbol_turns_up() {
        // 10 000 symbols: the chance a given one never appears is (31/32)^10000.
        let seen: HashSet<char> = (0..84)
            .flat_map(|_| generate())
            .flat_map(|code| normalize(&code).chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn normalize_drops_case_spaces_and_dashes() {
        assert_eq!(normalize("ABCD efgh-JKMN"), "abcdefghjkmn");
        assert_eq!(normalize("  abcd-efgh-jkmn\n"), "abcdefghjkmn");
        assert_eq!(normalize("ab cd - ef gh -- jk mn"), "abcdefghjkmn");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn digest_matches_what_the_user_types() {
        let stored = digest("abcd-efgh-jkmn");
        assert_eq!(stored.len(), 64);
        assert!(stored
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(digest("ABCD efgh-JKMN"), stored);
        assert_eq!(digest("abcdefghjkmn"), stored);
        assert_eq!(
            stored,
            data_encoding::HEXLOWER.encode(&Sha256::digest(b"abcdefghjkmn"))
        );
        assert_ne!(digest("abcd-efgh-jkmp"), stored);
        for code in generate() {
            assert_eq!(
                digest(&code.to_uppercase().replace('-', " ")),
                digest(&code)
            );
        }
    }
}
