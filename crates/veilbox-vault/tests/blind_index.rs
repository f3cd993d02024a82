//! Blind indexes and the normalisation they hash.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use proptest::prelude::*;
use veilbox_vault::normalize::{email, phone, tracking};
use veilbox_vault::{BlindIndex, DataKey, IndexedField};

#[test]
fn index_is_deterministic_and_22_base64url_chars() {
    let index = BlindIndex::new(&DataKey::generate());
    let a = index.index(IndexedField::Phone, "+44 7700 900461").unwrap();
    let b = index.index(IndexedField::Phone, "+44 7700 900461").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), veilbox_vault::INDEX_CHARS);
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    // A clone indexes the same.
    assert_eq!(
        index.clone().index(IndexedField::Phone, "447700900461"),
        Some(a)
    );
}

#[test]
fn the_same_input_indexes_differently_per_field() {
    let index = BlindIndex::new(&DataKey::generate());
    // 12 digits: a valid phone number and a valid tracking number.
    let digits = "447700900461";
    let phone = index.index(IndexedField::Phone, digits).unwrap();
    let tracking = index.index(IndexedField::Tracking, digits).unwrap();
    assert_ne!(phone, tracking);
}

#[test]
fn another_root_key_gives_other_indexes() {
    let one = BlindIndex::new(&DataKey::generate());
    let two = BlindIndex::new(&DataKey::generate());
    for (field, value) in [
        (IndexedField::Phone, "+447700900461"),
        (IndexedField::Email, "priya@example.com"),
        (IndexedField::Tracking, "EE123456785IN"),
    ] {
        assert_ne!(one.index(field, value), two.index(field, value));
    }
}

#[test]
fn spellings_of_one_phone_number_index_equal() {
    let index = BlindIndex::new(&DataKey::generate());
    let expected = index.index(IndexedField::Phone, "+447700900461").unwrap();
    for spelling in [
        "+44 7700 900461",
        "447700900461",
        "00447700900461",
        "+४४७७००९००४६१",
        "+٤٤٧٧٠٠٩٠٠٤٦١",
        "＋４４　７７００　９００４６１",
        "(+44) 7700-900.461",
        "+44 (0)7700 900461",
        "\u{202A}+44 7700 900461\u{202C}",
    ] {
        assert_eq!(
            index.index(IndexedField::Phone, spelling).as_deref(),
            Some(expected.as_str()),
            "{spelling}"
        );
    }
    assert_ne!(
        index.index(IndexedField::Phone, "+447700900462").unwrap(),
        expected
    );
}

#[test]
fn email_and_tracking_indexes_ignore_case_and_spacing() {
    let index = BlindIndex::new(&DataKey::generate());
    assert_eq!(
        index.index(IndexedField::Email, "Priya.Nair@Example.COM"),
        index.index(IndexedField::Email, "  priya.nair@example.com\n")
    );
    assert_ne!(
        index.index(IndexedField::Email, "priya.nair@example.com"),
        index.index(IndexedField::Email, "priya_nair@example.com")
    );
    assert_eq!(
        index.index(IndexedField::Tracking, "ee 123 456 785 in"),
        index.index(IndexedField::Tracking, "EE123456785IN")
    );
    assert_eq!(
        index.index(IndexedField::Tracking, "1Z999-AA1-01-2345-6784"),
        index.index(IndexedField::Tracking, "1z999aa10123456784")
    );
}

#[test]
fn values_that_do_not_normalise_have_no_index() {
    let index = BlindIndex::new(&DataKey::generate());
    assert_eq!(index.index(IndexedField::Phone, "call me"), None);
    assert_eq!(index.index(IndexedField::Email, "priya at example"), None);
    assert_eq!(index.index(IndexedField::Tracking, "short1"), None);
    assert_eq!(index.index(IndexedField::Phone, ""), None);
}

#[test]
fn field_names() {
    let names: Vec<&str> = IndexedField::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["phone", "email", "tracking", "address"]);
}

#[test]
fn phone_table() {
    let positives = [
        ("+44 7700 900461", "+447700900461"),
        ("447700900461", "+447700900461"),
        ("00447700900461", "+447700900461"),
        ("+४४७७००९००४६१", "+447700900461"),
        ("+1 (415) 555-0132", "+14155550132"),
        ("0091 98765 43210", "+919876543210"),
        ("919876543210", "+919876543210"),
        ("+९१ ९८७६५ ४३२१०", "+919876543210"),
        ("+৯১ ৯৮৭৬৫ ৪৩২১০", "+919876543210"),
        ("+٩٧١ ٥٠ ١٢٣ ٤٥٦٧", "+971501234567"),
        ("+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹", "+989123456789"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("+44 (0)20 7946 0000", "+442079460000"),
        ("0044 (0)20 7946 0000", "+442079460000"),
        ("+33\u{a0}6\u{a0}12\u{a0}34\u{a0}56\u{a0}78", "+33612345678"),
        ("+49\u{2011}151\u{2011}23456789", "+4915123456789"),
        ("12345678", "+12345678"),
        ("123456789012345", "+123456789012345"),
        ("  +44 7700 900461\n", "+447700900461"),
        ("\u{200E}+44\u{200B}7700900461", "+447700900461"),
    ];
    for (input, expected) in positives {
        assert_eq!(phone(input).as_deref(), Some(expected), "{input:?}");
    }
    let negatives = [
        "",
        "+",
        "()",
        "1234567",
        "+1234567",
        "1234567890123456",
        "+1234567890123456",
        "0044 1234",
        "07700 900461",
        "+07700900461",
        "(0)7700 900461",
        "0",
        "+44 7700 9004six1",
        "call 447700900461",
        "tel:+447700900461",
        "+44+7700900461",
        "44+7700900461",
        "+44 7700 900461 ext 12",
        "44/7700/900461",
        "+44 (7700 900461",
        "+44 7700) 900461",
        "+44 ((0)) 7700 900461",
        "#447700900461",
        "1.234.567,89",
        "+44 7700 900461 😀",
    ];
    for input in negatives {
        assert_eq!(phone(input), None, "{input:?}");
    }
}

#[test]
fn email_table() {
    let positives = [
        ("priya@example.com", "priya@example.com"),
        (" Priya.Nair@Example.COM\n", "priya.nair@example.com"),
        (
            "a+parcels@mail.example.co.in",
            "a+parcels@mail.example.co.in",
        ),
        ("JOÃO.SILVA@EXEMPLO.COM.BR", "joão.silva@exemplo.com.br"),
        ("ｐｒｉｙａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "priya@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ];
    for (input, expected) in positives {
        assert_eq!(email(input).as_deref(), Some(expected), "{input:?}");
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_domain = format!("a@{}.com", "b".repeat(260));
    let negatives = [
        "",
        "priya",
        "priya@",
        "@example.com",
        "priya@example",
        "priya@localhost",
        "a@b@example.com",
        "priya @example.com",
        "priya@exa mple.com",
        "priya@.example.com",
        "priya@example.com.",
        "priya@example..com",
        "Priya <priya@example.com>",
        "priya@example.com,raj@example.com",
        "\"priya\"@example.com",
        "priya@[127.0.0.1]",
        "priya\n@example.com",
        "priya at example dot com",
        &long_local,
        &long_domain,
    ];
    for input in negatives {
        assert_eq!(email(input), None, "{input:?}");
    }
}

#[test]
fn tracking_table() {
    let positives = [
        ("EE123456785IN", "EE123456785IN"),
        ("ee 123 456 785 in", "EE123456785IN"),
        ("1Z999-AA1-01-2345-6784", "1Z999AA10123456784"),
        ("JD014600006281234567", "JD014600006281234567"),
        ("12345678", "12345678"),
        ("ＥＥ１２３４５６７８５ＩＮ", "EE123456785IN"),
        ("\tRR 123 456 789 GB\n", "RR123456789GB"),
    ];
    for (input, expected) in positives {
        assert_eq!(tracking(input).as_deref(), Some(expected), "{input:?}");
    }
    let forty_one = "A1".repeat(20) + "B";
    let forty = "A1".repeat(20);
    assert_eq!(tracking(&forty).as_deref(), Some(forty.as_str()));
    let negatives = [
        "",
        "1234567",
        "EE 12",
        forty_one.as_str(),
        "EE123456785IN!",
        "EE_123456785",
        "EE/123456785",
        "ÉE123456785IN",
        "DELIVERED",
        "ABCDEFGHIJ",
        "track EE123456785IN?",
    ];
    for input in negatives {
        assert_eq!(tracking(input), None, "{input:?}");
    }
}

proptest! {
    #[test]
    fn normalisers_never_panic_and_are_idempotent(value in "\\PC{0,60}") {
        if let Some(p) = phone(&value) {
            prop_assert_eq!(phone(&p), Some(p.clone()));
            prop_assert!(p.starts_with('+') && (9..=16).contains(&p.len()));
        }
        if let Some(e) = email(&value) {
            prop_assert_eq!(email(&e), Some(e.clone()));
        }
        if let Some(t) = tracking(&value) {
            prop_assert_eq!(tracking(&t), Some(t.clone()));
        }
    }

    #[test]
    fn phone_spellings_agree(digits in "[1-9][0-9]{7,14}", sep in "[ .-]") {
        let spaced: String = digits
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let gap = (i > 0 && i % 3 == 0).then(|| sep.clone());
                gap.into_iter().flat_map(|s| s.chars().collect::<Vec<_>>()).chain([c])
            })
            .collect();
        let expected = Some(format!("+{digits}"));
        prop_assert_eq!(phone(&digits), expected.clone());
        prop_assert_eq!(phone(&format!("+{spaced}")), expected.clone());
        prop_assert_eq!(phone(&format!("00{digits}")), expected);
    }
}

#[test]
fn addresses_index_by_their_letters_and_digits_only() {
    let index = BlindIndex::new(&DataKey::generate());
    let a = index.index(IndexedField::Address, "12 Elm Road, Leeds LS1 4AB");
    assert!(a.is_some());
    assert_eq!(
        index.index(IndexedField::Address, " 12  elm road\nLEEDS, ls1-4ab "),
        a
    );
    // The same text as another field indexes differently.
    assert_ne!(
        index.index_exact(IndexedField::Tracking, "12 elm road leeds ls1 4ab"),
        a
    );
    // Too vague to name anyone.
    assert_eq!(index.index(IndexedField::Address, "Leeds"), None);
    assert_eq!(index.index(IndexedField::Address, "Flat 2"), None);
}
