//! Property tests: spans on char boundaries for any text, masked output never holds a
//! detected value, masking is idempotent.

use proptest::prelude::*;
use veilbox_mask::{mask, Hints, Policy, Scanner, ScannerConfig};

fn scanner() -> &'static Scanner {
    use std::sync::OnceLock;
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| match Scanner::new(ScannerConfig::default()) {
        Ok(s) => s,
        Err(e) => panic!("default scanner: {e}"),
    })
}

/// Pieces of courier chat, sensitive and not, to build messages from.
const PIECES: &[&str] = &[
    "call me on",
    "+91 98765 43210",
    "9876543210",
    "my email is",
    "priya.nair@gmail.com",
    "card",
    "4111 1111 1111 1111",
    "exp 09/27",
    "cvv 123",
    "OTP",
    "482913",
    "Tracking",
    "EE123456785IN",
    "order 402-8836152-2275551",
    "deliver to",
    "Flat 12, Green Valley Apartments, MG Road, Bengaluru",
    "560034",
    "Rs 1,299",
    "2.5 kg",
    "tomorrow by 6 pm",
    "Hi, this is Rahul Sharma.",
    "ok",
    "thanks 👍",
    "IBAN DE89 3704 0044 0532 0130 00",
    "CPF 529.982.247-25",
    "aadhaar 2341 2341 2346",
    "PAN ABCPE1234F",
    "SSN 123-45-6789",
    "12.9716, 77.5946",
    "password: Tiger@2021",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "103.21.244.7",
    "DOB 17/02/1982",
    "rahul@okaxis",
    "९८७६५४३२१०",
    "nine eight seven six five",
    "rahul [at] gmail [dot] com",
    "\n",
    ",",
    ".",
    "-",
    "  ",
    "é",
    "São Paulo",
    "Jl. Sudirman No. 12",
];

fn message() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|v| v.join(". "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn spans_are_on_char_boundaries(text in "\\PC{0,200}") {
        let found = scanner().scan(&text, &Hints::new());
        let mut last = 0;
        for f in &found {
            prop_assert!(f.start < f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert!(f.start >= last);
            last = f.end;
        }
        let _ = mask(&text, &found, &Policy::partial());
    }

    #[test]
    fn spans_are_on_char_boundaries_in_chat(text in message(), noise in "[०-९😀 ٠-٩１-９a-z.,-]{0,20}") {
        let text = format!("{noise}{text}{noise}");
        let found = scanner().scan(&text, &Hints::new());
        for f in &found {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }

    #[test]
    fn masked_output_holds_no_detected_value(text in message()) {
        let found = scanner().scan(&text, &Hints::new());
        let masked = mask(&text, &found, &Policy::full());
        for f in &found {
            let value = &text[f.start..f.end];
            if f.kind.is_kept() || value.chars().count() < 4 {
                continue;
            }
            // a value that also occurs unmasked elsewhere in the text proves nothing
            if text.matches(value).count() == 1 {
                prop_assert!(!masked.contains(value), "{value:?} left in {masked:?}");
            }
        }
    }

    #[test]
    fn masking_is_idempotent(text in message()) {
        let policy = Policy::full();
        let once = mask(&text, &scanner().scan(&text, &Hints::new()), &policy);
        let twice = mask(&once, &scanner().scan(&once, &Hints::new()), &policy);
        prop_assert_eq!(once, twice);
    }
}
