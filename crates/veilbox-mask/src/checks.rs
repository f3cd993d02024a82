//! Check digits and number-plan rules. Each function takes the bare characters (no
//! separators) and answers whether the value is well formed.

/// Luhn (ISO/IEC 7812) over ASCII digits.
pub(crate) fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &c) in d.iter().rev().enumerate() {
        let mut v = u32::from(c - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !d.is_empty() && sum % 10 == 0
}

const VD: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VP: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff over ASCII digits (Aadhaar's check digit).
pub(crate) fn verhoeff(d: &[u8]) -> bool {
    let mut c = 0usize;
    for (i, &ch) in d.iter().rev().enumerate() {
        c = usize::from(VD[c][usize::from(VP[i % 8][usize::from(ch - b'0')])]);
    }
    !d.is_empty() && c == 0
}

/// Aadhaar: 12 digits, first digit 2-9, Verhoeff.
pub(crate) fn aadhaar(d: &[u8]) -> bool {
    d.len() == 12 && (b'2'..=b'9').contains(&d[0]) && verhoeff(d)
}

/// Brazilian CPF: 11 digits, not all equal, two mod-11 check digits.
pub(crate) fn cpf(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&c| c == d[0]) {
        return false;
    }
    let v: Vec<u32> = d.iter().map(|&c| u32::from(c - b'0')).collect();
    let s1: u32 = (0..9).map(|i| v[i] * (10 - i as u32)).sum();
    let c1 = (s1 * 10) % 11 % 10;
    let s2: u32 = (0..10)
        .map(|i| if i < 9 { v[i] } else { c1 } * (11 - i as u32))
        .sum();
    let c2 = (s2 * 10) % 11 % 10;
    c1 == v[9] && c2 == v[10]
}

/// US SSN: 9 digits; area not 000, 666 or 900-999; group not 00; serial not 0000.
pub(crate) fn ssn(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let n = |a: &[u8]| {
        a.iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
    };
    let (area, group, serial) = (n(&d[0..3]), n(&d[3..5]), n(&d[5..9]));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Country code and total length of every IBAN country (SWIFT IBAN registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// The IBAN length of a country (upper-case code), if it issues IBANs.
pub(crate) fn iban_length(cc: [u8; 2]) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| **c == cc)
        .map(|(_, n)| *n)
}

/// ISO 13616 mod-97 over upper-case alphanumerics (country, check digits, BBAN).
pub(crate) fn iban_mod97(s: &[u8]) -> bool {
    if s.len() < 5 {
        return false;
    }
    let mut rem = 0u32;
    for &c in s[4..].iter().chain(&s[..4]) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// UPU S10 (e.g. `EE123456785IN`): the ninth digit checks the first eight.
pub(crate) fn s10(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    const W: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = d[..8]
        .iter()
        .zip(W)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    let cd = match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        x => x,
    };
    cd == u32::from(d[8] - b'0')
}

/// An IATA air waybill serial: 8 digits whose last is the first seven mod 7.
pub(crate) fn awb(serial: &[u8]) -> bool {
    if serial.len() != 8 {
        return false;
    }
    let n = serial[..7]
        .iter()
        .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    n % 7 == u64::from(serial[7] - b'0')
}

/// PAN: `AAAAA9999A` with a valid holder-type fourth letter (case-insensitive).
pub(crate) fn pan(s: &[u8]) -> bool {
    s.len() == 10
        && s[..5].iter().all(u8::is_ascii_alphabetic)
        && s[5..9].iter().all(u8::is_ascii_digit)
        && s[9].is_ascii_alphabetic()
        && b"PCHFATBLJGE".contains(&s[3].to_ascii_uppercase())
}

/// UK NINO: two prefix letters (not D, F, I, Q, U, V; second not O; not BG, GB, NK, KN, TN,
/// NT, ZZ), six digits, suffix A-D. Upper-case input.
pub(crate) fn nino(s: &[u8]) -> bool {
    if s.len() != 9 {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    let bad1 = b"DFIQUV";
    let bad2 = b"DFIOQUV";
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !bad1.contains(&a)
        && !bad2.contains(&b)
        && !matches!(
            &s[..2],
            b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ"
        )
        && s[2..8].iter().all(u8::is_ascii_digit)
        && (b'A'..=b'D').contains(&s[8])
}

/// A plausible card number prefix (issuer identification) for the given length.
pub(crate) fn card_prefix(d: &[u8]) -> bool {
    let n = d.len();
    let p2 = u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0');
    let p4 = d[..4]
        .iter()
        .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => {
            (51..=55).contains(&p2) && n == 16 || (p2 == 50 || p2 >= 56) && (12..=19).contains(&n)
        }
        b'2' => (2221..=2720).contains(&p4) && n == 16,
        b'3' => {
            (p2 == 34 || p2 == 37) && n == 15
                || p2 == 35 && (16..=19).contains(&n)
                || (p2 == 36 || p2 == 38 || p2 == 30) && (14..=19).contains(&n)
        }
        b'6' => (16..=19).contains(&n),
        b'8' => p2 == 81 || p2 == 82 && n == 16,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"GB82WEST12345698765433"));
        assert!(cpf(b"52998224725"));
        assert!(!cpf(b"52998224726"));
        assert!(!cpf(b"11111111111"));
        assert!(ssn(b"123456789"));
        assert!(!ssn(b"666123456"));
        assert!(!ssn(b"900123456"));
        assert!(s10(b"473124829"));
        assert!(!s10(b"473124826"));
        assert!(aadhaar(b"234123412346"));
        assert!(pan(b"ABCPE1234F"));
        assert!(!pan(b"ABCXE1234F"));
        assert!(nino(b"AB123456C"));
        assert!(!nino(b"GB123456C"));
        assert!(awb(b"12345675"));
    }
}

/// GS1 mod 10 (SSCC, GTIN and USPS IMpb): weights 3 and 1 from the right, the last digit
/// checking the rest.
pub(crate) fn gs1(d: &[u8]) -> bool {
    let Some((&check, body)) = d.split_last() else {
        return false;
    };
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(check - b'0')
}

/// A DHL Express waybill: 10 digits whose last is the first nine mod 7.
pub(crate) fn dhl(d: &[u8]) -> bool {
    if d.len() != 10 {
        return false;
    }
    let n = d[..9]
        .iter()
        .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    n % 7 == u64::from(d[9] - b'0')
}

/// An Indonesian NIK: 16 digits; a province code (11–94), a district, the birth date (day
/// plus 40 for women) and month, then a serial.
pub(crate) fn nik(d: &[u8]) -> bool {
    if d.len() != 16 {
        return false;
    }
    let two = |i: usize| u32::from(d[i] - b'0') * 10 + u32::from(d[i + 1] - b'0');
    let (province, day, month) = (two(0), two(6), two(8));
    (11..=94).contains(&province)
        && ((1..=31).contains(&day) || (41..=71).contains(&day))
        && (1..=12).contains(&month)
        && d[12..] != *b"0000"
}

/// A Spanish DNI (`12345678Z`) or NIE (`X1234567L`): the letter checks the number.
pub(crate) fn dni(s: &[u8]) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    if s.len() != 9 {
        return false;
    }
    let up: Vec<u8> = s.iter().map(u8::to_ascii_uppercase).collect();
    let lead = match up[0] {
        b'X' => Some(0),
        b'Y' => Some(1),
        b'Z' => Some(2),
        c if c.is_ascii_digit() => None,
        _ => return false,
    };
    if !up[1..8].iter().all(u8::is_ascii_digit) || !up[8].is_ascii_alphabetic() {
        return false;
    }
    let first = match lead {
        Some(v) => v,
        None => u64::from(up[0] - b'0'),
    };
    let n = up[1..8]
        .iter()
        .fold(first, |a, &c| a * 10 + u64::from(c - b'0'));
    usize::try_from(n % 23).is_ok_and(|i| LETTERS[i] == up[8])
}

/// The French social security number (NIR): 13 digits starting 1 or 2, then a key that is
/// 97 minus the number mod 97.
pub(crate) fn nir(d: &[u8]) -> bool {
    if d.len() != 15 || !matches!(d[0], b'1' | b'2') {
        return false;
    }
    let n = d[..13]
        .iter()
        .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    let key = u64::from(d[13] - b'0') * 10 + u64::from(d[14] - b'0');
    97 - n % 97 == key
}

/// A Brazilian CNPJ: 14 digits with two mod-11 check digits.
pub(crate) fn cnpj(d: &[u8]) -> bool {
    if d.len() != 14 || d.iter().all(|&c| c == d[0]) {
        return false;
    }
    let digit = |len: usize| {
        let weights: &[u32] = if len == 12 {
            &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
        } else {
            &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
        };
        let sum: u32 = d[..len]
            .iter()
            .zip(weights)
            .map(|(&c, w)| u32::from(c - b'0') * w)
            .sum();
        match sum % 11 {
            0 | 1 => 0,
            r => 11 - r,
        }
    };
    digit(12) == u32::from(d[12] - b'0') && digit(13) == u32::from(d[13] - b'0')
}

#[cfg(test)]
mod id_checks {
    use super::*;

    #[test]
    fn known_good_and_bad_values() {
        assert!(gs1(b"00340434161234567896"), "an SSCC");
        assert!(!gs1(b"00340434161234567895"));
        assert!(dhl(b"1234567891"));
        assert!(!dhl(b"1234567894"));
        assert!(nik(b"3174051208900003"));
        assert!(nik(b"3174055208900003"), "a woman's day + 40");
        assert!(!nik(b"9974051208900003"));
        assert!(!nik(b"3174053508900003"), "day 35");
        assert!(dni(b"12345678Z"));
        assert!(!dni(b"12345678A"));
        assert!(dni(b"X1234567L"));
        assert!(nir(b"185057800608491"));
        assert!(!nir(b"185057800608490"));
        assert!(cnpj(b"11222333000181"));
        assert!(!cnpj(b"11222333000182"));
    }
}
