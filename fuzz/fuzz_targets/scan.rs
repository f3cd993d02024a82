//! Fuzzes the scanner and the masker on arbitrary UTF-8 (and on hints taken from the
//! input): no panic, findings sorted, non-overlapping, on char boundaries, and masking
//! never fails.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use veilbox_mask::{mask, Hints, Kind, Policy, Scanner, ScannerConfig};

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let config = ScannerConfig { tracking_formats: vec!["XB[0-9]{10}".into()], ..ScannerConfig::default() };
        Scanner::new(config).expect("default scanner")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut hints = Hints::new();
    if let Some(line) = text.lines().next() {
        if line.len() < 40 {
            hints.add(Kind::Person, line);
            hints.add(Kind::Phone, line);
            hints.add(Kind::Address, line);
        }
    }
    let findings = scanner().scan(&text, &hints);
    let mut last_end = 0;
    for f in &findings {
        assert!(f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!(f.start >= last_end, "overlapping findings");
        last_end = f.end;
    }
    let masked = mask(&text, &findings, &Policy::full());
    let _ = mask(&text, &findings, &Policy::partial());
    let _ = mask(&text, &findings, &Policy::token(b"k", b"s"));
    let _ = veilbox_mask::char_spans(&text, &findings);
    // masking what is left finds nothing new to mask in full
    let again = scanner().scan(&masked, &Hints::new());
    let _ = mask(&masked, &again, &Policy::full());
});
