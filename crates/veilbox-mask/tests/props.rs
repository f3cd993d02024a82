//! Property tests: spans on char boundaries for any text, masked output never holds a
//! detected value, masking is idempotent, and any number of five digits or more is either
//! masked or kept with a reason (failing closed).

use proptest::prelude::*;
use veilbox_mask::{mask, Hints, Kind, Policy, Scanner, ScannerConfig, Why};

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

/// Words of chat that say nothing about a number (no currency, unit, date or cue word).
const PLAIN_WORDS: &[&str] = &[
    "hello",
    "the",
    "parcel",
    "is",
    "still",
    "not",
    "here",
    "please",
    "check",
    "again",
    "ok",
    "kak",
    "bhai",
    "tolong",
    "obrigado",
    "bitte",
    "merci",
    "ya",
    "and",
    "it",
    "says",
    "😀",
    "??",
    "!!",
    "São",
    "Zürich",
    "जल्दी",
    "🙏",
];

/// A digit run of five to sixteen digits, written plainly or in groups.
fn digits() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::char::range('0', '9'), 5..17),
        prop::sample::select(&[" ", "", "-", "."][..]),
        2usize..6,
    )
        .prop_map(|(ds, sep, group)| {
            let mut out = String::new();
            for (i, d) in ds.iter().enumerate() {
                if i > 0 && i % group == 0 {
                    out.push_str(sep);
                }
                out.push(*d);
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// Failing closed: a number nothing proves safe is hidden. Each digit of it lies in a
    /// finding that masks it, or in a kept reference the engine names a reason for; only a
    /// first or last chunk of one or two digits set apart by a space ("00000 0", a count
    /// after a postcode) may stay, as it says nothing on its own.
    #[test]
    fn any_number_of_five_digits_is_masked_or_kept_with_a_reason(
        before in prop::collection::vec(prop::sample::select(PLAIN_WORDS), 0..5),
        number in digits(),
        after in prop::collection::vec(prop::sample::select(PLAIN_WORDS), 0..5),
    ) {
        // a decimal or an amount with thousands ("4500.5", "150.000", "1.299.000") is
        // passed over as a quantity, by design
        let parts: Vec<&str> = number.split('.').collect();
        let amount = parts.len() > 1
            && ((parts.len() == 2 && (parts[0].len() <= 3 || parts[1].len() <= 3))
                || (parts[0].len() <= 3 && parts[1..].iter().all(|p| p.len() == 3)));
        prop_assume!(!amount);
        // and so is a toll-free helpline (1800, 0800, 0808, 0500, 8xx …), wherever a
        // space-separated part of the number starts with one
        let helpline = number
            .split(' ')
            .any(|c| ["18", "08", "05", "8"].iter().any(|p| c.starts_with(p)));
        prop_assume!(!helpline);
        // and so is a date ("20-01-13", "2025.01.13")
        let date_parts: Vec<usize> = number.split(['-', '.']).map(str::len).collect();
        let date = matches!(date_parts.as_slice(), [1..=2, 1..=2, 2 | 4] | [4, 1..=2, 1..=2]);
        prop_assume!(!date);
        let text = format!("{} {number} {}", before.join(" "), after.join(" "));
        let found = scanner().scan(&text, &Hints::new());
        let at = text.find(&number).unwrap_or(0);
        let chunks: Vec<&str> = number.split(' ').collect();
        let short = |c: Option<&&str>| c.is_some_and(|c| c.len() <= 2) && chunks.len() > 1;
        let head = if short(chunks.first()) { chunks[0].len() } else { 0 };
        let tail = if short(chunks.last()) { chunks[chunks.len() - 1].len() } else { 0 };
        for (i, c) in number.char_indices() {
            if !c.is_ascii_digit() || i < head || i >= number.len() - tail {
                continue;
            }
            let p = at + i;
            let cover = found.iter().find(|f| f.start <= p && p < f.end);
            prop_assert!(cover.is_some(), "digit {p} of {number:?} shown in {text:?}: {found:?}");
            if let Some(f) = cover {
                if f.kind.is_kept() {
                    prop_assert!(
                        matches!(f.why, Why::Checksum(_) | Why::Format(_) | Why::Cue(_)),
                        "{number:?} kept without a reason"
                    );
                }
                prop_assert!(f.kind != Kind::Person, "{number:?} read as a name");
            }
        }
    }

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
