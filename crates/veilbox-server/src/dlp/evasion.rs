//! Card numbers typed to slip past a scanner: one digit at a time with spaces, dots or
//! dashes between them ("4 1 1 1 1 1 1 1 …"). The scanner reads digit groups; this reads
//! runs of single digits too, and keeps those that pass the Luhn check. Pure.

/// Byte spans of `text` that spell a Luhn-valid card number (13 to 19 digits) with at
/// most two separator characters between digits.
pub fn spaced_cards(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut digits: Vec<u8> = Vec::new();
        let mut j = i;
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits.push(bytes[j] - b'0');
                end = j + 1;
                j += 1;
                continue;
            }
            let gap = bytes[j..]
                .iter()
                .take_while(|b| matches!(b, b' ' | b'.' | b'-' | b'/'))
                .count();
            if (1..=2).contains(&gap) && bytes.get(j + gap).is_some_and(u8::is_ascii_digit) {
                j += gap;
            } else {
                break;
            }
        }
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            out.push((start, end));
        }
        i = end.max(i + 1);
    }
    out
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_by_digit_cards_are_found() {
        let text = "card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ok";
        let spans = spaced_cards(text);
        assert_eq!(spans.len(), 1);
        assert_eq!(
            &text[spans[0].0..spans[0].1],
            "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"
        );
        assert!(spaced_cards("4.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1").len() == 1);
        // Not Luhn-valid, or too short: left alone.
        assert!(spaced_cards("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2").is_empty());
        assert!(spaced_cards("order 1 2 3 4 5").is_empty());
    }
}
