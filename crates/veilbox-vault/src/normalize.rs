//! The one spelling of a phone number, e-mail address, tracking number or postal address
//! that blind indexes are computed from, so that "+44 7700 900461" typed by an agent, "447700900461"
//! from WhatsApp and "+४४७७००९००४६१" from a customer's keyboard find the same customer.
//!
//! All three first fold what the masking engine folds before it scans (so a finding's
//! text indexes like its plain spelling): full-width forms become ASCII, Unicode spaces
//! and dashes become `' '` and `'-'`, and invisible characters (zero-width, bidi marks
//! that phones wrap around copied numbers) are dropped. Phone and tracking numbers also
//! read decimal digits of other scripts (Devanagari, Arabic-Indic, Bengali, Thai, ...).

/// A phone number in E.164 form: `'+'` and 8 to 15 digits.
///
/// Spaces, dashes, dots and parentheses are ignored; a leading `"00"` is read as `"+"`;
/// a bare number is taken as already including its country code (WhatsApp ids do); a
/// `"(0)"` trunk prefix after the country code (`"+44 (0)20 7946 0000"`) is dropped.
/// `None` for fewer than 8 or more than 15 digits, for letters or other symbols, for a
/// `'+'` anywhere but first, and for a number starting with 0 once the prefix is read
/// (a national number like `"07700 900461"`, whose country is unknown).
///
/// ```
/// use veilbox_vault::normalize::phone;
/// assert_eq!(phone("+44 7700 900461").as_deref(), Some("+447700900461"));
/// assert_eq!(phone("0044 (0)7700-900-461").as_deref(), Some("+447700900461"));
/// assert_eq!(phone("+९१ ९८७६५ ४३२१०").as_deref(), Some("+919876543210"));
/// assert_eq!(phone("07700 900461"), None);
/// assert_eq!(phone("call 447700900461"), None);
/// ```
pub fn phone(value: &str) -> Option<String> {
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    // Where the digits of the open parenthesis group start, if one is open.
    let mut group: Option<usize> = None;
    for c in value.chars().filter_map(fold_digits) {
        match c {
            '0'..='9' => digits.push(c),
            '+' if !plus && digits.is_empty() => plus = true,
            '(' if group.is_none() => group = Some(digits.len()),
            ')' => {
                let start = group.take()?;
                let international = plus || digits.starts_with("00");
                if start > 0 && international && digits.get(start..) == Some("0") {
                    digits.truncate(start);
                }
            }
            ' ' | '-' | '.' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
        // "00", 15 digits and a "(0)" at most; stop early on a long run of digits.
        if digits.len() > 18 {
            return None;
        }
    }
    if group.is_some() {
        return None;
    }
    let national = match digits.strip_prefix("00") {
        Some(rest) if !plus => rest,
        _ => digits.as_str(),
    };
    if national.starts_with('0') || !(8..=15).contains(&national.len()) {
        return None;
    }
    Some(format!("+{national}"))
}

/// An e-mail address, trimmed and lowercased.
///
/// `None` unless there is exactly one `'@'` with a non-empty local part before it and a
/// dotted domain after it (no empty labels), and no whitespace, control characters or
/// `<>()[]\,;:"` anywhere (so `"Priya <priya@example.com>"` is not an address: take the
/// address out first). At most 254 characters.
///
/// ```
/// use veilbox_vault::normalize::email;
/// assert_eq!(email(" Priya.Nair@Example.COM\n").as_deref(), Some("priya.nair@example.com"));
/// assert_eq!(email("priya@localhost"), None);
/// assert_eq!(email("a@b@example.com"), None);
/// ```
pub fn email(value: &str) -> Option<String> {
    let folded: String = value.chars().filter_map(fold_width).collect();
    let address = folded.trim().to_lowercase();
    if address.is_empty() || address.chars().count() > 254 {
        return None;
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return None;
    }
    let (local, domain) = address.split_once('@')?;
    if local.is_empty() || local.chars().count() > 64 || domain.contains('@') {
        return None;
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return None;
    }
    Some(address)
}

/// A tracking number: uppercase ASCII letters and digits, 8 to 40 of them, at least one a
/// digit; spaces and dashes are ignored.
///
/// `None` for anything else (other symbols, accented letters, too short or long, or only
/// letters: every carrier's format has digits, and an 8-letter word is not a parcel).
///
/// ```
/// use veilbox_vault::normalize::tracking;
/// assert_eq!(tracking("ee 123-456-785 in").as_deref(), Some("EE123456785IN"));
/// assert_eq!(tracking("DELIVERED"), None);
/// ```
pub fn tracking(value: &str) -> Option<String> {
    let mut out = String::with_capacity(24);
    for c in value.chars().filter_map(fold_digits) {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        if !c.is_ascii_alphanumeric() || out.len() == 40 {
            return None;
        }
        out.push(c.to_ascii_uppercase());
    }
    let has_digit = out.bytes().any(|b| b.is_ascii_digit());
    (out.len() >= 8 && has_digit).then_some(out)
}

/// A postal address, or a part of one: lowercase letters and digits, every run of anything
/// else (spaces, commas, dots, dashes, newlines) one space, trimmed.
///
/// `None` unless there are at least two words, eight letters and digits in all, and both a
/// letter and a digit: a city or a building name alone ("London", "Flat A") names no one,
/// and indexing it would make every reply that mentions it look like someone's address.
///
/// ```
/// use veilbox_vault::normalize::address;
/// assert_eq!(address("221B  Baker St.,\nLondon").as_deref(), Some("221b baker st london"));
/// assert_eq!(address("London, UK"), None);
/// ```
pub fn address(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut gap = false;
    for c in value.chars().filter_map(fold_digits) {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
        if out.len() > 2000 {
            return None;
        }
    }
    let alnum = out.chars().filter(|c| c.is_alphanumeric()).count();
    let digit = out.chars().any(|c| c.is_ascii_digit());
    let letter = out.chars().any(char::is_alphabetic);
    (out.contains(' ') && alnum >= 8 && digit && letter).then_some(out)
}

/// [`fold_width`], and decimal digits of other scripts as ASCII digits.
fn fold_digits(c: char) -> Option<char> {
    script_digit(c)
        .map(|d| char::from(b'0' + d))
        .or_else(|| fold_width(c))
}

/// Full-width forms as ASCII, Unicode spaces and dashes as ASCII ones, invisible
/// characters dropped (`None`).
fn fold_width(c: char) -> Option<char> {
    let u = u32::from(c);
    match u {
        0xFF01..=0xFF5E => char::from_u32(u - 0xFEE0),
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Some(' '),
        0x2010..=0x2015 | 0x2212 | 0xFE58 | 0xFE63 => Some('-'),
        // zero-width space/joiners, bidi marks and embeddings, word joiner, BOM, soft
        // hyphen, variation selectors
        0x00AD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFE00..=0xFE0F => {
            None
        }
        _ => Some(c),
    }
}

/// The value of a decimal digit of a script other than ASCII.
fn script_digit(c: char) -> Option<u8> {
    // The zero of each script's run of ten digits.
    const ZEROS: [u32; 26] = [
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
        0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0xFF10, 0x1D7CE,
        0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
    ];
    let u = u32::from(c);
    ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&u))
        .and_then(|zero| u8::try_from(u - zero).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_script_digit_maps_to_its_value() {
        for zero in [0x0660u32, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7F6] {
            for d in 0..10u8 {
                let c = char::from_u32(zero + u32::from(d)).unwrap();
                assert_eq!(script_digit(c), Some(d), "{c}");
            }
        }
        assert_eq!(script_digit('5'), None);
        assert_eq!(script_digit('a'), None);
    }
}
