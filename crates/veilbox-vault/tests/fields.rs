//! Sealed fields: round trips, what the associated data binds, and hostile inputs.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use data_encoding::BASE64URL_NOPAD;
use proptest::prelude::*;
use veilbox_vault::{is_sealed, sealed_version, DataKey, Field, VaultError};

const ADDRESS: Field<'static> = Field::new("customers", "address", "c_7Qx2");
const TEXT: &str = "14 Mill Lane, Leeds LS1 4AB — ring twice, leave with no. 16";

fn payload(sealed: &str) -> Vec<u8> {
    BASE64URL_NOPAD
        .decode(sealed.strip_prefix("vb1:").unwrap().as_bytes())
        .unwrap()
}

fn reseal_text(raw: &[u8]) -> String {
    format!("vb1:{}", BASE64URL_NOPAD.encode(raw))
}

#[test]
fn seal_then_open_gives_the_plaintext_back() {
    let key = DataKey::generate();
    let sealed = key.seal(3, ADDRESS, TEXT.as_bytes());
    assert!(sealed.starts_with("vb1:"));
    assert!(!sealed.contains("Mill"));
    assert_eq!(
        key.open(ADDRESS, &sealed).unwrap().as_slice(),
        TEXT.as_bytes()
    );

    let sealed = key.seal_str(3, ADDRESS, TEXT);
    assert_eq!(key.open_string(ADDRESS, &sealed).unwrap().as_str(), TEXT);

    let empty = key.seal_str(3, ADDRESS, "");
    assert_eq!(key.open_string(ADDRESS, &empty).unwrap().as_str(), "");

    let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let sealed = key.seal(3, Field::new("media", "body", "m_1"), &blob);
    assert_eq!(
        *key.open(Field::new("media", "body", "m_1"), &sealed)
            .unwrap(),
        blob
    );
}

#[test]
fn sealed_text_has_the_documented_layout() {
    let key = DataKey::generate();
    let sealed = key.seal(0xDEAD_BEEF, ADDRESS, b"abc");
    assert!(!sealed.contains('='), "no padding");
    let raw = payload(&sealed);
    assert_eq!(raw.len(), 4 + 24 + 3 + 16);
    assert_eq!(raw[..4], 0xDEAD_BEEFu32.to_be_bytes());
    assert_eq!(sealed_version(&sealed), Some(0xDEAD_BEEF));
    assert!(is_sealed(&sealed));
}

#[test]
fn two_seals_of_the_same_plaintext_differ() {
    let key = DataKey::generate();
    let a = key.seal_str(1, ADDRESS, TEXT);
    let b = key.seal_str(1, ADDRESS, TEXT);
    assert_ne!(a, b);
    // The nonces differ, not only the text.
    assert_ne!(payload(&a)[4..28], payload(&b)[4..28]);
}

#[test]
fn a_ciphertext_opens_only_where_it_was_sealed() {
    let key = DataKey::generate();
    let sealed = key.seal_str(1, ADDRESS, TEXT);
    let elsewhere = [
        Field::new("customers", "address", "c_9Zk4"),
        Field::new("customers", "name", "c_7Qx2"),
        Field::new("shipments", "address", "c_7Qx2"),
        // Shifting a separator between parts must not be the same place.
        Field::new("customers", "address\0c", "_7Qx2"),
        Field::new("customersaddress", "", "c_7Qx2"),
    ];
    for field in elsewhere {
        assert!(
            matches!(key.open(field, &sealed), Err(VaultError::Open)),
            "opened at {field:?}"
        );
    }
    assert!(key.open(ADDRESS, &sealed).is_ok());
}

#[test]
fn a_changed_version_does_not_open() {
    let key = DataKey::generate();
    let sealed = key.seal_str(7, ADDRESS, TEXT);
    for version in [0u32, 6, 8, 7 | 1 << 31] {
        let mut raw = payload(&sealed);
        raw[..4].copy_from_slice(&version.to_be_bytes());
        let moved = reseal_text(&raw);
        assert_eq!(sealed_version(&moved), Some(version));
        assert!(matches!(key.open(ADDRESS, &moved), Err(VaultError::Open)));
    }
}

#[test]
fn another_key_does_not_open() {
    let sealed = DataKey::generate().seal_str(1, ADDRESS, TEXT);
    assert!(matches!(
        DataKey::generate().open(ADDRESS, &sealed),
        Err(VaultError::Open)
    ));
}

#[test]
fn every_tampered_byte_is_detected() {
    let key = DataKey::generate();
    let sealed = key.seal_str(1, ADDRESS, "Flat 2, 9 Park Rd");
    let raw = payload(&sealed);
    for position in 0..raw.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut tampered = raw.clone();
            tampered[position] ^= flip;
            assert!(
                matches!(
                    key.open(ADDRESS, &reseal_text(&tampered)),
                    Err(VaultError::Open)
                ),
                "byte {position} ^ {flip:#x} went unnoticed"
            );
        }
    }
}

#[test]
fn every_changed_character_of_the_text_is_detected() {
    // Includes the last character, whose low bits are padding: strict decoding refuses
    // non-canonical text, so no other spelling of the same bytes opens.
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let key = DataKey::generate();
    let sealed = key.seal_str(1, ADDRESS, "Flat 2, 9 Park Rd");
    for position in 0..sealed.len() {
        for replacement in ALPHABET.chars().chain(['+', '/', '=', ' ', ':', 'é']) {
            if sealed[position..].starts_with(replacement) {
                continue;
            }
            let mut tampered = String::with_capacity(sealed.len() + 2);
            tampered.push_str(&sealed[..position]);
            tampered.push(replacement);
            tampered.push_str(&sealed[position + 1..]);
            assert!(
                key.open(ADDRESS, &tampered).is_err(),
                "character {position} -> {replacement:?} went unnoticed"
            );
        }
    }
}

#[test]
fn truncated_garbage_and_empty_inputs_are_errors() {
    let key = DataKey::generate();
    let sealed = key.seal_str(1, ADDRESS, TEXT);
    for end in 0..sealed.len() {
        assert!(
            key.open(ADDRESS, &sealed[..end]).is_err(),
            "prefix of {end}"
        );
        assert!(
            key.open(ADDRESS, &sealed[end + 1..]).is_err(),
            "suffix from {}",
            end + 1
        );
    }
    let longer = format!("{sealed}A");
    let cases = [
        "",
        "vb1:",
        "vb1",
        "VB1:AAAA",
        "vb2:AAAAAAAA",
        "vb1:====",
        "vb1:!!!!",
        "vb1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "vb1:😀😀😀",
        "plain text address",
        &longer,
    ];
    for case in cases {
        assert!(
            matches!(key.open(ADDRESS, case), Err(VaultError::Open)),
            "{case:?}"
        );
        assert!(key.open_string(ADDRESS, case).is_err(), "{case:?}");
    }
    let spaced = format!(" {sealed}");
    assert!(key.open(ADDRESS, &spaced).is_err());
}

#[test]
fn bytes_that_are_not_utf8_are_an_error_as_text() {
    let key = DataKey::generate();
    let sealed = key.seal(1, ADDRESS, &[0xFF, 0xFE, 0x00]);
    assert!(key.open(ADDRESS, &sealed).is_ok());
    assert!(matches!(
        key.open_string(ADDRESS, &sealed),
        Err(VaultError::Open)
    ));
}

#[test]
fn sealed_version_and_is_sealed_on_other_values() {
    assert!(!is_sealed("+447700900461"));
    assert!(!is_sealed(""));
    assert!(is_sealed("vb1:anything"));
    assert_eq!(sealed_version(""), None);
    assert_eq!(sealed_version("vb1:"), None);
    assert_eq!(
        sealed_version("vb1:AAAAAAAA"),
        None,
        "too short to be a ciphertext"
    );
    assert_eq!(sealed_version("+447700900461"), None);
    let long_garbage = format!("vb1:{}", "*".repeat(80));
    assert_eq!(sealed_version(&long_garbage), None);
    let multibyte = format!("vb1:AAAAAAA{}", "é".repeat(40));
    assert_eq!(sealed_version(&multibyte), None);
}

proptest! {
    #[test]
    fn round_trip_for_any_plaintext_and_place(
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        version in any::<u32>(),
        table in "[a-z_]{1,12}",
        column in "[a-z_]{1,12}",
        row_id in "\\PC{0,24}",
    ) {
        let key = DataKey::generate();
        let field = Field::new(&table, &column, &row_id);
        let sealed = key.seal(version, field, &plaintext);
        prop_assert_eq!(sealed_version(&sealed), Some(version));
        let opened = key.open(field, &sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn open_never_panics_on_any_text(text in "\\PC{0,200}") {
        let key = DataKey::generate();
        prop_assert!(key.open(ADDRESS, &text).is_err());
        let _ = sealed_version(&text);
    }

    #[test]
    fn open_never_panics_on_well_formed_looking_text(
        body in "[A-Za-z0-9_-]{0,160}",
    ) {
        let key = DataKey::generate();
        let text = format!("vb1:{body}");
        prop_assert!(matches!(key.open(ADDRESS, &text), Err(VaultError::Open)));
        prop_assert!(key.open_string(ADDRESS, &text).is_err());
        let _ = sealed_version(&text);
    }

    #[test]
    fn open_never_panics_on_random_payload_bytes(
        raw in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let key = DataKey::generate();
        prop_assert!(key.open(ADDRESS, &reseal_text(&raw)).is_err());
    }
}
