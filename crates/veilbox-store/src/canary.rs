//! Canary scanning, for the tests that prove customer data is not at rest in clear: the
//! spellings a planted value could take in a file, a dump or a log, and a search for them.

/// The spellings `value` could take at rest: UTF-8, JSON-escaped (`\u00eb` for `ë`), and
/// the lowercase hex of its bytes (how PostgreSQL prints `bytea`, how SQLite quotes blobs).
pub fn spellings(value: &str) -> Vec<Vec<u8>> {
    let escaped: String = value
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect();
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    vec![
        value.as_bytes().to_vec(),
        escaped.into_bytes(),
        hex.into_bytes(),
    ]
}

/// Every spelling of every value of `values` found in `haystack` (empty: none found).
pub fn hits(haystack: &[u8], values: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for value in values {
        for needle in spellings(value) {
            if !needle.is_empty()
                && haystack
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice())
            {
                found.push(String::from_utf8_lossy(&needle).into_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_spelling_is_found_and_nothing_else() {
        let dump = br#"{"name":"Zo\u00eb"} 5a6fc3ab ZoX"#;
        assert_eq!(super::hits(dump, &["Zoë"]).len(), 2, "escaped and hex");
        assert!(super::hits(b"Zoe", &["Zoë"]).is_empty());
        assert_eq!(
            super::hits("Zoë".as_bytes(), &["Zoë"]),
            vec!["Zoë".to_owned()]
        );
    }
}
